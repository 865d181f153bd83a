// The PDF structure reader behind verify (main/reports/verify/pdf-structure.ts) against hostile
// structure: every answer is a sentence, within a CPU bound, never a crash or a hang.
import { deflateSync } from 'node:zlib';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument, PDFHexString, PDFName } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyReport } from '../../../main/reports/verify.ts';
import { cpuSeconds } from './hostile.ts';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'lora-audit-structure-')); });
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

const STRUCTURE = "the PDF's structure cannot be read, so its signatures cannot be found (the file is damaged, or was changed after signing): ";

/** A PDF from object bodies (1-based, in order) and a trailer, with a classic cross-reference table. */
function handMade(objects: (string | Buffer)[], trailer: string, extra = ''): Buffer {
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n')];
  const offsets: number[] = [];
  let at = parts[0].length;
  objects.forEach((body, i) => {
    offsets.push(at);
    const b = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`), Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1'), Buffer.from('\nendobj\n')]);
    parts.push(b);
    at += b.length;
  });
  const rows = offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n\r\n`).join('');
  parts.push(Buffer.from(`xref\n0 ${objects.length + 1}\n0000000000 65535 f\r\n${rows}trailer\n${trailer}\n${extra}startxref\n${at}\n%%EOF\n`, 'latin1'));
  return Buffer.concat(parts);
}

async function verify(name: string, bytes: Uint8Array) {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return cpuSeconds(() => verifyReport(file));
}

describe('the structure reader under hostile structure', () => {
  it('250 form fields each parsing to the end of the file: stopped by the parse budget, well inside 1 s of CPU', async () => {
    const n = 250;
    const fields = Array.from({ length: n }, (_, i) => `${i + 2} 0 R`).join(' ');
    // every field opens a string the next ones nest in, all closed at the very end: each parse reads the rest of the file
    const objects = [`<< /AcroForm << /Fields [${fields}] >> >>`, ...Array.from({ length: n }, () => '(')];
    objects[n] += 'x'.repeat(100_000) + ')'.repeat(n);
    const { value: v, cpu } = await verify('budget.pdf', handMade(objects, `<< /Size ${n + 2} /Root 1 0 R >>`));
    expect(cpu).toBeLessThan(1);
    expect(v.problems).toEqual([`${STRUCTURE}reading the signatures would mean parsing more bytes than the file could justify`]);
  });

  it('a cross-reference stream that inflates past 8 MiB: refused by zlib\'s output bound, not inflated', async () => {
    const bomb = deflateSync(Buffer.alloc(16 << 20));
    const body = Buffer.concat([Buffer.from(`<< /Type /XRef /W [1 4 2] /Size 3 /Root 1 0 R /Filter /FlateDecode /Length ${bomb.length} >>\nstream\n`), bomb, Buffer.from('\nendstream')]);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n1 0 obj\n<< >>\nendobj\n'), Buffer.from('2 0 obj\n'), body, Buffer.from('\nendobj\n')]);
    const xrefAt = pdf.indexOf('2 0 obj');
    const { value: v, cpu } = await verify('bomb.pdf', Buffer.concat([pdf, Buffer.from(`startxref\n${xrefAt}\n%%EOF\n`)]));
    expect(cpu).toBeLessThan(1);
    expect(v.problems).toEqual([`${STRUCTURE}a compressed stream inflates past the limit`]);
  });

  it('cross-reference sections whose /Prev points back at themselves: a loop, said so', async () => {
    const once = handMade(['<< >>'], '<< /Size 2 /Root 1 0 R /Prev 0 >>');
    const xrefAt = once.indexOf('\nxref\n') + 1;
    const looped = Buffer.from(once.toString('latin1').replace('/Prev 0', `/Prev ${xrefAt}`), 'latin1');
    const { value: v } = await verify('loop.pdf', looped);
    expect(v.problems).toEqual([`${STRUCTURE}the cross-reference sections form a loop`]);
  });

  it('a catalog nested 200,000 arrays deep: an answer, not a stack overflow', async () => {
    const { value: v } = await verify('deep.pdf', handMade([`<< /AcroForm ${'['.repeat(200_000)}${']'.repeat(200_000)} >>`], '<< /Size 2 /Root 1 0 R >>'));
    expect(v.ok).toBe(false);
    expect(v.problems[0]).toMatch(/^the PDF's structure cannot be read|^the PDF carries no digital signature/);
  });

  it('object streams behind a cross-reference stream are read: the signature field inside one is found', async () => {
    const doc = await PDFDocument.create();
    doc.addPage();
    const sig = doc.context.obj({ Type: 'Sig', SubFilter: 'adbe.pkcs7.detached', ByteRange: [0, 10, 20, 30] });
    sig.set(PDFName.of('Contents'), PDFHexString.of('3082'));
    const widget = doc.context.register(doc.context.obj({ FT: 'Sig', V: doc.context.register(sig), T: PDFHexString.fromText('Hidden') }));
    doc.catalog.set(PDFName.of('AcroForm'), doc.context.register(doc.context.obj({ Fields: [widget] })));
    const bytes = await doc.save({ useObjectStreams: true });
    expect(Buffer.from(bytes).toString('latin1')).toContain('/ObjStm');
    const { value: v } = await verify('objstm.pdf', bytes);
    expect(v.signatures.map((s) => s.field)).toEqual(['Hidden']);
    // compressed, the dictionary has no place in the file for a byte range to leave out
    expect(v.problems).toEqual(["the signed byte range does not leave out exactly the signature's own /Contents: bytes outside the signature's reach"]);
  });
});
