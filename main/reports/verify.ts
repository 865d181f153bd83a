// Verifies a signed report the way a third party would, from the file alone (plus trust anchors and,
// optionally, the case database): which signatures the PDF shows and what each covers, whether the
// one examiner signature is valid over the whole file, who signed, whether the signer chains to an
// anchor the verifier trusts, and whether the signed manifest matches the PDF and the case. Every
// failed check is a sentence in `problems`; nothing here throws for a bad report.
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Database } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import type { CertificateInfo } from './keys.ts';
import { checkManifestSignature, readBounded, type ReportManifest } from './manifest.ts';
import { readTrustAnchors, type ParsedCertificate } from './verify/certificates.ts';
import { checkPdfSignature, type CheckedSignature, type SignatureVerification } from './verify/pdf-signature.ts';
import { PdfStructureError } from './verify/pdf-structure.ts';
import { readSignatureFields } from './verify/signature-fields.ts';

export type { SignatureVerification } from './verify/pdf-signature.ts';

export interface VerifyOptions {
  manifestPath?: string;
  /** PEM or DER files of trusted certificates (a CA, or an examiner's self-signed certificate obtained out of band). */
  trust?: string[];
  db?: Database;
  caseId?: string;
}

export interface ManifestVerification {
  path: string;
  signatureValid: boolean;
  /** The manifest was signed with the same certificate as the PDF. */
  sameSigner: boolean;
  pdfSha256Matches: boolean;
  /** Null when no case database was given. */
  evidenceMatchesCase: boolean | null;
  caseId: string | null;
}

export interface ReportVerification {
  ok: boolean;
  file: string;
  sha256: string;
  signed: boolean;
  /** The fields below describe the report's signature: the first one when the PDF shows several. */
  signatureValid: boolean;
  /** Exactly one signature, covering every byte but its own /Contents, whose digest matches. */
  documentUnmodified: boolean;
  subFilter: string | null;
  signingTime: string | null;
  signer: CertificateInfo | null;
  trusted: boolean;
  /** Every signature the PDF shows, oldest revision first, with what each covers. */
  signatures: SignatureVerification[];
  manifest: ManifestVerification | null;
  problems: string[];
}

/** Reports we issue are a few MB; this bounds what one verification reads into memory. */
export const MAX_REPORT_BYTES = 512 << 20;
/** Signatures checked in one PDF (an examiner report has one). */
export const MAX_SIGNATURES = 8;

/** The manifest path written next to a report: `x.pdf` → `x.manifest.json`. */
export function manifestPathFor(pdfPath: string): string {
  return pdfPath.replace(/\.pdf$/i, '') + '.manifest.json';
}

export async function verifyReport(pdfPath: string, options: VerifyOptions = {}): Promise<ReportVerification> {
  const bytes = readReport(pdfPath);
  const anchors = readTrustAnchors(options.trust ?? []);
  const problems: string[] = [];
  const out: ReportVerification = {
    ok: false, file: pdfPath, sha256: createHash('sha256').update(bytes).digest('hex'), signed: false, signatureValid: false,
    documentUnmodified: false, subFilter: null, signingTime: null, signer: null, trusted: false, signatures: [], manifest: null, problems,
  };

  const checked = await checkSignatures(bytes, anchors, problems);
  out.signatures = checked.map(({ digestMatches: _d, signerCertificate: _c, ...publicPart }) => publicPart);
  const first = checked[0];
  if (first) {
    Object.assign(out, {
      signed: true, signatureValid: first.signatureValid, subFilter: first.subFilter, signingTime: first.signingTime,
      signer: first.signer, trusted: first.trusted,
      documentUnmodified: checked.length === 1 && first.coversWholeDocument && first.digestMatches,
    });
  }

  const manifestPath = options.manifestPath ?? (existsSync(manifestPathFor(pdfPath)) ? manifestPathFor(pdfPath) : undefined);
  if (manifestPath) out.manifest = await verifyManifest(manifestPath, out, first?.signerCertificate ?? null, options, problems);
  else if (options.db) problems.push('no manifest next to the report, so its evidence cannot be compared with the case');

  out.ok = problems.length === 0 && out.signatureValid && out.documentUnmodified && out.trusted;
  return out;
}

function readReport(pdfPath: string): Buffer {
  const bytes = readBounded(pdfPath, MAX_REPORT_BYTES);
  if (bytes === 'too large') throw new AuditError('LIMIT_EXCEEDED', `the report is larger than ${MAX_REPORT_BYTES} bytes`, pdfPath);
  if (!bytes) throw new AuditError('FILE_NOT_FOUND', 'the report cannot be read (it is missing, or not a regular file)', pdfPath);
  return bytes;
}

/** Every signature field with a value, oldest revision first (by where its range ends). An examiner
 *  report has exactly one, over the whole file; pdfsig's "Not total document signed" is the reference. */
async function checkSignatures(bytes: Buffer, anchors: ParsedCertificate[], problems: string[]): Promise<CheckedSignature[]> {
  let fields;
  try {
    fields = readSignatureFields(bytes).fields;
  } catch (err) {
    if (!(err instanceof PdfStructureError)) throw err;
    problems.push(`the PDF's structure cannot be read, so its signatures cannot be found (the file is damaged, or was changed after signing): ${err.message}`);
    return [];
  }
  if (fields.length === 0) {
    problems.push('the PDF carries no digital signature (no signature field with a value)');
    return [];
  }
  const end = (r: number[] | null) => (r && r.length === 4 ? r[2] + r[3] : Number.MAX_SAFE_INTEGER);
  fields.sort((x, y) => end(x.byteRange) - end(y.byteRange));
  if (fields.length > MAX_SIGNATURES) {
    problems.push(`the PDF shows ${fields.length} signatures; only the first ${MAX_SIGNATURES} are checked`);
    fields = fields.slice(0, MAX_SIGNATURES);
  }
  const checked: CheckedSignature[] = [];
  for (const field of fields) checked.push(await checkPdfSignature(bytes, field, anchors));
  if (checked.length === 1) {
    problems.push(...checked[0].problems);
  } else {
    const later = checked.slice(1).map((s) => s.signer?.subject ?? 'an unreadable signer').join(', ');
    problems.push(`the PDF carries ${checked.length} signatures; an examiner report has exactly one, over the whole file: ` +
      `the document was changed after the first signature (${checked[0].signer?.subject ?? 'unreadable signer'}) ` +
      `by later revisions, signed by ${later}`);
    checked.forEach((s, i) => problems.push(...s.problems.map((p) => `signature ${i + 1} of ${checked.length} (${s.signer?.subject ?? s.field}): ${p}`)));
  }
  return checked;
}

async function verifyManifest(path: string, report: ReportVerification, signerCert: ParsedCertificate | null,
  options: VerifyOptions, problems: string[]): Promise<ManifestVerification> {
  const check = checkManifestSignature(path);
  problems.push(...check.problems);
  const mv: ManifestVerification = {
    path, signatureValid: check.signatureValid, sameSigner: false, pdfSha256Matches: false, evidenceMatchesCase: null,
    caseId: typeof check.manifest?.case?.id === 'string' ? check.manifest.case.id : null,
  };
  if (check.certificate && signerCert) {
    mv.sameSigner = Buffer.from(check.certificate.der).equals(signerCert.der);
    if (!mv.sameSigner) problems.push('the manifest was signed by a different certificate than the PDF');
  }
  if (check.manifest) {
    mv.pdfSha256Matches = check.manifest.pdf?.sha256 === report.sha256;
    if (!mv.pdfSha256Matches) problems.push(`the manifest names a PDF with SHA-256 ${String(check.manifest.pdf?.sha256)}, but this file's is ${report.sha256}`);
    if (options.db) {
      const against = await compareManifestWithCase(options.db, check.manifest, options.caseId, report.sha256);
      mv.caseId = against.caseId ?? mv.caseId;
      mv.evidenceMatchesCase = against.matches;
      problems.push(...against.problems);
    }
  }
  return mv;
}

// ---- verify --db: the signed manifest against the case database as it is now. One function, so the
// ---- case-side comparison (main/cases/) can replace its body without touching the signature checks.
async function compareManifestWithCase(db: Database, manifest: ReportManifest, caseId: string | undefined, pdfSha256: string): Promise<{ caseId: string | null; matches: boolean; problems: string[] }> {
  // dynamic: signed-statement.ts imports verifyReport, so a static import would make a cycle
  const [{ getCase }, { compareManifestNow, compareSignedReports }, { compareWithJournal, readJournal }, { auditRows }, { checkSignedStatement }, { compareCaseRowsWithTrail }] = await Promise.all([
    import('../cases/cases.ts'), import('../cases/anchors.ts'), import('../cases/journal.ts'), import('../cases/audit.ts'), import('./signed-statement.ts'),
    import('../cases/trail-rows.ts')]);
  try {
    const kase = await getCase(db, caseId ?? manifest.case?.id);
    // this report's manifest, every report stored with the case, and the journal beside the database:
    // a consistent rewrite of the database is named by whichever of them it contradicts first
    const problems = [
      ...(await compareManifestNow(db, kase.id, manifest, pdfSha256)),
      ...(await compareSignedReports(db, kase.id, checkSignedStatement)),
      ...compareWithJournal(await readJournal(db.path, kase.id), await auditRows(db, kase.id)).problems,
      ...(await compareCaseRowsWithTrail(db, kase.id)),
    ].map((p) => p.message);
    return { caseId: kase.id, matches: problems.length === 0, problems };
  } catch (err) {
    return { caseId: null, matches: false, problems: [`the manifest's case cannot be checked: ${(err as Error).message}`] };
  }
}

/** Exported for the tests' byte-flipping: where the report's (first) signature's signed ranges are. */
export function signedRanges(bytes: Uint8Array): [number, number, number, number] | null {
  try {
    const range = readSignatureFields(bytes).fields[0]?.byteRange;
    return range && range.length === 4 ? [range[0], range[1], range[2], range[3]] : null;
  } catch {
    return null;
  }
}
