// Hugging Face PEFT: `adapter_model.safetensors` (or `.bin`) + `adapter_config.json`. Keys
// `base_model.model.<module>.lora_A.weight` / `lora_B.weight`; DoRA adds `<module>.lora_magnitude_vector`.
// Scale α/r, or α/√r with use_rslora, with per-module rank_pattern / alpha_pattern overrides. Other PEFT
// methods (AdaLoRA, VeRA, FourierFT, Bone, IA3, BOFT/OFT, LoHa/LoKr) are recognised by their tensors and
// config and described; only LoRA/DoRA produce A/B modules.
import { AuditError } from '../errors.ts';
import type { Finding, LoraModule, Method, OtherModule, OtherTensor, PeftConfigSummary } from './model.ts';
import {
  buildModule, groupById, otherTensor, parseKeys, sortModules, type FamilyReader, type IntakeContext, type Scaling,
} from './context.ts';

/** PEFT method by peft_type, then by the tensors it leaves. */
const METHOD_BY_TYPE: Record<string, Method> = {
  LORA: 'lora', ADALORA: 'adalora', VERA: 'vera', FOURIERFT: 'fourierft', BONE: 'bone', IA3: 'ia3', BOFT: 'boft',
  OFT: 'oft', LOHA: 'loha', LOKR: 'lokr',
};
const METHOD_BY_PART: [RegExp, Method][] = [
  [/^lora_E$|^adalora_/, 'adalora'], [/^vera_/, 'vera'], [/^fourierft_/, 'fourierft'], [/^bone_/, 'bone'],
  [/^ia3_/, 'ia3'], [/^boft_/, 'boft'], [/^oft_/, 'oft'], [/^hada_/, 'loha'], [/^lokr_/, 'lokr'],
];

export const peft: FamilyReader = {
  name: 'peft',
  match(ctx) {
    return ctx.tensors.some((t) => t.key.startsWith('base_model.model.')) || typeof ctx.config?.peft_type === 'string';
  },
  async open(ctx) {
    const findings: Finding[] = [];
    const summary = ctx.config ? peftConfigSummary(ctx.config, ctx.file) : undefined;
    if (!summary) {
      findings.push({ severity: 'warning', code: 'NO_CONFIG',
        message: 'no adapter_config.json came with the file: r and lora_alpha unknown, scale taken as 1 (α = r); pass the config to get the trained scale' });
    }
    const { parsed, unknown } = parseKeys(ctx);
    const prefixed = parsed.filter((p) => p.ref.key.startsWith('base_model.model.') || p.scheme === 'diffusers-peft');
    const groups = groupById(prefixed);
    const modules: LoraModule[] = [];
    const otherModules: OtherModule[] = [];
    const otherTensors: OtherTensor[] = unknown.map((r) => otherTensor(r, headRole(r.key, summary)));
    let method: Method = summary?.peftType ? METHOD_BY_TYPE[summary.peftType.toUpperCase()] ?? 'unknown' : 'unknown';
    for (const [id, parts] of groups) {
      const partNames = [...parts.keys()];
      const byPart = METHOD_BY_PART.find(([re]) => partNames.some((p) => re.test(p)))?.[1];
      const a = parts.get('A');
      const b = parts.get('B');
      if (!byPart && a && b) {
        const m = buildModule(id, a, b, (rank) => peftScaling(summary, pathUnderBase(id), rank, findings), ctx.file);
        const mag = parts.get('magnitude');
        if (mag) m.magnitude = mag;
        modules.push(m);
      } else if (byPart) {
        const om: OtherModule = { id, method: byPart, tensors: [...parts.values()].map((r) => r.key) };
        const fa = parts.get('adalora_A') ?? parts.get('hada_w1_b');
        if (fa && fa.shape.length === 2) om.rank = fa.shape[0];
        otherModules.push(om);
        if (method === 'unknown' || method === 'lora') method = byPart;
      } else {
        for (const r of parts.values()) otherTensors.push(otherTensor(r, 'unpaired'));
        findings.push({ severity: 'warning', code: 'HALF_MODULE', message: `module ${id} lacks its ${a ? 'lora_B' : 'lora_A'} factor; left out` });
      }
    }
    if (modules.length && (method === 'unknown')) method = 'lora';
    if (modules.some((m) => m.magnitude) || summary?.useDora) method = 'dora';
    if (summary?.useDora && !modules.some((m) => m.magnitude)) {
      findings.push({ severity: 'warning', code: 'DORA_WITHOUT_MAGNITUDE', message: 'the config says use_dora but no lora_magnitude_vector tensors are present' });
    }
    if (summary?.fanInFanOut) {
      // PEFT keeps lora_A as (r, in) and lora_B as (out, r) even for GPT-2's Conv1D; fan_in_fan_out only
      // transposes ΔW when it is merged into the (in, out)-stored base weight. B·A is already out×in.
      findings.push({ severity: 'info', code: 'FAN_IN_FAN_OUT', message: 'fan_in_fan_out: the base layers store weights as in×out (Conv1D); ΔW = B·A is given as out×in' });
    }
    if (summary?.initLoraWeights !== undefined && typeof summary.initLoraWeights === 'string') {
      findings.push({ severity: 'info', code: 'PEFT_INIT', message: `init_lora_weights = ${summary.initLoraWeights}: same tensors, different initialisation than the reference set may assume` });
    }
    if (method !== 'lora' && method !== 'dora') {
      findings.push({ severity: 'info', code: 'PEFT_METHOD', message: `PEFT method ${method}: recognised and described; a DSiRe estimate needs a reference set of the same method` });
    }
    if (summary && modules.length) {
      const expected = summary.r;
      const off = modules.filter((m) => expected !== undefined && m.rank !== rankFor(summary, pathUnderBase(m.id)));
      if (off.length) {
        findings.push({ severity: 'warning', code: 'CONFIG_RANK_MISMATCH',
          message: `${off.length} modules have a rank other than the config's (e.g. ${off[0].id}: ${off[0].rank}); the tensors' rank is used` });
      }
    }
    return {
      family: ctx.tensors.some((t) => t.key.startsWith('base_model.model.')) ? 'peft' : 'diffusers-peft',
      method, modules: sortModules(modules), otherModules: sortModules(otherModules), otherTensors, findings,
      metadata: summary ? { peft: summary } : {},
    };
  },
};

function headRole(key: string, summary: PeftConfigSummary | undefined): string {
  const saved = summary?.modulesToSave;
  if (saved && saved.some((m) => key.includes(`.${m}.`))) return 'head';
  return /\.(score|classifier|pre_classifier|lm_head)\./.test(key) ? 'head' : 'unknown';
}

/** PEFT pattern keys are matched against the module path under base_model.model. */
function pathUnderBase(id: string): string {
  return id.startsWith('unet.') ? id.slice(5) : id;
}

function patternValue(pattern: Record<string, number> | undefined, path: string): number | undefined {
  if (!pattern) return undefined;
  for (const [key, value] of Object.entries(pattern)) {
    let hit: boolean;
    try {
      hit = new RegExp(`(^|\\.)(${key})$`).test(path);
    } catch {
      hit = path === key || path.endsWith(`.${key}`);
    }
    if (hit) return value;
  }
  return undefined;
}

function rankFor(s: PeftConfigSummary, path: string): number | undefined {
  return patternValue(s.rankPattern, path) ?? s.r;
}

/** α/r (or α/√r with use_rslora), with the config's per-module patterns; without a config, scale 1. */
export function peftScaling(s: PeftConfigSummary | undefined, path: string, rank: number, findings: Finding[]): Scaling {
  if (!s || s.loraAlpha === undefined) return { scale: 1, scaleRule: 'one' };
  const alpha = patternValue(s.alphaPattern, path) ?? s.loraAlpha;
  const r = rank;
  if (r <= 0) {
    findings.push({ severity: 'warning', code: 'ZERO_RANK', message: `module ${path} has rank 0` });
    return { scale: 0, scaleRule: 'alpha/r', alpha };
  }
  return s.useRslora ? { scale: alpha / Math.sqrt(r), scaleRule: 'alpha/sqrt(r)', alpha } : { scale: alpha / r, scaleRule: 'alpha/r', alpha };
}

/** adapter_config.json (or diffusers' lora_adapter_metadata) → the summary kept with the evidence. */
export function peftConfigSummary(c: Record<string, unknown>, file: string): PeftConfigSummary {
  if (!c || typeof c !== 'object' || Array.isArray(c)) throw new AuditError('BAD_CONFIG', 'the adapter config is not a JSON object', file);
  const out: PeftConfigSummary = {};
  const numOr = (v: unknown, name: string): number | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new AuditError('BAD_CONFIG', `"${name}" in the adapter config is ${JSON.stringify(v)}, not a number`, file);
    return v;
  };
  const patt = (v: unknown, name: string): Record<string, number> | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'number')) {
      throw new AuditError('BAD_CONFIG', `"${name}" in the adapter config should map module names to numbers`, file);
    }
    return v as Record<string, number>;
  };
  if (typeof c.peft_type === 'string') out.peftType = c.peft_type;
  const r = numOr(c.r, 'r');
  if (r !== undefined) out.r = r;
  const alpha = numOr(c.lora_alpha, 'lora_alpha');
  if (alpha !== undefined) out.loraAlpha = alpha;
  if (typeof c.use_rslora === 'boolean') out.useRslora = c.use_rslora;
  if (typeof c.use_dora === 'boolean') out.useDora = c.use_dora;
  const rp = patt(c.rank_pattern, 'rank_pattern');
  if (rp) out.rankPattern = rp;
  const ap = patt(c.alpha_pattern, 'alpha_pattern');
  if (ap) out.alphaPattern = ap;
  if (Array.isArray(c.target_modules) || typeof c.target_modules === 'string') out.targetModules = c.target_modules as string[] | string;
  if (typeof c.base_model_name_or_path === 'string') out.baseModelNameOrPath = c.base_model_name_or_path;
  if (typeof c.revision === 'string') out.revision = c.revision;
  if (typeof c.peft_version === 'string') out.peftVersion = c.peft_version;
  if (typeof c.init_lora_weights === 'string' || typeof c.init_lora_weights === 'boolean') out.initLoraWeights = c.init_lora_weights;
  if (typeof c.fan_in_fan_out === 'boolean') out.fanInFanOut = c.fan_in_fan_out;
  if (typeof c.task_type === 'string' || c.task_type === null) out.taskType = c.task_type as string | null;
  if (Array.isArray(c.modules_to_save)) out.modulesToSave = c.modules_to_save.filter((m): m is string => typeof m === 'string');
  return out;
}

/** Reads lora_adapter_metadata (diffusers writes the LoraConfig there) when it parses. */
export function configFromMetadata(ctx: IntakeContext, findings: Finding[]): Record<string, unknown> | undefined {
  const text = ctx.metadata.lora_adapter_metadata;
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch { /* reported below */ }
  findings.push({ severity: 'warning', code: 'BAD_ADAPTER_METADATA', message: 'lora_adapter_metadata is not a JSON object; ignored' });
  return undefined;
}
