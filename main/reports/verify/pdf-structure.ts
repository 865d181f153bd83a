// A PDF's object structure read the way a viewer reads it, from the end: startxref → the newest
// cross-reference section → its trailer, older sections through /Prev. Objects are parsed one at a
// time, on demand, by pdf-lib's object parser, so a verifier touches only the handful of objects on
// the path to the signatures, never the pages. Everything is bounded, because the file is hostile:
// sections followed, entries, decompressed bytes (node:zlib's maxOutputLength, not a loop that could
// inflate a bomb), bytes parsed per object and in all, objects parsed.
import { inflateSync } from 'node:zlib';
import { PDFArray, PDFContext, PDFDict, PDFName, PDFNumber, PDFObjectParser, PDFRawStream, PDFRef, type PDFObject } from 'pdf-lib';

export const PDF_LIMITS = {
  xrefSections: 64,
  xrefEntries: 1_000_000,
  /** Decompressed bytes of one cross-reference or object stream. */
  streamBytes: 8 << 20,
  /** Decompressed bytes in all. */
  totalStreamBytes: 32 << 20,
  /** Bytes one object may span (a signature dictionary with a 256 KiB CMS is ~520 KB). */
  objectBytes: 1 << 20,
  /** Distinct objects parsed. */
  objects: 512,
  refHops: 8,
} as const;

/** The structure cannot be read (damaged, unsupported, or past a limit): a reason, not a crash. */
export class PdfStructureError extends Error {
  override readonly name = 'PdfStructureError';
}

type Entry = { kind: 'free' } | { kind: 'offset'; offset: number; gen: number } | { kind: 'compressed'; stream: number; index: number };

/** Where an uncompressed object's value lies in the file: after its "N G obj" header, to its end. */
export interface ObjectSpan { start: number; end: number }

interface Parsed { object: PDFObject; span: ObjectSpan | null }

export class PdfStructure {
  readonly bytes: Uint8Array;
  readonly trailer: PDFDict;
  /** Cross-reference sections on the /Prev chain: one per revision (incremental updates add one each). */
  readonly revisions: number;
  private entries = new Map<number, Entry>();   // empty while the sections are read: no references then
  private readonly context = PDFContext.create();
  private readonly cache = new Map<number, Parsed>();
  private readonly objectStreams = new Map<number, { data: Uint8Array; offsets: Map<number, number> }>();
  private parsedBytes = 0;
  private inflatedBytes = 0;
  private readonly parseBudget: number;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    // generous for any real file (a report's path to its signature is ~40 KB), and well inside the
    // docs' budget of ~1 s of CPU per MB for a hostile one (pdf-lib parses ~20 MB/s)
    this.parseBudget = 4 * PDF_LIMITS.objectBytes + 4 * bytes.length;
    const { entries, trailer, revisions } = this.readCrossReferences();
    this.entries = entries;
    this.trailer = trailer;
    this.revisions = revisions;
  }

  static read(bytes: Uint8Array): PdfStructure {
    try {
      return new PdfStructure(bytes);
    } catch (err) {
      throw asStructureError(err);
    }
  }

  /** The object a value stands for: a reference is followed (a few hops at most), anything else is itself. */
  resolve(value: PDFObject | undefined): PDFObject | undefined {
    let current = value;
    for (let hops = 0; current instanceof PDFRef; hops++) {
      if (hops >= PDF_LIMITS.refHops) throw new PdfStructureError('a chain of object references is too long');
      current = this.object(current)?.object;
    }
    return current;
  }

  /** The byte span of the object a reference names, when it is stored uncompressed in the file. */
  span(ref: PDFRef): ObjectSpan | null {
    return this.object(ref)?.span ?? null;
  }

  dict(value: PDFObject | undefined): PDFDict | undefined {
    const v = this.resolve(value);
    return v instanceof PDFDict ? v : undefined;
  }

  array(value: PDFObject | undefined): PDFArray | undefined {
    const v = this.resolve(value);
    return v instanceof PDFArray ? v : undefined;
  }

  /** An object by reference; undefined for free or missing ones (PDF's null). */
  private object(ref: PDFRef): Parsed | undefined {
    const cached = this.cache.get(ref.objectNumber);
    if (cached) return cached;
    const entry = this.entries.get(ref.objectNumber);
    if (!entry || entry.kind === 'free') return undefined;
    if (this.cache.size >= PDF_LIMITS.objects) throw new PdfStructureError(`more than ${PDF_LIMITS.objects} objects would have to be read`);
    let parsed: Parsed;
    if (entry.kind === 'offset') {
      if (entry.gen !== ref.generationNumber) return undefined;
      parsed = this.parseIndirectAt(entry.offset, ref.objectNumber);
    } else {
      const stream = this.objectStream(entry.stream);
      const at = stream.offsets.get(ref.objectNumber);
      if (at === undefined) throw new PdfStructureError(`object ${ref.objectNumber} is not in the object stream the cross-reference names`);
      parsed = { object: this.parseValue(stream.data, at).object, span: null };
    }
    this.cache.set(ref.objectNumber, parsed);
    return parsed;
  }

  /** "N G obj <value>" at a file offset; the header must name the object expected. */
  private parseIndirectAt(offset: number, expected: number | null): Parsed {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= this.bytes.length) {
      throw new PdfStructureError(`an object offset (${offset}) lies outside the file`);
    }
    const head = latin1(this.bytes, offset, 48);
    const m = /^\s*(\d{1,10})\s+(\d{1,5})\s+obj/.exec(head);
    if (!m) throw new PdfStructureError(`no object header at offset ${offset}`);
    if (expected !== null && Number(m[1]) !== expected) {
      throw new PdfStructureError(`the cross-reference points object ${expected} at offset ${offset}, where object ${m[1]} is`);
    }
    let start = offset + m[0].length;
    while (start < this.bytes.length && isSpace(this.bytes[start])) start++;
    const { object, end } = this.parseValue(this.bytes, start);
    return { object, span: { start, end } };
  }

  /** One PDF value at `at`, parsed inside a bounded window; returns where it ended. */
  private parseValue(source: Uint8Array, at: number): { object: PDFObject; end: number } {
    const window = source.subarray(at, Math.min(source.length, at + PDF_LIMITS.objectBytes));
    const parser = PDFObjectParser.forBytes(window, this.context);
    let object: PDFObject;
    try {
      object = parser.parseObject();
    } catch (err) {
      throw new PdfStructureError(`an object cannot be parsed: ${(err as Error).message.split('\n')[0]}`);
    }
    let used = (parser as unknown as { bytes: { offset(): number } }).bytes.offset();
    this.parsedBytes += used;
    // the parser looks past a dictionary for a "stream" keyword: the value itself ends before that whitespace
    while (used > 0 && isSpace(window[used - 1])) used--;
    if (this.parsedBytes > this.parseBudget) throw new PdfStructureError('reading the signatures would mean parsing more bytes than the file could justify');
    return { object, end: at + used };
  }

  private readCrossReferences(): { entries: Map<number, Entry>; trailer: PDFDict; revisions: number } {
    const tailStart = Math.max(0, this.bytes.length - 1024);
    const tail = latin1(this.bytes, tailStart, this.bytes.length - tailStart);
    const at = tail.lastIndexOf('startxref');
    const m = at === -1 ? null : /^startxref\s+(\d{1,15})/.exec(tail.slice(at));
    if (!m) throw new PdfStructureError('no startxref near the end of the file');
    const entries = new Map<number, Entry>();
    let trailer: PDFDict | undefined;
    let offset: number | null = Number(m[1]);
    const seen = new Set<number>();
    let revisions = 0;
    while (offset !== null) {
      if (seen.has(offset)) throw new PdfStructureError('the cross-reference sections form a loop');
      if (revisions >= PDF_LIMITS.xrefSections) throw new PdfStructureError(`more than ${PDF_LIMITS.xrefSections} cross-reference sections`);
      seen.add(offset);
      revisions++;
      const section = this.readSection(offset);
      // The newest section read so far wins; within a hybrid section its stream fills the table's gaps.
      for (const [n, e] of section.entries) if (!entries.has(n)) entries.set(n, e);
      if (entries.size > PDF_LIMITS.xrefEntries) throw new PdfStructureError(`more than ${PDF_LIMITS.xrefEntries} cross-reference entries`);
      trailer ??= section.trailer;
      const prev = this.resolve(section.trailer.get(PDFName.of('Prev')));
      offset = prev instanceof PDFNumber ? prev.asNumber() : null;
    }
    if (!trailer) throw new PdfStructureError('no trailer');
    return { entries, trailer, revisions };
  }

  private readSection(offset: number): { entries: Map<number, Entry>; trailer: PDFDict } {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= this.bytes.length) {
      throw new PdfStructureError(`a cross-reference offset (${offset}) lies outside the file`);
    }
    const head = latin1(this.bytes, offset, 32);
    if (/^\s*xref/.test(head)) {
      const table = this.readTable(offset + head.indexOf('xref') + 4);
      const stm = this.resolve(table.trailer.get(PDFName.of('XRefStm')));
      if (stm instanceof PDFNumber) {
        const hybrid = this.readStreamSection(stm.asNumber());
        for (const [n, e] of hybrid.entries) if (table.entries.get(n)?.kind !== 'offset') table.entries.set(n, e);
      }
      return table;
    }
    return this.readStreamSection(offset);
  }

  /** A classic table: subsections "first count", then count entries "oooooooooo ggggg n|f", then the trailer. */
  private readTable(at: number): { entries: Map<number, Entry>; trailer: PDFDict } {
    const entries = new Map<number, Entry>();
    const tokens = new Tokens(this.bytes, at);
    for (;;) {
      const word = tokens.next();
      if (word === 'trailer') break;
      const first = Number(word);
      const count = Number(tokens.next());
      if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 0) {
        throw new PdfStructureError('a cross-reference table subsection header is not two numbers');
      }
      if (count * 18 > this.bytes.length - tokens.at || entries.size + count > PDF_LIMITS.xrefEntries) {
        throw new PdfStructureError('a cross-reference table claims more entries than the file holds');
      }
      for (let i = 0; i < count; i++) {
        const off = Number(tokens.next());
        const gen = Number(tokens.next());
        const kind = tokens.next();
        if (!Number.isSafeInteger(off) || !Number.isSafeInteger(gen) || (kind !== 'n' && kind !== 'f')) {
          throw new PdfStructureError('a cross-reference table entry is malformed');
        }
        if (!entries.has(first + i)) entries.set(first + i, kind === 'n' ? { kind: 'offset', offset: off, gen } : { kind: 'free' });
      }
    }
    const { object } = this.parseValue(this.bytes, tokens.at);
    if (!(object instanceof PDFDict)) throw new PdfStructureError('the trailer is not a dictionary');
    return { entries, trailer: object };
  }

  /** A cross-reference stream (PDF 1.5): an object whose stream holds binary entries of widths /W. */
  private readStreamSection(offset: number): { entries: Map<number, Entry>; trailer: PDFDict } {
    const { object } = this.parseIndirectAt(offset, null);
    if (!(object instanceof PDFRawStream) || object.dict.get(PDFName.of('Type')) !== PDFName.of('XRef')) {
      throw new PdfStructureError(`no cross-reference table or stream at offset ${offset}`);
    }
    const dict = object.dict;
    const widths = numbers(dict.get(PDFName.of('W')));
    if (widths.length !== 3 || widths.some((w) => !Number.isInteger(w) || w < 0 || w > 8)) throw new PdfStructureError('a cross-reference stream has a bad /W');
    const size = numbers(dict.get(PDFName.of('Size')))[0];
    const index = dict.has(PDFName.of('Index')) ? numbers(dict.get(PDFName.of('Index'))) : [0, size];
    if (index.length % 2 !== 0 || index.some((v) => !Number.isSafeInteger(v) || v < 0)) throw new PdfStructureError('a cross-reference stream has a bad /Index');
    const data = this.decode(object);
    const rowBytes = widths[0] + widths[1] + widths[2];
    const entries = new Map<number, Entry>();
    let row = 0;
    for (let i = 0; i < index.length; i += 2) {
      if (entries.size + index[i + 1] > PDF_LIMITS.xrefEntries) throw new PdfStructureError(`more than ${PDF_LIMITS.xrefEntries} cross-reference entries`);
      for (let k = 0; k < index[i + 1]; k++, row++) {
        if ((row + 1) * rowBytes > data.length) throw new PdfStructureError('a cross-reference stream is shorter than its /Index says');
        let p = row * rowBytes;
        const field = (w: number, dflt: number) => { if (w === 0) return dflt; let v = 0; for (let j = 0; j < w; j++) v = v * 256 + data[p++]; return v; };
        const type = field(widths[0], 1);
        const a = field(widths[1], 0);
        const b = field(widths[2], 0);
        const n = index[i] + k;
        if (entries.has(n)) continue;
        if (type === 1) entries.set(n, { kind: 'offset', offset: a, gen: b });
        else if (type === 2) entries.set(n, { kind: 'compressed', stream: a, index: b });
        else entries.set(n, { kind: 'free' });
      }
    }
    return { entries, trailer: dict };
  }

  private objectStream(number: number): { data: Uint8Array; offsets: Map<number, number> } {
    const known = this.objectStreams.get(number);
    if (known) return known;
    const entry = this.entries.get(number);
    if (entry?.kind !== 'offset') throw new PdfStructureError(`object stream ${number} is not stored as a plain object`);
    if (this.objectStreams.size >= PDF_LIMITS.objects) throw new PdfStructureError('too many object streams');
    const { object } = this.parseIndirectAt(entry.offset, number);
    if (!(object instanceof PDFRawStream) || object.dict.get(PDFName.of('Type')) !== PDFName.of('ObjStm')) {
      throw new PdfStructureError(`object ${number} is not an object stream`);
    }
    const count = numbers(object.dict.get(PDFName.of('N')))[0];
    const first = numbers(object.dict.get(PDFName.of('First')))[0];
    const data = this.decode(object);
    if (!Number.isSafeInteger(count) || !Number.isSafeInteger(first) || count < 0 || first < 0 || first > data.length || count * 4 > first + 1) {
      throw new PdfStructureError(`object stream ${number} has a bad /N or /First`);
    }
    const tokens = new Tokens(data, 0);
    const offsets = new Map<number, number>();
    for (let i = 0; i < count; i++) {
      const n = Number(tokens.next());
      const off = Number(tokens.next());
      if (!Number.isSafeInteger(n) || !Number.isSafeInteger(off) || first + off >= data.length) throw new PdfStructureError(`object stream ${number}'s index is malformed`);
      if (!offsets.has(n)) offsets.set(n, first + off);
    }
    const stream = { data, offsets };
    this.objectStreams.set(number, stream);
    return stream;
  }

  /** FlateDecode (optionally with PNG predictors, as cross-reference streams use), inflated natively
   *  and never past the limits; any other filter is refused. */
  private decode(stream: PDFRawStream): Uint8Array {
    const filter = this.resolve(stream.dict.get(PDFName.of('Filter')));
    const name = filter instanceof PDFArray && filter.size() === 1 ? this.resolve(filter.get(0)) : filter;
    let data: Uint8Array = stream.contents;
    if (name !== undefined) {
      if (name !== PDFName.of('FlateDecode')) throw new PdfStructureError('a cross-reference or object stream uses a filter other than FlateDecode');
      const room = Math.min(PDF_LIMITS.streamBytes, PDF_LIMITS.totalStreamBytes - this.inflatedBytes);
      try {
        data = inflateSync(stream.contents, { maxOutputLength: Math.max(1, room) });
      } catch (err) {
        const code = (err as { code?: string }).code;
        throw new PdfStructureError(code === 'ERR_BUFFER_TOO_LARGE' ? 'a compressed stream inflates past the limit' : 'a compressed stream cannot be inflated');
      }
      this.inflatedBytes += data.length;
    }
    const params = this.dict(stream.dict.get(PDFName.of('DecodeParms')));
    const predictor = params ? numbers(params.get(PDFName.of('Predictor')))[0] ?? 1 : 1;
    if (predictor === 1) return data;
    if (predictor < 10) throw new PdfStructureError('a TIFF predictor is not supported');
    const columns = numbers(params!.get(PDFName.of('Columns')))[0] ?? 1;
    const colors = numbers(params!.get(PDFName.of('Colors')))[0] ?? 1;
    const bits = numbers(params!.get(PDFName.of('BitsPerComponent')))[0] ?? 8;
    if (colors !== 1 || bits !== 8 || !Number.isSafeInteger(columns) || columns < 1 || columns > data.length) {
      throw new PdfStructureError('unsupported PNG predictor parameters');
    }
    return unpredictPng(data, columns);
  }
}

/** PNG row filters (None, Sub, Up, Average, Paeth) with one byte per pixel. */
function unpredictPng(data: Uint8Array, columns: number): Uint8Array {
  const rows = Math.floor(data.length / (columns + 1));
  const out = new Uint8Array(rows * columns);
  for (let r = 0; r < rows; r++) {
    const type = data[r * (columns + 1)];
    const src = r * (columns + 1) + 1;
    const dst = r * columns;
    for (let c = 0; c < columns; c++) {
      const left = c > 0 ? out[dst + c - 1] : 0;
      const up = r > 0 ? out[dst - columns + c] : 0;
      const upLeft = r > 0 && c > 0 ? out[dst - columns + c - 1] : 0;
      let pred = 0;
      if (type === 1) pred = left;
      else if (type === 2) pred = up;
      else if (type === 3) pred = (left + up) >> 1;
      else if (type === 4) {
        const p = left + up - upLeft;
        const pa = Math.abs(p - left), pb = Math.abs(p - up), pc = Math.abs(p - upLeft);
        pred = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      } else if (type !== 0) throw new PdfStructureError(`unknown PNG row filter ${type}`);
      out[dst + c] = (data[src + c] + pred) & 0xff;
    }
  }
  return out;
}

/** Whitespace-separated tokens of a cross-reference table or an object stream's index. */
class Tokens {
  at: number;
  private readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array, at: number) { this.bytes = bytes; this.at = at; }
  next(): string {
    const b = this.bytes;
    while (this.at < b.length && isSpace(b[this.at])) this.at++;
    const start = this.at;
    while (this.at < b.length && !isSpace(b[this.at]) && b[this.at] !== 0x3c && this.at - start < 24) this.at++;
    if (start === this.at) throw new PdfStructureError('the cross-reference data ends early');
    return latin1(b, start, this.at - start);
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0c || c === 0x00;
}

function latin1(bytes: Uint8Array, start: number, length: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, Math.max(0, Math.min(length, bytes.length - start))).toString('latin1');
}

function numbers(value: PDFObject | undefined): number[] {
  if (value instanceof PDFNumber) return [value.asNumber()];
  if (value instanceof PDFArray) return value.asArray().map((v) => (v instanceof PDFNumber ? v.asNumber() : Number.NaN));
  return [];
}

function asStructureError(err: unknown): PdfStructureError {
  if (err instanceof PdfStructureError) return err;
  // pdf-lib's own parse errors, and RangeError from a stack blown by nesting
  return new PdfStructureError(err instanceof RangeError ? 'objects are nested too deeply' : `unreadable (${(err as Error).message?.split('\n')[0] ?? String(err)})`);
}
