// Issuing a report: model → HTML → PDF → signed PDF → signed manifest, written next to each other,
// then recorded in the case (a read-only copy, a reports row and an audit entry).
import { createHash } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import type { Database } from '../db/database.ts';
import type { FeatureEngine } from '../../native/types.ts';
import { loadKey, type CertificateInfo, type LoadedKey } from './keys.ts';
import { buildManifest, signManifest, type ReportManifest } from './manifest.ts';
import { buildReportModel, type ReportModel } from './model.ts';
import type { PdfRenderer } from './render.ts';
import { signPdf } from './sign.ts';
import { renderReportHtml } from './template.ts';
import { writeFilesInPlace } from './write-new.ts';
import { manifestPathFor } from './verify.ts';
import { makeFolders } from '../common/fs.ts';

export interface IssueOptions {
  out: string;
  p12: Uint8Array;
  passphrase: string;
  keyFile?: string;
  renderer: PdfRenderer;
  place?: string;
  /** The PKCS#12 already opened with loadKey (spares a key derivation). */
  key?: LoadedKey;
  /** Passed to the template: fonts by file: URL for renderers that allow it (chromiumRenderer does). */
  fontBase?: string;
}

export interface IssuedReport {
  pdf: string;
  manifest: string;
  manifestSignature: string;
  sha256: string;
  size: number;
  pages: number;
  signer: CertificateInfo;
  manifestData: ReportManifest;
}

/** Renders, signs and writes a report and its manifest. Files appear only when complete (written to a
 *  temporary name, then renamed), so a failure leaves no half-written report behind. */
export async function issueReport(model: ReportModel, options: IssueOptions): Promise<IssuedReport> {
  const key = options.key ?? loadKey(options.p12, options.passphrase, options.keyFile);
  const signed: ReportModel = { ...model, signature: { ...model.signature, signer: key.info, place: options.place ?? model.signature.place } };
  const html = renderReportHtml(signed, options.fontBase ? { fontBase: options.fontBase } : {});
  const unsigned = await options.renderer(html);
  const { pdf } = await signPdf(unsigned, {
    p12: options.p12, passphrase: options.passphrase, keyFile: options.keyFile, key,
    reason: `Forensic report for case ${model.case.title}`, location: options.place, appName: `${model.app.name} ${model.app.version}`,
  });
  const pages = (await PDFDocument.load(pdf, { updateMetadata: false })).getPageCount();
  const sha256 = createHash('sha256').update(pdf).digest('hex');
  const out = resolve(options.out);
  await makeFolders(dirname(out));
  const manifestPath = manifestPathFor(out);
  const manifest = buildManifest(signed, { fileName: basename(out), size: pdf.byteLength, sha256, pages }, key.info);
  const { manifestBytes, signatureBytes } = signManifest(manifest, key);
  writeFilesInPlace([[out, pdf], [manifestPath, manifestBytes], [`${manifestPath}.sig`, signatureBytes]]);
  return { pdf: out, manifest: manifestPath, manifestSignature: `${manifestPath}.sig`, sha256, size: pdf.byteLength, pages, signer: key.info, manifestData: manifest };
}

export interface CaseReportOptions extends Omit<IssueOptions, 'renderer'> {
  renderer: PdfRenderer;
  actor?: string;
  /** To recompute spectra an analysis did not record (see buildReportModel). */
  engine?: FeatureEngine;
}

export interface CaseReport extends Omit<IssuedReport, 'manifestData'> {
  caseId: string;
  reportId: string;
  /** The read-only copy kept in the case folder. */
  storedPath: string;
}

/** The whole service, for every host: build the model from the case, issue the signed report and its
 *  manifest, record it in the case. The key is opened first, so a wrong passphrase costs no rendering. */
export async function createCaseReport(db: Database, caseIdOrPrefix: string, options: CaseReportOptions): Promise<CaseReport> {
  const key = options.key ?? loadKey(options.p12, options.passphrase, options.keyFile);
  // The examiner signs what the database says: only once its rows, earlier signed reports and the
  // journal agree with the audit trail (an edited estimate would otherwise be certified). A broken
  // chain and a changed stored copy are what the report itself states (its custody section, and the
  // analysis refused on the changed copy), so they do not stop it.
  const [{ requireVerified }, { checkSignedStatement }] = await Promise.all([import('../cases/verify.ts'), import('./signed-statement.ts')]);
  await requireVerified(db, caseIdOrPrefix, { checkSignedStatement, ...(options.actor ? { actor: options.actor } : {}) }, 'no report is signed for it',
    ['audit-chain', 'evidence-hash', 'evidence-missing']);
  const model = await buildReportModel(db, caseIdOrPrefix, options.engine ? { engine: options.engine } : {});
  const issued = await issueReport(model, { ...options, key });
  const recorded = await recordIssuedReport(db, issued, options.actor);
  const { manifestData: _manifest, ...rest } = issued;
  return { ...rest, caseId: model.case.id, ...recorded };
}

/** Records an issued report in its case: read-only copy, reports row, audit entry (one transaction). */
export async function recordIssuedReport(db: Database, issued: IssuedReport, actor?: string): Promise<{ reportId: string; storedPath: string }> {
  const { recordReport } = await import('../cases/reports.ts');
  const rec = await recordReport(db, issued.manifestData.case.id, {
    file: issued.pdf,
    signer: `${issued.signer.subject}${issued.signer.organisation ? `, ${issued.signer.organisation}` : ''} (serial ${issued.signer.serial})`,
    manifest: issued.manifestData as unknown as Record<string, unknown>,
    // the signed statement itself, kept with the PDF copy: verification compares the case with it
    signedManifest: { manifest: issued.manifest, signature: issued.manifestSignature },
    ...(actor ? { actor } : {}),
  });
  return { reportId: rec.id, storedPath: rec.storedPath };
}
