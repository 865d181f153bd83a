// Hostile signatures, made in the test: a certificate whose RSA key is too big to check (a
// 16,384-bit modulus and a 16,384-bit exponent: pure-JS RSA spent 244 s of CPU on one such check),
// and CMS SignedData built by node-forge (an implementation independent of the one under test) around
// any certificates, so the verifier can be fed what a signer of our own would never make.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export const HUGE_BITS = 16_384;

/** A 2048-bit key made natively (forge's pure-JS generator is slow), as forge needs it. */
export function smallForgeKey(): forge.pki.rsa.PrivateKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
}

function oddNumber(bits: number): forge.jsbn.BigInteger {
  const bytes = randomBytes(bits / 8);
  bytes[0] |= 0x80;
  bytes[bytes.length - 1] |= 1;
  return new forge.jsbn.BigInteger(bytes.toString('hex'), 16);
}

/** A certificate for `subject` whose public key has a HUGE_BITS modulus and exponent; signed (for form)
 *  by `issuerKey`. Nobody holds its private key: a signature "by" it is made with another key. */
export function hugeKeyCertificate(issuerKey: forge.pki.rsa.PrivateKey, subject = 'Hostile Signer'): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(oddNumber(HUGE_BITS), oddNumber(HUGE_BITS));
  cert.serialNumber = '0badc0de';
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  cert.setIssuer([{ name: 'commonName', value: subject }]);
  cert.sign(issuerKey, forge.md.sha256.create());
  return cert;
}

/** A detached CMS SignedData over `data` (SHA-256, signed attributes), naming `signer` as the signer
 *  and carrying `signer` plus `extra` certificates, the signature made with `key`. DER bytes. */
export function forgeDetachedCms(data: Uint8Array, signer: forge.pki.Certificate, key: forge.pki.rsa.PrivateKey, extra: forge.pki.Certificate[] = []): Uint8Array {
  const p7 = forge.pkcs7.createSignedData();
  p7.content = forge.util.createBuffer(Buffer.from(data).toString('binary'));
  p7.addCertificate(signer);
  for (const c of extra) p7.addCertificate(c);
  p7.addSigner({
    key, certificate: signer, digestAlgorithm: forge.pki.oids.sha256,
    authenticatedAttributes: [
      { type: forge.pki.oids.contentType, value: forge.pki.oids.data },
      { type: forge.pki.oids.messageDigest },
      { type: forge.pki.oids.signingTime, value: new Date() as unknown as string },
    ],
  });
  p7.sign({ detached: true });
  return Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), 'binary');
}

/** CPU seconds (user + system) spent by this process while `fn` runs: a bound that machine load
 *  cannot break the way a wall-clock one can. */
export async function cpuSeconds<T>(fn: () => Promise<T>): Promise<{ value: T; cpu: number }> {
  const before = process.cpuUsage();
  const value = await fn();
  const used = process.cpuUsage(before);
  return { value, cpu: (used.user + used.system) / 1e6 };
}
