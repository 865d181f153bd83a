// Evidence intake's front door: a path → one CanonicalAdapter (identity, family, modules, metadata,
// findings), whatever the container (safetensors, torch zip) and naming (diffusers, PEFT, kohya,
// lora_diffusion, LyCORIS). Tensors stay on disk until loadModuleWeights asks for them.
import { open as openFile, readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { AuditError, isAuditError } from '../errors.ts';
import type { CanonicalAdapter, Finding, ModuleWeights, TensorRef, TensorSource } from './model.ts';
import { baseModelHint, dtypesOf, makeContext, type FamilyResult } from './context.ts';
import { FAMILIES } from './families.ts';
import { sha256File } from '../common/hashing.ts';
import { nonFiniteFindings, readSafetensorsHeader, SafetensorsSource, DEFAULT_LIMITS, type SafetensorsLimits } from './safetensors.ts';
import { openTorchFile, refuseLegacyPickle } from './torch.ts';
import { FLOAT_DTYPES } from './dtype.ts';

export interface OpenOptions {
  /** A PEFT adapter_config.json; by default one lying beside a PEFT adapter is used. */
  configPath?: string;
  /** Also read every tensor once to report NaN/Inf values (inspect does; analysis reads them anyway). */
  scanValues?: boolean;
  limits?: SafetensorsLimits;
  /** The file's SHA-256 when the caller already has it (the evidence store hashes on intake): not recomputed. */
  sha256?: string;
}

const ADAPTER_EXT = new Set(['.safetensors', '.bin', '.pt', '.ckpt', '.pth']);

/** A folder holding exactly one adapter file is read as that file (with its config). */
async function resolveInput(path: string): Promise<string> {
  const abs = resolve(path);
  const st = await stat(abs).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new AuditError('FILE_NOT_FOUND', 'no such file', abs);
    throw e;
  });
  if (!st.isDirectory()) return abs;
  const files = (await readdir(abs)).filter((f) => ADAPTER_EXT.has(extname(f).toLowerCase()));
  if (files.length === 1) return join(abs, files[0]);
  throw new AuditError('IS_DIRECTORY', files.length
    ? `is a folder with ${files.length} adapter files (${files.join(', ')}); name one of them`
    : 'is a folder with no adapter file in it; name the adapter file', abs);
}

async function readConfig(path: string): Promise<{ config: Record<string, unknown>; text: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new AuditError('FILE_NOT_FOUND', 'no such adapter config', path);
    throw e;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new AuditError('BAD_CONFIG', `the adapter config is not valid JSON (${(e as Error).message})`, path);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new AuditError('BAD_CONFIG', 'the adapter config is not a JSON object', path);
  return { config: v as Record<string, unknown>, text };
}

async function firstBytes(file: string, n: number): Promise<Buffer> {
  const fh = await openFile(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Protocol 2–5 start with PROTO; protocol 0/1 with MARK or a text GLOBAL (`cmodule\nname\n`). */
function looksLikeBarePickle(head: Buffer): boolean {
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return true;
  return /^(\(|c[\w.]+\n[\w.]+\n)/.test(head.toString('latin1'));
}

export async function openAdapter(path: string, opts: OpenOptions = {}): Promise<CanonicalAdapter> {
  const file = await resolveInput(path);
  const st = await stat(file);
  if (st.size === 0) throw new AuditError('EMPTY_FILE', 'the file is empty (0 bytes)', file);
  const shaPromise = opts.sha256 ? Promise.resolve(opts.sha256) : sha256File(file).then((h) => h.sha256);
  shaPromise.catch(() => undefined);
  const head = await firstBytes(file, 64);
  const findings: Finding[] = [];
  let tensors: TensorRef[];
  let metadata: Record<string, string> = {};
  let source: TensorSource;
  let dataStart: number | undefined;
  let container: CanonicalAdapter['container'];
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50 && head[8] !== 0x7b) {
    const t = await openTorchFile(file);
    ({ tensors, source } = t);
    findings.push(...t.findings);
    container = 'torch-zip';
  } else if (head[8] !== 0x7b /* a safetensors header length may start with any byte */ && looksLikeBarePickle(head)) {
    // A bare pickle (legacy torch.save, or a .pkl): walked only to name a dangerous global, then refused.
    await refuseLegacyPickle(file).catch((e: unknown) => {
      if (isAuditError(e, 'BAD_ARCHIVE')) throw new AuditError('NOT_SAFETENSORS', `neither safetensors nor a readable pickle (${e.message.slice(file.length + 2)})`, file);
      throw e;
    });
    throw new AuditError('INTERNAL', 'unreachable', file);
  } else {
    const h = await readSafetensorsHeader(file, opts.limits ?? DEFAULT_LIMITS);
    ({ tensors, metadata, dataStart } = h);
    findings.push(...h.findings);
    source = new SafetensorsSource(file);
    container = 'safetensors';
  }

  const companions: { file: string; size: number; sha256: string }[] = [];
  let config: Record<string, unknown> | undefined;
  const configPath = opts.configPath ? resolve(opts.configPath) : join(dirname(file), 'adapter_config.json');
  const peftLike = tensors.some((t) => t.key.startsWith('base_model.model.')) || /^adapter_model\./.test(basename(file));
  if (opts.configPath || peftLike) {
    const present = opts.configPath ? true : await stat(configPath).then((s) => s.isFile(), () => false);
    if (present) {
      config = (await readConfig(configPath)).config;
      companions.push({ file: configPath, size: (await stat(configPath)).size, sha256: (await sha256File(configPath)).sha256 });
    }
  }

  try {
    const ctx = makeContext(file, tensors, metadata, source, { ...(config ? { config } : {}), ...(dataStart !== undefined ? { dataStart } : {}) });
    const reader = FAMILIES.find((f) => f.match(ctx));
    const result: FamilyResult = reader ? await reader.open(ctx) : {
      family: 'unknown', method: 'unknown', modules: [], otherTensors: tensors.map((t) => ({ key: t.key, dtype: t.dtype, shape: t.shape, role: 'unknown' })),
      findings: [{ severity: 'error', code: 'UNKNOWN_FAMILY', message: `no known adapter naming fits these ${tensors.length} tensors (first: "${tensors[0]?.key ?? 'none'}")` }],
      metadata: {},
    };
    findings.push(...result.findings);
    if (tensors.length && result.modules.length === 0 && !(result.otherModules?.length)) {
      findings.push({ severity: 'warning', code: 'NO_MODULES', message: 'no adapted layers found' });
    }
    const ranks = [...new Set([...result.modules.map((m) => m.rank), ...(result.modules.length ? [] : (result.otherModules ?? []).flatMap((m) => (m.rank !== undefined ? [m.rank] : [])))])].sort((a, b) => a - b);
    const adapter: CanonicalAdapter = {
      identity: { file, fileName: basename(file), size: st.size, sha256: await shaPromise, ...(companions.length ? { companions } : {}) },
      family: result.family,
      method: result.method,
      baseModel: baseModelHint([...result.modules, ...(result.otherModules ?? [])], result.family),
      modules: result.modules,
      otherTensors: result.otherTensors,
      ...(result.otherModules?.length ? { otherModules: result.otherModules } : {}),
      dtypes: dtypesOf(tensors),
      ranks,
      metadata: { raw: metadata, ...result.metadata },
      findings,
      source,
      container,
    };
    if (opts.scanValues) adapter.findings.push(...(await scanValues(adapter, tensors)));
    return adapter;
  } catch (e) {
    await source.close();
    throw e;
  }
}

/** Reads every float tensor once and reports NaN/Inf (a finding, never a crash). */
async function scanValues(adapter: CanonicalAdapter, tensors: TensorRef[]): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const t of tensors) {
    if (!FLOAT_DTYPES.has(t.dtype)) continue;
    out.push(...nonFiniteFindings(t.key, await adapter.source.read(t)));
  }
  return out;
}

/**
 * The modules' factors in memory: A rank×in, B out×rank, row-major (conv kernels flattened into in).
 * The scale is carried in the struct and applied nowhere.
 */
export async function loadModuleWeights(adapter: CanonicalAdapter, ids?: string[]): Promise<ModuleWeights[]> {
  const wanted = ids ? new Set(ids) : null;
  if (wanted) {
    const missing = [...wanted].filter((id) => !adapter.modules.some((m) => m.id === id));
    if (missing.length) throw new AuditError('NOT_FOUND', `the adapter has no module ${missing[0]}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`, adapter.identity.file);
  }
  const out: ModuleWeights[] = [];
  for (const m of adapter.modules) {
    if (wanted && !wanted.has(m.id)) continue;
    const [a, b] = await Promise.all([adapter.source.read(m.a), adapter.source.read(m.b)]);
    out.push({ id: m.id, rank: m.rank, inFeatures: m.inFeatures, outFeatures: m.outFeatures, scale: m.scale, a, b });
  }
  return out;
}
