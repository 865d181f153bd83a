// Verifies a signed report the way a third party would, from the file alone (plus trust anchors and,
// optionally, the case database): is the CMS signature valid, does it cover the whole file, who signed,
// does the signer chain to an anchor the verifier trusts, and does the signed manifest match the PDF
// and the case. Every failed check is a sentence in `problems`; nothing here throws for a bad report.
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import forge from 'node-forge';
import type { Database } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import { certificateInfo, type CertificateInfo } from './keys.ts';
import { checkManifestSignature } from './manifest.ts';

export interface VerifyOptions {
  manifestPath?: string;
  /** PEM files of trusted certificates (a CA, or an examiner's self-signed certificate obtained out of band). */
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
  signatureValid: boolean;
  documentUnmodified: boolean;
  subFilter: string | null;
  signingTime: string | null;
  signer: CertificateInfo | null;
  trusted: boolean;
  manifest: ManifestVerification | null;
  problems: string[];
}

interface SignedAttributeCapture {
  digestAlgorithm: string;
  signatureAlgorithm: string;
  authenticatedAttributes?: forge.asn1.Asn1[];
  signature: string;
  serial: string;
}

/** The manifest path written next to a report: `x.pdf` → `x.manifest.json`. */
export function manifestPathFor(pdfPath: string): string {
  return pdfPath.replace(/\.pdf$/i, '') + '.manifest.json';
}

export async function verifyReport(pdfPath: string, options: VerifyOptions = {}): Promise<ReportVerification> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(pdfPath);
  } catch {
    throw new AuditError('FILE_NOT_FOUND', 'the report cannot be read', pdfPath);
  }
  const problems: string[] = [];
  const out: ReportVerification = {
    ok: false, file: pdfPath, sha256: createHash('sha256').update(bytes).digest('hex'), signed: false, signatureValid: false,
    documentUnmodified: false, subFilter: null, signingTime: null, signer: null, trusted: false, manifest: null, problems,
  };
  let signerCert: forge.pki.Certificate | null = null;
  let chain: forge.pki.Certificate[] = [];

  const sig = findSignature(bytes);
  if (!sig) {
    problems.push('the PDF carries no digital signature (no /ByteRange with /Contents)');
  } else {
    out.signed = true;
    out.subFilter = sig.subFilter;
    const [a, b, c, d] = sig.byteRange;
    // The ByteRange must start at 0, end at the end of the file, and leave out exactly the
    // <hex> /Contents string: anything else means bytes outside the signature's reach.
    const gap = bytes.subarray(b, c).toString('latin1');
    const wholeFile = a === 0 && b > 0 && c > b && c + d === bytes.length && /^<[0-9A-Fa-f]*>$/.test(gap);
    if (!wholeFile) {
      problems.push(c + d !== bytes.length
        ? `the signature covers ${c + d} bytes but the file has ${bytes.length}: content was added after signing`
        : 'the signed byte range does not cover the whole file except the signature');
    }
    try {
      const cms = parseCms(sig.contentsHex);
      chain = cms.certificates;
      signerCert = cms.signer;
      out.signer = certificateInfo(cms.signer);
      out.signingTime = cms.signingTime;
      const signedData = Buffer.concat([bytes.subarray(a, a + b), bytes.subarray(c, c + d)]);
      const digestOk = cms.messageDigest !== null && cms.digest(signedData) === cms.messageDigest;
      if (!digestOk) problems.push('the document digest does not match the signature: the signed bytes were changed after signing');
      out.documentUnmodified = wholeFile && digestOk;
      out.signatureValid = cms.signatureOverAttributesValid && digestOk;
      if (!cms.signatureOverAttributesValid) problems.push("the signature over the signed attributes does not verify with the signer's certificate");
    } catch (err) {
      problems.push(`the signature cannot be read: ${(err as Error).message}`);
    }
  }

  if (signerCert) {
    const anchors = (options.trust ?? []).flatMap((p) => readPems(p));
    if (anchors.length === 0) {
      problems.push("no trust anchor given: the signer's identity is not established (pass --trust with the CA's certificate, " +
        "or with the examiner's own certificate obtained from them directly)");
    } else {
      const check = checkTrust(signerCert, chain, anchors);
      out.trusted = check.ok;
      if (!check.ok) problems.push(`the signer's certificate does not chain to a trusted anchor: ${check.reason}`);
    }
  }

  const manifestPath = options.manifestPath ?? (existsSync(manifestPathFor(pdfPath)) ? manifestPathFor(pdfPath) : undefined);
  if (manifestPath) out.manifest = await verifyManifest(manifestPath, out, signerCert, options, problems);
  else if (options.db) problems.push('no manifest next to the report, so its evidence cannot be compared with the case');

  out.ok = problems.length === 0 && out.signatureValid && out.documentUnmodified && out.trusted;
  return out;
}

async function verifyManifest(path: string, report: ReportVerification, signerCert: forge.pki.Certificate | null,
  options: VerifyOptions, problems: string[]): Promise<ManifestVerification> {
  const check = checkManifestSignature(path);
  problems.push(...check.problems);
  const mv: ManifestVerification = {
    path, signatureValid: check.signatureValid, sameSigner: false, pdfSha256Matches: false, evidenceMatchesCase: null,
    caseId: check.manifest?.case?.id ?? null,
  };
  if (check.certificate && signerCert) {
    mv.sameSigner = certDer(check.certificate) === certDer(signerCert);
    if (!mv.sameSigner) problems.push('the manifest was signed by a different certificate than the PDF');
  }
  if (check.manifest) {
    mv.pdfSha256Matches = check.manifest.pdf?.sha256 === report.sha256;
    if (!mv.pdfSha256Matches) problems.push(`the manifest names a PDF with SHA-256 ${String(check.manifest.pdf?.sha256)}, but this file's is ${report.sha256}`);
    if (options.db) {
      const caseId = options.caseId ?? check.manifest.case?.id;
      const { getCase } = await import('../cases/cases.ts');
      const { listEvidence } = await import('../cases/evidence.ts');
      try {
        const kase = await getCase(options.db, caseId);
        mv.caseId = kase.id;
        const inCase = new Map((await listEvidence(options.db, kase.id)).map((e) => [e.sha256, e.fileName]));
        const listed = check.manifest.evidence ?? [];
        const missing = listed.filter((e) => !inCase.has(e.sha256));
        mv.evidenceMatchesCase = missing.length === 0;
        for (const e of missing) problems.push(`evidence ${e.fileName} (SHA-256 ${e.sha256}) in the manifest is not in case ${kase.id}`);
      } catch (err) {
        mv.evidenceMatchesCase = false;
        problems.push(`the manifest's case cannot be checked: ${(err as Error).message}`);
      }
    }
  }
  return mv;
}

interface FoundSignature { byteRange: [number, number, number, number]; contentsHex: string; subFilter: string | null }

/** The last signature dictionary in the file (an incremental update would append a later one). */
function findSignature(bytes: Buffer): FoundSignature | null {
  const text = bytes.toString('latin1');
  const re = /\/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]/g;
  let m: RegExpExecArray | null;
  let last: RegExpExecArray | null = null;
  while ((m = re.exec(text)) !== null) last = m;
  if (!last) return null;
  const byteRange = [Number(last[1]), Number(last[2]), Number(last[3]), Number(last[4])] as [number, number, number, number];
  const [, b, c] = byteRange;
  if (c > bytes.length || b > c) return { byteRange, contentsHex: '', subFilter: null };
  const gap = text.slice(b, c);
  const hex = gap.replace(/^</, '').replace(/>$/, '');
  // The dictionary around the ByteRange: look a little either side for /SubFilter.
  const dict = text.slice(Math.max(0, last.index - 2000), Math.min(text.length, last.index + 2000));
  const sf = /\/SubFilter\s*\/([A-Za-z0-9.#_-]+)/.exec(dict);
  return { byteRange, contentsHex: hex, subFilter: sf ? sf[1] : null };
}

interface ParsedCms {
  certificates: forge.pki.Certificate[];
  signer: forge.pki.Certificate;
  messageDigest: string | null;   // hex, from the signed attributes
  digest(data: Buffer): string;   // hex, with the signer's digest algorithm
  signatureOverAttributesValid: boolean;
  signingTime: string | null;
}

const DIGESTS: Record<string, 'sha1' | 'sha256' | 'sha384' | 'sha512'> = {
  [forge.pki.oids.sha1]: 'sha1', [forge.pki.oids.sha256]: 'sha256', [forge.pki.oids.sha384]: 'sha384', [forge.pki.oids.sha512]: 'sha512',
};

/** Parses the CMS SignedData with node-forge and checks the signature over the signed attributes. */
function parseCms(hex: string): ParsedCms {
  if (hex.length === 0 || /^0*$/.test(hex)) throw new Error('the signature placeholder is empty');
  // The /Contents string is zero-padded after the DER: parse one object and ignore the rest.
  const der = Buffer.from(hex.length % 2 ? hex + '0' : hex, 'hex').toString('binary');
  const asn1 = forge.asn1.fromDer(der, { strict: false, parseAllBytes: false } as unknown as boolean);
  const msg = forge.pkcs7.messageFromAsn1(asn1) as forge.pkcs7.PkcsSignedData & { rawCapture: { signerInfos?: forge.asn1.Asn1[] } };
  const certificates = msg.certificates ?? [];
  const infos = msg.rawCapture?.signerInfos ?? [];
  if (infos.length !== 1) throw new Error(`expected one signer, found ${infos.length}`);
  const capture = {} as SignedAttributeCapture;
  const errors: unknown[] = [];
  // @types/node-forge omits asn1.validate and the PKCS#7 validators. forge exports the SignedData
  // validator but not the SignerInfo one inside it (its own pkcs7.js looks for a name that is never
  // set), so take it from where SignedData lists its signerInfos.
  const untyped = forge as unknown as {
    pkcs7asn1: { signedDataValidator: { value: { capture?: string; value?: unknown[] }[] } };
    asn1: { validate(obj: forge.asn1.Asn1, validator: unknown, capture: object, errors: unknown[]): boolean };
  };
  const signerInfoValidator = untyped.pkcs7asn1.signedDataValidator.value.find((v) => v.capture === 'signerInfos')?.value?.[0];
  if (!signerInfoValidator) throw new Error('node-forge lacks the PKCS#7 SignerInfo validator');
  if (!untyped.asn1.validate(infos[0], signerInfoValidator, capture, errors)) {
    throw new Error('the SignerInfo is not valid PKCS#7');
  }
  const serial = forge.util.createBuffer(capture.serial).toHex();
  const signer = certificates.find((c) => c.serialNumber.replace(/^0+/, '') === serial.replace(/^0+/, ''));
  if (!signer) throw new Error('the signer certificate is not included in the signature');
  const alg = DIGESTS[forge.asn1.derToOid(capture.digestAlgorithm)];
  if (!alg) throw new Error(`unsupported digest algorithm ${forge.asn1.derToOid(capture.digestAlgorithm)}`);
  const attrs = capture.authenticatedAttributes ?? [];
  if (attrs.length === 0) throw new Error('the signature has no signed attributes (a bare PKCS#1 signature is not accepted)');
  let messageDigest: string | null = null;
  let signingTime: string | null = null;
  for (const attr of attrs) {
    const parts = attr.value as forge.asn1.Asn1[];
    const oid = forge.asn1.derToOid(parts[0].value as string);
    const value = (parts[1].value as forge.asn1.Asn1[])[0];
    if (oid === forge.pki.oids.messageDigest) messageDigest = forge.util.bytesToHex(value.value as string);
    if (oid === forge.pki.oids.signingTime) {
      signingTime = (value.type === forge.asn1.Type.UTCTIME ? forge.asn1.utcTimeToDate(value.value as string) : forge.asn1.generalizedTimeToDate(value.value as string)).toISOString();
    }
  }
  // The signature is over the DER of the attributes as a SET (RFC 5652 §5.4), not the [0] IMPLICIT tag.
  const set = forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SET, true, attrs);
  const md = forge.md[alg].create();
  md.update(forge.asn1.toDer(set).getBytes());
  let valid = false;
  try {
    valid = (signer.publicKey as forge.pki.rsa.PublicKey).verify(md.digest().bytes(), capture.signature);
  } catch {
    valid = false;
  }
  return {
    certificates, signer, messageDigest, signingTime, signatureOverAttributesValid: valid,
    digest: (data) => createHash(alg).update(data).digest('hex'),
  };
}

function readPems(path: string): forge.pki.Certificate[] {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    throw new AuditError('FILE_NOT_FOUND', 'the trust anchor file cannot be read', path);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) {
    // DER, as some CAs hand out
    try { return [forge.pki.certificateFromAsn1(forge.asn1.fromDer(text))]; } catch {
      throw new AuditError('BAD_KEY', 'not a PEM or DER certificate', path);
    }
  }
  return blocks.map((b) => forge.pki.certificateFromPem(b));
}

function certDer(cert: forge.pki.Certificate): string {
  return forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes();
}

/** Chain from the signer through the certificates the CMS carries to one of the anchors, checking
 *  each link's signature, validity dates and that issuers are CAs (forge's chain verifier). */
function checkTrust(signer: forge.pki.Certificate, included: forge.pki.Certificate[], anchors: forge.pki.Certificate[]): { ok: boolean; reason: string } {
  const anchorDers = new Set(anchors.map(certDer));
  // A self-signed examiner certificate given as an anchor is trusted as itself.
  if (anchorDers.has(certDer(signer))) {
    const now = new Date();
    return now >= signer.validity.notBefore && now <= signer.validity.notAfter
      ? { ok: true, reason: '' } : { ok: false, reason: 'the certificate has expired or is not yet valid' };
  }
  const store = forge.pki.createCaStore(anchors);
  const chain: forge.pki.Certificate[] = [signer];
  let current = signer;
  for (let i = 0; i < 8; i++) {
    if (anchors.some((a) => safeIssued(a, current))) break;
    const next = included.find((c) => c !== current && certDer(c) !== certDer(current) && safeIssued(c, current));
    if (!next) break;
    chain.push(next);
    current = next;
  }
  try {
    forge.pki.verifyCertificateChain(store, chain);
    return { ok: true, reason: '' };
  } catch (err) {
    const e = err as { message?: string; error?: string };
    return { ok: false, reason: e.message ?? String(e.error ?? err) };
  }
}

function safeIssued(issuer: forge.pki.Certificate, child: forge.pki.Certificate): boolean {
  try { return issuer.issued(child) && issuer.verify(child); } catch { return false; }
}

// Exported for the tests' byte-flipping: where the signed ranges are.
export function signedRanges(bytes: Uint8Array): [number, number, number, number] | null {
  const s = findSignature(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return s ? s.byteRange : null;
}

