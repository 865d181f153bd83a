// What a family reader sees (the tensor list, metadata and any config, already validated by the
// container reader) and what it returns. Readers never touch the file system except through `source`
// and `readScalar`, so a safetensors file and a torch zip look the same to them.
import { AuditError } from '../errors.ts';
import type {
  AdapterMetadata, BaseModelHint, DType, Family, Finding, LoraModule, Method, OtherModule, OtherTensor, ScaleRule,
  TensorRef, TensorSource,
} from './model.ts';
import { canonicalIdFromKey, type ParsedKey } from './naming.ts';

export interface IntakeContext {
  file: string;
  /** Tensors in file order. */
  tensors: TensorRef[];
  byKey: Map<string, TensorRef>;
  /** The container's metadata (safetensors __metadata__): untrusted strings. */
  metadata: Record<string, string>;
  /** A PEFT adapter_config.json, parsed, when one came with the file. */
  config?: Record<string, unknown>;
  source: TensorSource;
  /** Where the data buffer starts (safetensors), for kohya's data-only hash. */
  dataStart?: number;
}

export interface FamilyResult {
  family: Family;
  method: Method;
  modules: LoraModule[];
  otherModules?: OtherModule[];
  otherTensors: OtherTensor[];
  metadata: Omit<AdapterMetadata, 'raw'>;
  findings: Finding[];
}

/** One adapter family, Netron-style: a cheap sniff, then the parse. */
export interface FamilyReader {
  name: string;
  match(ctx: IntakeContext): boolean;
  open(ctx: IntakeContext): Promise<FamilyResult>;
}

export function makeContext(file: string, tensors: TensorRef[], metadata: Record<string, string>, source: TensorSource,
  extra: { config?: Record<string, unknown>; dataStart?: number } = {}): IntakeContext {
  return { file, tensors, byKey: new Map(tensors.map((t) => [t.key, t])), metadata, source, ...extra };
}

export interface ParsedTensor extends ParsedKey {
  ref: TensorRef;
}

/** Every key parsed with the naming rules; keys nobody understands come back in `unknown`. */
export function parseKeys(ctx: IntakeContext): { parsed: ParsedTensor[]; unknown: TensorRef[] } {
  const parsed: ParsedTensor[] = [];
  const unknown: TensorRef[] = [];
  for (const ref of ctx.tensors) {
    const p = canonicalIdFromKey(ref.key);
    if (p) parsed.push({ ...p, ref });
    else unknown.push(ref);
  }
  return { parsed, unknown };
}

/** Groups parsed tensors by module id, keeping first-seen order. */
export function groupById(parsed: ParsedTensor[]): Map<string, Map<string, TensorRef>> {
  const out = new Map<string, Map<string, TensorRef>>();
  for (const p of parsed) {
    let g = out.get(p.id);
    if (!g) out.set(p.id, (g = new Map()));
    g.set(p.part, p.ref);
  }
  return out;
}

export interface Scaling {
  scale: number;
  scaleRule: ScaleRule;
  alpha?: number;
}

/**
 * One A/B pair → a canonical module. A is r×in (conv: r×in×kh×kw), B is out×r (conv: out×r×1×1);
 * anything else is refused, and A and B must agree on the rank.
 */
export function buildModule(id: string, a: TensorRef, b: TensorRef, scaling: (rank: number) => Scaling, file: string): LoraModule {
  const conv = a.shape.length === 4;
  if (!(a.shape.length === 2 || conv)) {
    throw new AuditError('SHAPE_MISMATCH', `module ${id}: A ("${a.key}") has shape ${JSON.stringify(a.shape)}; expected rank×in (or rank×in×kh×kw for a conv)`, file);
  }
  const bOk = b.shape.length === 2 || (b.shape.length === 4 && b.shape[2] === 1 && b.shape[3] === 1);
  if (!bOk) {
    throw new AuditError('SHAPE_MISMATCH', `module ${id}: B ("${b.key}") has shape ${JSON.stringify(b.shape)}; expected out×rank (or out×rank×1×1)`, file);
  }
  const rank = a.shape[0];
  if (b.shape[1] !== rank) {
    throw new AuditError('RANK_MISMATCH', `module ${id}: A has rank ${rank} (${JSON.stringify(a.shape)}) but B has ${b.shape[1]} (${JSON.stringify(b.shape)})`, file,
      { module: id, rankA: rank, rankB: b.shape[1] });
  }
  const inFeatures = a.shape.slice(1).reduce((x, y) => x * y, 1);
  const m: LoraModule = {
    id, kind: conv ? 'conv' : 'linear', rank, inFeatures, outFeatures: b.shape[0], ...scaling(rank),
    dtype: a.dtype, a, b,
  };
  if (conv) m.kernel = [a.shape[2], a.shape[3]];
  return m;
}

/** Modules sorted by id, as the model promises. */
export function sortModules<T extends { id: string }>(modules: T[]): T[] {
  return modules.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/** Cheap facts for the hint: which base model family the widths point to. */
export function baseModelHint(modules: { id: string; inFeatures?: number }[], family: Family): BaseModelHint {
  const ids = modules.map((m) => m.id);
  if (ids.some((id) => id.includes('single_transformer_blocks'))) return 'flux';
  const crossK = modules.find((m) => /^unet\..*attn2\.to_k$/.test(m.id) && m.inFeatures);
  if (crossK) {
    if (crossK.inFeatures === 768) return 'sd1';
    if (crossK.inFeatures === 1024) return 'sd2';
    if (crossK.inFeatures === 2048) return 'sdxl';
  }
  // SDXL's UNet alone has several transformer blocks per attention (transformer_blocks.1…9) and te2.
  if (ids.some((id) => id.startsWith('text_encoder_2.') || id.startsWith('unet.input_blocks.') || /^unet\..*\.transformer_blocks\.[1-9]/.test(id))) return 'sdxl';
  const mmdit = modules.find((m) => /^transformer\.transformer_blocks\.\d+\.attn\.to_q$/.test(m.id) && m.inFeatures);
  if (mmdit) return mmdit.inFeatures === 3072 ? 'flux' : 'sd3';
  if (ids.some((id) => id.startsWith('unet.'))) return 'unknown';
  const te = modules.find((m) => /^text_encoder\..*self_attn\.q_proj$/.test(m.id) && m.inFeatures);
  if (te && !ids.some((id) => id.startsWith('unet.'))) return te.inFeatures === 768 ? 'sd1' : te.inFeatures === 1024 ? 'sd2' : 'unknown';
  if (family === 'peft' || family === 'pytorch-pickle') return ids.length ? 'transformer' : 'unknown';
  return 'unknown';
}

export function dtypesOf(tensors: TensorRef[]): DType[] {
  return [...new Set(tensors.map((t) => t.dtype))].sort();
}

/** Reads one small tensor (a 0-d alpha) as a number. */
export async function readScalar(ctx: IntakeContext, ref: TensorRef): Promise<number> {
  const v = await ctx.source.read(ref);
  if (v.length !== 1) throw new AuditError('SHAPE_MISMATCH', `"${ref.key}" should hold one number, holds ${v.length}`, ctx.file);
  return v[0];
}

export function otherTensor(ref: TensorRef, role: string): OtherTensor {
  return { key: ref.key, dtype: ref.dtype, shape: ref.shape, role };
}
