// Fuzz targets for the readers of files that come from outside a case: LoRA-WiSE parquet shards
// (importReference), case archives (importCase: signed and unsigned, rebuilt tars with hostile entries,
// planted rows, bomb headers, entries out of order) and signed reports
// with their manifests (verifyReport, which answers with problems and should never throw).
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { AuditError } from '../../main/errors.ts';
import { openDatabase } from '../../main/services/database.ts';
import type { Database } from '../../main/db/database.ts';
import { writeLoraWiseParquet } from '../../main/reference/lorawise-writer.ts';
import { importReference } from '../../main/reference/import-parquet.ts';
import { createFeatureEngine } from '../../native/engine.ts';
import { createCase } from '../../main/cases/cases.ts';
import { addEvidence } from '../../main/cases/evidence.ts';
import { exportCase, importCase } from '../../main/cases/archive.ts';
import { newId } from '../../main/cases/ids.ts';
import { addNote } from '../../main/cases/notes.ts';
import { recordReport } from '../../main/cases/reports.ts';
import { signDetachedCms, verifyDetachedCms } from '../../main/reports/cms.ts';
import { signPdf } from '../../main/reports/sign.ts';
import { loadKey } from '../../main/reports/keys.ts';
import { buildManifest, signManifest } from '../../main/reports/manifest.ts';
import { verifyReport } from '../../main/reports/verify.ts';
import { randomAdapter, sd1Modules } from '../unit/reference/fixture.ts';
import { makeModel } from '../unit/reports/fixture.ts';
import { makePki } from '../unit/reports/pki.ts';
import { plainInspector } from '../unit/cases/helpers.ts';
import { TAR_END, readTar, tarEntry, tarHeader } from '../unit/cases/archive-helpers.ts';
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

const CANARY = 'ESCAPED-canary';
const rarely = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: arb, weight: 1 });
const GiB = 1024 ** 3;

/** Plants an attacker makes in case.json: rows of the victim case, references to its evidence, ids it already has. */
type Plant = 'none' | 'analysis-in-victim' | 'note-in-victim' | 'evidence-in-victim' | 'analysis-on-victim-evidence' | 'existing-note-id' | 'audit-of-victim' | 'drop-report';

export const caseArchive: Target = {
  name: 'case archive',
  weight: 2,
  async prepare(dir) {
    const pki = makePki();
    const key = loadKey(readFileSync(pki.p12), pki.passphrase);
    const sign = (bytes: Uint8Array) => signDetachedCms(bytes, key);
    const source = await openDatabase(join(dir, 'source.sqlite'));
    const caseId = (await createCase(source, { title: 'Fuzz', examiner: 'E' })).id;
    const adapter = join(dir, 'evidence.safetensors');
    writeFileSync(adapter, seedAdapters()[0].bytes);
    await addEvidence(source, caseId, adapter, { inspector: plainInspector });
    await addNote(source, caseId, 'a note');
    writeFileSync(join(dir, 'report.pdf'), '%PDF-1.7 an issued report');
    await recordReport(source, caseId, { file: join(dir, 'report.pdf'), signer: 'E', manifest: {} });
    const archive = join(dir, 'case.tar');
    await exportCase(source, caseId, archive, { signing: { sign, signer: key.info } });
    await source.close();
    const signedEntries = readTar(readFileSync(archive));
    const signedManifest = signedEntries[0].data;
    const jsonOf = (name: string) => JSON.parse(signedEntries.find((e) => e.name === name)!.data.toString('utf8')) as unknown;
    const manifestPaths = pathsOf(jsonOf('manifest.json'));
    const casePaths = pathsOf(jsonOf('case.json'));
    const hostileName = fc.constantFrom(`../${CANARY}`, `../../${CANARY}`, `/tmp/${CANARY}`, `store/../../${CANARY}`, `store/${'d/'.repeat(60)}${CANARY}`,
      'manifest.json', 'manifest.json.p7s', 'case.json', `store/${caseId}/x`, '', '.', 'store', 'a\\..\\b');
    const extra = fc.record({
      name: hostileName, type: fc.constantFrom('0', '1', '2', '3', '5', '6', 'x', 'g', 'L'),
      linkname: fc.constantFrom('/etc/passwd', `../../${CANARY}`, 'case.json', ''), data: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      // a header that declares far more than it holds (a bomb's header): refused from the header alone
      declared: fc.option(fc.constantFrom(2 * GiB, 2 ** 33 - 1), { freq: 4 }),
    });

    // the target holds a victim case that planted rows point at; it must never change
    const db = await openDatabase(join(dir, 'target.sqlite'));
    const victim = (await createCase(db, { title: 'Victim', examiner: 'V' })).id;
    writeFileSync(join(dir, 'victim.safetensors'), 'victim evidence');
    const victimEvidence = (await addEvidence(db, victim, join(dir, 'victim.safetensors'), { inspector: plainInspector })).id;
    const victimNote = (await addNote(db, victim, 'victim note')).id;
    const victimRows = async () => JSON.stringify(await Promise.all(['cases', 'evidence', 'analyses', 'reports', 'notes', 'audit_log'].map((table) =>
      db.all(`SELECT * FROM ${table} WHERE ${table === 'cases' ? 'id' : 'case_id'} = ? ORDER BY rowid`, [victim]))));
    const victimBaseline = await victimRows();

    const plant = (rows: any, how: Plant) => { // eslint-disable-line @typescript-eslint/no-explicit-any -- case.json as an attacker edits it
      const analysis = (c: string, e: string) => ({ id: newId(), case_id: c, evidence_id: e, reference_set: 'x', reference_set_id: 1, reference_provenance: '{}',
        mode: 'faithful', parameters: '{}', result: '{"estimate":500}', method_version: 'x', app_version: 'x', backend: 'cpu', started_at: 'x', finished_at: 'x' });
      if (how === 'analysis-in-victim') rows.analyses.push(analysis(victim, victimEvidence));
      if (how === 'analysis-on-victim-evidence') rows.analyses.push(analysis(caseId, victimEvidence));
      if (how === 'note-in-victim') rows.notes.push({ ...rows.notes[0], id: newId(), case_id: victim });
      if (how === 'evidence-in-victim') rows.evidence.push({ ...rows.evidence[0], id: newId(), case_id: victim });
      if (how === 'existing-note-id') rows.notes[0].id = victimNote;
      if (how === 'audit-of-victim') rows.audit_log.push({ ...rows.audit_log[0], case_id: victim });
      if (how === 'drop-report') rows.reports = [];
    };

    let i = 0;
    return {
      // each kind of damage is rare, so that many inputs are whole or nearly so and the properties checked
      // on an accepted import (below) are exercised, not only the refusals
      arbitrary: fc.record({
        signed: fc.boolean(),
        plant: fc.oneof({ arbitrary: fc.constant<Plant>('none'), weight: 6 }, { arbitrary: fc.constantFrom<Plant>('analysis-in-victim', 'note-in-victim',
          'evidence-in-victim', 'analysis-on-victim-evidence', 'existing-note-id', 'audit-of-victim', 'drop-report'), weight: 4 }),
        // what anyone can do to an archive (recompute every SHA-256), and what only the key holder can (sign again)
        rehash: fc.boolean(), resign: fc.boolean(),
        manifest: rarely(jsonEdits(manifestPaths)), caseJson: rarely(jsonEdits(casePaths)),
        add: fc.oneof({ arbitrary: fc.constant([]), weight: 3 }, { arbitrary: fc.array(extra, { minLength: 1, maxLength: 2 }), weight: 1 }),
        drop: rarely(fc.nat(signedEntries.length - 1)), swap: rarely(fc.tuple(fc.nat(4), fc.nat(4))),
        raw: rarely(byteMutations), deep: rarely(fc.constant(true)),
      }),
      async run(input, time) {
        const edited = signedEntries.filter((e) => input.signed || e.name !== 'manifest.json.p7s').map((e) => ({ ...e }));
        const find = (name: string) => edited.find((x) => x.name === name);
        const editJson = (name: string, edit: (v: unknown) => unknown) => {
          const e = find(name);
          if (e) e.data = Buffer.from(JSON.stringify(edit(JSON.parse(e.data.toString('utf8')))));
        };
        const applyEdits = (edits: { path: (string | number)[]; value: unknown }[] | null) => (v: unknown) => (edits ?? []).reduce((acc, ed) => setAt(acc, ed.path, ed.value), v);
        editJson('case.json', (v) => { plant(v, input.plant); return v; });
        editJson('case.json', applyEdits(input.caseJson));
        if (input.deep) find('case.json')!.data = Buffer.from(deepJson(100_000, 'object'));
        if (input.rehash) {
          editJson('manifest.json', (m) => {
            const rows = (() => { try { return JSON.parse(find('case.json')!.data.toString('utf8')); } catch { return { reports: [] }; } })();
            return { ...(m as object), reports: Array.isArray(rows?.reports) ? rows.reports.map((r: { id?: unknown; sha256?: unknown }) => ({ id: r?.id, sha256: r?.sha256 })) : [],
              files: edited.filter((e) => e.type === '0' && (e.name === 'case.json' || e.name.startsWith('store/'))).map((e) => ({ path: e.name, size: e.data.length, sha256: createHash('sha256').update(e.data).digest('hex') })) };
          });
        }
        editJson('manifest.json', applyEdits(input.manifest));
        const manifestNow = find('manifest.json')?.data;
        const resigned = input.signed && input.resign && manifestNow !== undefined;
        if (resigned) find('manifest.json.p7s')!.data = Buffer.from(await sign(manifestNow));
        if (input.drop !== null) edited.splice(input.drop, 1);
        if (input.swap && input.swap[0] < edited.length && input.swap[1] < edited.length) {
          [edited[input.swap[0]], edited[input.swap[1]]] = [edited[input.swap[1]], edited[input.swap[0]]];
        }
        const parts = edited.map(tarEntry);
        for (const a of input.add) {
          parts.push(a.declared === null ? tarEntry(a) : Buffer.concat([tarHeader(a.name, a.declared, a.type, a.linkname), a.data]));
        }
        let bytes: Buffer = Buffer.concat([...parts, TAR_END]);
        if (input.raw) bytes = applyMutations(bytes, input.raw);
        const file = join(dir, `in-${i++ % 4}.tar`);
        writeFileSync(file, bytes);
        let result: Awaited<ReturnType<typeof importCase>> | null = null;
        let refusal: unknown = null;
        try {
          result = await time(bytes.length, () => importCase(db, file, { trust: [pki.caPem], verifyCms: verifyDetachedCms }));
        } catch (e) {
          refusal = e;
        }
        for (const where of [join(dir, CANARY), join(dir, '..', CANARY), join('/tmp', CANARY)]) {
          if (existsSync(where)) throw new Error(`an archive entry escaped the import folder: ${where} exists`);
        }
        // Properties beyond "no crash": no archive writes into another case; a signature only vouches
        // for the manifest it was made over; an accepted import holds only its own case's rows.
        if ((await victimRows()) !== victimBaseline) throw new Error(`an import changed the victim case (plant ${input.plant})`);
        if (result) {
          const keptSignature = input.signed && !resigned && !input.raw;
          if (result.signature.status === 'signed' && keptSignature && manifestNow && !manifestNow.equals(signedManifest)) {
            throw new Error('an archive whose manifest was changed imported as signed');
          }
          const id = result.caseId;
          const strays = await db.all(`SELECT a.id FROM analyses a LEFT JOIN evidence e ON e.id = a.evidence_id WHERE a.case_id = ? AND (e.case_id IS NULL OR e.case_id != ?)`, [id, id]);
          if (strays.length) throw new Error('an imported analysis refers to evidence outside its case');
          // forget it, so the next inputs can be accepted again
          for (const table of ['analyses', 'notes', 'reports', 'evidence', 'audit_log']) await db.run(`DELETE FROM ${table} WHERE case_id = ?`, [id]);
          await db.run('DELETE FROM cases WHERE id = ?', [id]);
          rmSync(join(dir, 'cases', id), { recursive: true, force: true });
        }
        if (refusal) throw refusal;
      },
      async close() {
        await db.close();
        rmSync(pki.dir, { recursive: true, force: true });
      },
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
