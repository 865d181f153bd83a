// Detached CMS signatures (main/reports/cms.ts): made with the examiner's PKCS#12, checked by OpenSSL
// (an independent implementation) and by our verifier, and hostile ones refused before any maths.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signDetachedCms, verifyDetachedCms } from '../../../main/reports/cms.ts';
import { loadKey, type LoadedKey } from '../../../main/reports/keys.ts';
import { crypto } from '../../../main/reports/verify/certificates.ts';
import { HUGE_BITS, cpuSeconds, forgeDetachedCms, hugeKeyCertificate, smallForgeKey } from './hostile.ts';
import { makePki, type TestPki } from './pki.ts';

let pki: TestPki;
let key: LoadedKey;
const data = new TextEncoder().encode('the bytes of an exported case archive\n');

beforeAll(() => {
  pki = makePki();
  key = loadKey(readFileSync(pki.p12), pki.passphrase);
});
afterAll(() => { if (pki) rmSync(pki.dir, { recursive: true, force: true }); });

const run = (args: string[]) => execFileSync('openssl', args, { cwd: pki.dir, stdio: ['ignore', 'pipe', 'pipe'] });

describe('signDetachedCms', () => {
  it('makes a detached SignedData that OpenSSL verifies against the CA, carrying the chain of the PKCS#12', async () => {
    const cms = await signDetachedCms(data, key);
    writeFileSync(join(pki.dir, 'data.bin'), data);
    writeFileSync(join(pki.dir, 'data.p7s'), cms);
    run(['cms', '-verify', '-binary', '-inform', 'DER', '-in', 'data.p7s', '-content', 'data.bin', '-CAfile', pki.caPem, '-purpose', 'any', '-out', 'out.bin']);
    expect(readFileSync(join(pki.dir, 'out.bin'))).toEqual(Buffer.from(data));
    const certs = run(['pkcs7', '-inform', 'DER', '-in', 'data.p7s', '-print_certs', '-noout']).toString();
    expect(certs).toMatch(/subject=CN ?= ?Ana Examiner/);
    expect(certs).toMatch(/subject=CN ?= ?Test Forensic CA/);
  });
});

describe('verifyDetachedCms', () => {
  it('a genuine signature: valid, trusted through the CA, signer named with its fingerprint', async () => {
    const v = await verifyDetachedCms(data, await signDetachedCms(data, key), { trust: [pki.caPem] });
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ signatureValid: true, trusted: true });
    expect(v.signer).toMatchObject({ subject: 'Ana Examiner', issuer: 'Test Forensic CA', sha256Fingerprint: key.info.sha256Fingerprint });
  });

  it('changed data: not valid, the digest named as the reason', async () => {
    const changed = Uint8Array.from(data);
    changed[3] ^= 1;
    const v = await verifyDetachedCms(changed, await signDetachedCms(data, key), { trust: [pki.caPem] });
    expect(v.signatureValid).toBe(false);
    expect(v.problems).toEqual(['the document digest does not match the signature: the signed bytes were changed after signing']);
  });

  it('does the signature maths only when the digest matches', async () => {
    const cms = await signDetachedCms(data, key);
    const maths = vi.spyOn(crypto, 'verifyWithPublicKey');
    try {
      await verifyDetachedCms(Uint8Array.from(data).fill(0x20, 0, 1), cms);
      expect(maths).not.toHaveBeenCalled();
      await verifyDetachedCms(data, cms);
      expect(maths).toHaveBeenCalledTimes(1);
    } finally {
      maths.mockRestore();
    }
  });

  it('untrusted without an anchor or with an unrelated CA, though the signature itself is valid', async () => {
    const cms = await signDetachedCms(data, key);
    const none = await verifyDetachedCms(data, cms);
    expect(none).toMatchObject({ signatureValid: true, trusted: false });
    expect(none.problems.join(' ')).toMatch(/no trust anchor given/);
    const other = await verifyDetachedCms(data, cms, { trust: [pki.otherCaPem] });
    expect(other).toMatchObject({ signatureValid: true, trusted: false });
    expect(other.problems.join(' ')).toMatch(/does not chain to a trusted anchor/);
  });

  it("a self-signed examiner certificate given as the anchor is trusted as itself", async () => {
    run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'solo.key', '-out', 'solo.pem', '-days', '30', '-subj', '/CN=Solo Examiner',
      '-addext', 'basicConstraints=CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature,nonRepudiation']);
    run(['pkcs12', '-export', '-inkey', 'solo.key', '-in', 'solo.pem', '-out', 'solo.p12', '-passout', 'pass:solo passphrase']);
    const solo = loadKey(readFileSync(join(pki.dir, 'solo.p12')), 'solo passphrase');
    const v = await verifyDetachedCms(data, await signDetachedCms(data, solo), { trust: [join(pki.dir, 'solo.pem')] });
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ signatureValid: true, trusted: true, signer: { subject: 'Solo Examiner', selfSigned: true } });
  });

  it(`a signer certificate with a ${HUGE_BITS}-bit modulus and exponent: refused promptly, naming the key size`, async () => {
    const small = smallForgeKey();
    const cms = forgeDetachedCms(data, hugeKeyCertificate(small), small);
    const { value: v, cpu } = await cpuSeconds(() => verifyDetachedCms(data, cms, { trust: [pki.caPem] }));
    expect(cpu).toBeLessThan(5);
    expect(v).toMatchObject({ signatureValid: false, trusted: false, signer: { subject: 'Hostile Signer', selfSigned: false } });
    expect(v.problems).toEqual([`the signature is not checked: the certificate of Hostile Signer cannot be used: its RSA modulus has ${HUGE_BITS} bits, more than the 8192 this verifier accepts`]);
  });

  it('a huge key on a carried CA certificate stops the check too (chain building would use it)', async () => {
    const small = smallForgeKey();
    const cms = forgeDetachedCms(data, key.certificate, key.key, [hugeKeyCertificate(small, 'Hostile CA')]);
    const { value: v, cpu } = await cpuSeconds(() => verifyDetachedCms(data, cms, { trust: [pki.caPem] }));
    expect(cpu).toBeLessThan(5);
    expect(v.signatureValid).toBe(false);
    expect(v.problems.join(' ')).toContain(`the certificate of Hostile CA cannot be used: its RSA modulus has ${HUGE_BITS} bits`);
  });

  it('more certificates than the bound: refused before parsing them', async () => {
    const cms = forgeDetachedCms(data, key.certificate, key.key, Array.from({ length: 16 }, () => key.chain[1]));
    const v = await verifyDetachedCms(data, cms, { trust: [pki.caPem] });
    expect(v.signatureValid).toBe(false);
    expect(v.problems).toEqual(['the signature cannot be read: it carries 17 certificates; at most 16 are read']);
  });

  it('a CMS larger than the bound is refused unread', async () => {
    const cms = new Uint8Array(256 * 1024 + 1).fill(0x30);
    const v = await verifyDetachedCms(data, cms);
    expect(v.problems).toEqual([`the signature cannot be read: it is ${256 * 1024 + 1} bytes, more than the ${256 * 1024} this verifier reads`]);
  });

  it('bytes after the DER must be zero padding', async () => {
    const cms = await signDetachedCms(data, key);
    const padded = new Uint8Array(cms.length + 8);
    padded.set(cms);
    expect((await verifyDetachedCms(data, padded, { trust: [pki.caPem] })).signatureValid).toBe(true);
    padded[cms.length + 5] = 0x41;
    const v = await verifyDetachedCms(data, padded, { trust: [pki.caPem] });
    expect(v.signatureValid).toBe(false);
    expect(v.problems).toEqual(['the signature cannot be read: 3 bytes after the CMS are not zero padding']);
  });

  it('an inner length stretched into the zero padding: refused as not DER', async () => {
    const cms = await signDetachedCms(data, key);
    const padded = new Uint8Array(cms.length + 64);
    padded.set(cms);
    // ContentInfo: 30 82 LL LL, 06 09 <signedData OID>, A0 82 LL LL: byte 18 is the low byte of [0]'s length
    expect([...padded.subarray(0, 2), padded[15], padded[16]]).toEqual([0x30, 0x82, 0xa0, 0x82]);
    padded[18] += 16;
    const v = await verifyDetachedCms(data, padded, { trust: [pki.caPem] });
    expect(v.signatureValid).toBe(false);
    expect(v.problems).toEqual(['the signature cannot be read: it is not DER (its encoding is not the one a DER writer produces: an inner length or tag was changed)']);
  });

  it("one changed byte in the CA certificate the signature carries (its own signature, which nothing else checks): refused", async () => {
    const cms = Uint8Array.from(await signDetachedCms(data, key));
    const caDer = forge.asn1.toDer(forge.pki.certificateToAsn1(key.chain[1])).getBytes();
    const at = Buffer.from(cms).indexOf(Buffer.from(caDer, 'binary'));
    expect(at).toBeGreaterThan(0);
    cms[at + caDer.length - 20] ^= 0x01;   // inside the CA's self-signature
    const v = await verifyDetachedCms(data, cms, { trust: [pki.caPem] });
    expect(v.signatureValid).toBe(false);
    expect(v.problems).toEqual(["the signature carries a certificate that is not on the signer's issuer chain, or whose signature does not hold (Test Forensic CA): altered or added after signing"]);
  });

  it('a CMS that carries content of its own does not stand in for the data', async () => {
    writeFileSync(join(pki.dir, 'other.bin'), 'something else');
    writeFileSync(join(pki.dir, 'ex-key.pem'), forge.pki.privateKeyToPem(key.key));
    writeFileSync(join(pki.dir, 'ex-cert.pem'), key.certificatePem);
    run(['cms', '-sign', '-binary', '-nodetach', '-in', 'other.bin', '-signer', 'ex-cert.pem', '-inkey', 'ex-key.pem', '-outform', 'DER', '-out', 'attached.p7s']);
    const v = await verifyDetachedCms(data, readFileSync(join(pki.dir, 'attached.p7s')), { trust: [pki.caPem] });
    expect(v.signatureValid).toBe(false);
    expect(v.problems).toEqual(['the signature cannot be read: it encapsulates content of its own instead of signing the document detached']);
  });
});
