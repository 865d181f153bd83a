// A case with real analyses and a signed report (its signed manifest and signature kept in the report's
// folder) survives a signed export and import whole: the imported case verifies, signed reports compared.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportCase, importCase } from '../../../main/cases/archive.ts';
import { verifyCase } from '../../../main/cases/verify.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { signDetachedCms, verifyDetachedCms } from '../../../main/reports/cms.ts';
import { loadKey } from '../../../main/reports/keys.ts';
import { checkSignedStatement } from '../../../main/reports/signed-statement.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import { buildReportedCase, copyCase, type ReportedCase } from './anchor-fixture.ts';
import { tempDir } from './helpers.ts';

describe('case archive round trip', () => {
  let built: ReportedCase;
  const t = tempDir('lora-audit-archive-trip-');

  beforeAll(async () => {
    const engine = await createFeatureEngine({ backend: 'cpu' });
    try {
      built = await buildReportedCase(engine);
    } finally {
      engine.dispose();
    }
  }, 120_000);

  afterAll(() => {
    built?.cleanup();
    t.cleanup();
  });

  it('exports a reported case signed and imports it elsewhere, where it verifies', async () => {
    const key = loadKey(readFileSync(built.pki.p12), built.pki.passphrase);
    const from = await copyCase(built);
    const archive = join(t.dir, 'case.tar');
    try {
      const ex = await exportCase(from.db, built.caseId, archive, { checkSignedStatement, signing: { sign: (d) => signDetachedCms(d, key), signer: key.info } });
      // the report's PDF, signed manifest and signature, two adapters, case.json
      expect(ex).toMatchObject({ signed: true, files: 6 });
    } finally {
      await from.cleanup();
    }
    const to = await openDatabase(join(t.dir, 'elsewhere', 'cases.sqlite'));
    try {
      const r = await importCase(to, archive, { trust: [built.pki.caPem], verifyCms: verifyDetachedCms });
      expect(r).toMatchObject({ caseId: built.caseId, counts: { evidence: 2, analyses: 2, reports: 1 }, signature: { status: 'signed', trusted: true } });
      const v = await verifyCase(to, built.caseId, { checkSignedStatement });
      expect(v.problems).toEqual([]);
      expect(v.checked).toMatchObject({ evidence: 2, reports: 1 });
    } finally {
      await to.close();
    }
  });
});
