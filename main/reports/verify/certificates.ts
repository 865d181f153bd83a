// Certificates as a verifier meets them: from a signature, a manifest or a trust-anchor file, all
// possibly hostile. Every key is measured before any maths is done with it (a 16,384-bit modulus
// with a 16,384-bit exponent kept pure-JS RSA busy for minutes), identity details are read with
// PKI.js, and chains are built with PKI.js's CertificateChainValidationEngine under a search budget.
import { createHash, X509Certificate, webcrypto } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { AuditError } from '../../errors.ts';
import type { CertificateInfo } from '../keys.ts';

/** Node's WebCrypto (native OpenSSL) behind PKI.js; passed explicitly, so no global engine is set. */
export const crypto = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as ConstructorParameters<typeof pkijs.CryptoEngine>[0]['crypto'] });

export const KEY_LIMITS = {
  /** RSA moduli above this are refused before any maths (NIST's largest listed size is 15,360). */
  maxRsaModulusBits: 8192,
  /** RSA public exponents above 2^32 are refused (65,537 is the norm; OpenSSL caps at 64 bits). */
  maxRsaExponent: 2n ** 32n,
} as const;

/** Certificates in one signature, and in one trust-anchor file. */
export const MAX_CERTIFICATES = 16;
const MAX_ANCHOR_FILE_BYTES = 1 << 20;
/** Issuer look-ups per chain: each costs signature checks, and PKI.js's path search has no bound. */
const MAX_ISSUER_SEARCHES = 32;

const OID = {
  rsa: '1.2.840.113549.1.1.1', rsaPss: '1.2.840.113549.1.1.10', ec: '1.2.840.10045.2.1',
  keyUsage: '2.5.29.15',
} as const;
const CURVES: Record<string, string> = { '1.2.840.10045.3.1.7': 'P-256', '1.3.132.0.34': 'P-384', '1.3.132.0.35': 'P-521' };

/** A certificate with the exact bytes it came as (fingerprints are of those bytes, not a re-encoding). */
export interface ParsedCertificate {
  der: Uint8Array;
  cert: pkijs.Certificate;
}

export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const own = Uint8Array.from(der);
  return { der: own, cert: pkijs.Certificate.fromBER(own) };
}

/** Why this certificate's key may not be used, or null when it may. Reads sizes only: no maths. */
export function keyProblem(cert: pkijs.Certificate): string | null {
  const spki = cert.subjectPublicKeyInfo;
  const alg = spki.algorithm.algorithmId;
  if (alg === OID.rsa || alg === OID.rsaPss) {
    const key = spki.parsedKey;
    if (!(key instanceof pkijs.RSAPublicKey)) return 'its RSA public key cannot be read';
    const bits = bitLength(key.modulus.valueBlock.valueHexView);
    if (bits > KEY_LIMITS.maxRsaModulusBits) {
      return `its RSA modulus has ${bits} bits, more than the ${KEY_LIMITS.maxRsaModulusBits} this verifier accepts`;
    }
    const e = key.publicExponent.valueBlock.valueHexView;
    if (bitLength(e) > 64 || toBigInt(e) > KEY_LIMITS.maxRsaExponent) {
      return `its RSA public exponent has ${bitLength(e)} bits, more than the 2^32 this verifier accepts`;
    }
    return null;
  }
  if (alg === OID.ec) {
    const params = spki.algorithm.algorithmParams;
    const curve = params instanceof asn1js.ObjectIdentifier ? params.valueBlock.toString() : '(not a named curve)';
    return CURVES[curve] ? null : `its elliptic curve ${curve} is not P-256, P-384 or P-521`;
  }
  return `its key algorithm ${alg} is not RSA or ECDSA`;
}

/** The same limit as a thrown error, for callers that must not go on (signing keys, anchors). */
export function assertKeyBounded(cert: pkijs.Certificate, what: string, file?: string): void {
  const problem = keyProblem(cert);
  if (problem) throw new AuditError('BAD_KEY', `${what}: ${problem}`, file);
}

function bitLength(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]));
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST',
  '2.5.4.5': 'serialNumber', '1.2.840.113549.1.9.1': 'E',
};

function attribute(name: pkijs.RelativeDistinguishedNames, oid: string): string | null {
  const found = name.typesAndValues.find((t) => t.type === oid);
  if (!found) return null;
  const value = (found.value as { valueBlock?: { value?: unknown } }).valueBlock?.value;
  return typeof value === 'string' ? value : null;
}

function dn(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues.map((t) => {
    const value = (t.value as { valueBlock?: { value?: unknown } }).valueBlock?.value;
    return `${SHORT_NAMES[t.type] ?? t.type}=${typeof value === 'string' ? value : '?'}`;
  }).join(', ');
}

/** A hostile certificate's dates may not be dates at all. */
function iso(d: Date): string {
  return d instanceof Date && Number.isFinite(d.getTime()) ? d.toISOString() : 'not a valid date';
}

export function sha256Fingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex').match(/../g)!.join(':').toUpperCase();
}

/** Who a certificate names, read without trusting it. Self-signed is checked with OpenSSL, and only
 *  for a key within the limits. */
export function certificateInfoOf({ der, cert }: ParsedCertificate): CertificateInfo {
  const issuerCn = attribute(cert.issuer, '2.5.4.3');
  let selfSigned = false;
  if (cert.subject.isEqual(cert.issuer) && keyProblem(cert) === null) {
    try {
      const x509 = new X509Certificate(der);
      selfSigned = x509.verify(x509.publicKey);
    } catch {
      selfSigned = false;
    }
  }
  return {
    subject: attribute(cert.subject, '2.5.4.3') ?? dn(cert.subject),
    organisation: attribute(cert.subject, '2.5.4.10'),
    email: attribute(cert.subject, '1.2.840.113549.1.9.1'),
    issuer: issuerCn ?? dn(cert.issuer),
    serial: Buffer.from(cert.serialNumber.valueBlock.valueHexView).toString('hex'),
    notBefore: iso(cert.notBefore.value),
    notAfter: iso(cert.notAfter.value),
    selfSigned,
    sha256Fingerprint: sha256Fingerprint(der),
  };
}

/** The certificates a signature carries must be the signer and its issuers, each link's signature
 *  valid and a carried root's self-signature too (OpenSSL, keys already bounded): a certificate that
 *  is none of these, or one altered in any byte, is named. Null when all are accounted for. */
export function carriedCertificateProblem(signer: ParsedCertificate, carried: ParsedCertificate[]): string | null {
  const x509 = (c: ParsedCertificate) => { try { return new X509Certificate(c.der); } catch { return null; } };
  const same = (a: ParsedCertificate, b: ParsedCertificate) => Buffer.from(a.der).equals(b.der);
  const onChain = [signer];
  let current = x509(signer);
  while (current && onChain.length <= carried.length) {
    if (current.checkIssued(current)) {
      // a root: its own signature must hold (an intermediate's is checked by its issuer, or by the trust check)
      if (!current.verify(current.publicKey)) onChain.pop();
      break;
    }
    const child = current;
    const issuer = carried.find((c) => !onChain.some((o) => same(o, c)) && (() => {
      const x = x509(c);
      return x !== null && child.checkIssued(x) && child.verify(x.publicKey);
    })());
    if (!issuer) break;
    onChain.push(issuer);
    current = x509(issuer);
  }
  const stray = carried.filter((c) => !onChain.some((o) => same(o, c)));
  return stray.length === 0 ? null
    : `the signature carries ${stray.length === 1 ? 'a certificate' : `${stray.length} certificates`} that ${stray.length === 1 ? 'is' : 'are'} ` +
      `not on the signer's issuer chain, or whose signature does not hold (${stray.map((c) => certificateInfoOf(c).subject).join(', ')}): altered or added after signing`;
}

/** A keyUsage that allows neither digitalSignature nor nonRepudiation forbids signing documents. */
export function usageProblem(cert: pkijs.Certificate): string | null {
  const ext = cert.extensions?.find((e) => e.extnID === OID.keyUsage);
  if (!ext) return null;
  const bits = (ext.parsedValue as asn1js.BitString | undefined)?.valueBlock?.valueHexView;
  if (!bits || bits.length === 0) return 'its keyUsage extension cannot be read';
  return (bits[0] & 0xc0) === 0 ? 'its keyUsage allows neither digitalSignature nor nonRepudiation' : null;
}

/** Trust anchors from PEM or DER files. An anchor the verifier cannot use is the verifier's own
 *  mistake, so it is an error, not a sentence in a report. */
export function readTrustAnchors(paths: string[]): ParsedCertificate[] {
  return paths.flatMap((path) => {
    let bytes: Buffer;
    try {
      if (statSync(path).size > MAX_ANCHOR_FILE_BYTES) {
        throw new AuditError('LIMIT_EXCEEDED', `a trust anchor file is larger than ${MAX_ANCHOR_FILE_BYTES} bytes`, path);
      }
      bytes = readFileSync(path);
    } catch (err) {
      if (err instanceof AuditError) throw err;
      throw new AuditError('FILE_NOT_FOUND', 'the trust anchor file cannot be read', path);
    }
    const blocks = bytes.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    const ders = blocks
      ? blocks.map((b) => Buffer.from(b.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''), 'base64'))
      : [bytes];
    if (ders.length > MAX_CERTIFICATES) {
      throw new AuditError('LIMIT_EXCEEDED', `a trust anchor file holds ${ders.length} certificates; at most ${MAX_CERTIFICATES} are read`, path);
    }
    return ders.map((der) => {
      let parsed: ParsedCertificate;
      try {
        parsed = parseCertificate(der);
      } catch {
        throw new AuditError('BAD_KEY', 'not a PEM or DER certificate', path);
      }
      assertKeyBounded(parsed.cert, 'the trust anchor cannot be used', path);
      return parsed;
    });
  });
}

/** Does the signer chain, through the certificates the signature carries, to one of the anchors?
 *  A self-signed examiner certificate given as an anchor is trusted as itself. Every certificate
 *  offered must have a bounded key (the caller has checked the signer's and the anchors'). */
export async function checkTrust(signer: ParsedCertificate, carried: ParsedCertificate[], anchors: ParsedCertificate[], at = new Date()): Promise<{ ok: boolean; reason: string }> {
  const inDate = (c: pkijs.Certificate) => c.notBefore.value <= at && at <= c.notAfter.value;
  if (anchors.some((a) => Buffer.from(a.der).equals(signer.der))) {
    return inDate(signer.cert) ? { ok: true, reason: '' } : { ok: false, reason: 'the certificate has expired or is not yet valid' };
  }
  const intermediates = carried.filter((c) => keyProblem(c.cert) === null && !Buffer.from(c.der).equals(signer.der)).map((c) => c.cert);
  let searches = 0;
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: anchors.map((a) => a.cert),
    certs: [...intermediates, signer.cert],
    checkDate: at,
    findIssuer: (cert, eng, c) => {
      if (++searches > MAX_ISSUER_SEARCHES) throw new Error(`no chain found within ${MAX_ISSUER_SEARCHES} issuer look-ups`);
      return eng.defaultFindIssuer(cert, eng, c);
    },
  });
  try {
    const result = await engine.verify({}, crypto);
    return result.result ? { ok: true, reason: '' } : { ok: false, reason: result.resultMessage || 'no valid certificate path' };
  } catch (err) {
    const e = err as { resultMessage?: string; message?: string };
    return { ok: false, reason: e.resultMessage || e.message || String(err) };
  }
}
