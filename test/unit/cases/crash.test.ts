// Reliability: SIGKILL at random points during evidence import, two writers at once.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createCase } from '../../../main/cases/cases.ts';
import { verifyAudit } from '../../../main/cases/audit.ts';
import { listEvidence } from '../../../main/cases/evidence.ts';
import { recoverStore } from '../../../main/cases/store.ts';
import { sha256File } from '../../../main/common/hashing.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { CATUNDCHAT, PEFT_BERT, cli, cliJson, node, rawSql, repoRoot, tempDir } from './helpers.ts';

/** A distinct evidence file: a real fixture plus a few trailing bytes, so every import is new. */
function variant(dir: string, src: string, tag: string): string {
  const out = join(dir, `${tag}-${src.split('/').pop()}`);
  copyFileSync(src, out);
  appendFileSync(out, tag);
  return out;
}

function spawnCli(args: string[]) {
  const child = spawn(node, [cli, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((res) =>
    child.on('close', (code, signal) => res({ code, signal, stdout })));
  return { child, done };
}

/** What must hold after any crash: a sound database file, an intact chain, and (after recovery)
 *  exactly one stored folder per evidence row, each holding the bytes its row records. */
async function checkConsistent(dbPath: string, caseId: string): Promise<{ rows: number; removed: string[] }> {
  expect(await rawSql(dbPath, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
  const db = await openDatabase(dbPath);
  try {
    const { removed } = await recoverStore(db, caseId);
    expect((await verifyAudit(db, caseId)).problem).toBeUndefined();
    const items = await listEvidence(db, caseId);
    const evidenceDir = join(dbPath, '..', 'cases', caseId, 'evidence');
    const onDisk = existsSync(evidenceDir) ? readdirSync(evidenceDir).sort() : [];
    expect(onDisk).toEqual(items.map((e) => e.sha256).sort());
    for (const e of items) expect((await sha256File(e.storedPath)).sha256).toBe(e.sha256);
    const added = await db.all<{ n: number }>("SELECT count(*) AS n FROM audit_log WHERE case_id = ? AND action = 'evidence-added'", [caseId]);
    expect(added[0].n).toBe(items.length);
    return { rows: items.length, removed };
  } finally {
    await db.close();
  }
}

describe('crash safety of evidence import', () => {
  it('leaves a consistent case after SIGKILL at random points (20 runs)', async () => {
    const t = tempDir();
    try {
      const dbPath = join(t.dir, 'cases.sqlite');
      const db = await openDatabase(dbPath);
      const caseId = (await createCase(db, { title: 'Kill loop', examiner: 'E' })).id;
      await db.close();
      // one uninterrupted run sets the time scale, so the kills land across start-up, copying,
      // inspection and the transactions however loaded the machine is
      const t0 = Date.now();
      const first = await spawnCli(['case', 'add-evidence', caseId, variant(t.dir, PEFT_BERT.path, 'first'), variant(t.dir, CATUNDCHAT.path, 'first'), variant(t.dir, CATUNDCHAT.path, 'second'), '--db', dbPath, '--json']).done;
      expect(first.code).toBe(0);
      const span = Date.now() - t0;
      let killed = 0;
      let recoveredSomething = 0;
      for (let i = 0; i < 20; i++) {
        const files = [variant(t.dir, CATUNDCHAT.path, `a${i}`), variant(t.dir, PEFT_BERT.path, `b${i}`), variant(t.dir, CATUNDCHAT.path, `c${i}`)];
        const run = spawnCli(['case', 'add-evidence', caseId, ...files, '--db', dbPath, '--json']);
        const delay = Math.floor(span * (0.2 + Math.random() * 0.8));
        const timer = setTimeout(() => run.child.kill('SIGKILL'), delay);
        const r = await run.done;
        clearTimeout(timer);
        if (r.signal === 'SIGKILL') killed++;
        else expect(r.code).toBe(0);
        const { removed } = await checkConsistent(dbPath, caseId);
        if (removed.length > 0) recoveredSomething++;
      }
      // the loop must actually have interrupted imports, or it tested nothing
      expect(killed).toBeGreaterThan(5);
      const v = await cliJson<{ ok: boolean }>(['case', 'verify', caseId, '--db', dbPath]);
      expect(v).toMatchObject({ code: 0, data: { ok: true } });
      console.log(`kill loop: ${killed}/20 killed, ${recoveredSomething} left something for recovery`);
    } finally {
      t.cleanup();
    }
  }, 180_000);

  it('lets two processes add evidence to the same case at once', async () => {
    const t = tempDir();
    try {
      const dbPath = join(t.dir, 'cases.sqlite');
      const db = await openDatabase(dbPath);
      const caseId = (await createCase(db, { title: 'Two writers', examiner: 'E' })).id;
      await db.close();
      const one = [0, 1, 2].map((k) => variant(t.dir, PEFT_BERT.path, `x${k}`));
      const two = [0, 1, 2].map((k) => variant(t.dir, CATUNDCHAT.path, `y${k}`));
      const [r1, r2] = await Promise.all([
        spawnCli(['case', 'add-evidence', caseId, ...one, '--db', dbPath, '--json']).done,
        spawnCli(['case', 'add-evidence', caseId, ...two, '--db', dbPath, '--json', '--actor', 'Background import']).done,
      ]);
      expect(r1.code).toBe(0);
      expect(r2.code).toBe(0);
      expect(JSON.parse(r1.stdout).evidence).toHaveLength(3);
      expect(JSON.parse(r2.stdout).evidence).toHaveLength(3);
      expect((await checkConsistent(dbPath, caseId)).rows).toBe(6);
    } finally {
      t.cleanup();
    }
  }, 120_000);
});
