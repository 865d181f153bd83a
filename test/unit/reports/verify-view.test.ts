// What the app shows of a report's verification (the contract's ReportVerificationView): the signer's
// certificate fingerprint (a copied subject and serial must not look the same), every signature with
// what it covers, and "not checked" rather than "not trusted" when no trusted certificate was given.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices, type Services } from '../../../main/services/create.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import { buildReportedCase, type ReportedCase } from '../cases/anchor-fixture.ts';

describe('reports.verify in the app', () => {
  let built: ReportedCase;
  let services: Services;
  const job = { jobId: 'v', signal: new AbortController().signal, progress: () => undefined };

  beforeAll(async () => {
    const engine = await createFeatureEngine({ backend: 'cpu' });
    try { built = await buildReportedCase(engine); } finally { engine.dispose(); }
    services = await createServices({
      host: 'headless', dataDir: built.dir, renderPdf: async () => { throw new Error('no PDF in this test'); },
      openFiles: async () => [], saveFile: async () => null,
    });
  }, 120_000);
  afterAll(async () => { await services?.close(); built?.cleanup(); });

  it('names the certificate by its SHA-256 and lists the one signature over the whole file', async () => {
    const pdfPath = join(built.dir, 'out', 'report.pdf');
    const untrusted = await services.handlers['reports.verify']({ pdfPath }, job);
    expect(untrusted.trusted).toBeNull();
    expect(untrusted.ok).toBe(false);
    expect(untrusted.signer?.sha256Fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(untrusted.signatures).toEqual([{ subject: untrusted.signer?.commonName, sha256Fingerprint: untrusted.signer?.sha256Fingerprint,
      signingTime: expect.any(String), coversWholeDocument: true, signatureValid: true }]);
    const trusted = await services.handlers['reports.verify']({ pdfPath, trust: [built.pki.caPem] }, job);
    expect(trusted).toMatchObject({ ok: true, trusted: true, problems: [] });
    const wrong = await services.handlers['reports.verify']({ pdfPath, trust: [built.pki.otherCaPem] }, job);
    expect(wrong.trusted).toBe(false);
  });
});
