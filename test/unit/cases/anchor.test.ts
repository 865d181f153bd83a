// A case's signed reports as anchors: the attack is a consistent rewrite of audit_log plus an edited
// analyses.result (every entry rechained, the case's head updated), which the chain check passes. The
// signed manifest stored with the report still records the old audit head and the old results, and
// case verification compares them with the database. The journal is deleted in the attacks below, so
// that what is shown is the reports' own anchor (journal.test.ts shows the journal's).
import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditRows, listAudit, verifyAudit } from '../../../main/cases/audit.ts';
import { runAnalysis } from '../../../main/cases/analyses.ts';
import { journalPath } from '../../../main/cases/journal.ts';
import { listReports, type ReportRecord } from '../../../main/cases/reports.ts';
import { verifyCase } from '../../../main/cases/verify.ts';
import type { Database } from '../../../main/db/database.ts';
import { loadKey } from '../../../main/reports/keys.ts';
import { signManifest, type ReportManifest } from '../../../main/reports/manifest.ts';
import { checkSignedStatement } from '../../../main/reports/signed-statement.ts';
import { verifyReport } from '../../../main/reports/verify.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { sha256Hex } from '../../../main/common/hashing.ts';
import { makePki, type TestPki } from '../reports/pki.ts';
import { buildReportedCase, copyCase, type ReportedCase } from './anchor-fixture.ts';
import { rewriteTrail } from './anchor-rewrite.ts';
import { cliJson, rawSql } from './helpers.ts';

let engine: FeatureEngine;
let built: ReportedCase;
let otherPki: TestPki;
beforeAll(async () => {
  engine = await createFeatureEngine({ backend: 'cpu' });
  built = await buildReportedCase(engine);
  otherPki = makePki();
}, 120_000);
afterAll(() => {
  engine?.dispose();
  built?.cleanup();
  if (otherPki) rmSync(otherPki.dir, { recursive: true, force: true });
});

let c: Awaited<ReturnType<typeof copyCase>>;
let db: Database;
let report: ReportRecord;
beforeEach(async () => {
  c = await copyCase(built);
  db = c.db;
  report = (await listReports(db, built.caseId))[0];
});
afterEach(async () => { await c.cleanup(); });

const verify = () => verifyCase(db, built.caseId, { checkSignedStatement });

/** The report's audit entry made to record the companions its row now holds (what a consistent attacker does). */
async function recordCompanions(companions: { role: string; sha256: string }[]): Promise<void> {
  const entry = (await listAudit(db, built.caseId)).find((e) => e.action === 'report' && e.details.reportId === report.id)!;
  await rewriteTrail(db, c.dbPath, built.caseId, entry.seq, ({ manifestSha256: _m, signatureSha256: _s, ...d }) => ({
    ...d, ...Object.fromEntries(companions.map((x) => [`${x.role}Sha256`, x.sha256])) }));
  rmSync(journalPath(c.dbPath), { force: true });   // so that what is shown is the report's own anchor
}
const storedManifest = () => JSON.parse(readFileSync(report.companions.find((x) => x.role === 'manifest')!.storedPath, 'utf8')) as ReportManifest;

/** The attack on the estimated evidence: its analysis row gets another estimate and interval, its
 *  audit entry the same estimate, and the whole trail from there is rechained. */
async function rewriteEstimate(estimate: number): Promise<{ analysisId: string; seq: number }> {
  const [row] = await rawSql(c.dbPath, 'SELECT id, result FROM analyses WHERE evidence_id = ?', [built.evidenceIds[0]]);
  const result = JSON.parse(row.result as string) as Record<string, unknown>;
  const edited = JSON.stringify({ ...result, estimate, interval: { low: estimate, high: estimate, coverage: 0.9, method: 'edited' } });
  await rawSql(c.dbPath, 'UPDATE analyses SET result = ? WHERE id = ?', [edited, row.id]);
  const entry = (await listAudit(db, built.caseId)).find((e) => e.action === 'analysis' && e.details.analysisId === row.id)!;
  // consistent: the entry records the edited row's estimate and hash, so only the report can tell
  await rewriteTrail(db, c.dbPath, built.caseId, entry.seq, (d) => ({ ...d, estimate, resultSha256: sha256Hex(edited) }));
  rmSync(journalPath(c.dbPath));
  expect((await verifyAudit(db, built.caseId)).ok).toBe(true);   // the chain alone is satisfied
  return { analysisId: row.id as string, seq: entry.seq };
}

describe('signed reports anchor the case', () => {
  it('keeps the signed manifest and its signature with the report copy, hashed in the row and the audit entry', async () => {
    expect(report.companions.map((x) => [x.role, x.fileName])).toEqual([['manifest', 'report.manifest.json'], ['signature', 'report.manifest.json.sig']]);
    for (const file of report.companions) {
      expect(statSync(file.storedPath).mode & 0o777).toBe(0o444);
      expect(file.storedPath.startsWith(`${c.dir}/cases/${built.caseId}/reports/${report.id}/`)).toBe(true);
    }
    expect(storedManifest()).toMatchObject({ case: { id: built.caseId }, pdf: { sha256: report.sha256 } });
    const entry = (await listAudit(db, built.caseId)).find((e) => e.action === 'report')!;
    expect(entry.details).toMatchObject({ reportId: report.id, manifestSha256: report.companions[0].sha256, signatureSha256: report.companions[1].sha256 });
  });

  it('an honest case verifies, also after re-analyses that give other results', async () => {
    const first = await verify();
    expect(first.problems).toEqual([]);
    expect(first.warnings).toEqual([]);
    expect(first.ok).toBe(true);
    // one result estimated and one not applicable: both are compared
    expect(storedManifest().results.map((r) => r.applicable)).toEqual([true, false]);

    for (const mode of ['best', 'faithful'] as const) {
      expect((await runAnalysis(db, built.caseId, built.evidenceIds[0], 'mini', { mode }, engine)).status).toBe('done');
    }
    const later = await verify();
    expect(later.problems).toEqual([]);
    expect(later.ok).toBe(true);
  }, 60_000);

  it('names the divergence when audit_log is rewritten and analyses.result edited consistently', async () => {
    const certified = storedManifest();
    const { analysisId } = await rewriteEstimate(100);
    const v = await verify();
    expect(v.ok).toBe(false);
    const head = certified.auditHead;
    const headNow = (await auditRows(db, built.caseId)).find((r) => r.seq === head.seq)!.hash;
    expect(v.problems).toEqual([
      { kind: 'report-divergence', reportId: report.id, seq: head.seq,
        message: `report ${report.id}: it was signed when audit entry ${head.seq} had hash ${head.hash}; today's entry ${head.seq} has ${headNow}: the audit trail was rewritten after the report was signed` },
      { kind: 'report-divergence', reportId: report.id, evidenceId: built.evidenceIds[0],
        message: expect.stringMatching(new RegExp(`^report ${report.id}: it certified for evidence ${built.evidenceIds[0]} \\(query-size10.safetensors\\) estimate ${certified.results[0].estimate}\\b.*` +
          `but no analysis of that evidence records that result now: analysis ${analysisId} records estimate 100 \\(interval 100–100, coverage 0.9\\).*\\(differs in estimate, interval\\)$`)) },
    ]);
    expect(v.warnings.map((w) => w.kind)).toEqual(['journal-missing']);
  });

  it('lora-audit case verify exits 1 naming the divergence (the CLI hands it the signature checker)', async () => {
    await rewriteEstimate(100);
    await db.close();
    const r = await cliJson<{ ok: boolean; problems: { kind: string; reportId?: string }[] }>(['case', 'verify', built.caseId, '--db', c.dbPath]);
    expect(r.code).toBe(1);
    expect(r.data.ok).toBe(false);
    expect(r.data.problems.map((p) => [p.kind, p.reportId])).toEqual([['report-divergence', report.id], ['report-divergence', report.id]]);
  }, 60_000);

  it('lora-audit verify --db names the same divergences from the report that was handed out, and passes an honest case', async () => {
    const pdf = join(built.dir, 'out', 'report.pdf');   // as issued, with its manifest beside it
    const honest = await verifyReport(pdf, { db, trust: [built.pki.caPem] });
    expect(honest.problems).toEqual([]);
    expect(honest.manifest?.evidenceMatchesCase).toBe(true);
    await rewriteEstimate(100);
    const v = await verifyReport(pdf, { db, trust: [built.pki.caPem] });
    expect(v.ok).toBe(false);
    expect(v.signatureValid).toBe(true);   // the PDF itself is intact: the database is what changed
    expect(v.manifest?.evidenceMatchesCase).toBe(false);
    // the manifest handed out with the PDF, then the copy stored with the case: each names the rewrite
    expect(v.problems.filter((p) => p.includes('the audit trail was rewritten after the report was signed'))).toHaveLength(2);
    expect(v.problems.filter((p) => /records estimate 100 .*\(differs in estimate, interval\)$/.test(p))).toHaveLength(2);
  });

  it('refuses a stored manifest re-signed with another key (not the PDF signer), after the same rewrite', async () => {
    await rewriteEstimate(100);
    const head = (await auditRows(db, built.caseId)).find((r) => r.seq === storedManifest().auditHead.seq)!;
    const forged: ReportManifest = { ...storedManifest(), auditHead: { seq: head.seq, hash: head.hash } };
    forged.results = forged.results.map((r, i) => (i === 0 ? { ...r, estimate: 100, interval: { low: 100, high: 100, coverage: 0.9 } } : r));
    const other = loadKey(readFileSync(otherPki.p12), otherPki.passphrase);
    const { manifestBytes, signatureBytes } = signManifest(forged, other);
    for (const [file, bytes] of [[report.companions[0], manifestBytes], [report.companions[1], signatureBytes]] as const) {
      chmodSync(file.storedPath, 0o644);
      writeFileSync(file.storedPath, bytes);
    }
    const { createHash } = await import('node:crypto');
    const companions = report.companions.map((x, i) => {
      const bytes = i === 0 ? manifestBytes : signatureBytes;
      return { role: x.role, fileName: x.fileName, storedPath: `${built.caseId}/reports/${report.id}/${x.fileName}`, size: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
    });
    await rawSql(c.dbPath, 'UPDATE reports SET companions = ? WHERE id = ?', [JSON.stringify(companions), report.id]);
    await recordCompanions(companions);

    const v = await verify();
    expect(v.problems).toEqual([expect.objectContaining({ kind: 'report-signature', reportId: report.id,
      message: expect.stringMatching(new RegExp(`^report ${report.id}: its stored signed manifest cannot be trusted: the manifest was signed by .*the PDF by .*not the same signer$`)) })]);
  });

  it('reports a stored signed manifest that was edited, deleted, or never stored', async () => {
    const manifest = report.companions[0];
    chmodSync(manifest.storedPath, 0o644);
    writeFileSync(manifest.storedPath, readFileSync(manifest.storedPath, 'utf8').replace(/"estimate": \d+/, '"estimate": 100'));
    expect((await verify()).problems).toEqual([expect.objectContaining({ kind: 'report-hash', reportId: report.id,
      message: expect.stringContaining(`report ${report.id}: its stored signed manifest (report.manifest.json) no longer matches its recorded SHA-256`) })]);

    // the row's hash brought along: the signature is what refuses it then
    const { sha256File } = await import('../../../main/common/hashing.ts');
    const now = await sha256File(manifest.storedPath);
    const rehashed = report.companions.map((x, i) => ({
      role: x.role, fileName: x.fileName, storedPath: `${built.caseId}/reports/${report.id}/${x.fileName}`, size: i === 0 ? now.size : x.size, sha256: i === 0 ? now.sha256 : x.sha256 }));
    await rawSql(c.dbPath, 'UPDATE reports SET companions = ? WHERE id = ?', [JSON.stringify(rehashed), report.id]);
    await recordCompanions(rehashed);
    expect((await verify()).problems).toEqual([expect.objectContaining({ kind: 'report-signature',
      message: expect.stringContaining('cannot be trusted: the manifest signature does not match its contents') })]);

    rmSync(manifest.storedPath);
    expect((await verify()).problems).toEqual([expect.objectContaining({ kind: 'report-missing', message: `report ${report.id}: its stored signed manifest (report.manifest.json) is gone` })]);

    await rawSql(c.dbPath, "UPDATE reports SET companions = '[]' WHERE id = ?", [report.id]);
    await recordCompanions([]);   // as a report recorded before companions existed
    expect((await verify()).problems).toEqual([{ kind: 'report-unsigned', reportId: report.id,
      message: `report ${report.id}: no signed manifest is stored with it, so what it certified cannot be compared with the case` }]);
  });

  it('says so when it is given no signature checker, rather than trusting the manifest unchecked', async () => {
    await rewriteEstimate(100);
    const v = await verifyCase(db, built.caseId);
    expect(v.ok).toBe(true);
    expect(v.warnings.map((w) => [w.kind, w.message])).toEqual([
      ['journal-missing', expect.stringContaining('no journal anchor')],
      ['reports-not-compared', 'the signed manifests of 1 report(s) were not compared with the case: this verification was given no signature checker'],
    ]);
  });
});
