// The PDF signature: a detached CMS (adbe.pkcs7.detached, made by cms.ts) over the whole file but its
// own /Contents, in a signature field any reader (Acrobat, pdfsig, our verify) can check without
// this app. The placeholder is found through the signature object's cross-reference entry, never by
// searching the file's text, and every piece of user text in the signature dictionary is written as
// a UTF-16 hex string: a case title cannot collide with the placeholder or add keys to the dictionary.
import { PDFArray, PDFDict, PDFDocument, PDFHexString, PDFInvalidObject, PDFName, PDFString, type PDFRef } from 'pdf-lib';
import { AuditError } from '../errors.ts';
import { signDetachedCms } from './cms.ts';
import { loadKey, type CertificateInfo, type LoadedKey } from './keys.ts';
import { PdfStructure, type ObjectSpan } from './verify/pdf-structure.ts';

export interface SignOptions {
  p12: Uint8Array;
  passphrase: string;
  reason?: string;
  location?: string;
  contactInfo?: string;
  appName?: string;
  signingTime?: Date;
  /** For error messages: where the key came from. */
  keyFile?: string;
  /** The same PKCS#12 already opened (loadKey), to spare a second key derivation. */
  key?: LoadedKey;
}

export interface SignedPdf {
  pdf: Uint8Array;
  signer: CertificateInfo;
  certificatePem: string;
}

// Room for the CMS in bytes: a 4096-bit signature, the examiner certificate and two CA certificates fit
// well inside 16 KiB; the unused rest is zero padding inside /Contents, which the ByteRange excludes.
export const SIGNATURE_LENGTH = 16_384;
const RANGE_DIGITS = 10;

export async function signPdf(pdf: Uint8Array, options: SignOptions): Promise<SignedPdf> {
  // Open the key first: a wrong passphrase or a certificate that cannot sign is a clear error here.
  const key = options.key ?? loadKey(options.p12, options.passphrase, options.keyFile);
  const signingTime = options.signingTime ?? new Date();
  const signed = await signPdfWith(pdf, {
    reason: options.reason ?? 'LoRA Auditor forensic report',
    contactInfo: options.contactInfo ?? key.info.email ?? '',
    name: key.info.subject,
    location: options.location ?? '',
    signingTime,
    ...(options.appName ? { appName: options.appName } : {}),
  }, (data) => signDetachedCms(data, key, signingTime), options.keyFile);
  return { pdf: signed, signer: key.info, certificatePem: key.certificatePem };
}

export interface SignatureFieldText {
  reason: string;
  contactInfo: string;
  name: string;
  location: string;
  signingTime: Date;
  appName?: string;
}

/** Adds a signature field to `pdf`, and fills it with the CMS `makeCms` returns for the signed bytes.
 *  Exported so tests can sign with CMS a real signer would never make. */
export async function signPdfWith(pdf: Uint8Array, text: SignatureFieldText, makeCms: (signedBytes: Uint8Array) => Promise<Uint8Array>, keyFile?: string): Promise<Uint8Array> {
  let doc: PDFDocument;
  try {
    doc = await PDFDocument.load(pdf, { updateMetadata: false });
  } catch (err) {
    throw new AuditError('RENDER_FAILED', `the rendered PDF could not be read back for signing: ${(err as Error).message}`);
  }
  const placeholder = signatureDictionary(text);
  const sigRef = doc.context.register(PDFInvalidObject.of(placeholder.bytes));
  addSignatureField(doc, sigRef);
  // No object streams: the signature dictionary must lie in the file as itself, for its byte range.
  const out = await doc.save({ useObjectStreams: false });
  const at = locate(out, sigRef, placeholder.bytes);
  const gapStart = at + placeholder.contentsAt;
  const gapEnd = gapStart + placeholder.contentsLength;
  const range = `[0 ${gapStart} ${gapEnd} ${out.length - gapEnd}]`;
  out.set(Buffer.from(range.padEnd(placeholder.byteRangeLength, ' '), 'latin1'), at + placeholder.byteRangeAt);
  let cms: Uint8Array;
  try {
    cms = await makeCms(Buffer.concat([out.subarray(0, gapStart), out.subarray(gapEnd)]));
  } catch (err) {
    if (err instanceof AuditError) throw err;
    throw new AuditError('SIGNATURE_INVALID', `signing failed: ${(err as Error).message}`, keyFile);
  }
  if (cms.length > SIGNATURE_LENGTH) {
    throw new AuditError('SIGNATURE_INVALID', `the signature (${cms.length} bytes) does not fit the ${SIGNATURE_LENGTH} bytes reserved for it`, keyFile);
  }
  out.set(Buffer.from(Buffer.from(cms).toString('hex').toUpperCase(), 'latin1'), gapStart + 1);
  return out;
}

interface Placeholder { bytes: Uint8Array; byteRangeAt: number; byteRangeLength: number; contentsAt: number; contentsLength: number }

/** The signature dictionary's exact bytes, with the offsets of its ByteRange and Contents. */
function signatureDictionary(text: SignatureFieldText): Placeholder {
  const utf16 = (s: string) => PDFHexString.fromText(s).toString();
  const zeros = '0'.repeat(RANGE_DIGITS);
  const byteRange = `[0 ${zeros} ${zeros} ${zeros}]`;
  const contents = `<${'0'.repeat(SIGNATURE_LENGTH * 2)}>`;
  let s = '<<\n/Type /Sig\n/Filter /Adobe.PPKLite\n/SubFilter /adbe.pkcs7.detached\n/ByteRange ';
  const byteRangeAt = s.length;
  s += `${byteRange}\n/Contents `;
  const contentsAt = s.length;
  s += contents;
  const app = text.appName ? ` /App << /Name ${PDFName.of(text.appName.replace(/[^\x21-\x7e ]/g, '_')).toString()} >>` : '';
  s += `\n/Reason ${utf16(text.reason)}\n/M ${PDFString.fromDate(text.signingTime).toString()}\n/ContactInfo ${utf16(text.contactInfo)}` +
    `\n/Name ${utf16(text.name)}\n/Location ${utf16(text.location)}\n/Prop_Build << /Filter << /Name /Adobe.PPKLite >>${app} >>\n>>`;
  return { bytes: Buffer.from(s, 'latin1'), byteRangeAt, byteRangeLength: byteRange.length, contentsAt, contentsLength: contents.length };
}

/** An invisible signature widget on the first page, listed in the AcroForm (created when absent). */
function addSignatureField(doc: PDFDocument, sigRef: PDFRef): void {
  const page = doc.getPages()[0];
  if (!page) throw new AuditError('RENDER_FAILED', 'the rendered PDF has no page to carry the signature field');
  const appearance = doc.context.register(doc.context.formXObject([], { BBox: [0, 0, 0, 0], Resources: {} }));
  const widget = doc.context.register(doc.context.obj({
    Type: 'Annot', Subtype: 'Widget', FT: 'Sig', Rect: [0, 0, 0, 0], V: sigRef, T: PDFHexString.fromText('Signature1'),
    F: 4, P: page.ref, AP: { N: appearance },
  }));
  const annots = page.node.lookupMaybe(PDFName.of('Annots'), PDFArray) ?? doc.context.obj([]);
  annots.push(widget);
  page.node.set(PDFName.of('Annots'), annots);
  const form = doc.catalog.lookupMaybe(PDFName.of('AcroForm'), PDFDict);
  if (form) {
    const fields = form.lookupMaybe(PDFName.of('Fields'), PDFArray) ?? doc.context.obj([]);
    fields.push(widget);
    form.set(PDFName.of('Fields'), fields);
    form.set(PDFName.of('SigFlags'), doc.context.obj(3));
  } else {
    doc.catalog.set(PDFName.of('AcroForm'), doc.context.register(doc.context.obj({ SigFlags: 3, Fields: [widget] })));
  }
}

/** Where the signature dictionary landed: its cross-reference entry, checked byte for byte. */
function locate(pdf: Uint8Array, sigRef: PDFRef, expected: Uint8Array): number {
  let span: ObjectSpan | null;
  try {
    span = PdfStructure.read(pdf).span(sigRef);
  } catch (err) {
    throw new AuditError('RENDER_FAILED', `the PDF written for signing cannot be read back: ${(err as Error).message}`);
  }
  if (!span || span.end - span.start !== expected.length || !Buffer.from(pdf.subarray(span.start, span.end)).equals(expected)) {
    throw new AuditError('RENDER_FAILED', 'the signature placeholder was not written where the cross-reference says');
  }
  return span.start;
}
