// From a real case database to a signed report and back, through the CLI: `report keygen`, `report
// <case>` (recorded in the case: row, read-only copy, audit entry) and `verify` (exit codes, JSON keys,
// evidence hashes against the case).
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../main/db/database.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { appendAudit, listAudit, verifyAudit } from '../../../main/cases/audit.ts';
import { sha256Hex } from '../../../main/common/hashing.ts';
import { listReports } from '../../../main/cases/reports.ts';
import { runAnalysis } from '../../../main/cases/analyses.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import { execute, type Command } from '../../../main/cli/framework.ts';
import { command as reportCommand } from '../../../main/cli/commands/report.ts';
import { command as verifyCommand } from '../../../main/cli/commands/verify.ts';
import { buildReportModel } from '../../../main/reports/model.ts';
import { pdftotext, pdfsig } from './pki.ts';
import { makeModel } from './fixture.ts';
import { fixedInspector } from '../cases/helpers.ts';

let dir: string;
let dbPath: string;
let caseId: string;
let otherCaseId: string;
let okSha: string;

async function cli(command: Command, argv: string[]): Promise<{ code: number; json: Record<string, any> }> {
  let stdout = '';
  let stderr = '';
  const out = { write: (s: string) => { stdout += s; return true; } } as unknown as typeof process.stdout;
  const err = { write: (s: string) => { stderr += s; return true; } } as unknown as typeof process.stderr;
  const code = await execute(command, [...argv, '--json'], out, err);
  try {
    return { code, json: JSON.parse(stdout) };
  } catch {
    throw new Error(`not JSON (exit ${code}): ${stdout}${stderr}`);
  }
}

async function withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(dbPath);
  try { return await fn(db); } finally { await db.close(); }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-audit-report-case-'));
  dbPath = join(dir, 'cases.sqlite');
  writeFileSync(join(dir, 'style.safetensors'), 'bytes of the estimated adapter');
  writeFileSync(join(dir, 'broken.safetensors'), 'bytes of a truncated upload');
  await withDb(async (db) => {
    const kase = await createCase(db, { title: 'Case 7: style adapter complaint', examiner: 'Ana Examiner', organisation: 'Audit Lab' });
    caseId = kase.id;
    // Intake is another module's work: these tests fix what it saw, including one refusal.
    const ok = await addEvidence(db, caseId, join(dir, 'style.safetensors'), {
      inspector: fixedInspector({ family: 'kohya', method: 'lora', baseModel: 'sd1', claimedTrainingImages: 40 }),
    });
    okSha = ok.sha256;
    await addEvidence(db, caseId, join(dir, 'broken.safetensors'), {
      inspector: fixedInspector({ family: 'unknown', method: 'unknown', baseModel: 'unknown', error: { code: 'TRUNCATED', message: 'the file ends inside tensor data (byte 27 of 4096)' } }),
    });
    // One analysis of the good file, as the analysis service stores it (schema v100).
    const result = { ...makeModel('estimated').results[0].result!, file: ok.fileName, sha256: ok.sha256 };
    const ref = makeModel('estimated').references[0];
    // With its audit entry, as runAnalysis writes both: a row no entry records is a divergence (and no report is signed).
    await db.transaction(async (tx) => {
      await tx.run(`INSERT INTO analyses (id, case_id, evidence_id, reference_set, reference_set_id, reference_provenance, mode, parameters,
        result, method_version, app_version, backend, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ['an-1', caseId, ok.id, ref.name, ref.id, JSON.stringify(ref.provenance), 'faithful', '{"k":1}', JSON.stringify(result),
          '1.0.0', '0.1.0', 'cpu', '2026-11-28T18:00:00.000Z', '2026-11-28T18:00:01.000Z']);
      await appendAudit(tx, caseId, { name: 'Ana Examiner', osUser: 'ana' }, 'analysis', {
        analysisId: 'an-1', evidenceId: ok.id, sha256: ok.sha256, referenceSet: ref.name, referenceSetId: ref.id, mode: 'faithful',
        applicable: result.applicable, estimate: result.estimate, methodVersion: '1.0.0', resultSha256: sha256Hex(JSON.stringify(result)) });
    });
    // A third file whose stored copy is altered after import: the analysis service refuses it (the
    // refusal lives only in the audit trail) and the report must say so.
    writeFileSync(join(dir, 'altered.safetensors'), 'bytes of an adapter altered after import');
    const altered = await addEvidence(db, caseId, join(dir, 'altered.safetensors'), {
      inspector: fixedInspector({ family: 'kohya', method: 'lora', baseModel: 'sd1' }),
    });
    chmodSync(altered.storedPath, 0o644);
    writeFileSync(altered.storedPath, 'different bytes');
    const engine = await createFeatureEngine({ backend: 'cpu' });
    try {
      const outcome = await runAnalysis(db, caseId, altered.id, 'lora-wise-sd15-r16', { mode: 'faithful' }, engine);
      expect(outcome.status).toBe('refused');
    } finally {
      engine.dispose();
    }
    const other = await createCase(db, { title: 'Unrelated case', examiner: 'Bo Examiner' });
    otherCaseId = other.id;
  });
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the report model from a case database', () => {
  it('lists every evidence file, the analysis, the refusal at intake, the provenance and the trail', async () => {
    const model = await withDb((db) => buildReportModel(db, caseId.slice(0, 8)));
    expect(model.case).toMatchObject({ id: caseId, title: 'Case 7: style adapter complaint', examiner: 'Ana Examiner' });
    expect(model.evidence.map((e) => e.fileName)).toEqual(['style.safetensors', 'broken.safetensors', 'altered.safetensors']);
    expect(model.evidence[0].metadataClaim).toEqual({ claimed: 40, source: 'file metadata' });
    expect(model.evidence[1].refused).toBe('the file ends inside tensor data (byte 27 of 4096) (TRUNCATED)');
    expect(model.results[0].result?.estimate).toBe(10);
    expect(model.results[1]).toMatchObject({ result: null, refusal: expect.stringContaining('intake refused the file') });
    expect(model.references).toHaveLength(1);
    expect(model.audit.chainOk).toBe(true);
    expect(model.results[2]).toMatchObject({ result: null, refusal: expect.stringMatching(/^the analysis was refused: the stored copy of altered.safetensors no longer matches/) });
    expect(model.audit.entries.map((e) => e.action)).toEqual(['case-created', 'evidence-added', 'evidence-added', 'analysis', 'evidence-added', 'analysis-refused']);
  });
});

describe('lora-audit report and verify', () => {
  let key: string;
  let cert: string;
  let pdf: string;
  const pass = 'a long examiner passphrase';

  it('report keygen makes an encrypted PKCS#12 and a certificate to hand out', async () => {
    const { code, json } = await cli(reportCommand, ['keygen', '--name', 'Ana Examiner', '--org', 'Audit Lab', '--out', join(dir, 'ana.p12'), '--passphrase', pass]);
    expect(code).toBe(0);
    key = json.key;
    cert = json.certificate;
    expect(json.signer).toMatchObject({ subject: 'Ana Examiner', organisation: 'Audit Lab', selfSigned: true });
    expect(statSync(key).mode & 0o077).toBe(0);
    expect(readFileSync(cert, 'utf8')).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(readFileSync(key).includes('PRIVATE KEY')).toBe(false);
    const again = await cli(reportCommand, ['keygen', '--name', 'X', '--out', key, '--passphrase', pass]);
    expect(again.code).not.toBe(0);
    expect(again.json.error).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/refusing to overwrite/) });
  }, 120_000);

  it('refuses a wrong passphrase before rendering anything', async () => {
    const { code, json } = await cli(reportCommand, [caseId, '--out', join(dir, 'never.pdf'), '--key', key, '--passphrase', 'wrong passphrase', '--db', dbPath]);
    expect(code).toBe(1);
    expect(json.error.code).toBe('BAD_PASSPHRASE');
  });

  it('issues, signs and records a report (passphrase from the environment)', async () => {
    process.env.LORA_AUDIT_KEY_PASSPHRASE = pass;
    try {
      const { code, json } = await cli(reportCommand, [caseId, '--out', join(dir, 'out', 'case7.pdf'), '--key', key, '--db', dbPath]);
      expect(code).toBe(0);
      expect(Object.keys(json)).toEqual(expect.arrayContaining(['pdf', 'manifest', 'sha256', 'signer', 'pages']));
      pdf = json.pdf;
      expect(json.manifest).toBe(join(dir, 'out', 'case7.manifest.json'));
      expect(json.signer.subject).toBe('Ana Examiner');
      expect(pdfsig(pdf)).toContain('Signature is Valid');
      const text = pdftotext(pdf);
      expect(text).toContain('Case 7: style adapter complaint');
      expect(text.replace(/\s+/g, '')).toContain(okSha);
      expect(text).toContain('10 images');
      expect(text).toContain('σ(ΔW)');
      expect(execFileSync('pdffonts', [pdf], { encoding: 'utf8' })).toMatch(/DejaVuSans\s/);   // fonts by file: URL
      expect(text.replace(/\s+/g, ' ')).toContain('intake refused the file: the file ends inside tensor data');
      expect(text.replace(/\s+/g, ' ')).toContain('the analysis was refused: the stored copy of altered.safetensors no longer matches');
      await withDb(async (db) => {
        const reports = await listReports(db, caseId);
        expect(reports).toHaveLength(1);
        expect(reports[0].sha256).toBe(json.sha256);
        expect(readFileSync(reports[0].storedPath).equals(readFileSync(pdf))).toBe(true);
        expect((await listAudit(db, caseId)).at(-1)?.action).toBe('report');
        expect((await verifyAudit(db, caseId)).ok).toBe(true);
      });
    } finally {
      delete process.env.LORA_AUDIT_KEY_PASSPHRASE;
    }
  }, 120_000);

  it('verify passes with the examiner certificate as anchor and the case database', async () => {
    const { code, json } = await cli(verifyCommand, [pdf, '--trust', cert, '--db', dbPath]);
    expect(json.problems).toEqual([]);
    expect(code).toBe(0);
    expect(json).toMatchObject({ ok: true, signatureValid: true, documentUnmodified: true, trusted: true });
    expect(json.manifest).toMatchObject({ signatureValid: true, pdfSha256Matches: true, evidenceMatchesCase: true, caseId });
  });

  it('verify exits non-zero without a trust anchor, and against a case that lacks the evidence', async () => {
    const untrusted = await cli(verifyCommand, [pdf]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.json.signatureValid).toBe(true);
    expect(untrusted.json.trusted).toBe(false);
    const wrongCase = await cli(verifyCommand, [pdf, '--trust', cert, '--db', dbPath, '--case', otherCaseId]);
    expect(wrongCase.code).toBe(1);
    expect(wrongCase.json.manifest.evidenceMatchesCase).toBe(false);
    expect(wrongCase.json.problems.join(' ')).toContain(okSha);
  });

  it('verify exits non-zero for one flipped byte', async () => {
    const bytes = readFileSync(pdf);
    bytes[200] ^= 0x20;
    const tampered = join(dir, 'tampered.pdf');
    writeFileSync(tampered, bytes);
    const { code, json } = await cli(verifyCommand, [tampered, '--trust', cert, '--manifest', join(dir, 'out', 'case7.manifest.json')]);
    expect(code).toBe(1);
    expect(json.documentUnmodified).toBe(false);
  });
});
