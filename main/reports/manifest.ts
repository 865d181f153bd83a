// The machine-readable twin of a report: which evidence (by SHA-256), which results, which reference
// data, and the SHA-256 of the signed PDF itself, signed by the same examiner key (RSA-SHA256 over the
// manifest file's exact bytes; signature and certificate in `<manifest>.sig`). A program can check a
// report against a case without reading the PDF.
import { readFileSync } from 'node:fs';
import forge from 'node-forge';
import { AuditError } from '../errors.ts';
import { bytesToBinary, certificateInfo, type CertificateInfo, type LoadedKey } from './keys.ts';
import type { ReportModel } from './model.ts';

export const MANIFEST_FORMAT = 'lora-auditor/report-manifest';
export const MANIFEST_VERSION = 1;

export interface ReportManifest {
  format: typeof MANIFEST_FORMAT;
  version: number;
  app: { name: string; version: string };
  createdAt: string;
  case: { id: string; title: string; examiner: string; organisation: string };
  evidence: { id: string; fileName: string; size: number; sha256: string }[];
  results: {
    evidenceId: string; fileName: string; sha256: string; referenceSet: string | null; mode: string | null;
    methodVersion: string | null; applicable: boolean; estimate: number | null;
    interval: { low: number; high: number; coverage: number } | null; reasons: string[];
  }[];
  references: { id: number; name: string; source: string; importerVersion: string; shards: { fileName: string; size: number; sha256: string; rows: number }[] }[];
  auditHead: { seq: number; hash: string };
  pdf: { fileName: string; size: number; sha256: string; pages: number };
  signer: { subject: string; serial: string; sha256Fingerprint: string };
}

export interface ManifestSignature {
  algorithm: 'RSA-SHA256';
  /** base64 PKCS#1 v1.5 signature over the manifest file's bytes. */
  signature: string;
  certificate: string;  // PEM
}

export function buildManifest(model: ReportModel, pdf: ReportManifest['pdf'], signer: CertificateInfo): ReportManifest {
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    app: model.app,
    createdAt: model.generatedAt,
    case: { id: model.case.id, title: model.case.title, examiner: model.case.examiner, organisation: model.case.organisation },
    evidence: model.evidence.map((e) => ({ id: e.id, fileName: e.fileName, size: e.size, sha256: e.sha256 })),
    results: model.results.map((r) => {
      const refused = r.result === null || !r.result.applicable || r.result.estimate === null;
      return {
        evidenceId: r.evidenceId, fileName: r.fileName, sha256: r.sha256,
        referenceSet: r.result?.referenceSet ?? null, mode: r.result?.mode ?? null, methodVersion: r.result ? r.method.version : null,
        applicable: !refused,
        estimate: refused ? null : r.result!.estimate,
        interval: refused || !r.result!.interval ? null : { low: r.result!.interval.low, high: r.result!.interval.high, coverage: r.result!.interval.coverage },
        reasons: r.result === null ? [r.refusal ?? 'not analysed'] : r.result.reasons,
      };
    }),
    references: model.references.map((ref) => ({
      id: ref.id, name: ref.name, source: ref.provenance.source, importerVersion: ref.provenance.importerVersion,
      shards: ref.provenance.shards.map((s) => ({ fileName: s.fileName, size: s.size, sha256: s.sha256, rows: s.rows })),
    })),
    auditHead: { seq: model.audit.headSeq, hash: model.audit.headHash },
    pdf,
    signer: { subject: signer.subject, serial: signer.serial, sha256Fingerprint: signer.sha256Fingerprint },
  };
}

/** The manifest file's bytes (what is signed) and its signature file's bytes. */
export function signManifest(manifest: ReportManifest, key: LoadedKey): { manifestBytes: Uint8Array; signatureBytes: Uint8Array } {
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + '\n');
  const md = forge.md.sha256.create();
  md.update(bytesToBinary(manifestBytes));
  const sig: ManifestSignature = {
    algorithm: 'RSA-SHA256',
    signature: forge.util.encode64(key.key.sign(md)),
    certificate: key.certificatePem,
  };
  return { manifestBytes, signatureBytes: new TextEncoder().encode(JSON.stringify(sig, null, 2) + '\n') };
}

export interface ManifestSignatureCheck {
  signatureValid: boolean;
  signer: CertificateInfo | null;
  certificate: forge.pki.Certificate | null;
  manifest: ReportManifest | null;
  problems: string[];
}

/** Checks a manifest file against its signature file. Never throws for a bad signature: it says so. */
export function checkManifestSignature(manifestPath: string, signaturePath = `${manifestPath}.sig`): ManifestSignatureCheck {
  const problems: string[] = [];
  const out: ManifestSignatureCheck = { signatureValid: false, signer: null, certificate: null, manifest: null, problems };
  let manifestBytes: Buffer;
  try {
    manifestBytes = readFileSync(manifestPath);
  } catch {
    throw new AuditError('FILE_NOT_FOUND', 'the report manifest cannot be read', manifestPath);
  }
  try {
    const parsed = JSON.parse(manifestBytes.toString('utf8')) as ReportManifest;
    if (parsed.format !== MANIFEST_FORMAT) problems.push(`the manifest's format is "${String(parsed.format)}", not ${MANIFEST_FORMAT}`);
    out.manifest = parsed;
  } catch {
    problems.push('the manifest is not valid JSON');
  }
  let sig: ManifestSignature;
  try {
    sig = JSON.parse(readFileSync(signaturePath, 'utf8')) as ManifestSignature;
  } catch {
    problems.push(`the manifest's signature file ${signaturePath} is missing or unreadable`);
    return out;
  }
  try {
    const cert = forge.pki.certificateFromPem(sig.certificate);
    out.certificate = cert;
    out.signer = certificateInfo(cert);
    if (sig.algorithm !== 'RSA-SHA256') {
      problems.push(`unsupported manifest signature algorithm ${String(sig.algorithm)}`);
      return out;
    }
    const md = forge.md.sha256.create();
    md.update(manifestBytes.toString('binary'));
    out.signatureValid = (cert.publicKey as forge.pki.rsa.PublicKey).verify(md.digest().bytes(), forge.util.decode64(sig.signature));
  } catch (err) {
    problems.push(`the manifest's signature cannot be read: ${(err as Error).message}`);
    out.signatureValid = false;
    return out;
  }
  if (!out.signatureValid) problems.push('the manifest signature does not match its contents: the manifest was changed after signing');
  return out;
}
