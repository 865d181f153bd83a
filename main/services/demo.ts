// "Open the demo investigation": a complete case built on first request from the mini LoRA-WiSE
// that ships in assets/demo/ (see assets/demo/README.md): the reference set is imported once, a case
// is created with the demo evidence (adapters of known size, one deliberately not applicable), and
// every evidence item is analysed, and a signed report is issued. Opening it again returns the same case.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runAnalysis } from '../cases/analyses.ts';
import { createCase, listCases } from '../cases/cases.ts';
import { addEvidence, listEvidence } from '../cases/evidence.ts';
import { addNote } from '../cases/notes.ts';
import { AuditError } from '../errors.ts';
import { findAssets } from '../paths/assets.ts';
import { importReference } from '../reference/import-parquet.ts';
import { findSetRow } from '../reference/store.ts';
import { writeExaminerKey } from '../reports/keys.ts';
import { createCaseReport } from '../reports/report.ts';
import type { Services } from './create.ts';
import type { JobContext } from './dispatch.ts';
import { throwIfCancelled } from './jobs.ts';

export const DEMO_TITLE = 'Demo investigation: mini LoRA-WiSE';

/** The parts of assets/demo/manifest.json (written by the generator, see its README) the demo uses. */
interface DemoManifest {
  reference: { file: string; sha256: string; rank: number };
  adapters: { file: string; size: number; family: string; applicable: boolean; note?: string }[];
}

export const DEMO_REFERENCE_SET = 'mini LoRA-WiSE (demo)';
export const DEMO_KEY_PASSPHRASE = 'demo examiner';

/** assets/demo: beside the source tree, or in Electron's resources folder when packaged (main/paths/assets.ts). */
export function demoDir(): string {
  const found = findAssets(join('demo', 'manifest.json'));
  if (!found) throw new AuditError('NOT_FOUND', 'the demo investigation is not installed (assets/demo/manifest.json is missing); run `npm run generate:demo`');
  return join(found, 'demo');
}

export async function openDemo(s: Services, job: JobContext): Promise<string> {
  const existing = (await listCases(s.db)).find((c) => c.title === DEMO_TITLE);
  if (existing) return existing.id;
  const dir = demoDir();
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as DemoManifest;

  if (!(await findSetRow(s.db, DEMO_REFERENCE_SET))?.complete) {
    job.progress({ phase: 'importing the reference set', done: 0, total: null, unit: 'adapters', message: DEMO_REFERENCE_SET });
    const report = await importReference(s.db, {
      name: DEMO_REFERENCE_SET, paths: [resolve(dir, manifest.reference.file)], rank: manifest.reference.rank,
      engine: await s.engine(), signal: job.signal,
      onProgress: (p) => job.progress({ phase: 'importing the reference set', done: p.bytesDone, total: p.bytesTotal, unit: 'bytes', message: DEMO_REFERENCE_SET, adaptersDone: p.adaptersDone, adaptersTotal: p.adaptersTotal ?? null }),
    });
    if (!report.set?.complete) throw new AuditError('BAD_SHARD', `the demo reference set did not import: ${report.errors.map((e) => e.message).join('; ')}`);
  }
  throwIfCancelled(job.signal);

  const kase = await createCase(s.db, {
    title: DEMO_TITLE,
    examiner: 'Demo Examiner',
    organisation: 'LoRA Auditor demo',
    description: 'Adapters fine-tuned on known numbers of samples by the built-in generator, examined against the mini LoRA-WiSE reference set. Compare each estimate with the size in the evidence notes.',
  });
  for (const [i, e] of manifest.adapters.entries()) {
    throwIfCancelled(job.signal);
    job.progress({ phase: 'adding evidence', done: i, total: manifest.adapters.length, unit: 'files', message: e.file });
    const notes = [`ground truth: fine-tuned on ${e.size} sample${e.size === 1 ? '' : 's'} (${e.family} format)`, e.note].filter(Boolean).join('; ');
    await addEvidence(s.db, kase.id, resolve(dir, e.file), notes ? { notes } : {});
  }
  const engine = await s.engine();
  const evidence = await listEvidence(s.db, kase.id);
  for (const [i, e] of evidence.entries()) {
    throwIfCancelled(job.signal);
    job.progress({ phase: 'analysing', done: i, total: evidence.length, unit: 'files', message: e.fileName });
    await runAnalysis(s.db, kase.id, e.id, DEMO_REFERENCE_SET, {}, engine);
  }
  await addNote(s.db, kase.id, 'Demo case created automatically. The notes on each evidence item state the true training-set size, so the estimates can be checked.');

  // The signed report that ends every investigation, signed with a demo examiner key made here (its
  // passphrase is no secret: DEMO_KEY_PASSPHRASE). Verify it with the certificate beside the key.
  throwIfCancelled(job.signal);
  job.progress({ phase: 'signing the demo report', done: 0, total: 1, unit: 'steps', message: 'printing and signing the report' });
  const keyPath = join(s.dataDir, 'keys', 'demo-examiner.p12');
  if (!existsSync(keyPath)) {
    await writeExaminerKey(keyPath, { name: 'Demo Examiner', organisation: 'LoRA Auditor demo' }, DEMO_KEY_PASSPHRASE);
  }
  await createCaseReport(s.db, kase.id, {
    out: join(s.dataDir, 'reports', 'demo-investigation.pdf'), p12: new Uint8Array(readFileSync(keyPath)),
    passphrase: DEMO_KEY_PASSPHRASE, keyFile: keyPath, renderer: await s.renderer(), engine,
  });
  return kase.id;
}
