// The signatures a PDF shows, found where a viewer finds them: trailer → /Root → /AcroForm → /Fields
// (and their /Kids) → each field of type /Sig with a value → that signature dictionary's /ByteRange
// and /Contents. Never by searching the file's text: a case title or any other user text in the PDF
// cannot pose as a signature or move one.
import { PDFArray, PDFDict, PDFHexString, PDFName, PDFNumber, PDFRef, PDFString, type PDFObject } from 'pdf-lib';
import { PdfStructure, PdfStructureError, type ObjectSpan } from './pdf-structure.ts';

export const MAX_FIELDS = 256;
const MAX_FIELD_DEPTH = 8;

export interface SignatureField {
  /** The field's full name (parent names joined by dots), as a viewer would list it. */
  name: string;
  /** The /ByteRange as written: null when it is not an array of numbers. */
  byteRange: number[] | null;
  /** The /Contents hex string's digits as written (whitespace and all), or null when it is not a hex string. */
  contentsHex: string | null;
  subFilter: string | null;
  /** Where the signature dictionary lies in the file; null when it is inside an object stream. */
  span: ObjectSpan | null;
}

export interface SignatureFields {
  fields: SignatureField[];
  /** Cross-reference sections: more than one means the file was updated incrementally. */
  revisions: number;
}

/** Reads the signature fields; throws PdfStructureError with the reason when the structure cannot be read. */
export function readSignatureFields(bytes: Uint8Array): SignatureFields {
  try {
    const pdf = PdfStructure.read(bytes);
    const root = pdf.dict(pdf.trailer.get(PDFName.of('Root')));
    if (!root) throw new PdfStructureError('the trailer has no /Root catalog');
    const form = pdf.dict(root.get(PDFName.of('AcroForm')));
    const top = form ? pdf.array(form.get(PDFName.of('Fields'))) : undefined;
    const fields: SignatureField[] = [];
    const visited = new Set<number>();
    let count = 0;
    const walk = (value: PDFObject, parentName: string, inheritedType: PDFObject | undefined, depth: number) => {
      if (depth > MAX_FIELD_DEPTH) throw new PdfStructureError(`form fields are nested more than ${MAX_FIELD_DEPTH} deep`);
      if (value instanceof PDFRef) {
        if (visited.has(value.objectNumber)) return;   // a field listed twice, or a /Kids loop
        visited.add(value.objectNumber);
      }
      if (++count > MAX_FIELDS) throw new PdfStructureError(`more than ${MAX_FIELDS} form fields`);
      const field = pdf.dict(value);
      if (!field) return;
      const partial = text(pdf.resolve(field.get(PDFName.of('T'))));
      const name = partial === null ? parentName : parentName ? `${parentName}.${partial}` : partial;
      const type = field.get(PDFName.of('FT')) ?? inheritedType;
      const kids = pdf.array(field.get(PDFName.of('Kids')));
      if (kids) for (const kid of kids.asArray()) walk(kid, name, type, depth + 1);
      if (pdf.resolve(type) !== PDFName.of('Sig')) return;
      const v = field.get(PDFName.of('V'));
      const sig = pdf.dict(v);
      if (!sig) return;   // an empty signature field: nothing was signed
      fields.push(signatureOf(pdf, sig, v instanceof PDFRef ? pdf.span(v) : null, name));
    };
    for (const f of top?.asArray() ?? []) walk(f, '', undefined, 0);
    return { fields, revisions: pdf.revisions };
  } catch (err) {
    if (err instanceof PdfStructureError) throw err;
    throw new PdfStructureError(err instanceof RangeError ? 'objects are nested too deeply' : `unreadable (${(err as Error).message?.split('\n')[0]})`);
  }
}

function signatureOf(pdf: PdfStructure, sig: PDFDict, span: ObjectSpan | null, name: string): SignatureField {
  const range = pdf.resolve(sig.get(PDFName.of('ByteRange')));
  const byteRange = range instanceof PDFArray && range.size() <= 64
    ? range.asArray().map((n) => { const v = pdf.resolve(n); return v instanceof PDFNumber ? v.asNumber() : Number.NaN; })
    : null;
  // /Contents must be written in place (not a reference): the byte range excludes it by position.
  const contents = sig.get(PDFName.of('Contents'));
  const subFilter = pdf.resolve(sig.get(PDFName.of('SubFilter')));
  return {
    name,
    byteRange: byteRange && byteRange.every(Number.isFinite) ? byteRange : null,
    contentsHex: contents instanceof PDFHexString ? contents.asString() : null,
    subFilter: subFilter instanceof PDFName ? subFilter.decodeText() : null,
    span,
  };
}

function text(value: PDFObject | undefined): string | null {
  if (value instanceof PDFString || value instanceof PDFHexString) return value.decodeText();
  return null;
}
