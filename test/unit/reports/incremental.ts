// An incremental update written by hand, as a PDF editor appends one: new and replaced objects, a
// cross-reference section for them with /Prev pointing at the original's, and a new trailer. The
// update changes the document's title and adds a second signature field, which it then signs over
// the whole new file: a report changed after its signature, then countersigned.
import { PDFName, PDFRef } from 'pdf-lib';
import { signDetachedCms } from '../../../main/reports/cms.ts';
import type { LoadedKey } from '../../../main/reports/keys.ts';
import { PdfStructure } from '../../../main/reports/verify/pdf-structure.ts';

const CONTENTS_BYTES = 8192;

export async function countersignWithChange(original: Uint8Array, key: LoadedKey, newTitle: string): Promise<Uint8Array> {
  const pdf = PdfStructure.read(original);
  const size = (pdf.trailer.get(PDFName.of('Size')) as unknown as { asNumber(): number }).asNumber();
  const root = pdf.trailer.get(PDFName.of('Root')) as PDFRef;
  const formRef = pdf.dict(root)!.get(PDFName.of('AcroForm'));
  if (!(formRef instanceof PDFRef)) throw new Error('the original has no indirect AcroForm');
  const oldFields = pdf.array(pdf.dict(formRef)!.get(PDFName.of('Fields')))!.asArray().map(String);
  const tail = Buffer.from(original.subarray(original.length - 64)).toString('latin1');
  const prev = Number(/startxref\s+(\d+)/.exec(tail)![1]);

  const [info, sig, widget] = [size, size + 1, size + 2];
  const hexTitle = Buffer.from(`\ufeff${newTitle}`, 'utf16le').swap16().toString('hex');
  const zeros = '0'.repeat(10);
  const objects: [number, string][] = [
    [info, `<< /Title <${hexTitle}> /Producer (a PDF editor) >>`],
    [sig, `<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 ${zeros} ${zeros} ${zeros}] /Contents <${'0'.repeat(CONTENTS_BYTES * 2)}> /M (D:20261203120000Z) >>`],
    [widget, `<< /Type /Annot /Subtype /Widget /FT /Sig /Rect [0 0 0 0] /V ${sig} 0 R /T (Signature2) /F 4 >>`],
    [formRef.objectNumber, `<< /SigFlags 3 /Fields [${[...oldFields, `${widget} 0 R`].join(' ')}] >>`],
  ];
  let text = '\n';
  const offsets = new Map<number, number>();
  for (const [n, body] of objects) {
    offsets.set(n, original.length + text.length);
    text += `${n} 0 obj\n${body}\nendobj\n`;
  }
  const xrefAt = original.length + text.length;
  const entry = (n: number) => `${String(offsets.get(n)).padStart(10, '0')} 00000 n\r\n`;
  text += `xref\n${info} 3\n${entry(info)}${entry(sig)}${entry(widget)}${formRef.objectNumber} 1\n${entry(formRef.objectNumber)}`;
  text += `trailer\n<< /Size ${size + 3} /Root ${root} /Info ${info} 0 R /Prev ${prev} >>\nstartxref\n${xrefAt}\n%%EOF\n`;
  const out = Buffer.concat([Buffer.from(original), Buffer.from(text, 'latin1')]);

  // Fill the new signature in: its range, then its CMS over everything but its /Contents.
  const sigText = Buffer.from(out.subarray(offsets.get(sig)!)).toString('latin1');
  const rangeAt = offsets.get(sig)! + sigText.indexOf('[0 ');
  const gapStart = offsets.get(sig)! + sigText.indexOf('/Contents <') + '/Contents '.length;
  const gapEnd = gapStart + CONTENTS_BYTES * 2 + 2;
  const range = `[0 ${gapStart} ${gapEnd} ${out.length - gapEnd}]`;
  out.write(range.padEnd(`[0 ${zeros} ${zeros} ${zeros}]`.length, ' '), rangeAt, 'latin1');
  const cms = await signDetachedCms(Buffer.concat([out.subarray(0, gapStart), out.subarray(gapEnd)]), key);
  out.write(Buffer.from(cms).toString('hex'), gapStart + 1, 'latin1');
  return out;
}
