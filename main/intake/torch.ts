// PyTorch checkpoints (`.bin`, `.pt`, `.ckpt`) in torch.save's zip format: `<name>/data.pkl` walked by
// the restricted pickle reader (never unpickled), tensors read from the stored `<name>/data/<key>`
// entries by absolute offset, exactly like safetensors tensors.
import { readFile, stat, open } from 'node:fs/promises';
import { AuditError } from '../errors.ts';
import type { Finding, TensorRef, TensorSource } from './model.ts';
import { ITEM_SIZE, FLOAT_DTYPES } from './dtype.ts';
import { stateDictTensors, walkPickle } from './pickle.ts';
import { SafetensorsSource } from './safetensors.ts';
import { readZipDirectory } from './zip.ts';

/** data.pkl of an adapter is a few KB to a few MB; a larger one is refused rather than read into memory. */
const MAX_PICKLE_BYTES = 64 * 1024 * 1024;

export async function openTorchFile(file: string): Promise<{ tensors: TensorRef[]; source: TensorSource; findings: Finding[] }> {
  const { size } = await stat(file);
  const entries = await readZipDirectory(file, size);
  const pkl = entries.find((e) => e.name === 'data.pkl' || e.name.endsWith('/data.pkl'));
  if (!pkl) throw new AuditError('UNSUPPORTED_FORMAT', 'a zip without data.pkl: not a torch.save checkpoint', file);
  if (pkl.method !== 0) throw new AuditError('UNSUPPORTED_FORMAT', `data.pkl is compressed (method ${pkl.method}); torch.save stores it uncompressed`, file);
  if (pkl.size > MAX_PICKLE_BYTES) throw new AuditError('LIMIT_EXCEEDED', `data.pkl is ${pkl.size} bytes, over the ${MAX_PICKLE_BYTES}-byte limit`, file);
  const root = pkl.name.slice(0, -'data.pkl'.length);
  const fh = await open(file, 'r');
  let bytes: Buffer;
  try {
    bytes = Buffer.alloc(pkl.size);
    await fh.read(bytes, 0, pkl.size, pkl.dataOffset);
  } finally {
    await fh.close();
  }
  const walked = walkPickle(bytes, file);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const tensors: TensorRef[] = [];
  const findings: Finding[] = [{ severity: 'info', code: 'PICKLE_CHECKED',
    message: 'PyTorch pickle read by the restricted opcode walker: it imports only tensor-rebuild globals; nothing was executed' }];
  for (const [key, t] of stateDictTensors(walked, file)) {
    const entry = byName.get(`${root}data/${t.storage.key}`);
    if (!entry) throw new AuditError('BAD_ARCHIVE', `tensor "${key}" uses storage ${t.storage.key}, which the zip does not contain`, file);
    if (entry.method !== 0) throw new AuditError('UNSUPPORTED_FORMAT', `storage ${t.storage.key} is compressed; torch.save stores storages uncompressed`, file);
    const item = ITEM_SIZE[t.storage.dtype];
    const numel = t.size.reduce((a, b) => a * b, 1);
    // Row-major contiguous strides only: that is what state dicts of LoRA factors hold.
    let expect = 1;
    for (let i = t.size.length - 1; i >= 0; i--) {
      if (t.size[i] !== 1 && t.stride[i] !== expect) {
        throw new AuditError('UNSUPPORTED_FORMAT', `tensor "${key}" is a non-contiguous view (stride ${JSON.stringify(t.stride)} for size ${JSON.stringify(t.size)})`, file);
      }
      expect *= t.size[i];
    }
    if ((t.offset + numel) * item > entry.size) {
      throw new AuditError('BAD_OFFSETS', `tensor "${key}" needs ${(t.offset + numel) * item} bytes of storage ${t.storage.key}, which holds ${entry.size}`, file);
    }
    tensors.push({ key, dtype: t.storage.dtype, shape: t.size, offset: entry.dataOffset + t.offset * item, length: numel * item });
    if (!FLOAT_DTYPES.has(t.storage.dtype)) {
      findings.push({ severity: 'warning', code: 'NON_FLOAT_TENSOR', tensor: key, message: `tensor "${key}" is ${t.storage.dtype}: reported as is, not converted` });
    }
  }
  return { tensors, source: new SafetensorsSource(file), findings };
}

/** A legacy (pre-zip) torch pickle: walked only to name a dangerous global; never read for tensors. */
export async function refuseLegacyPickle(file: string): Promise<never> {
  const bytes = await readFile(file);
  walkPickle(bytes.subarray(0, Math.min(bytes.length, MAX_PICKLE_BYTES)), file);
  throw new AuditError('UNSUPPORTED_FORMAT',
    'a legacy (non-zip) PyTorch pickle: refused unread (it names no dangerous global, but its tensors follow in an undocumented layout); re-save it with torch.save or as safetensors', file);
}
