// The safetensors container, read without trusting it: an 8-byte little-endian header length, a
// JSON header, then the data buffer. Only the header is read up front (a bounded read); tensors are
// read on demand by offset, so a 2 GB file never needs 2 GB of memory. Every rule of the format is
// checked and a broken file is refused with a typed error that says what is wrong.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { AuditError } from '../errors.ts';
import type { DType, Finding, TensorRef, TensorSource } from './model.ts';
import { FLOAT_DTYPES, ITEM_SIZE, decodeFloats, isDType } from './dtype.ts';

export interface SafetensorsLimits {
  /** The reference implementation caps the header at 100 MB. */
  maxHeaderBytes: number;
  maxTensors: number;
  /** Largest element count of one tensor. */
  maxNumel: number;
  /**
   * Deepest JSON nesting in the header. A real header nests 3 levels ({tensor: {shape: [..]}}); a
   * deeper one would overflow the stack of JSON.stringify when a message quotes it (found by the fuzzer).
   */
  maxJsonDepth?: number;
}

export const DEFAULT_LIMITS: SafetensorsLimits = { maxHeaderBytes: 100_000_000, maxTensors: 1_000_000, maxNumel: 2 ** 40, maxJsonDepth: 64 };

export interface SafetensorsHeader {
  file: string;
  size: number;
  headerLength: number;
  /** Absolute offset of the data buffer. */
  dataStart: number;
  /** In file order of their data. */
  tensors: TensorRef[];
  metadata: Record<string, string>;
  findings: Finding[];
}

/** What the first bytes say a file is, before any parse: used for clear refusals. */
export function sniff(head: Uint8Array, size: number, file: string): void {
  const text = Buffer.from(head.subarray(0, 64)).toString('latin1');
  // 'GGUF' read as a header length is over 1 GB, so this cannot shadow a valid safetensors file.
  if (text.startsWith('GGUF')) {
    throw new AuditError('UNSUPPORTED_FORMAT', 'a GGUF file (llama.cpp adapter or model): not read by this tool; convert the adapter to safetensors', file);
  }
  // A JSON object right after the 8-byte length: safetensors-shaped (the length itself may be any byte, even '<').
  if (head.length > 8 && head[8] === 0x7b /* { */) return;
  if (text.startsWith('version https://git-lfs')) {
    const oid = /oid sha256:([0-9a-f]{64})/.exec(Buffer.from(head).toString('latin1'));
    throw new AuditError('LFS_POINTER',
      `a Git LFS pointer (${size} bytes), not the adapter itself${oid ? ` (the real file has SHA-256 ${oid[1]})` : ''}: fetch the real file with git lfs pull`, file);
  }
  if (/^\s*(<!doctype|<html|<\?xml|<head|<body|<)/i.test(text)) {
    throw new AuditError('NOT_SAFETENSORS', 'an HTML/XML page saved under an adapter name (a download of a web page, not the file)', file);
  }
  if (size < 8) throw new AuditError('NOT_SAFETENSORS', `only ${size} bytes: too short for a safetensors header (8-byte length + JSON)`, file);
  if (size > 8) {
    throw new AuditError('NOT_SAFETENSORS', 'the bytes after the 8-byte length are not a JSON header: not a safetensors file', file);
  }
}

/** Opens and validates the header of a safetensors file. Reads only the header bytes. */
export async function readSafetensorsHeader(file: string, limits: SafetensorsLimits = DEFAULT_LIMITS): Promise<SafetensorsHeader> {
  const st = await stat(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new AuditError('FILE_NOT_FOUND', 'no such file', file);
    throw e;
  });
  if (st.isDirectory()) throw new AuditError('IS_DIRECTORY', 'is a folder, not an adapter file', file);
  if (st.size === 0) throw new AuditError('EMPTY_FILE', 'the file is empty (0 bytes)', file);
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(st.size, 256));
    await readExactly(fh, head, 0, file);
    sniff(head, st.size, file);
    const n = head.readBigUInt64LE(0);
    if (n > BigInt(limits.maxHeaderBytes)) {
      throw new AuditError('HEADER_TOO_LARGE', `header length ${n} bytes exceeds the ${limits.maxHeaderBytes}-byte cap`, file);
    }
    const headerLength = Number(n);
    if (8 + headerLength > st.size) {
      throw new AuditError('TRUNCATED',
        `header declares ${headerLength} bytes but the file ends after ${st.size - 8}: ${8 + headerLength - st.size} bytes of header are missing`, file,
        { missingBytes: 8 + headerLength - st.size });
    }
    const json = Buffer.alloc(headerLength);
    await readExactly(fh, json, 8, file);
    return parseSafetensorsHeader(json, st.size, file, limits);
  } finally {
    await fh.close();
  }
}

async function readExactly(fh: FileHandle, buf: Buffer, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) {
      throw new AuditError('TRUNCATED', `file ended ${buf.length - done} bytes early while reading at offset ${position}`, file,
        { missingBytes: buf.length - done });
    }
    done += bytesRead;
  }
}

/** Validates the header JSON (bytes after the length) against a file of `size` bytes. Pure: also used by the fuzzers. */
export function parseSafetensorsHeader(json: Uint8Array, size: number, file: string, limits: SafetensorsLimits = DEFAULT_LIMITS): SafetensorsHeader {
  const headerLength = json.length;
  const dataStart = 8 + headerLength;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw new AuditError('BAD_HEADER', 'the header is not valid UTF-8', file);
  }
  findDuplicateKey(text, file, limits.maxJsonDepth ?? DEFAULT_LIMITS.maxJsonDepth!);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new AuditError('BAD_HEADER', `the header is not valid JSON (${(e as Error).message})`, file);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new AuditError('BAD_HEADER', 'the header is not a JSON object', file);
  const findings: Finding[] = [];
  const metadata: Record<string, string> = {};
  const entries = Object.entries(parsed as Record<string, unknown>);
  const tensorCount = entries.length - (Object.hasOwn(parsed, '__metadata__') ? 1 : 0);
  if (tensorCount > limits.maxTensors) {
    throw new AuditError('LIMIT_EXCEEDED', `the header lists ${tensorCount} tensors, more than the ${limits.maxTensors}-tensor limit`, file);
  }
  const tensors: TensorRef[] = [];
  const spans: { begin: number; end: number; key: string }[] = [];
  for (const [key, value] of entries) {
    if (key === '__metadata__') {
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw new AuditError('BAD_HEADER', '__metadata__ is not an object of strings', file);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v === 'string') metadata[k] = v;
        else {
          metadata[k] = JSON.stringify(v);
          findings.push({ severity: 'warning', code: 'METADATA_NOT_STRING', message: `metadata entry "${k}" is not a string (the format requires strings); kept as its JSON text` });
        }
      }
      continue;
    }
    const t = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!t || typeof t !== 'object') throw new AuditError('BAD_HEADER', `tensor "${key}" is not an object`, file);
    if (!isDType(t.dtype)) {
      throw new AuditError('UNKNOWN_DTYPE', `tensor "${key}" has dtype ${JSON.stringify(t.dtype)}, which safetensors does not define`, file);
    }
    const dtype: DType = t.dtype;
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new AuditError('BAD_HEADER', `tensor "${key}" has shape ${JSON.stringify(t.shape)}: expected a list of non-negative integers`, file);
    }
    const shape = t.shape as number[];
    let numel = 1;
    for (const d of shape) {
      numel *= d;
      if (numel > limits.maxNumel) throw new AuditError('LIMIT_EXCEEDED', `tensor "${key}" shape ${JSON.stringify(shape)} exceeds the ${limits.maxNumel}-element limit`, file);
    }
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new AuditError('BAD_OFFSETS', `tensor "${key}" has data_offsets ${JSON.stringify(off)}: expected [begin, end] non-negative integers`, file);
    }
    const [begin, end] = off as [number, number];
    if (end < begin) throw new AuditError('BAD_OFFSETS', `tensor "${key}" ends (${end}) before it begins (${begin})`, file);
    if (end - begin !== numel * ITEM_SIZE[dtype]) {
      throw new AuditError('SHAPE_MISMATCH',
        `tensor "${key}" spans ${end - begin} bytes but ${dtype} ${JSON.stringify(shape)} needs ${numel * ITEM_SIZE[dtype]}`, file);
    }
    spans.push({ begin, end, key });
    tensors.push({ key, dtype, shape, offset: dataStart + begin, length: end - begin });
    if (!FLOAT_DTYPES.has(dtype)) {
      findings.push({ severity: 'warning', code: 'NON_FLOAT_TENSOR', tensor: key,
        message: `tensor "${key}" is ${dtype}: reported as is, not converted (quantised or integer data is not a LoRA factor)` });
    }
  }
  checkLayout(spans, size - dataStart, file, findings);
  tensors.sort((a, b) => a.offset - b.offset || a.key.localeCompare(b.key));
  return { file, size, headerLength, dataStart, tensors, metadata, findings };
}

/** Overlaps are refused; a contiguous layout cut short is TRUNCATED (with the missing bytes); a lone tensor past the end is BAD_OFFSETS. */
function checkLayout(spans: { begin: number; end: number; key: string }[], dataLength: number, file: string, findings: Finding[]): void {
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let cursorKey = '';
  let contiguous = true;
  let maxEnd = 0;
  let complete = 0;
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i];
    if (s.end > s.begin && s.begin < cursor) {
      throw new AuditError('OVERLAPPING_TENSORS', `tensors "${cursorKey}" and "${s.key}" share bytes ${s.begin}–${Math.min(s.end, cursor)} of the data buffer`, file);
    }
    if (s.begin !== cursor) contiguous = false;
    if (s.end > cursor) { cursor = s.end; cursorKey = s.key; }
    maxEnd = Math.max(maxEnd, s.end);
    if (s.end <= dataLength) complete++;
  }
  if (maxEnd > dataLength) {
    if (contiguous) {
      throw new AuditError('TRUNCATED',
        `the header declares ${spans.length} tensors in ${maxEnd} data bytes but only ${dataLength} are present: ${maxEnd - dataLength} bytes are missing (${complete} of ${spans.length} tensors complete)`,
        file, { missingBytes: maxEnd - dataLength, declaredBytes: maxEnd, presentBytes: dataLength, completeTensors: complete });
    }
    const bad = spans.find((s) => s.end > dataLength)!;
    throw new AuditError('BAD_OFFSETS', `tensor "${bad.key}" ends at data byte ${bad.end}, past the end of the data buffer (${dataLength} bytes)`, file);
  }
  if (!contiguous) findings.push({ severity: 'warning', code: 'DATA_GAP', message: 'the data buffer has unused gaps between tensors (not written by the reference writer)' });
  if (maxEnd < dataLength) {
    findings.push({ severity: 'warning', code: 'TRAILING_BYTES', message: `${dataLength - maxEnd} bytes after the last tensor belong to no tensor` });
  }
}

/**
 * JSON.parse silently keeps the last of two equal keys, which would hide a tensor (or a metadata
 * entry). This scan walks the header text once and refuses any object with a repeated key, and any
 * nesting deeper than the limit.
 */
function findDuplicateKey(text: string, file: string, maxDepth: number): void {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        let key: string;
        try { key = JSON.parse(text.slice(i, j + 1)) as string; } catch { return; /* JSON.parse will report it */ }
        if (top.has(key)) throw new AuditError('DUPLICATE_KEY', `the header repeats the key "${key}" (a reader would silently keep only one)`, file);
        top.add(key);
      }
      expectKey = false;
      i = j;
    } else if (c === 0x7b /* { */) { stack.push(new Set()); expectKey = true; }
    else if (c === 0x5b /* [ */) { stack.push(null); expectKey = false; }
    else if (c === 0x7d || c === 0x5d) { stack.pop(); expectKey = false; }
    else if (c === 0x2c /* , */) { expectKey = stack[stack.length - 1] !== null; }
    else if (c === 0x3a /* : */) { expectKey = false; }
    if (stack.length > maxDepth) {
      throw new AuditError('LIMIT_EXCEEDED', `the header nests JSON more than ${maxDepth} levels deep (the JSON nesting limit; a real header nests 3)`, file,
        { limit: 'maxJsonDepth', value: maxDepth });
    }
  }
}

/** Reads tensors of one safetensors file by offset; the file stays open until close(). */
export class SafetensorsSource implements TensorSource {
  readonly file: string;
  private handle: Promise<FileHandle> | null = null;

  constructor(file: string) {
    this.file = file;
  }

  async readBytes(ref: TensorRef): Promise<Buffer> {
    if (!Number.isSafeInteger(ref.offset) || ref.offset < 0 || !Number.isSafeInteger(ref.length) || ref.length < 0) {
      throw new AuditError('BAD_OFFSETS', `tensor "${ref.key}" has an impossible position (${ref.offset}, ${ref.length} bytes)`, this.file);
    }
    this.handle ??= open(this.file, 'r');
    const fh = await this.handle;
    const buf = Buffer.allocUnsafeSlow(ref.length);
    await readExactly(fh, buf, ref.offset, this.file);
    return buf;
  }

  async read(ref: TensorRef): Promise<Float32Array | Float64Array> {
    if (!FLOAT_DTYPES.has(ref.dtype)) {
      throw new AuditError('UNSUPPORTED_FORMAT', `tensor "${ref.key}" is ${ref.dtype}; only F64/F32/F16/BF16 are decoded, never coerced`, this.file);
    }
    // readBytes allocates a fresh, unpooled buffer per tensor: decoded in place.
    return decodeFloats(await this.readBytes(ref), ref.dtype, true);
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h) await (await h).close();
  }
}

/** NaN and ±Inf counts of one decoded tensor, as findings (a finding, never a crash). */
export function nonFiniteFindings(key: string, values: Float32Array | Float64Array): Finding[] {
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== v) nan++;
    else if (v === Infinity || v === -Infinity) inf++;
  }
  const out: Finding[] = [];
  if (nan) out.push({ severity: 'error', code: 'NAN_VALUES', tensor: key, message: `${nan} of ${values.length} values of "${key}" are NaN` });
  if (inf) out.push({ severity: 'error', code: 'INF_VALUES', tensor: key, message: `${inf} of ${values.length} values of "${key}" are infinite` });
  return out;
}
