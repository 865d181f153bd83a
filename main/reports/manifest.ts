// The machine-readable twin of a report: which evidence (by SHA-256), which results, which reference
// data, and the SHA-256 of the signed PDF itself, signed by the same examiner key (RSA-SHA256 over the
// manifest file's exact bytes; signature and certificate in `<manifest>.sig`). A program can check a
// report against a case without reading the PDF. The check uses node:crypto (native) and measures the
// certificate's key first: a signature file is as hostile as the PDF it travels with.
import { createPrivateKey, sign, verify, X509Certificate } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import forge from 'node-forge';
import { AuditError } from '../errors.ts';
import type { CertificateInfo, LoadedKey } from './keys.ts';
import { certificateInfoOf, keyProblem, parseCertificate, type ParsedCertificate } from './verify/certificates.ts';
import type { ReportModel } from './model.ts';
import { hasBounds, readInterval } from '../dsire/conformal.ts';

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
    /** `coverage` here is the interval's nominal level (as manifests have always certified it; the measured
     *  coverage is in the report), null when the analysis states a reason instead of bounds. */
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
      const iv = r.result ? readInterval(r.result) : null;
      return {
        evidenceId: r.evidenceId, fileName: r.fileName, sha256: r.sha256,
        referenceSet: r.result?.referenceSet ?? null, mode: r.result?.mode ?? null, methodVersion: r.result ? r.method.version : null,
        applicable: !refused,
        estimate: refused ? null : r.result!.estimate,
        interval: refused || !iv || !hasBounds(iv) ? null : { low: iv.low, high: iv.high, coverage: iv.nominal },
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
  const privateKey = createPrivateKey(forge.pki.privateKeyToPem(key.key));
  const sig: ManifestSignature = {
    algorithm: 'RSA-SHA256',
    signature: sign('sha256', manifestBytes, privateKey).toString('base64'),
    certificate: key.certificatePem,
  };
  return { manifestBytes, signatureBytes: new TextEncoder().encode(JSON.stringify(sig, null, 2) + '\n') };
}

export interface ManifestSignatureCheck {
  signatureValid: boolean;
  signer: CertificateInfo | null;
  /** The certificate the signature file carries, as its DER bytes and parsed. */
  certificate: ParsedCertificate | null;
  manifest: ReportManifest | null;
  problems: string[];
}

/** Manifests list evidence and results, never bulk data: 64 MiB is far beyond any real one. */
export const MAX_MANIFEST_BYTES = 64 << 20;
const MAX_SIGNATURE_FILE_BYTES = 1 << 20;

/** Checks a manifest file against its signature file. Never throws for a bad signature: it says so. */
export function checkManifestSignature(manifestPath: string, signaturePath = `${manifestPath}.sig`): ManifestSignatureCheck {
  const problems: string[] = [];
  const out: ManifestSignatureCheck = { signatureValid: false, signer: null, certificate: null, manifest: null, problems };
  const manifestBytes = readBounded(manifestPath, MAX_MANIFEST_BYTES);
  if (!manifestBytes) throw new AuditError('FILE_NOT_FOUND', 'the report manifest cannot be read', manifestPath);
  if (manifestBytes === 'too large') throw new AuditError('LIMIT_EXCEEDED', `the report manifest is larger than ${MAX_MANIFEST_BYTES} bytes`, manifestPath);
  try {
    const parsed = JSON.parse(manifestBytes.toString('utf8')) as ReportManifest;
    if (parsed === null || typeof parsed !== 'object') throw new Error('not an object');
    if (parsed.format !== MANIFEST_FORMAT) problems.push(`the manifest's format is "${String(parsed.format)}", not ${MANIFEST_FORMAT}`);
    out.manifest = parsed;
  } catch {
    problems.push('the manifest is not valid JSON');
  }
  const sigBytes = readBounded(signaturePath, MAX_SIGNATURE_FILE_BYTES);
  let sig: Partial<ManifestSignature> | null = null;
  try {
    if (sigBytes && sigBytes !== 'too large') sig = JSON.parse(sigBytes.toString('utf8')) as Partial<ManifestSignature>;
  } catch {
    sig = null;
  }
  if (!sig || typeof sig !== 'object') {
    problems.push(sigBytes === 'too large'
      ? `the manifest's signature file ${signaturePath} is larger than ${MAX_SIGNATURE_FILE_BYTES} bytes`
      : `the manifest's signature file ${signaturePath} is missing or unreadable`);
    return out;
  }
  const pem = typeof sig.certificate === 'string' ? /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(sig.certificate) : null;
  try {
    if (!pem) throw new Error('it carries no PEM certificate');
    out.certificate = parseCertificate(Buffer.from(pem[1].replace(/\s+/g, ''), 'base64'));
    out.signer = certificateInfoOf(out.certificate);
  } catch (err) {
    problems.push(`the manifest's signature cannot be read: ${(err as Error).message}`);
    return out;
  }
  if (sig.algorithm !== 'RSA-SHA256') {
    problems.push(`unsupported manifest signature algorithm ${String(sig.algorithm)}`);
    return out;
  }
  const tooBig = keyProblem(out.certificate.cert);
  if (tooBig) {
    problems.push(`the manifest's signature is not checked: its certificate cannot be used: ${tooBig}`);
    return out;
  }
  try {
    if (typeof sig.signature !== 'string') throw new Error('it has no signature');
    const publicKey = new X509Certificate(out.certificate.der).publicKey;
    if (publicKey.asymmetricKeyType !== 'rsa') throw new Error('its certificate does not hold an RSA key');
    out.signatureValid = verify('sha256', manifestBytes, publicKey, Buffer.from(sig.signature, 'base64'));
  } catch (err) {
    problems.push(`the manifest's signature cannot be read: ${(err as Error).message}`);
    return out;
  }
  if (!out.signatureValid) problems.push('the manifest signature does not match its contents: the manifest was changed after signing');
  return out;
}

/** A regular file's bytes; null when it cannot be read or is not a regular file (a FIFO put in its
 *  place would block the read until someone writes to it, /dev/zero would never end), 'too large'
 *  past `limit`. Opened non-blocking and checked through the descriptor it is then read from. */
export function readBounded(path: string, limit: number): Buffer | null | 'too large' {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) return null;
    if (info.size > limit) return 'too large';
    return readFileSync(fd);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
