// Fuzz targets for the readers of files that come from outside a case: LoRA-WiSE parquet shards
// (importReference), case archives (importCase: rebuilt tars with hostile entries) and signed reports
// with their manifests (verifyReport, which answers with problems and should never throw).
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { AuditError } from '../../main/errors.ts';
import { openDatabase } from '../../main/db/open.ts';
import type { Database } from '../../main/db/database.ts';
import { writeLoraWiseParquet } from '../../main/reference/lorawise-writer.ts';
import { importReference } from '../../main/reference/import-parquet.ts';
import { createFeatureEngine } from '../../native/engine.ts';
import { createCase } from '../../main/cases/cases.ts';
import { addEvidence } from '../../main/cases/evidence.ts';
import { exportCase, importCase } from '../../main/cases/archive.ts';
import { signPdf } from '../../main/reports/sign.ts';
import { loadKey } from '../../main/reports/keys.ts';
import { buildManifest, signManifest } from '../../main/reports/manifest.ts';
import { verifyReport } from '../../main/reports/verify.ts';
import { randomAdapter, sd1Modules } from '../unit/reference/fixture.ts';
import { makeModel } from '../unit/reports/fixture.ts';
import { makePki } from '../unit/reports/pki.ts';
import { applyMutations, byteMutations, deepJson } from './mutate.ts';
import type { Target } from './target.ts';
import { seedAdapters } from './intake-targets.ts';

const nastyJson = fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 30 }), fc.constant(null), fc.boolean(),
  fc.array(fc.integer(), { maxLength: 4 }), fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('../../etc/passwd', '/etc/passwd', '', 'x'.repeat(5000)));

/** Sets a value at a path of keys/indexes inside parsed JSON (creating nothing: a missing path is left alone). */
function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (!path.length) return value;
  let node = root as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) {
    const next = node?.[path[i]];
    if (!next || typeof next !== 'object') return root;
    node = next as Record<string | number, unknown>;
  }
  if (node && typeof node === 'object') node[path[path.length - 1]] = value;
  return root;
}

/** Every path to a leaf or container in a JSON value (bounded), so edits hit real fields. */
function pathsOf(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (out.length > 400) return out;
  if (Array.isArray(v)) v.slice(0, 4).forEach((x, i) => pathsOf(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...prefix, k], out);
  return out;
}

const jsonEdits = (paths: (string | number)[][]) => fc.array(fc.record({ path: fc.constantFrom(...paths), value: nastyJson }), { minLength: 1, maxLength: 3 });

export const parquetShard: Target = {
  name: 'parquet shard',
  weight: 2,
  async prepare(dir) {
    const layout = sd1Modules(32);
    const good = join(dir, 'good.parquet');
    await writeLoraWiseParquet(good, [1, 2, 3, 4].map((s) => ({ name: `a${s % 2}`, label: s % 2 ? 1 : 10, modules: randomAdapter(layout, 2, s) })), { rowGroupSize: 2 });
    const bytes = readFileSync(good);
    const engine = await createFeatureEngine({ backend: 'cpu' });
    const db = await openDatabase(join(dir, 'reference.sqlite'));
    let i = 0;
    return {
      // the footer (last few KB) holds the schema, counts and offsets: most damage goes there
      arbitrary: fc.record({ muts: byteMutations, footer: fc.boolean() }),
      async run({ muts, footer }, time) {
        const cut = footer ? Math.max(0, bytes.length - 4096) : 0;
        const damaged = Buffer.concat([bytes.subarray(0, cut), applyMutations(bytes.subarray(cut), muts)]);
        const file = join(dir, `shard-${i % 4}.parquet`);
        writeFileSync(file, damaged);
        const report = await time(damaged.length, () => importReference(db, { name: `set-${i++}`, paths: [file], engine }));
        // A damaged shard is reported inside the import report (the other shards still import), not thrown:
        // an INTERNAL there is an untyped crash caught by the importer, so it is a finding too.
        const first = report.errors[0];
        if (first?.code === 'INTERNAL') throw new Error(`the import report carries an untyped error: ${first.message}`);
        if (first) throw new AuditError(first.code, first.message, first.file);
      },
      async close() { engine.dispose(); await db.close(); },
    };
  },
};

// A ustar archive, written here because the test needs entries no honest writer makes (links, '..').
function tarHeader(name: string, size: number, type: string, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number) => Buffer.from(s, 'utf8').copy(h, at, 0, len);
  // ustar splits a long path at a '/' into prefix (155 bytes) and name (100 bytes)
  const cut = Buffer.byteLength(name) > 100 ? name.lastIndexOf('/', 155) : -1;
  put(cut > 0 ? name.slice(cut + 1) : name, 0, 100);
  if (cut > 0) put(name.slice(0, cut), 345, 155);
  put('0000644\0', 100, 8); put('0000000\0', 108, 8); put('0000000\0', 116, 8);
  put(`${size.toString(8).padStart(11, '0')}\0`, 124, 12);
  put('00000000000\0', 136, 12);
  put(type, 156, 1); put(linkname, 157, 100); put('ustar\0', 257, 6); put('00', 263, 2);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

interface TarEntry { name: string; type: string; data: Buffer; linkname?: string }

function writeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e.name, e.data.length, e.type, e.linkname), e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function readTar(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  for (let p = 0; p + 512 <= buf.length;) {
    const h = buf.subarray(p, p + 512);
    if (h.every((b) => b === 0)) break;
    const str = (at: number, len: number) => h.toString('utf8', at, at + len).replace(/\0.*$/s, '');
    const prefix = str(345, 155);
    const name = (prefix ? `${prefix}/` : '') + str(0, 100);
    const size = parseInt(str(124, 12).trim() || '0', 8);
    out.push({ name, type: str(156, 1) || '0', data: Buffer.from(buf.subarray(p + 512, p + 512 + size)) });
    p += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

const CANARY = 'ESCAPED-canary';

export const caseArchive: Target = {
  name: 'case archive',
  weight: 2,
  async prepare(dir) {
    const source = await openDatabase(join(dir, 'source.sqlite'));
    const caseId = (await createCase(source, { title: 'Fuzz', examiner: 'E' })).id;
    const adapter = join(dir, 'evidence.safetensors');
    writeFileSync(adapter, seedAdapters()[0].bytes);
    await addEvidence(source, caseId, adapter, { inspector: async () => ({ family: 'diffusers', method: 'lora', baseModel: 'sd1', summary: {} }) as never });
    const archive = join(dir, 'case.tar');
    await exportCase(source, caseId, archive);
    await source.close();
    const entries = readTar(readFileSync(archive));
    const jsonOf = (name: string) => JSON.parse(entries.find((e) => e.name === name)!.data.toString('utf8')) as unknown;
    const manifestPaths = pathsOf(jsonOf('manifest.json'));
    const casePaths = pathsOf(jsonOf('case.json'));
    const hostileName = fc.constantFrom(`../${CANARY}`, `../../${CANARY}`, `/tmp/${CANARY}`, `store/../../${CANARY}`, `store/${'d/'.repeat(60)}${CANARY}`,
      'manifest.json', 'case.json', `store/${caseId}/x`, '', '.', 'store', 'a\\..\\b');
    const extra = fc.record({
      name: hostileName, type: fc.constantFrom('0', '1', '2', '3', '5', '6', 'x', 'g', 'L'),
      linkname: fc.constantFrom('/etc/passwd', `../../${CANARY}`, 'case.json', ''), data: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    });
    const db = await openDatabase(join(dir, 'target.sqlite'));
    let i = 0;
    return {
      arbitrary: fc.record({
        manifest: fc.option(jsonEdits(manifestPaths)), caseJson: fc.option(jsonEdits(casePaths)),
        add: fc.array(extra, { maxLength: 2 }), drop: fc.option(fc.nat(entries.length - 1)),
        raw: fc.option(byteMutations, { freq: 3 }), deep: fc.boolean(),
      }),
      async run(input, time) {
        const edited = entries.map((e) => ({ ...e }));
        const edit = (name: string, edits: { path: (string | number)[]; value: unknown }[] | null) => {
          const e = edited.find((x) => x.name === name);
          if (!e || !edits) return;
          let v = JSON.parse(e.data.toString('utf8')) as unknown;
          for (const ed of edits) v = setAt(v, ed.path, ed.value);
          e.data = Buffer.from(JSON.stringify(v));
        };
        edit('manifest.json', input.manifest);
        edit('case.json', input.caseJson);
        if (input.deep) edited.find((x) => x.name === 'case.json')!.data = Buffer.from(deepJson(100_000, 'object'));
        if (input.drop !== null) edited.splice(input.drop, 1);
        for (const a of input.add) edited.push(a);
        let bytes = writeTar(edited);
        if (input.raw) bytes = applyMutations(bytes, input.raw);
        const file = join(dir, `in-${i++ % 4}.tar`);
        writeFileSync(file, bytes);
        await time(bytes.length, () => importCase(db, file));
        for (const where of [join(dir, CANARY), join(dir, '..', CANARY), join('/tmp', CANARY)]) {
          if (existsSync(where)) throw new Error(`an archive entry escaped the import folder: ${where} exists`);
        }
      },
      async close() { await db.close(); },
    };
  },
};

export const reportManifest: Target = {
  name: 'report manifest',
  weight: 2,
  async prepare(dir) {
    const pki = makePki();
    const p12 = readFileSync(pki.p12);
    const key = loadKey(p12, pki.passphrase);
    const doc = await PDFDocument.create();
    doc.addPage().drawText('Fuzzed report');
    const signed = await signPdf(await doc.save(), { p12, passphrase: pki.passphrase, key });
    const pdfPath = join(dir, 'report.pdf');
    writeFileSync(pdfPath, signed.pdf);
    const sha256 = createHash('sha256').update(signed.pdf).digest('hex');
    const manifest = buildManifest(makeModel('both'), { fileName: 'report.pdf', size: signed.pdf.length, sha256, pages: 1 }, signed.signer);
    const { manifestBytes, signatureBytes } = signManifest(manifest, key);
    const manifestPaths = pathsOf(manifest);
    const sigPaths = pathsOf(JSON.parse(Buffer.from(signatureBytes).toString('utf8')));
    const manifestPath = join(dir, 'report.manifest.json');
    // the baseline: untouched, the report verifies (else every refusal below would prove nothing)
    writeFileSync(manifestPath, manifestBytes);
    writeFileSync(`${manifestPath}.sig`, signatureBytes);
    const baseline = await verifyReport(pdfPath, { manifestPath, trust: [pki.caPem] });
    if (!baseline.ok) throw new Error(`the untouched signed report does not verify: ${baseline.problems.join('; ')}`);
    return {
      arbitrary: fc.record({
        manifest: fc.option(jsonEdits(manifestPaths)), sig: fc.option(jsonEdits(sigPaths)),
        rawManifest: fc.option(byteMutations, { freq: 3 }), rawSig: fc.option(byteMutations, { freq: 4 }), rawPdf: fc.option(byteMutations, { freq: 3 }),
        deep: fc.option(fc.constantFrom<'manifest' | 'sig'>('manifest', 'sig'), { freq: 8 }), dropSig: fc.boolean(),
      }),
      async run(input, time) {
        let m: Buffer = Buffer.from(manifestBytes);
        if (input.manifest) {
          let v = JSON.parse(m.toString('utf8')) as unknown;
          for (const e of input.manifest) v = setAt(v, e.path, e.value);
          m = Buffer.from(JSON.stringify(v));
        }
        let s: Buffer = Buffer.from(signatureBytes);
        if (input.sig) {
          let v = JSON.parse(s.toString('utf8')) as unknown;
          for (const e of input.sig) v = setAt(v, e.path, e.value);
          s = Buffer.from(JSON.stringify(v));
        }
        if (input.rawManifest) m = applyMutations(m, input.rawManifest);
        if (input.rawSig) s = applyMutations(s, input.rawSig);
        if (input.deep === 'manifest') m = Buffer.from(deepJson(100_000, 'array'));
        if (input.deep === 'sig') s = Buffer.from(deepJson(100_000, 'object'));
        const pdf = input.rawPdf ? applyMutations(signed.pdf, input.rawPdf) : Buffer.from(signed.pdf);
        writeFileSync(pdfPath, pdf);
        writeFileSync(manifestPath, m);
        if (input.dropSig) writeFileSync(`${manifestPath}.sig`, ''); else writeFileSync(`${manifestPath}.sig`, s);
        const v = await time(pdf.length + m.length + s.length, () => verifyReport(pdfPath, { manifestPath, trust: [pki.caPem] }));
        // Property beyond "no crash": a report, manifest or signature changed in any byte never verifies.
        const changed = !pdf.equals(signed.pdf) || !m.equals(manifestBytes) || input.dropSig || !s.equals(signatureBytes);
        if (changed && v.ok) throw new Error(`a changed report verified as ok (pdf ${!pdf.equals(signed.pdf)}, manifest ${!m.equals(manifestBytes)}, signature ${!s.equals(signatureBytes)})`);
        if (!changed && !v.ok) throw new Error(`the untouched signed report does not verify: ${v.problems.join('; ')}`);
        if (!v.ok) throw new AuditError('SIGNATURE_INVALID', v.problems[0] ?? 'not verified', pdfPath);
      },
    };
  },
};
