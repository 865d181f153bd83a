// Detached CMS SignedData (RFC 5652), the one signature format the app makes and checks: inside
// signed PDFs (adbe.pkcs7.detached) and beside exported files. Made and checked with PKI.js over
// Node's native WebCrypto. A signature is hostile input: its size, its certificate count and every
// key are bounded before any maths, and the signature maths is skipped once the digest already fails.
import { createHash, webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import forge from 'node-forge';
import * as pkijs from 'pkijs';
import type { CertificateInfo, LoadedKey } from './keys.ts';
import {
  MAX_CERTIFICATES, assertKeyBounded, carriedCertificateProblem, certificateInfoOf, checkTrust, crypto, keyProblem, parseCertificate, readTrustAnchors, usageProblem,
  type ParsedCertificate,
} from './verify/certificates.ts';

/** Bytes of one CMS, padding included (ours is ~6 KB; a 4096-bit signer with three CA certificates ~10 KB). */
export const MAX_CMS_BYTES = 256 * 1024;

const OID = {
  data: '1.2.840.113549.1.7.1', signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3', messageDigest: '1.2.840.113549.1.9.4', signingTime: '1.2.840.113549.1.9.5',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;
const DIGESTS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1', [OID.sha256]: 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512',
};

export interface DetachedCmsVerification {
  signatureValid: boolean;
  signer: CertificateInfo | null;
  trusted: boolean;
  problems: string[];
}

/** What a verifier needs beyond the public shape: the digest verdict on its own (a PDF is
 *  "unmodified" only if it holds), the signing time, and the signer's bytes (to compare signers). */
export interface CmsCheck extends DetachedCmsVerification {
  digestMatches: boolean;
  signingTime: string | null;
  signerCertificate: ParsedCertificate | null;
}

/** Signs `data` with the examiner's key: SHA-256, signed attributes (content type, message digest,
 *  signing time), the certificate chain the PKCS#12 holds, no encapsulated content. DER bytes. */
export async function signDetachedCms(data: Uint8Array, key: LoadedKey, signingTime = new Date()): Promise<Uint8Array> {
  const chain = key.chain.map((c) => parseCertificate(forgeCertDer(c)));
  const signer = chain[0];
  assertKeyBounded(signer.cert, 'the examiner certificate cannot sign');
  const pkcs8 = forge.asn1.toDer(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(key.key))).getBytes();
  const privateKey = await webcrypto.subtle.importKey('pkcs8', Buffer.from(pkcs8, 'binary'),
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
  const digest = createHash('sha256').update(data).digest();
  const signedData = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID.data }),
    certificates: chain.map((c) => c.cert),
    signerInfos: [new pkijs.SignerInfo({
      version: 1,
      sid: new pkijs.IssuerAndSerialNumber({ issuer: signer.cert.issuer, serialNumber: signer.cert.serialNumber }),
      signedAttrs: new pkijs.SignedAndUnsignedAttributes({
        type: 0,
        attributes: [
          new pkijs.Attribute({ type: OID.contentType, values: [new asn1js.ObjectIdentifier({ value: OID.data })] }),
          new pkijs.Attribute({ type: OID.signingTime, values: [new asn1js.UTCTime({ valueDate: signingTime })] }),
          new pkijs.Attribute({ type: OID.messageDigest, values: [new asn1js.OctetString({ valueHex: digest })] }),
        ],
      }),
    })],
  });
  await signedData.sign(privateKey as Parameters<pkijs.SignedData['sign']>[0], 0, 'SHA-256', data as Uint8Array<ArrayBuffer>, crypto);
  const info = new pkijs.ContentInfo({ contentType: OID.signedData, content: signedData.toSchema(true) });
  return new Uint8Array(info.toSchema().toBER(false));
}

/** Checks a detached CMS over `data`. `trust`: PEM or DER files of anchors (a CA, or the examiner's
 *  own certificate obtained out of band). Never throws for a bad signature: it says why in `problems`. */
export async function verifyDetachedCms(data: Uint8Array, cms: Uint8Array, options: { trust?: string[] } = {}): Promise<DetachedCmsVerification> {
  const check = await checkDetachedCms(data, cms, readTrustAnchors(options.trust ?? []));
  return { signatureValid: check.signatureValid, signer: check.signer, trusted: check.trusted, problems: check.problems };
}

/** The whole check, for verifiers that need more than the public shape. `cms` may carry trailing
 *  zero padding (a PDF's /Contents does); anything else after the DER is a problem. */
export async function checkDetachedCms(data: Uint8Array, cms: Uint8Array, anchors: ParsedCertificate[]): Promise<CmsCheck> {
  const problems: string[] = [];
  const out: CmsCheck = { signatureValid: false, signer: null, trusted: false, problems, digestMatches: false, signingTime: null, signerCertificate: null };
  const parsed = parseSignedData(cms, problems);
  if (!parsed) return out;
  const { signedData, certificates } = parsed;
  const signerInfo = signedData.signerInfos[0];
  const signer = findSigner(signerInfo, certificates);
  if (!signer) {
    problems.push('the signature cannot be read: the signer certificate is not included in the signature');
    return out;
  }
  out.signerCertificate = signer;
  out.signer = certificateInfoOf(signer);
  const attrs = signerInfo.signedAttrs?.attributes ?? [];
  const timeAttr = attrs.find((a) => a.type === OID.signingTime)?.values[0];
  if (timeAttr instanceof asn1js.UTCTime || timeAttr instanceof asn1js.GeneralizedTime) {
    const t = timeAttr.toDate();
    if (Number.isFinite(t.getTime())) {
      out.signingTime = t.toISOString();
      // The signer writes this time himself; one outside his certificate's validity is false (a report
      // "signed" years before its certificate existed), or was made with a certificate not valid then.
      if (!(signer.cert.notBefore.value <= t && t <= signer.cert.notAfter.value)) {
        problems.push(`the signature says it was made at ${out.signingTime}, outside its certificate's validity (${out.signer.notBefore} to ${out.signer.notAfter}): ` +
          'the signing time is false, or the certificate was not valid when it signed');
      }
    }
  }
  const unusable = certificates.map((c) => ({ c, why: keyProblem(c.cert) })).filter((x) => x.why !== null);
  if (unusable.length > 0) {
    for (const { c, why } of unusable) problems.push(`the signature is not checked: the certificate of ${certificateInfoOf(c).subject} cannot be used: ${why}`);
    return out;
  }
  const usage = usageProblem(signer.cert);
  if (usage) problems.push(`the signer's certificate does not allow signing documents: ${usage}`);

  // Digest first, with node:crypto: if the data changed, no signature maths is done at all.
  const digestName = DIGESTS[signerInfo.digestAlgorithm.algorithmId];
  const claimed = attrs.find((a) => a.type === OID.messageDigest)?.values[0];
  if (!digestName) {
    problems.push(`the signature cannot be read: unsupported digest algorithm ${signerInfo.digestAlgorithm.algorithmId}`);
    return out;
  }
  if (!(claimed instanceof asn1js.OctetString) || !attrs.some((a) => a.type === OID.contentType)) {
    problems.push('the signature cannot be read: its signed attributes lack the content type or the message digest');
    return out;
  }
  out.digestMatches = Buffer.from(claimed.valueBlock.valueHexView).equals(createHash(digestName).update(data).digest());
  if (!out.digestMatches) {
    problems.push('the document digest does not match the signature: the signed bytes were changed after signing');
  } else {
    let verified = false;
    try {
      const result = await signedData.verify({ signer: 0, data: toArrayBuffer(data), extendedMode: true }, crypto);
      verified = result.signatureVerified === true;
    } catch {
      verified = false;
    }
    if (!verified) problems.push("the signature over the signed attributes does not verify with the signer's certificate");
    // Certificates ride in the CMS unsigned: each must be the signer or on its issuer chain, so no
    // byte of them can change without the verdict changing.
    const stray = verified ? carriedCertificateProblem(signer, certificates) : null;
    if (stray) problems.push(stray);
    out.signatureValid = verified && usage === null && stray === null;
  }

  if (anchors.length === 0) {
    problems.push("no trust anchor given: the signer's identity is not established (pass --trust with the CA's certificate, " +
      "or with the examiner's own certificate obtained from them directly)");
  } else {
    const trust = await checkTrust(signer, certificates, anchors);
    out.trusted = trust.ok;
    if (!trust.ok) problems.push(`the signer's certificate does not chain to a trusted anchor: ${trust.reason}`);
  }
  return out;
}

interface ParsedSignedData { signedData: pkijs.SignedData; certificates: ParsedCertificate[] }

/** Structure checks, all before any maths: bounded size, one DER object then only zero padding, a
 *  SignedData with one signer, detached (no content of its own to stand in for the data), signed
 *  attributes present, nothing unsigned besides the certificates (no unsigned attributes, no CRLs,
 *  one digest algorithm), and a bounded number of certificates. */
function parseSignedData(cms: Uint8Array, problems: string[]): ParsedSignedData | null {
  const fail = (why: string) => { problems.push(`the signature cannot be read: ${why}`); return null; };
  if (cms.byteLength === 0 || cms.every((b) => b === 0)) return fail('the signature placeholder is empty');
  if (cms.byteLength > MAX_CMS_BYTES) return fail(`it is ${cms.byteLength} bytes, more than the ${MAX_CMS_BYTES} this verifier reads`);
  let asn1: ReturnType<typeof asn1js.fromBER>;
  try {
    asn1 = asn1js.fromBER(cms);
  } catch (err) {
    return fail(`not DER (${(err as Error).message})`);
  }
  if (asn1.offset === -1 || asn1.result.error) return fail(`not DER (${asn1.result.error || 'unreadable'})`);
  // DER, exactly: a re-encoding must give the same bytes. A lenient reader would otherwise accept
  // an inner length stretched into the zero padding, or any other encoding the signer never wrote.
  if (!Buffer.from(asn1.result.toBER(false)).equals(cms.subarray(0, asn1.offset))) {
    return fail('it is not DER (its encoding is not the one a DER writer produces: an inner length or tag was changed)');
  }
  const trailing = cms.subarray(asn1.offset);
  const junk = trailing.findIndex((b) => b !== 0);
  if (junk !== -1) return fail(`${trailing.byteLength - junk} bytes after the CMS are not zero padding`);
  let signedData: pkijs.SignedData;
  let certificateElements: asn1js.AsnType[] = [];
  try {
    const info = new pkijs.ContentInfo({ schema: asn1.result });
    if (info.contentType !== OID.signedData) return fail(`its content type is ${info.contentType}, not SignedData`);
    signedData = new pkijs.SignedData({ schema: info.content });
    const certSet = (info.content as asn1js.Sequence).valueBlock.value
      .find((el) => el.idBlock.tagClass === 3 && el.idBlock.tagNumber === 0) as asn1js.Constructed | undefined;
    certificateElements = certSet?.valueBlock.value ?? [];
  } catch (err) {
    return fail(`not a CMS SignedData (${(err as Error).message})`);
  }
  if (signedData.signerInfos.length !== 1) return fail(`expected one signer, found ${signedData.signerInfos.length}`);
  if (signedData.encapContentInfo.eContent) return fail('it encapsulates content of its own instead of signing the document detached');
  if (signedData.encapContentInfo.eContentType !== OID.data) return fail(`its content type ${signedData.encapContentInfo.eContentType} is not id-data`);
  if (!signedData.signerInfos[0].signedAttrs) return fail('the signature has no signed attributes (a bare PKCS#1 signature is not accepted)');
  // What the signature does not cover cannot be carried: unsigned attributes (where a forged time-stamp
  // token would ride, shown as such by other viewers) and revocation lists could be added to a genuine
  // signature after signing, changing the /Contents while it still verified. This app writes neither.
  if (signedData.signerInfos[0].unsignedAttrs) return fail('it carries unsigned attributes, which its signature does not cover (added after signing, or by a signer this verifier does not accept)');
  if ((signedData.crls?.length ?? 0) > 0) return fail('it carries revocation lists, which its signature does not cover');
  const digests = signedData.digestAlgorithms.map((a) => a.algorithmId);
  if (digests.length !== 1 || digests[0] !== signedData.signerInfos[0].digestAlgorithm.algorithmId) {
    return fail(`it lists the digest algorithms ${digests.join(', ') || '(none)'}, not exactly the one its signer used`);
  }
  if (certificateElements.length > MAX_CERTIFICATES) return fail(`it carries ${certificateElements.length} certificates; at most ${MAX_CERTIFICATES} are read`);
  const certificates: ParsedCertificate[] = [];
  for (const el of certificateElements) {
    try {
      certificates.push(parseCertificate(new Uint8Array(el.valueBeforeDecodeView)));
    } catch {
      return fail('one of its certificates is not an X.509 certificate');
    }
  }
  return { signedData, certificates };
}

function findSigner(info: pkijs.SignerInfo, certificates: ParsedCertificate[]): ParsedCertificate | null {
  if (info.sid instanceof pkijs.IssuerAndSerialNumber) {
    const sid = info.sid;
    return certificates.find((c) => c.cert.issuer.isEqual(sid.issuer) && c.cert.serialNumber.isEqual(sid.serialNumber)) ?? null;
  }
  // subjectKeyIdentifier: SHA-1 of the subject public key (RFC 5280 §4.2.1.2, method 1)
  const sid = info.sid as asn1js.Constructed | asn1js.Primitive;
  const keyId = sid.idBlock.isConstructed
    ? ((sid as asn1js.Constructed).valueBlock.value[0] as asn1js.OctetString).valueBlock.valueHexView
    : (sid as asn1js.Primitive).valueBlock.valueHexView;
  return certificates.find((c) => createHash('sha1').update(c.cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView).digest().equals(keyId)) ?? null;
}

function forgeCertDer(cert: forge.pki.Certificate): Uint8Array {
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
