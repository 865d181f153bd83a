// One PDF signature checked as pdfsig checks it: its byte range must start at 0 and leave out exactly
// its own /Contents string (located in its own dictionary), the /Contents must be the CMS and then
// only zero padding, and the CMS must verify over the bytes the range covers. Whether it covers the
// whole file is recorded; a signature that does not was followed by changes it does not vouch for.
import type { CertificateInfo } from '../keys.ts';
import { checkDetachedCms } from '../cms.ts';
import type { ParsedCertificate } from './certificates.ts';
import type { SignatureField } from './signature-fields.ts';

export interface SignatureVerification {
  /** The signature field's name in the PDF's form. */
  field: string;
  signer: CertificateInfo | null;
  sha256Fingerprint: string | null;
  signingTime: string | null;
  byteRange: number[] | null;
  /** The range covers every byte of the file but the /Contents string: nothing was added after it. */
  coversWholeDocument: boolean;
  /** The CMS verifies over the bytes the range covers. */
  signatureValid: boolean;
  trusted: boolean;
  subFilter: string | null;
  problems: string[];
}

export interface CheckedSignature extends SignatureVerification {
  digestMatches: boolean;
  signerCertificate: ParsedCertificate | null;
}

const SUBFILTERS = new Set(['adbe.pkcs7.detached', 'ETSI.CAdES.detached']);

export async function checkPdfSignature(bytes: Uint8Array, field: SignatureField, anchors: ParsedCertificate[]): Promise<CheckedSignature> {
  const problems: string[] = [];
  const out: CheckedSignature = {
    field: field.name, signer: null, sha256Fingerprint: null, signingTime: null, byteRange: field.byteRange, coversWholeDocument: false,
    signatureValid: false, trusted: false, subFilter: field.subFilter, problems, digestMatches: false, signerCertificate: null,
  };
  if (!field.subFilter || !SUBFILTERS.has(field.subFilter)) {
    problems.push(`the signature's /SubFilter ${field.subFilter ?? '(none)'} is not adbe.pkcs7.detached or ETSI.CAdES.detached`);
    return out;
  }
  const range = field.byteRange;
  if (!range || range.length !== 4 || !range.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    problems.push("the signature's /ByteRange is not four non-negative integers");
    return out;
  }
  const [a, b, c, d] = range;
  if (a !== 0 || b === 0 || c <= b || c + d > bytes.length) {
    problems.push(c + d > bytes.length
      ? `the signed byte range reaches byte ${c + d}, past the end of the file (${bytes.length} bytes)`
      : 'the signed byte range does not start at the beginning of the file and leave out one gap');
    return out;
  }
  // The gap must be this dictionary's own /Contents, as written: "<hex>" and nothing else.
  const gap = Buffer.from(bytes.buffer, bytes.byteOffset + b, c - b).toString('latin1');
  const inOwnDictionary = field.span !== null && field.span.start < b && c <= field.span.end;
  if (field.contentsHex === null || !inOwnDictionary || gap !== `<${field.contentsHex}>` || !/^<[0-9A-Fa-f]*>$/.test(gap)) {
    problems.push("the signed byte range does not leave out exactly the signature's own /Contents: bytes outside the signature's reach");
    return out;
  }
  if (gap.length % 2 !== 0) {
    problems.push("the signature's /Contents has an odd number of hex digits");
    return out;
  }
  // Hex digits decode the same in either case: a digit whose case changed is a changed byte the
  // signature cannot see, so the string must be in one case, as a signer writes it.
  const digits = gap.slice(1, -1);
  if (digits !== digits.toUpperCase() && digits !== digits.toLowerCase()) {
    problems.push("the signature's /Contents mixes upper- and lower-case hex digits: it was rewritten after signing");
    return out;
  }
  out.coversWholeDocument = c + d === bytes.length;
  if (!out.coversWholeDocument) {
    problems.push(`the signature covers ${c + d} bytes but the file has ${bytes.length}: content was added after signing ` +
      '(pdfsig: "Not total document signed")');
  }
  const cms = Buffer.from(digits, 'hex');
  const signed = Buffer.concat([bytes.subarray(0, b), bytes.subarray(c, c + d)]);
  const check = await checkDetachedCms(signed, cms, anchors);
  problems.push(...check.problems);
  Object.assign(out, {
    signer: check.signer, sha256Fingerprint: check.signer?.sha256Fingerprint ?? null, signingTime: check.signingTime,
    signatureValid: check.signatureValid, trusted: check.trusted, digestMatches: check.digestMatches, signerCertificate: check.signerCertificate,
  });
  return out;
}
