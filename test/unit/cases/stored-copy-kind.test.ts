// Something other than a regular file in a stored copy's place (issue 15 review): a FIFO made `case
// verify` (and `case analyze`, and `verify` of a stored report) wait forever for a writer, and a link to
// /dev/zero would hash forever. The store holds regular files only, so anything else is named and not
// read; and `case add-evidence` no longer waits on a FIFO given as the adapter or lying beside it.
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runAnalysis } from '../../../main/cases/analyses.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { listReports } from '../../../main/cases/reports.ts';
import { verifyCase } from '../../../main/cases/verify.ts';
import { checkSignedStatement } from '../../../main/reports/signed-statement.ts';
import { verifyReport } from '../../../main/reports/verify.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { copyCase, reportedCaseForSuite } from './anchor-fixture.ts';
import { plainInspector, tempDb } from './helpers.ts';

/** Replaces a read-only stored file by `make(path)` (a FIFO, a link). */
function replace(path: string, make: (p: string) => void): void {
  chmodSync(dirname(path), 0o755);
  rmSync(path);
  make(path);
}
const fifo = (p: string) => execFileSync('mkfifo', [p]);
const NOT_A_FILE = 'is no longer a regular file (something else, a link, a FIFO or a device, was put in its place): not read';

describe('an evidence copy replaced by a FIFO or a link to a device', () => {
  let t: Awaited<ReturnType<typeof tempDb>>;
  let caseId: string;
  let evidence: { id: string; storedPath: string };
  beforeEach(async () => {
    t = await tempDb();
    caseId = (await createCase(t.db, { title: 'Stored copies', examiner: 'E' })).id;
    const file = join(t.dir, 'adapter.safetensors');
    writeFileSync(file, 'the evidence bytes');
    evidence = await addEvidence(t.db, caseId, file, { inspector: plainInspector });
  });
  afterEach(async () => { await t.cleanup(); });

  for (const [what, make] of [['a FIFO', fifo], ['a link to /dev/zero', (p: string) => symlinkSync('/dev/zero', p)]] as const) {
    it(`${what}: case verify names it instead of waiting on it, and case analyze refuses it`, async () => {
      replace(evidence.storedPath, make);
      const v = await verifyCase(t.db, caseId);
      expect(v.problems).toEqual([{ kind: 'evidence-hash', evidenceId: evidence.id, file: evidence.storedPath,
        message: `evidence ${evidence.id} (adapter.safetensors): the stored copy ${NOT_A_FILE}` }]);
      // refused before the pipeline: no engine is touched
      const outcome = await runAnalysis(t.db, caseId, evidence.id, 'any set', {}, {} as FeatureEngine);
      expect(outcome).toMatchObject({ status: 'refused', finding: { code: 'EVIDENCE_HASH_MISMATCH',
        message: `the stored copy of adapter.safetensors ${NOT_A_FILE}, so it cannot be analysed` } });
    }, 20_000);
  }
});

describe('case add-evidence of a FIFO', () => {
  let t: Awaited<ReturnType<typeof tempDb>>;
  let caseId: string;
  beforeEach(async () => {
    t = await tempDb();
    caseId = (await createCase(t.db, { title: 'Intake', examiner: 'E' })).id;
  });
  afterEach(async () => { await t.cleanup(); });

  it('as the adapter, or as its adapter_config.json, is refused instead of waiting for a writer; nothing is stored', async () => {
    const adapter = join(t.dir, 'model.safetensors');
    fifo(adapter);
    await expect(addEvidence(t.db, caseId, adapter, { inspector: plainInspector })).rejects.toMatchObject({ code: 'IS_DIRECTORY',
      message: expect.stringContaining('is not a regular file (a FIFO, socket or device): give the adapter file itself') });

    const folder = join(t.dir, 'peft');
    execFileSync('mkdir', [folder]);
    writeFileSync(join(folder, 'adapter_model.safetensors'), 'weights');
    fifo(join(folder, 'adapter_config.json'));
    await expect(addEvidence(t.db, caseId, join(folder, 'adapter_model.safetensors'), { inspector: plainInspector })).rejects.toMatchObject({ code: 'IS_DIRECTORY',
      message: expect.stringContaining('adapter_config.json') });
    expect(await t.db.all('SELECT id FROM evidence')).toEqual([]);
  }, 20_000);
});

describe('a stored report replaced by a FIFO', () => {
  const suite = reportedCaseForSuite();

  it('verify refuses to read a FIFO given as the report, and case verify names the stored copy', async () => {
    const given = join(suite.built.dir, 'given.pdf');
    fifo(given);
    await expect(verifyReport(given)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringContaining('the report cannot be read (it is missing, or not a regular file)') });

    const c = await copyCase(suite.built);
    try {
      const [report] = await listReports(c.db, suite.built.caseId);
      replace(report.storedPath, fifo);
      const v = await verifyCase(c.db, suite.built.caseId, { checkSignedStatement });
      expect(v.problems).toEqual(expect.arrayContaining([
        { kind: 'report-hash', reportId: report.id, file: report.storedPath, message: `report ${report.id}: its stored copy ${NOT_A_FILE}` },
        expect.objectContaining({ kind: 'report-signature', message: expect.stringContaining('the report cannot be read (it is missing, or not a regular file)') }),
      ]));
    } finally {
      await c.cleanup();
    }
  }, 30_000);
});
