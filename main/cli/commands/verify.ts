// lora-audit verify <report.pdf>: checks a signed report as a third party would. Exits 1 when any
// check fails (signature, integrity, trust, manifest, evidence vs case). Human output names the
// signer's certificate by its SHA-256 fingerprint and lists every signature when there are several.
import { defaultDbPath } from '../../db/open.ts';
import { openDatabase } from '../../services/database.ts';
import type { CertificateInfo } from '../../reports/keys.ts';
import { verifyReport, type ReportVerification } from '../../reports/verify.ts';
import { usageError, type Command } from '../framework.ts';

const yes = (b: boolean | null) => (b === null ? 'not checked' : b ? 'yes' : 'NO');

export const command: Command<ReportVerification> = {
  name: 'verify',
  summary: 'Verify a signed LoRA Auditor report: the PDF signature, that the document is unmodified since signing, who signed, ' +
    'whether the signer chains to a trusted certificate (--trust, repeatable), and the signed manifest (default: <report>.manifest.json ' +
    'beside the PDF) against the PDF and, with --db, against the case\'s evidence.',
  usage: 'verify <report.pdf> [--manifest <file>] [--trust <ca.pem>]… [--db <path>] [--case <id>] [--json]',
  options: {
    manifest: { type: 'string' },
    trust: { type: 'string', multiple: true },
    db: { type: 'string' },
    case: { type: 'string' },
  },
  async run(_ctx, values, positionals) {
    if (positionals.length !== 1) throw usageError('give exactly one report PDF');
    const trust = (values.trust as string[] | undefined) ?? [];
    const wantDb = typeof values.db === 'string' || typeof values.case === 'string';
    const db = wantDb ? await openDatabase(typeof values.db === 'string' && values.db !== '' ? values.db : defaultDbPath()) : undefined;
    try {
      const result = await verifyReport(positionals[0], {
        trust,
        ...(typeof values.manifest === 'string' ? { manifestPath: values.manifest } : {}),
        ...(db ? { db } : {}),
        ...(typeof values.case === 'string' ? { caseId: values.case } : {}),
      });
      return { data: result, exitCode: result.ok ? 0 : 1 };
    } finally {
      await db?.close();
    }
  },
  human(r) {
    const lines = [
      `${r.ok ? 'VALID' : 'NOT VALID'}: ${r.file}`,
      `  SHA-256              ${r.sha256}`,
      `  signature valid      ${yes(r.signed ? r.signatureValid : false)}${r.subFilter ? ` (${r.subFilter})` : ''}`,
      `  unmodified           ${yes(r.documentUnmodified)}`,
      `  signed by            ${signerLine(r.signer)}`,
      // Subject, issuer and serial can be copied into a certificate anyone makes; the fingerprint cannot.
      `  certificate SHA-256  ${r.signer?.sha256Fingerprint ?? '—'}`,
      `  signing time         ${r.signingTime ?? '—'}`,
      `  trusted              ${yes(r.trusted)}`,
      `  signatures           ${r.signatures.length}${r.signatures.length === 1 && r.signatures[0].coversWholeDocument ? ' (covers the whole document)' : ''}`,
    ];
    if (r.signatures.length > 1) {
      r.signatures.forEach((s, i) => {
        const [, , c, d] = s.byteRange ?? [];
        lines.push(`    ${i + 1}. ${signerLine(s.signer)}`,
          `       certificate SHA-256  ${s.sha256Fingerprint ?? '—'}`,
          `       signing time         ${s.signingTime ?? '—'}`,
          `       covers               ${s.coversWholeDocument ? 'the whole document' : c !== undefined && d !== undefined ? `the first ${c + d} bytes only: NOT the whole document` : 'unknown bytes'}`,
          `       signature valid      ${yes(s.signatureValid)}`);
      });
    }
    if (r.manifest) {
      lines.push(`  manifest             ${r.manifest.path}`,
        `    signature valid    ${yes(r.manifest.signatureValid)}`,
        `    same signer        ${yes(r.manifest.sameSigner)}`,
        `    PDF hash matches   ${yes(r.manifest.pdfSha256Matches)}`,
        `    evidence vs case   ${yes(r.manifest.evidenceMatchesCase)}`);
    } else {
      lines.push('  manifest             none found');
    }
    if (r.problems.length) lines.push('problems:', ...r.problems.map((p) => `  - ${p}`));
    return lines.join('\n');
  },
};

function signerLine(s: CertificateInfo | null): string {
  return s ? `${s.subject}${s.organisation ? `, ${s.organisation}` : ''} (issuer ${s.issuer}, serial ${s.serial})` : '—';
}
