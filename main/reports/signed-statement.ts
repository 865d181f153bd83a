// The signed manifest stored with a report (main/cases/reports.ts keeps it beside the PDF copy), read
// for the checks that compare it with the case (main/cases/anchors.ts, which may not import this layer
// and takes this function as a parameter). Nothing in it is trusted unless its signature verifies and
// was made by the same certificate as the PDF's signature: a manifest re-signed with another key, or
// vouching for a PDF it was not issued with, is refused here.
//
// Whether that certificate belongs to the examiner is a question of trust anchors, which a case check
// does not have: `lora-audit verify --trust` answers it for one report.
import type { CheckSignedStatement, SignedStatement } from '../cases/anchors.ts';
import { toApiError } from '../errors.ts';
import { checkManifestSignature } from './manifest.ts';
import { verifyReport } from './verify.ts';

export const checkSignedStatement: CheckSignedStatement = async ({ pdf, manifest, signature }): Promise<SignedStatement> => {
  try {
    const check = checkManifestSignature(manifest, signature);
    const problems = [...check.problems];
    if (!check.signatureValid || !check.signer) return { manifest: null, problems: problems.length ? problems : ['the manifest signature does not verify'] };
    const report = await verifyReport(pdf, { manifestPath: manifest });
    if (!report.signer || !report.signatureValid) {
      problems.push("the report's PDF signature does not verify, so the manifest's signer cannot be matched to it");
    } else if (report.signer.sha256Fingerprint !== check.signer.sha256Fingerprint) {
      problems.push(`the manifest was signed by ${check.signer.subject} (SHA-256 fingerprint ${check.signer.sha256Fingerprint}), ` +
        `the PDF by ${report.signer.subject} (${report.signer.sha256Fingerprint}): not the same signer`);
    }
    return { manifest: problems.length ? null : check.manifest, problems };
  } catch (err) {
    return { manifest: null, problems: [toApiError(err).message] };
  }
};
