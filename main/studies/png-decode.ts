// Reads the 8-bit PNGs a study bundle holds (the built-in subjects' images, written by images.ts's
// encodePng, or an examiner's own) into the built-in model's pixels: RGB in [-1, 1], row-major HWC.
// Bounded: the image must be the model's 16×16, 8-bit grey/RGB/RGBA, not interlaced; chunks are
// checked against the file's length and the inflated data against the exact size it must have.
import { inflateSync } from 'node:zlib';
import { AuditError } from '../errors.ts';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS_OF: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

export function decodePng(bytes: Uint8Array, file: string, want: { width: number; height: number }): Float32Array {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string) => new AuditError('UNSUPPORTED_FORMAT', `not an image the built-in trainer reads: ${why}`, file);
  if (buf.length < 8 || SIGNATURE.some((b, i) => buf[i] !== b)) throw fail('not a PNG file (the built-in trainer reads 8-bit PNG)');
  let pos = 8, width = 0, height = 0, channels = 0;
  const idat: Buffer[] = [];
  while (pos + 12 <= buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (pos + 12 + len > buf.length) throw fail(`chunk ${type} runs past the end of the file`);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      if (len !== 13) throw fail('bad IHDR');
      width = data.readUInt32BE(0); height = data.readUInt32BE(4);
      const depth = data[8], colour = data[9], interlace = data[12];
      if (depth !== 8 || !(colour in CHANNELS_OF) || interlace !== 0) throw fail(`bit depth ${depth}, colour type ${colour}, interlace ${interlace}: only 8-bit grey, RGB or RGBA, not interlaced`);
      channels = CHANNELS_OF[colour];
      if (width !== want.width || height !== want.height) throw fail(`${width}×${height} pixels; the built-in model trains on ${want.width}×${want.height}`);
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  if (!channels || idat.length === 0) throw fail('no IHDR or no image data');
  const stride = width * channels;
  const expected = height * (1 + stride);
  let raw: Buffer;
  try { raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 }); } catch { throw fail('its image data does not inflate to the size its header states'); }
  if (raw.length !== expected) throw fail('its image data does not inflate to the size its header states');
  const px = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (1 + stride)];
    const line = raw.subarray(y * (1 + stride) + 1, (y + 1) * (1 + stride));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? px[y * stride + x - channels] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? px[(y - 1) * stride + x - channels] : 0;
      let pred: number;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) >> 1; break;
        case 4: { const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c); pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c; break; }
        default: throw fail(`unknown row filter ${filter}`);
      }
      px[y * stride + x] = (line[x] + pred) & 0xff;
    }
  }
  const out = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    for (let k = 0; k < 3; k++) {
      const v = channels >= 3 ? px[i * channels + k] : px[i * channels];
      out[i * 3 + k] = v / 127.5 - 1;
    }
  }
  return out;
}
