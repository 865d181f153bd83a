// The rows beside the audit trail (issue 15 review): one UPDATE of an analysis row's result, or a
// stored evidence copy swapped together with its row's SHA-256, used to pass `case verify` (the chain
// and the journal were untouched, and no report covered the row), so a report signed afterwards
// printed the new value. Every row is now held to the audit entry that recorded it, in case verify,
// in verify --db, and in an archive import before anything is written; and a report is signed only
// for a case that verifies.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportCase, importCase } from '../../../main/cases/archive.ts';
import { runAnalysis } from '../../../main/cases/analyses.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { addNote } from '../../../main/cases/notes.ts';
import { verifyCase } from '../../../main/cases/verify.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { checkSignedStatement } from '../../../main/reports/signed-statement.ts';
import { blankPdf, copyCase, reportedCaseForSuite } from './anchor-fixture.ts';
import { editCaseJson, rehash, repack, unpack } from './archive-helpers.ts';
import { plainInspector, rawSql, tempDb } from './helpers.ts';

describe('analysis rows against their audit entries', () => {
  const suite = reportedCaseForSuite();

  let c: Awaited<ReturnType<typeof copyCase>>;
  let analysisId: string;
  let estimate: number;
  beforeEach(async () => {
    c = await copyCase(suite.built);
    // analysed after the report: no signed manifest covers this row, only its audit entry
    const outcome = await runAnalysis(c.db, suite.built.caseId, suite.built.evidenceIds[0], 'mini', { mode: 'faithful' }, suite.engine);
    if (outcome.status !== 'done') throw new Error('the analysis was refused');
    analysisId = outcome.analysis.id;
    estimate = outcome.analysis.result.estimate!;
  }, 60_000);
  afterEach(async () => { await c.cleanup(); });

  const verify = () => verifyCase(c.db, suite.built.caseId, { checkSignedStatement });
  const setEstimate = (value: string) => rawSql(c.dbPath, `UPDATE analyses SET result = json_set(result, '$.estimate', json('${value}')) WHERE id = ?`, [analysisId]);

  it('an honest case verifies', async () => {
    expect((await verify()).problems).toEqual([]);
  });

  it('one UPDATE of the estimate is named: the row is not what its entry recorded (estimate and result SHA-256)', async () => {
    await setEstimate('500');
    const v = await verify();
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([{ kind: 'record-divergence', seq: expect.any(Number),
      message: expect.stringMatching(new RegExp(`^analysis ${analysisId} is not what audit entry \\d+ recorded \\(estimate: 500 now, ${estimate} recorded; ` +
        'result SHA-256: "[0-9a-f]{64}" now, "[0-9a-f]{64}" recorded\\): the row was changed after it was recorded$')) }]);
  });

  it('verify --db names it too, from the report that was handed out', async () => {
    await setEstimate('500');
    const { verifyReport } = await import('../../../main/reports/verify.ts');
    const v = await verifyReport(join(suite.built.dir, 'out', 'report.pdf'), { db: c.db, trust: [suite.built.pki.caPem] });
    expect(v.ok).toBe(false);
    expect(v.manifest?.evidenceMatchesCase).toBe(false);
    expect(v.problems).toEqual([expect.stringMatching(new RegExp(`^analysis ${analysisId} is not what audit entry \\d+ recorded \\(estimate: 500 now`))]);
  });

  it('no report is signed for the case while the row differs (it would have certified 500)', async () => {
    await setEstimate('500');
    const { createCaseReport } = await import('../../../main/reports/report.ts');
    const out = join(c.dir, 'out', 'after-edit.pdf');
    await expect(createCaseReport(c.db, suite.built.caseId, { out, p12: readFileSync(suite.built.pki.p12), passphrase: suite.built.pki.passphrase, renderer: blankPdf }))
      .rejects.toMatchObject({ code: 'HASH_MISMATCH',
        message: expect.stringMatching(new RegExp(`^case ${suite.built.caseId} does not verify, so no report is signed for it: analysis ${analysisId} is not what audit entry \\d+ recorded \\(estimate: 500 now`)) });
    expect(existsSync(out)).toBe(false);
    expect(await rawSql(c.dbPath, 'SELECT id FROM reports')).toHaveLength(1);
  });

  it('an estimate of 1e999 (read back as Infinity) is named as Infinity, also against an entry of an older version (no result hash)', async () => {
    const [entry] = await rawSql(c.dbPath, "SELECT seq, details FROM audit_log WHERE case_id = ? AND action = 'analysis' ORDER BY seq DESC LIMIT 1", [suite.built.caseId]);
    const { resultSha256: _dropped, ...older } = JSON.parse(entry.details as string) as Record<string, unknown>;
    const { rewriteTrail } = await import('./anchor-rewrite.ts');
    await rewriteTrail(c.db, c.dbPath, suite.built.caseId, entry.seq as number, () => older);
    rmSync(`${c.dbPath}.audit-journal`);
    await setEstimate('1e999');
    const problems = (await verify()).problems.filter((p) => p.kind === 'record-divergence');
    expect(problems.map((p) => p.message)).toEqual([
      `analysis ${analysisId} is not what audit entry ${entry.seq} recorded (estimate: Infinity now, ${estimate} recorded): the row was changed after it was recorded`]);
  });

  it('a deleted analysis row is named from its entry', async () => {
    await rawSql(c.dbPath, 'DELETE FROM analyses WHERE id = ?', [analysisId]);
    expect((await verify()).problems).toEqual([expect.objectContaining({ kind: 'record-divergence',
      message: expect.stringMatching(new RegExp(`^audit entry \\d+ records analysis ${analysisId}, which is no longer in the database: the row was deleted$`)) })]);
  });

  it('an archive whose case.json carries an edited estimate (manifest rehashed, unsigned) is refused before anything is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-audit-trail-rows-'));
    try {
      const archive = join(dir, 'case.tar');
      await exportCase(c.db, suite.built.caseId, archive, { checkSignedStatement });
      const { dir: unpacked } = await unpack(archive, join(dir, 'unpacked'));
      editCaseJson(unpacked, (rows) => {
        const row = rows.analyses.find((a: { id: string }) => a.id === analysisId);
        row.result = JSON.stringify({ ...JSON.parse(row.result), estimate: 500 });
      });
      await rehash(unpacked);
      const target = await openDatabase(join(dir, 'target.sqlite'));
      try {
        await expect(importCase(target, await repack(unpacked, join(dir, 'edited.tar')))).rejects.toMatchObject({ code: 'BAD_ARCHIVE',
          message: expect.stringMatching(new RegExp(`case.json's rows are not what its audit trail recorded: analysis ${analysisId} is not what audit entry \\d+ recorded \\(estimate: 500 now`)) });
        expect(await target.all('SELECT id FROM cases')).toEqual([]);
      } finally {
        await target.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('evidence, note and case rows against their audit entries', () => {
  let t: Awaited<ReturnType<typeof tempDb>>;
  let caseId: string;
  let evidenceId: string;
  let storedPath: string;
  beforeEach(async () => {
    t = await tempDb();
    caseId = (await createCase(t.db, { title: 'Rows', examiner: 'E' })).id;
    const file = join(t.dir, 'adapter.safetensors');
    writeFileSync(file, Buffer.from('the original evidence bytes'));
    const added = await addEvidence(t.db, caseId, file, { inspector: plainInspector });
    evidenceId = added.id;
    storedPath = added.storedPath;
    await addNote(t.db, caseId, 'seen at the scene');
  });
  afterEach(async () => { await t.cleanup(); });

  it('a stored copy swapped together with its row\'s SHA-256 and size is named', async () => {
    const forged = Buffer.from('other bytes, hashed into the row');
    chmodSync(storedPath, 0o644);
    writeFileSync(storedPath, forged);
    const { sha256Hex } = await import('../../../main/common/hashing.ts');
    await rawSql(t.dbPath, 'UPDATE evidence SET sha256 = ?, size = ? WHERE id = ?', [sha256Hex(forged), forged.length, evidenceId]);
    const v = await verifyCase(t.db, caseId);
    expect(v.problems).toEqual([{ kind: 'record-divergence', evidenceId, seq: 2,
      message: `evidence ${evidenceId} is not what audit entry 2 recorded (sha256: "${sha256Hex(forged)}" now, "${sha256Hex(Buffer.from('the original evidence bytes'))}" recorded; ` +
        `size: ${forged.length} now, 27 recorded): the row was changed after it was recorded` }]);
  });

  it('a planted note, an edited note, an edited base model and an edited case title and status are each named', async () => {
    await rawSql(t.dbPath, "INSERT INTO notes (id, case_id, author, text, created_at) VALUES ('11111111-1111-4111-8111-111111111111', ?, 'E', 'planted', 'now')", [caseId]);
    await rawSql(t.dbPath, "UPDATE notes SET text = 'not seen' WHERE text = 'seen at the scene'");
    await rawSql(t.dbPath, "UPDATE cases SET title = 'Another case', status = 'closed' WHERE id = ?", [caseId]);
    await rawSql(t.dbPath, "UPDATE evidence SET base_model = 'sdxl' WHERE id = ?", [evidenceId]);
    const messages = (await verifyCase(t.db, caseId)).problems.map((p) => p.message);
    expect(messages).toHaveLength(5);
    expect(messages).toContain(`evidence ${evidenceId} is not what audit entry 2 recorded (baseModel: "sdxl" now, "sd1" recorded): the row was changed after it was recorded`);
    expect(messages).toEqual(expect.arrayContaining([
      'note 11111111-1111-4111-8111-111111111111 is in the database, but no audit entry records it: it was added outside the application',
      expect.stringMatching(/^note [0-9a-f-]{36} is not what audit entry 3 recorded \(text: "not seen" now, "seen at the scene" recorded\)/),
      'the case\'s title ("Another case" now, "Rows" recorded) is not what audit entry 1 recorded when it was created: the row was changed after it was recorded',
      'the case\'s status is "closed", but the audit trail records no change from "open": the row was changed after it was recorded',
    ]));
  });
});
