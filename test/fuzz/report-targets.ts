// Fuzz target for report verification from the PDF side: verifyReport fed damaged signed PDFs. Seeds
// are a genuinely signed report, the same report changed and countersigned in an incremental update,
// one signed "by" a certificate with a 16,384-bit key, and one whose signature field sits in object
// streams behind a cross-reference stream (the compressed paths of the structure reader). Damage is
// spliced at the landmarks a verifier reads (byte range, /Contents, xref, trailer, form fields) with
// tokens that break number and structure parsing, plus raw byte damage and hostile appended updates.
// Beyond "no crash, within 1 s of CPU per MB": the untouched report (PDF + signed manifest) verifies;
// no changed byte of it does; and the PDF's own checks (signature, coverage, trust) fail for every
// change to a byte the signature covers and for every other seed. Inside the CMS a few bytes no
// signature covers (algorithm identifiers outside the signed attributes, version numbers) can change
// without the PDF's own verdict changing; the manifest's SHA-256 of the PDF is what binds those.
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PDFDocument, PDFHexString, PDFName } from 'pdf-lib';
import { AuditError } from '../../main/errors.ts';
import { loadKey } from '../../main/reports/keys.ts';
import { signPdf, signPdfWith } from '../../main/reports/sign.ts';
import { buildManifest, signManifest } from '../../main/reports/manifest.ts';
import { signedRanges, verifyReport } from '../../main/reports/verify.ts';
import { forgeDetachedCms, hugeKeyCertificate, smallForgeKey } from '../unit/reports/hostile.ts';
import { countersignWithChange } from '../unit/reports/incremental.ts';
import { makeModel } from '../unit/reports/fixture.ts';
import { makePki } from '../unit/reports/pki.ts';
import { applyMutations, byteMutations, type ByteMutation } from './mutate.ts';
import type { Target } from './target.ts';

/** Where a verifier looks; splices land at (or a few bytes around) one of these. */
const STRUCTURE = ['/FT /Sig', '/V ', '/Fields', '/AcroForm', '/Root', '/Prev', '/XRefStm', 'startxref', 'xref', 'trailer',
  '/Type /XRef', '/Type /ObjStm', '/W [', '/Index', '/Length', ' obj', ' R', '%%EOF'];
const SIGNATURE = ['/ByteRange', '/Contents <', '/SubFilter', '/Type /Sig'];

const TOKENS = ['', ' ', '0', '-1', '00000', '9999999999', '4294967296', '1e400', '0.5', 'NaN', '<', '>', '<<', '>>', '[', ']', '(', ')', '\\',
  '/ByteRange [0 1 2 3]', '/Contents <00>', ' 1 0 R', ' 99999 0 R', 'null', 'stream\n', 'endstream', 'endobj', '%', '\n', '\r', 'trailer',
  'xref\n0 1\n', 'f', 'n', 'ff', 'zz', 'a', 'A', '[ '.repeat(4000), '<< /A '.repeat(2000), '(' + 'x'.repeat(70_000)];

function landmarksOf(pdf: Uint8Array, words: string[]): number[] {
  const text = Buffer.from(pdf).toString('latin1');
  const out: number[] = [];
  for (const word of words) {
    for (let at = text.indexOf(word), n = 0; at !== -1 && n < 8; at = text.indexOf(word, at + 1), n++) out.push(at);
    const last = text.lastIndexOf(word);
    if (last !== -1) out.push(last);
  }
  if (words === SIGNATURE) {
    // inside the DER (tags, lengths, certificates, the signature value) and in the zero padding after it
    const at = text.indexOf('/Contents <') + '/Contents <'.length;
    const end = text.indexOf('>', at);
    const der = 2 * (Number(`0x${text.slice(at + 4, at + 8)}`) + 4);   // 30 82 LL LL: a long-form SEQUENCE
    if (at > 10 && end > at) for (let k = 0; k < 32; k++) out.push(at + Math.floor((k / 32) * Math.min(der, end - at)));
    if (end > at) out.push(at + der, at + der + 1, end - 8, end - 1);
  }
  return out.length ? out : [0];
}

type Splice = { landmark: number; shift: number; remove: number; insert: string };
type Damage = { where: 'structure' | 'signature'; splices: Splice[] } | { where: 'raw'; mutations: ByteMutation[] } | { where: 'append'; kind: number } | { where: 'none' };

/** Updates appended to a file: a table for nothing, a /Prev loop, a startxref past the end or into the middle. */
function appendedUpdate(pdf: Uint8Array, kind: number): Buffer {
  const at = pdf.length;
  const prev = Number(/startxref\s+(\d+)/.exec(Buffer.from(pdf.subarray(-64)).toString('latin1'))?.[1] ?? 0);
  const texts = [
    `\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 /Prev ${prev} >>\nstartxref\n${at + 1}\n%%EOF\n`,
    `\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 /Prev ${at + 1} >>\nstartxref\n${at + 1}\n%%EOF\n`,
    `\nstartxref\n${at * 10}\n%%EOF\n`,
    `\nstartxref\n${Math.floor(at / 2)}\n%%EOF\n`,
    `\n9 0 obj << /Type /Sig /ByteRange [0 10 20 ${at}] /Contents <3082> >> endobj\n`,
    '\n% a comment after the end\n',
  ];
  return Buffer.from(texts[kind % texts.length], 'latin1');
}

export const reportPdf: Target = {
  name: 'report pdf',
  weight: 3,
  async prepare(dir) {
    const pki = makePki();
    const p12 = readFileSync(pki.p12);
    const key = loadKey(p12, pki.passphrase);
    const doc = await PDFDocument.create();
    doc.setTitle('x /ByteRange [0 1 2 3] /Contents <00>');
    for (let i = 0; i < 3; i++) doc.addPage().drawText(`Fuzzed report, page ${i + 1}`);
    const unsigned = await doc.save();
    const genuine = (await signPdf(unsigned, { p12, passphrase: pki.passphrase, key })).pdf;
    const small = smallForgeKey();
    const text = { reason: 'fuzz', contactInfo: '', name: 'x', location: '', signingTime: new Date() };
    const seeds: Record<string, Uint8Array> = {
      genuine,
      countersigned: await countersignWithChange(genuine, key, 'changed after signing'),
      hugeKey: await signPdfWith(unsigned, text, async (data) => forgeDetachedCms(data, hugeKeyCertificate(small), small)),
      objectStreams: await objectStreamSeed(unsigned, genuine),
    };
    const file = join(dir, 'report.pdf');
    writeFileSync(file, genuine);
    // the report as issued: the PDF and its signed manifest, which binds every byte of the PDF by its SHA-256
    const manifestPath = join(dir, 'report.manifest.json');
    const sha256 = createHash('sha256').update(genuine).digest('hex');
    const { manifestBytes, signatureBytes } = signManifest(buildManifest(makeModel('both'), { fileName: 'report.pdf', size: genuine.length, sha256, pages: 3 }, key.info), key);
    writeFileSync(manifestPath, manifestBytes);
    writeFileSync(`${manifestPath}.sig`, signatureBytes);
    // the baseline: untouched, the report verifies (else every refusal below would prove nothing)
    const baseline = await verifyReport(file, { trust: [pki.caPem], manifestPath });
    if (!baseline.ok) throw new Error(`the untouched signed report does not verify: ${baseline.problems.join('; ')}`);
    const [, gapStart, gapEnd] = signedRanges(genuine)!;
    /** Some byte the genuine signature covers differs (or the length does): the PDF's own checks must fail. */
    const signedBytesChanged = (pdf: Buffer) => pdf.length !== genuine.length ||
      !pdf.subarray(0, gapStart).equals(genuine.subarray(0, gapStart)) || !pdf.subarray(gapEnd).equals(genuine.subarray(gapEnd));
    const landmarks = Object.fromEntries(Object.entries(seeds).map(([k, v]) => [k, { structure: landmarksOf(v, STRUCTURE), signature: landmarksOf(v, SIGNATURE) }]));
    const splice = fc.record({ landmark: fc.nat(), shift: fc.integer({ min: -6, max: 24 }), remove: fc.integer({ min: 0, max: 12 }), insert: fc.constantFrom(...TOKENS) });
    const hexDigit = fc.record({ landmark: fc.nat(), shift: fc.integer({ min: 0, max: 64 }), remove: fc.constant(1), insert: fc.constantFrom(...'0123456789abcdefABCDEF') });
    return {
      arbitrary: fc.record({
        seed: fc.constantFrom(...Object.keys(seeds)),
        damage: fc.oneof(
          { arbitrary: fc.record({ where: fc.constant<'structure'>('structure'), splices: fc.array(splice, { minLength: 1, maxLength: 2 }) }), weight: 2 },
          { arbitrary: fc.record({ where: fc.constant<'signature'>('signature'), splices: fc.array(fc.oneof(splice, hexDigit), { minLength: 1, maxLength: 3 }) }), weight: 4 },
          { arbitrary: fc.record({ where: fc.constant<'raw'>('raw'), mutations: byteMutations }), weight: 2 },
          { arbitrary: fc.record({ where: fc.constant<'append'>('append'), kind: fc.nat({ max: 5 }) }), weight: 1 },
          { arbitrary: fc.record({ where: fc.constant<'none'>('none') }), weight: 1 },
        ),
      }),
      async run(input, time) {
        const original = seeds[input.seed];
        let pdf: Buffer = Buffer.from(original);
        const d = input.damage as Damage;
        if (d.where === 'structure' || d.where === 'signature') {
          const marks = landmarks[input.seed as string][d.where];
          for (const s of d.splices) {
            const at = Math.max(0, Math.min(pdf.length, marks[s.landmark % marks.length] + s.shift));
            pdf = Buffer.concat([pdf.subarray(0, at), Buffer.from(s.insert, 'latin1'), pdf.subarray(Math.min(pdf.length, at + s.remove))]);
          }
        }
        if (d.where === 'raw') pdf = applyMutations(pdf, d.mutations);
        if (d.where === 'append') pdf = Buffer.concat([pdf, appendedUpdate(pdf, d.kind)]);
        writeFileSync(file, pdf);
        const v = await time(pdf.length, () => verifyReport(file, { trust: [pki.caPem], manifestPath }));
        const untouched = input.seed === 'genuine' && pdf.equals(genuine);
        if (untouched && !v.ok) throw new Error(`the untouched signed report does not verify: ${v.problems.join('; ')}`);
        // the report (PDF + signed manifest): no changed byte verifies
        if (!untouched && v.ok) throw new Error(`a ${input.seed === 'genuine' ? 'changed genuine' : input.seed} report verified as ok`);
        // the PDF on its own: a change to any byte its signature covers, and every other seed, fails the PDF's checks
        const pdfPasses = v.signatureValid && v.documentUnmodified && v.trusted;
        if (pdfPasses && (input.seed !== 'genuine' || signedBytesChanged(pdf))) {
          throw new Error(`the PDF's own checks passed for a ${input.seed === 'genuine' ? 'changed genuine' : input.seed} report`);
        }
        if (!v.ok) throw new AuditError('SIGNATURE_INVALID', v.problems[0] ?? 'not verified', file);
      },
    };
  },
};

/** The same document saved with object streams and a cross-reference stream, its signature field's
 *  value a dictionary (compressed into an object stream) carrying the genuine report's CMS. */
async function objectStreamSeed(unsigned: Uint8Array, genuine: Uint8Array): Promise<Uint8Array> {
  const text = Buffer.from(genuine).toString('latin1');
  const start = text.indexOf('/Contents <') + '/Contents <'.length;
  const hex = text.slice(start, text.indexOf('>', start));
  const doc = await PDFDocument.load(unsigned);
  const sig = doc.context.obj({ Type: 'Sig', Filter: 'Adobe.PPKLite', SubFilter: 'adbe.pkcs7.detached', ByteRange: [0, 10, 20, 30] });
  sig.set(PDFName.of('Contents'), PDFHexString.of(hex));
  const widget = doc.context.register(doc.context.obj({ Type: 'Annot', Subtype: 'Widget', FT: 'Sig', Rect: [0, 0, 0, 0], V: doc.context.register(sig), T: PDFHexString.fromText('Signature1') }));
  doc.catalog.set(PDFName.of('AcroForm'), doc.context.register(doc.context.obj({ SigFlags: 3, Fields: [widget] })));
  return doc.save({ useObjectStreams: true });
}
