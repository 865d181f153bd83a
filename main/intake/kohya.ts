// kohya-ss sd-scripts LoRA (also A1111 and ComfyUI): `lora_unet_<module_with_underscores>.lora_down.weight`,
// `.lora_up.weight` and a 0-d `.alpha`; conv LoRA down (r,in,k,k) / up (out,r,1,1). The `ss_*` metadata
// is parsed as untrusted text: the real image count is Σ img_count over ss_dataset_dirs (ss_num_train_images
// counts repeats), and sshs_model_hash (SHA-256 of the data buffer only) is recomputed and compared.
import type { Finding, KohyaMetadata, LoraModule, OtherModule, OtherTensor } from './model.ts';
import {
  buildModule, groupById, otherTensor, parseKeys, readScalar, sortModules, type FamilyReader, type FamilyResult,
  type IntakeContext, type ParsedTensor, type Scaling,
} from './context.ts';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { sha256File } from '../common/hashing.ts';
import { visible } from './disclosure.ts';

const LYCORIS_PARTS = /^(hada_|lokr_|glora_|diff|on_input|ia3$)/;

export function isKohyaScheme(p: ParsedTensor): boolean {
  return p.scheme === 'kohya' || p.scheme === 'kohya-renamed';
}

export const kohya: FamilyReader = {
  name: 'kohya',
  match(ctx) {
    const { parsed } = parseKeys(ctx);
    const k = parsed.filter(isKohyaScheme);
    return k.length > 0 && k.length >= parsed.length / 2 && !k.some((p) => LYCORIS_PARTS.test(p.part))
      && !(ctx.metadata.ss_network_module ?? '').startsWith('lycoris');
  },
  async open(ctx) {
    return openKohyaLike(ctx, 'lora');
  },
};

/** Shared by kohya and LyCORIS: A/B pairs with `.alpha` become modules; the rest is returned for the caller. */
export async function openKohyaLike(ctx: IntakeContext, method: 'lora' | 'locon'): Promise<FamilyResult & { groups: Map<string, Map<string, import('./model.ts').TensorRef>> }> {
  const { parsed, unknown } = parseKeys(ctx);
  const findings: Finding[] = [];
  const otherTensors: OtherTensor[] = unknown.map((r) => otherTensor(r, 'unknown'));
  if (unknown.length) findings.push({ severity: 'warning', code: 'UNKNOWN_TENSORS', message: `${unknown.length} tensors follow no known naming (first: "${unknown[0].key}")` });
  if (parsed.some((p) => p.scheme === 'kohya-renamed')) {
    findings.push({ severity: 'warning', code: 'NONSTANDARD_NAMING',
      message: 'keys use a hand-made kohya-like naming (`lora_unet_unet_…_lora_down.weight`: doubled component, `_lora_down` instead of `.lora_down`, no alpha); mapped to module ids through the diffusers module vocabulary, scale taken as 1' });
  }
  const groups = groupById(parsed.filter(isKohyaScheme));
  const modules: LoraModule[] = [];
  const otherModules: OtherModule[] = [];
  for (const [id, parts] of groups) {
    const a = parts.get('A');
    const b = parts.get('B');
    if (!a || !b) {
      if ((a || b) && !hasLycorisParts(parts)) {
        findings.push({ severity: 'warning', code: 'HALF_MODULE', message: `module ${id} has only its ${a ? 'down (A)' : 'up (B)'} factor; left out` });
        otherTensors.push(otherTensor((a ?? b)!, a ? 'lora_down' : 'lora_up'));
      }
      continue;
    }
    const mid = parts.get('mid');
    if (mid) {
      // LoCon with a Tucker core: ΔW = up ×₁ mid ×₂ down, not B·A, so it is described, not analysed as A/B.
      otherModules.push({ id, method: 'locon', rank: a.shape[0], outFeatures: b.shape[0], inFeatures: a.shape[1] * (mid.shape[2] ?? 1) * (mid.shape[3] ?? 1),
        tensors: [...parts.values()].map((r) => r.key) });
      continue;
    }
    const alphaRef = parts.get('alpha');
    let alphaValue: number | undefined;
    if (alphaRef) {
      try {
        alphaValue = await readScalar(ctx, alphaRef);
      } catch (e) {
        // An integer or malformed alpha: keep the module, say the scale is the default, not the trained one.
        findings.push({ severity: 'warning', code: 'ALPHA_UNREADABLE', tensor: alphaRef.key,
          message: `alpha of ${id} could not be read (${(e as Error).message}); scale taken as 1 (alpha = dim)` });
      }
    }
    const m = buildModule(id, a, b, (rank) => kohyaScaling(alphaValue, rank), ctx.file);
    const magnitude = parts.get('magnitude');
    if (magnitude) m.magnitude = magnitude;
    modules.push(m);
  }
  if (otherModules.length) {
    findings.push({ severity: 'info', code: 'TUCKER_LAYERS', message: `${otherModules.length} layers carry a lora_mid (Tucker) core: described, not analysed as A/B pairs` });
  }
  const kohyaMeta = await parseKohyaMetadata(ctx, findings);
  const dora = modules.some((m) => m.magnitude);
  return {
    family: 'kohya', method: dora ? 'dora' : otherModules.length && !modules.length ? 'locon' : method, modules: sortModules(modules),
    ...(otherModules.length ? { otherModules } : {}), otherTensors, findings, groups,
    metadata: { ...(kohyaMeta ? { kohya: kohyaMeta } : {}), ...(kohyaMeta?.realImageCount !== undefined ? { claimedTrainingImages: kohyaMeta.realImageCount } : {}) },
  };
}

function hasLycorisParts(parts: Map<string, unknown>): boolean {
  return [...parts.keys()].some((k) => LYCORIS_PARTS.test(k));
}

/** kohya: scale = alpha / dim; a missing or zero alpha means alpha = dim (scale 1). */
export function kohyaScaling(alpha: number | undefined, rank: number): Scaling {
  if (alpha === undefined || alpha === 0 || !Number.isFinite(alpha)) return { scale: 1, scaleRule: 'alpha/r', alpha: rank };
  return { scale: alpha / rank, scaleRule: 'alpha/r', alpha };
}

function num(s: string | undefined): number | undefined {
  if (s === undefined || s === 'None' || s.trim() === '') return undefined;
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

/** `ss_*` and `sshs_*` metadata → a summary; undefined when the file has none. */
export async function parseKohyaMetadata(ctx: IntakeContext, findings: Finding[]): Promise<KohyaMetadata | undefined> {
  const md = ctx.metadata;
  if (!Object.keys(md).some((k) => k.startsWith('ss_') || k.startsWith('sshs_'))) return undefined;
  const out: KohyaMetadata = {};
  if (md.ss_network_module !== undefined) out.networkModule = md.ss_network_module;
  const dim = num(md.ss_network_dim);
  if (dim !== undefined) out.networkDim = dim;
  const alpha = num(md.ss_network_alpha);
  if (alpha !== undefined) out.networkAlpha = alpha;
  const withRepeats = num(md.ss_num_train_images);
  if (withRepeats !== undefined) out.numTrainImagesWithRepeats = withRepeats;
  const reg = num(md.ss_num_reg_images);
  if (reg !== undefined) out.numRegImages = reg;
  if (md.ss_learning_rate !== undefined) out.learningRate = md.ss_learning_rate;
  const steps = num(md.ss_max_train_steps);
  if (steps !== undefined) out.maxTrainSteps = steps;
  const seed = num(md.ss_seed);
  if (seed !== undefined) out.seed = seed;
  if (md.ss_sd_model_name !== undefined) out.sdModelName = md.ss_sd_model_name;

  const dirs = parseDatasetDirs(md.ss_dataset_dirs, findings);
  if (dirs) {
    out.datasetDirs = dirs.kept;
    // a claim is a whole number of images from at least one folder: a sum past 2^53 (entries of 1e308
    // images added up to Infinity) is none, and so is a list without one usable entry
    if (dirs.folders > 0 && Number.isSafeInteger(dirs.images)) {
      out.realImageCount = dirs.images;
      if (withRepeats !== undefined && Number.isSafeInteger(dirs.withRepeats) && dirs.withRepeats !== withRepeats) {
        findings.push({ severity: 'info', code: 'KOHYA_COUNTS_DIFFER',
          message: `ss_num_train_images (${withRepeats}) differs from Σ img_count × n_repeats over ss_dataset_dirs (${dirs.withRepeats})` });
      }
      findings.push({ severity: 'info', code: 'KOHYA_IMAGE_COUNT',
        message: `metadata states ${out.realImageCount} distinct training images (Σ img_count over ${dirs.folders} folders)${withRepeats !== undefined ? `; ss_num_train_images = ${withRepeats} counts repeats` : ''}` });
    } else if (dirs.folders > 0) {
      findings.push({ severity: 'warning', code: 'BAD_DATASET_DIRS', message: `ss_dataset_dirs' img_count values add up to more than ${Number.MAX_SAFE_INTEGER}: not a training-set size; image count unknown` });
    }
  }

  const stated = md.sshs_model_hash;
  if (stated !== undefined && ctx.dataStart !== undefined) {
    const recomputed = (await sha256File(ctx.file, { start: ctx.dataStart })).sha256;
    const matches = recomputed.toLowerCase() === stated.trim().toLowerCase();
    out.sshsModelHash = { stated, recomputed, matches };
    if (!matches) {
      findings.push({ severity: 'warning', code: 'METADATA_HASH_MISMATCH',
        message: `sshs_model_hash says ${stated} but the data buffer hashes to ${recomputed}: the tensors were changed after the metadata was written` });
    }
  }
  const legacy = md.sshs_legacy_hash;
  if (legacy !== undefined) {
    const recomputed = await legacyHash(ctx, legacy.trim().toLowerCase());
    const matches = recomputed === legacy.trim().toLowerCase();
    out.sshsLegacyHash = { stated: legacy, recomputed, matches };
    if (!matches) {
      findings.push({ severity: 'info', code: 'METADATA_LEGACY_HASH_MISMATCH',
        message: `sshs_legacy_hash says ${legacy}, the file gives ${recomputed} (this hash also covers the header, so edited metadata alone can explain it)` });
    }
  }
  return out;
}

/**
 * sd-scripts' addnet_hash_legacy: the first 8 hex digits of SHA-256 over bytes [1 MiB, 1 MiB + 64 KiB) of the
 * file as serialised before the two sshs_* entries were added to its header. Those entries (plus JSON
 * punctuation and up to 7 bytes of padding) shift the data by a few bytes, so the window is tried at each
 * shift in that small range; a chance match of 32 bits over 17 tries is ~4e-9. Returns the unshifted
 * value when none matches.
 */
async function legacyHash(ctx: IntakeContext, stated: string): Promise<string> {
  const WINDOW = 0x10000;
  const AT = 0x100000;
  const plain = (await sha256File(ctx.file, { start: AT, end: AT + WINDOW })).sha256.slice(0, 8);
  if (plain === stated || ctx.dataStart === undefined) return plain;
  const entry = (k: string) => Buffer.byteLength(`${JSON.stringify(k)}:${JSON.stringify(ctx.metadata[k] ?? '')},`);
  const removed = entry('sshs_model_hash') + entry('sshs_legacy_hash');
  const fh = await open(ctx.file, 'r');
  try {
    const lo = Math.max(0, removed - 8);
    const buf = Buffer.alloc(WINDOW + 16);
    const { bytesRead } = await fh.read(buf, 0, buf.length, AT + lo);
    for (let shift = lo; shift <= removed + 8; shift++) {
      const from = shift - lo;
      // Only where the window lay wholly in the data buffer then, so that it is the same bytes now.
      if (AT < ctx.dataStart - shift || from + WINDOW > bytesRead) continue;
      const h = createHash('sha256').update(buf.subarray(from, from + WINDOW)).digest('hex').slice(0, 8);
      if (h === stated) return h;
    }
  } finally {
    await fh.close();
  }
  return plain;
}

/** ss_dataset_dirs folders kept in the metadata (a training run has a handful); the image count is
 *  summed over all of them. A hostile header may list a million. */
export const MAX_DATASET_DIRS = 1000;
/** Entries without a usable img_count named one by one (each quoting its folder, cut and escaped);
 *  the rest are counted. */
const NAMED_BAD_DIRS = 5;
const DIR_NAME_CHARS = 200;

interface DatasetDirs {
  kept: NonNullable<KohyaMetadata['datasetDirs']>;
  /** Folders with a usable img_count, all of them (not only the kept ones). */
  folders: number;
  /** Σ img_count and Σ img_count × n_repeats over those folders (may pass 2^53: the caller checks). */
  images: number;
  withRepeats: number;
}

function parseDatasetDirs(text: string | undefined, findings: Finding[]): DatasetDirs | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    findings.push({ severity: 'warning', code: 'BAD_DATASET_DIRS', message: 'ss_dataset_dirs is not valid JSON; image count unknown' });
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const out: DatasetDirs = { kept: [], folders: 0, images: 0, withRepeats: 0 };
  let bad = 0;
  for (const [dir, v] of Object.entries(parsed as Record<string, unknown>)) {
    const e = v as { img_count?: unknown; n_repeats?: unknown };
    const imgCount = Number(e?.img_count);
    const stated = Number(e?.n_repeats ?? 1);
    // counts of images are whole numbers: 2.5 images, -1 or 1e400 is no count
    if (!Number.isSafeInteger(imgCount) || imgCount < 0) {
      if (bad++ < NAMED_BAD_DIRS) {
        findings.push({ severity: 'warning', code: 'BAD_DATASET_DIRS', message: `ss_dataset_dirs entry "${visible(dir, DIR_NAME_CHARS).text}" has no usable img_count` });
      }
      continue;
    }
    const repeats = Number.isSafeInteger(stated) && stated >= 0 ? stated : 1;
    out.folders++;
    out.images += imgCount;
    out.withRepeats += imgCount * repeats;
    if (out.kept.length < MAX_DATASET_DIRS) out.kept.push({ dir, imgCount, repeats });
  }
  if (bad > NAMED_BAD_DIRS) {
    findings.push({ severity: 'warning', code: 'BAD_DATASET_DIRS', message: `${bad - NAMED_BAD_DIRS} more ss_dataset_dirs entries have no usable img_count` });
  }
  if (out.folders > MAX_DATASET_DIRS) {
    findings.push({ severity: 'info', code: 'KOHYA_DATASET_DIRS_CUT',
      message: `ss_dataset_dirs lists ${out.folders} folders; the first ${MAX_DATASET_DIRS} are kept in the metadata (the image count sums all of them)` });
  }
  return out;
}
