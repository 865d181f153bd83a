// Case-file costs: evidence import (copy + SHA-256 + fsync + rename + row + audit entry) against a
// plain copy-then-hash baseline measured in the same run; audit appends and chain verification;
// case verification; archive export and import. Run: ./node_modules/.bin/node test/bench/cases.bench.ts
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createCase } from '../../main/cases/cases.ts';
import { addEvidence } from '../../main/cases/evidence.ts';
import { addNote } from '../../main/cases/notes.ts';
import { verifyAudit } from '../../main/cases/audit.ts';
import { verifyCase } from '../../main/cases/verify.ts';
import { exportCase, importCase } from '../../main/cases/archive.ts';
import { sha256File } from '../../main/common/hashing.ts';
import { openDatabase } from '../../main/services/database.ts';
import { fixedInspector } from '../unit/cases/helpers.ts';

const MB = 1 << 20;
const FILE_MB = 64;
const dir = mkdtempSync(join(tmpdir(), 'lora-audit-bench-cases-'));
const rows: { what: string; ms: number; per?: string; ratio?: string }[] = [];

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function best<T>(runs: number, fn: (i: number) => Promise<T>): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < runs; i++) min = Math.min(min, (await time(() => fn(i))).ms);
  return min;
}

try {
  const sources = [0, 1, 2].map((i) => {
    const p = join(dir, `src${i}.safetensors`);
    writeFileSync(p, randomBytes(FILE_MB * MB));
    return p;
  });
  const db = await openDatabase(join(dir, 'db', 'cases.sqlite'));
  const caseId = (await createCase(db, { title: 'Bench', examiner: 'B' })).id;
  const inspector = fixedInspector({ family: 'unknown', method: 'unknown', baseModel: 'unknown' });

  const baseline = await best(3, async (i) => {
    const out = join(dir, `plain${i}`);
    await copyFile(sources[i], out);
    await sha256File(out);
  });
  rows.push({ what: `baseline: copyFile + hash the copy (${FILE_MB} MB)`, ms: baseline, per: `${(FILE_MB / baseline * 1000).toFixed(0)} MB/s`, ratio: '1.00' });
  const imported = await best(3, (i) => addEvidence(db, caseId, sources[i], { inspector }));
  rows.push({ what: `addEvidence, ${FILE_MB} MB (one-pass copy+hash, fsync, rename, row, audit)`, ms: imported, per: `${(FILE_MB / imported * 1000).toFixed(0)} MB/s`, ratio: (imported / baseline).toFixed(2) });

  const small = join(dir, 'small.safetensors');
  copyFileSync(new URL('../../package.json', import.meta.url), small);
  const N = 200;
  const notes = (await time(async () => { for (let i = 0; i < N; i++) await addNote(db, caseId, `note ${i}`); })).ms;
  rows.push({ what: `audited change (note + audit entry, one transaction) ×${N}`, ms: notes, per: `${(notes / N).toFixed(2)} ms each` });
  const chain = await best(3, () => verifyAudit(db, caseId));
  rows.push({ what: `verify audit chain (${N + 4} entries)`, ms: chain, per: `${(chain / (N + 4) * 1000).toFixed(1)} µs/entry` });
  const whole = await best(2, () => verifyCase(db, caseId));
  rows.push({ what: `verify case (re-hash ${3 * FILE_MB} MB + chain)`, ms: whole, per: `${(3 * FILE_MB / whole * 1000).toFixed(0)} MB/s`, ratio: (whole / (3 * baseline)).toFixed(2) });
  const archive = join(dir, 'case.tar');
  const exported = (await time(() => exportCase(db, caseId, archive))).ms;
  rows.push({ what: `export archive (${3 * FILE_MB} MB evidence, plain tar)`, ms: exported, per: `${(3 * FILE_MB / exported * 1000).toFixed(0)} MB/s`, ratio: (exported / (3 * baseline)).toFixed(2) });
  const other = await openDatabase(join(dir, 'other', 'cases.sqlite'));
  const imp = (await time(() => importCase(other, archive))).ms;
  rows.push({ what: 'import archive (unpack, re-hash all, verify chain, insert)', ms: imp, per: `${(3 * FILE_MB / imp * 1000).toFixed(0)} MB/s`, ratio: (imp / (3 * baseline)).toFixed(2) });
  await other.close();
  await db.close();

  console.log(`cases bench: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.versions.node}, no GPU needed`);
  console.log('| what | ms | rate | × baseline |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.what} | ${r.ms.toFixed(1)} | ${r.per ?? ''} | ${r.ratio ?? ''} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
