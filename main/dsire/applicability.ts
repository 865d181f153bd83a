// Is a DSiRe comparison between this adapter and this reference set meaningful at all? The method
// only compares like with like (same base model, tool, rank, scale, modules); anything else gives a
// number that means nothing, so a mismatch refuses with sentences an auditor can act on.
import type { BaseModelHint, Family, Method, ScaleRule } from '../intake/model.ts';
import type { ModuleShape, ReferenceConfig } from '../reference/types.ts';
import type { AdapterDescriptor } from './types.ts';

export interface Applicability { applicable: boolean; reasons: string[] }

/** The training tool behind each key layout. The diffusers training scripts have saved the same recipe
 *  under attention-processor keys, `.lora.down/up` keys and PEFT keys over their versions, and PEFT is
 *  their LoRA implementation: one tool, one init. kohya's sd-scripts, cloneofsimo's lora_diffusion and
 *  LyCORIS initialise and scale A and B their own way (METHOD.md: reference and target must come from
 *  the same tool). */
const TOOL: Record<Family, string> = {
  'diffusers-attnproc': 'Hugging Face diffusers/PEFT',
  'diffusers-lora': 'Hugging Face diffusers/PEFT',
  'diffusers-peft': 'Hugging Face diffusers/PEFT',
  peft: 'Hugging Face diffusers/PEFT',
  kohya: "kohya's sd-scripts",
  'lora-diffusion': 'cloneofsimo lora_diffusion',
  lycoris: 'LyCORIS',
  'pytorch-pickle': 'an unknown tool (PyTorch pickle)',
  unknown: 'an unknown tool',
};

const METHOD: Record<Method, string> = {
  lora: 'LoRA', dora: 'DoRA', loha: 'LoHa', lokr: 'LoKr', locon: 'LoCon', adalora: 'AdaLoRA', vera: 'VeRA',
  ia3: 'IA³', boft: 'BOFT', oft: 'OFT', fourierft: 'FourierFT', bone: 'Bone', 'full-diff': 'a full weight difference',
  unknown: 'an unknown method',
};

const BASE: Record<BaseModelHint, string> = {
  sd1: 'Stable Diffusion 1.x', sd2: 'Stable Diffusion 2.x', sdxl: 'Stable Diffusion XL', sd3: 'Stable Diffusion 3',
  flux: 'FLUX', transformer: 'a transformer language model', unknown: 'an unknown base model',
};

const RULE: Record<ScaleRule, string> = { 'alpha/r': 'alpha/r', 'alpha/sqrt(r)': 'alpha/√r (rsLoRA)', one: 'a fixed 1' };

/** Text-encoder widths that tell SD versions apart when a module reads the prompt embedding. */
const TEXT_WIDTH: Record<number, string> = { 768: 'the SD 1.x text-encoder width, CLIP ViT-L', 1024: 'the SD 2.x text-encoder width, OpenCLIP ViT-H', 2048: 'the SDXL text-encoder width' };

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const list = (xs: (string | number)[]) => xs.join(', ');

/** Written so that NaN and ±Inf fail: an infinite scale would otherwise be within 1e-6·∞ of anything. */
function sameScale(a: number, b: number): boolean {
  return Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
}

function widthName(w: number): string {
  return TEXT_WIDTH[w] ? `${w} (${TEXT_WIDTH[w]})` : String(w);
}

function moduleReasons(query: ModuleShape[], ref: ModuleShape[]): string[] {
  const reasons: string[] = [];
  const q = new Map(query.map((m) => [m.id, m]));
  const r = new Map(ref.map((m) => [m.id, m]));
  const missing = ref.filter((m) => !q.has(m.id)).map((m) => m.id);
  const extra = query.filter((m) => !r.has(m.id)).map((m) => m.id);
  if (missing.length > 0) {
    reasons.push(`The adapter lacks ${plural(missing.length, 'module')} that every reference adapter has (e.g. ${list(missing.slice(0, 2))}): it was trained on a different set of layers.`);
  }
  if (extra.length > 0) {
    reasons.push(`The adapter has ${plural(extra.length, 'module')} the reference set does not (e.g. ${list(extra.slice(0, 2))}): it was trained on a different set of layers${extra.some((id) => id.startsWith('text_encoder')) ? ', including the text encoder' : ''}.`);
  }
  const shape = ref.filter((m) => q.has(m.id) && (q.get(m.id)!.inFeatures !== m.inFeatures || q.get(m.id)!.outFeatures !== m.outFeatures));
  if (shape.length > 0) {
    const first = shape[0];
    const got = q.get(first.id)!;
    const inWidths = [...new Set(shape.filter((m) => q.get(m.id)!.inFeatures !== m.inFeatures).map((m) => `${q.get(m.id)!.inFeatures}|${m.inFeatures}`))];
    const detail = got.inFeatures !== first.inFeatures
      ? `${first.id} reads ${widthName(got.inFeatures)} features here but ${widthName(first.inFeatures)} in the reference set`
      : `${first.id} writes ${got.outFeatures} features here but ${first.outFeatures} in the reference set`;
    const widths = inWidths.length > 0
      ? ` Input widths differ (adapter vs reference: ${list(inWidths.map((p) => p.replace('|', ' vs ')))}).`
      : '';
    reasons.push(`${plural(shape.length, 'module')} ${shape.length === 1 ? 'has' : 'have'} different shapes: ${detail}; the adapter was made for a different base model.${widths}`);
  }
  return reasons;
}

export function checkApplicability(desc: AdapterDescriptor, config: ReferenceConfig): Applicability {
  const reasons: string[] = [];
  if (desc.method !== config.method) {
    reasons.push(`This adapter is ${METHOD[desc.method]}; the reference set holds ${METHOD[config.method]} adapters. DSiRe compares only adapters of the same method: their weight spectra are not comparable.`);
  }
  if (TOOL[desc.family] !== TOOL[config.family] || desc.family === 'unknown' || config.family === 'unknown') {
    reasons.push(`This adapter was produced by ${TOOL[desc.family]}; the reference adapters by ${TOOL[config.family]}. Training tools initialise and scale A and B differently, so their spectra are not comparable: use references made with the same tool.`);
  }
  if (desc.baseModel !== config.baseModel && desc.baseModel !== 'unknown' && config.baseModel !== 'unknown') {
    reasons.push(`This adapter was fine-tuned from ${BASE[desc.baseModel]}; the reference set from ${BASE[config.baseModel]}.`);
  }
  // A file with no LoRA-style modules at all (LoKr, LoHa…) has been refused by method already; its
  // rank, scale and module list would only repeat that.
  if (desc.modules.length === 0 && reasons.length > 0) return { applicable: false, reasons };
  if (desc.ranks.length !== 1 || desc.ranks[0] !== config.rank) {
    reasons.push(desc.ranks.length === 0
      ? `This adapter has no LoRA modules with a rank; the reference set was trained at rank ${config.rank}.`
      : `This adapter has rank ${list(desc.ranks)}; the reference set was trained at rank ${config.rank}. Spectra of different ranks cannot be compared: use a rank-${desc.ranks.length === 1 ? desc.ranks[0] : desc.ranks.join('/')} reference set.`);
  }
  const scales = desc.scales ?? (Number.isNaN(desc.scale) ? [] : [desc.scale]);
  // The number multiplies ΔW; the rule that produced it (alpha/r with alpha = r, or a fixed 1) does not matter.
  if (scales.length === 0 || scales.some((s) => !sameScale(s, config.scale))) {
    const shown = scales.length > 0 ? list(scales.map((s) => +s.toPrecision(6))) : 'unknown';
    const rule = (r: ScaleRule, v: string) => (r === 'one' ? `a fixed scale of ${v}` : `${RULE[r]} = ${v}`);
    reasons.push(`This adapter scales its update by ${rule(desc.scaleRule, shown)}; the reference adapters by ${rule(config.scaleRule, String(+config.scale.toPrecision(6)))}. A different scale multiplies every σ(ΔW) and would shift the estimate.`);
  }
  reasons.push(...moduleReasons(desc.modules, config.modules));
  return { applicable: reasons.length === 0, reasons };
}
