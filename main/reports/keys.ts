// Examiner signing keys. An examiner with a PKI brings a PKCS#12 file from their CA; one without can
// have the app make a key pair and a self-signed certificate. Either way the key lives only inside an
// encrypted PKCS#12 (AES-256, PBKDF2 from the passphrase): nothing unencrypted ever touches disk.
import { lstatSync } from 'node:fs';
import { dirname } from 'node:path';
import forge from 'node-forge';
import { AuditError } from '../errors.ts';
import { certificateInfoOf, parseCertificate } from './verify/certificates.ts';
import { writeFilesInPlace } from './write-new.ts';
import { makeFolders } from '../common/fs.ts';

export interface ExaminerIdentity {
  name: string;             // the certificate's subject CN
  organisation?: string;    // O
  email?: string;           // emailAddress
  country?: string;         // C, two letters
}

export interface CertificateInfo {
  subject: string;          // CN
  organisation: string | null;
  email: string | null;
  issuer: string;           // issuer CN (or the whole DN when it has no CN)
  serial: string;           // hex
  notBefore: string;        // ISO
  notAfter: string;         // ISO
  selfSigned: boolean;
  sha256Fingerprint: string;
}

export interface LoadedKey {
  key: forge.pki.rsa.PrivateKey;
  certificate: forge.pki.Certificate;
  /** The examiner certificate first, then any CA certificates the file carries. */
  chain: forge.pki.Certificate[];
  certificatePem: string;
  info: CertificateInfo;
}

const MIN_PASSPHRASE = 8;

/** A 3072-bit RSA key and a self-signed certificate, returned as an encrypted PKCS#12 (DER bytes). */
export async function createExaminerKey(identity: ExaminerIdentity, passphrase: string, validDays = 3 * 365): Promise<Uint8Array> {
  if (!identity.name.trim()) throw new AuditError('BAD_REQUEST', 'the examiner name (certificate CN) is empty');
  if (passphrase.length < MIN_PASSPHRASE) {
    throw new AuditError('BAD_PASSPHRASE', `the passphrase must be at least ${MIN_PASSPHRASE} characters: it is the only protection of the private key at rest`);
  }
  // forge's async generator yields to the event loop (and uses worker-free pure JS); 3072 bits per
  // NIST SP 800-57 for signatures meant to be checked years from now.
  const keys = await new Promise<forge.pki.rsa.KeyPair>((resolve, reject) =>
    forge.pki.rsa.generateKeyPair({ bits: 3072, workers: -1 }, (err, pair) => (err ? reject(err) : resolve(pair))));
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01' + forge.util.bytesToHex(forge.random.getBytesSync(15));
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + validDays * 86_400_000);
  const attrs: forge.pki.CertificateField[] = [{ name: 'commonName', value: identity.name.trim() }];
  if (identity.organisation) attrs.push({ name: 'organizationName', value: identity.organisation });
  if (identity.country) attrs.push({ name: 'countryName', value: identity.country });
  if (identity.email) attrs.push({ name: 'emailAddress', value: identity.email });
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, nonRepudiation: true },
    { name: 'extKeyUsage', emailProtection: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  // 10,000 PBKDF2 iterations (5× OpenSSL's default of 2,048): forge derives PKCS#12 keys in pure JS,
  // measured ~0.35 s per open at 10,000 and ~2.7 s at 100,000 on the 2-core test machine (the file
  // is opened once per report).
  const p12 = forge.pkcs12.toPkcs12Asn1(keys.privateKey, [cert], passphrase,
    { algorithm: 'aes256', count: 10_000, saltSize: 16, friendlyName: identity.name.trim() });
  return binaryToBytes(forge.asn1.toDer(p12).getBytes());
}

/** Opens a PKCS#12 with its passphrase; finds the certificate that belongs to the private key. */
export function loadKey(p12: Uint8Array, passphrase: string, file?: string): LoadedKey {
  let parsed: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(bytesToBinary(p12));
    parsed = forge.pkcs12.pkcs12FromAsn1(asn1, false, passphrase);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/password|mac|decrypt|invalid/i.test(msg)) {
      throw new AuditError('BAD_PASSPHRASE', 'the passphrase does not open this key file (or the file is damaged)', file);
    }
    throw new AuditError('BAD_KEY', `not a readable PKCS#12 key file: ${msg}`, file);
  }
  const keyBags = [
    ...(parsed.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag })[forge.pki.oids.pkcs8ShroudedKeyBag] ?? []),
    ...(parsed.getBags({ bagType: forge.pki.oids.keyBag })[forge.pki.oids.keyBag] ?? []),
  ];
  const key = keyBags.find((b) => b.key)?.key as forge.pki.rsa.PrivateKey | undefined;
  if (!key) throw new AuditError('BAD_KEY', 'the PKCS#12 file holds no private key (or a non-RSA key, which this signer cannot use)', file);
  const certs = (parsed.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag] ?? [])
    .map((b) => b.cert).filter((c): c is forge.pki.Certificate => c !== undefined && c !== null);
  const certificate = certs.find((c) => {
    const pub = c.publicKey as forge.pki.rsa.PublicKey;
    return pub.n !== undefined && pub.n.compareTo(key.n) === 0 && pub.e.compareTo(key.e) === 0;
  });
  if (!certificate) throw new AuditError('BAD_KEY', 'the PKCS#12 file has no certificate matching its private key', file);
  const usage = certificate.getExtension('keyUsage') as { digitalSignature?: boolean; nonRepudiation?: boolean } | null;
  if (usage && !usage.digitalSignature && !usage.nonRepudiation) {
    throw new AuditError('BAD_KEY', 'the certificate does not allow digital signatures (its keyUsage lacks digitalSignature)', file);
  }
  const now = new Date();
  if (now < certificate.validity.notBefore || now > certificate.validity.notAfter) {
    throw new AuditError('BAD_KEY', `the certificate is not valid now (valid ${certificate.validity.notBefore.toISOString()} to ${certificate.validity.notAfter.toISOString()})`, file);
  }
  return {
    key,
    certificate,
    chain: [certificate, ...certs.filter((c) => c !== certificate)],
    certificatePem: forge.pki.certificateToPem(certificate),
    info: certificateInfo(certificate),
  };
}

/** Who a certificate names (one path for every certificate the app reads: see certificateInfoOf). */
export function certificateInfo(cert: forge.pki.Certificate): CertificateInfo {
  return certificateInfoOf(parseCertificate(binaryToBytes(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes())));
}

export function binaryToBytes(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, 'binary'));
}

export function bytesToBinary(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('binary');
}

function lstatOrNull(path: string): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

export interface WrittenKey {
  key: string;            // the encrypted PKCS#12 (mode 600)
  certificate: string;    // the certificate alone, to hand to whoever verifies this examiner's reports
  info: CertificateInfo;
}

/** Makes an examiner key and writes it with its certificate beside it (`x.p12` → `x.cert.pem`).
 *  An existing key file is never overwritten unless asked: a lost signing key is not recoverable. */
export async function writeExaminerKey(out: string, identity: ExaminerIdentity, passphrase: string, options: { force?: boolean } = {}): Promise<WrittenKey> {
  // lstat, not exists: a link there (even one pointing nowhere) is something there
  if (lstatOrNull(out) && options.force !== true) {
    throw new AuditError('BAD_REQUEST', 'a key file already exists there; refusing to overwrite a signing key', out);
  }
  const p12 = await createExaminerKey(identity, passphrase);
  await makeFolders(dirname(out));
  const key = loadKey(p12, passphrase, out);
  const certificate = out.replace(/\.p12$|\.pfx$/i, '') + '.cert.pem';
  writeFilesInPlace([[out, p12, 0o600], [certificate, Buffer.from(key.certificatePem)]]);
  return { key: out, certificate, info: key.info };
}
