// The central directory of a zip, as torch.save writes it (every entry stored, uncompressed, so a
// tensor's bytes lie contiguous in the file and can be read by offset like a safetensors tensor).
// Hand-written (~80 lines) rather than a zip library: the libraries installed here (tar) do not read
// zip, and the ones on npm inflate whole entries into memory, whereas we need only each stored entry's
// absolute byte range, with every size and offset checked against the file.
import { open, type FileHandle } from 'node:fs/promises';
import { AuditError } from '../errors.ts';

export interface ZipEntry {
  name: string;
  method: number;        // 0 = stored
  size: number;          // uncompressed
  compressedSize: number;
  /** Absolute offset of the entry's data (after its local header). */
  dataOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}

export async function readZipDirectory(file: string, size: number): Promise<ZipEntry[]> {
  const bad = (why: string) => new AuditError('BAD_ARCHIVE', `not a readable zip: ${why}`, file);
  const fh = await open(file, 'r');
  try {
    const tailLen = Math.min(size, 22 + 65535 + 20);
    const tail = await readAt(fh, size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) if (tail.readUInt32LE(i) === EOCD) { eocd = i; break; }
    if (eocd < 0) throw bad('no end-of-central-directory record (truncated?)');
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    if (eocd >= 20 && tail.readUInt32LE(eocd - 20) === EOCD64_LOCATOR) {
      // zip64 (torch writes it for large files): the real values live in the zip64 EOCD record.
      const recOffset = tail.readBigUInt64LE(eocd - 20 + 8);
      if (recOffset > BigInt(size - 56)) throw bad('zip64 record offset lies past the end of the file');
      const rec = await readAt(fh, Number(recOffset), 56);
      if (rec.length < 56 || rec.readUInt32LE(0) !== 0x06064b50) throw bad('broken zip64 record');
      count = Number(rec.readBigUInt64LE(32));
      cdSize = Number(rec.readBigUInt64LE(40));
      cdOffset = Number(rec.readBigUInt64LE(48));
      if (!Number.isSafeInteger(cdSize + cdOffset)) throw bad('zip64 sizes out of range');
    }
    if (cdOffset + cdSize > size) throw bad(`central directory (${cdSize} bytes at ${cdOffset}) lies past the end of the ${size}-byte file`);
    const cd = await readAt(fh, cdOffset, cdSize);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) throw bad(`central directory entry ${i} is malformed`);
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let usize = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localOffset = cd.readUInt32LE(p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw bad(`central directory entry ${i} runs past the directory`);
      const name = cd.subarray(p + 46, p + 46 + nameLen).toString('utf8');
      // zip64 extended information: the fields that overflowed, in this order.
      for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          const end = Math.min(e + 4 + len, p + 46 + nameLen + extraLen);
          const next = (): number => {
            if (q + 8 > end) throw bad(`entry ${i} has a short zip64 field`);
            const v = Number(cd.readBigUInt64LE(q));
            q += 8;
            return v;
          };
          if (usize === 0xffffffff) usize = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (localOffset === 0xffffffff) localOffset = next();
        }
        e += 4 + len;
      }
      p += 46 + nameLen + extraLen + commentLen;
      if (localOffset + 30 > size || usize > Number.MAX_SAFE_INTEGER || compressedSize > Number.MAX_SAFE_INTEGER) throw bad(`entry "${name}" points past the end of the file`);
      const local = await readAt(fh, localOffset, 30);
      if (local.length < 30 || local.readUInt32LE(0) !== LOCAL) throw bad(`entry "${name}" has no local header at ${localOffset}`);
      const dataOffset = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      if (dataOffset + compressedSize > size) {
        throw new AuditError('TRUNCATED', `zip entry "${name}" needs ${dataOffset + compressedSize - size} bytes past the end of the file`, file,
          { missingBytes: dataOffset + compressedSize - size });
      }
      entries.push({ name, method, size: usize, compressedSize, dataOffset });
    }
    return entries;
  } finally {
    await fh.close();
  }
}
