// The PDF signature: a CMS/PKCS#7 detached signature (adbe.pkcs7.detached) over the PDF's ByteRange,
// made by @signpdf from the examiner's PKCS#12. Any reader (Acrobat, pdfsig, our verify) can check it
// without this app.
import { PDFDocument } from 'pdf-lib';
import { SignPdf } from '@signpdf/signpdf';
import { P12Signer } from '@signpdf/signer-p12';
import { pdflibAddPlaceholder } from '@signpdf/placeholder-pdf-lib';
import { SUBFILTER_ADOBE_PKCS7_DETACHED } from '@signpdf/utils';
import { AuditError } from '../errors.ts';
import { loadKey, type CertificateInfo, type LoadedKey } from './keys.ts';

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
const SIGNATURE_LENGTH = 16_384;

export async function signPdf(pdf: Uint8Array, options: SignOptions): Promise<SignedPdf> {
  // Open the key first: a wrong passphrase or a certificate that cannot sign is a clear error here,
  // not an opaque one from inside the signer.
  const key = options.key ?? loadKey(options.p12, options.passphrase, options.keyFile);
  let doc: PDFDocument;
  try {
    doc = await PDFDocument.load(pdf, { updateMetadata: false });
  } catch (err) {
    throw new AuditError('RENDER_FAILED', `the rendered PDF could not be read back for signing: ${(err as Error).message}`);
  }
  pdflibAddPlaceholder({
    pdfDoc: doc,
    reason: options.reason ?? 'LoRA Auditor forensic report',
    contactInfo: options.contactInfo ?? key.info.email ?? '',
    name: key.info.subject,
    location: options.location ?? '',
    signingTime: options.signingTime,
    signatureLength: SIGNATURE_LENGTH,
    subFilter: SUBFILTER_ADOBE_PKCS7_DETACHED,
    ...(options.appName ? { appName: options.appName } : {}),
  });
  // No object streams: the signer finds /ByteRange and /Contents by scanning the file's text.
  const withPlaceholder = Buffer.from(await doc.save({ useObjectStreams: false }));
  const signer = new P12Signer(Buffer.from(options.p12), { passphrase: options.passphrase });
  let signed: Buffer;
  try {
    signed = await new SignPdf().sign(withPlaceholder, signer, options.signingTime);
  } catch (err) {
    throw new AuditError('SIGNATURE_INVALID', `signing failed: ${(err as Error).message}`, options.keyFile);
  }
  return { pdf: new Uint8Array(signed.buffer, signed.byteOffset, signed.byteLength), signer: key.info, certificatePem: key.certificatePem };
}
