// Is a DSiRe comparison between this adapter and this reference set meaningful at all? The method
// only compares like with like (same base model, tool, rank, scale, modules); anything else gives a
// number that means nothing, so a mismatch refuses with sentences an auditor can act on.
import type { BaseModelHint, Method, ScaleRule } from '../intake/model.ts';
import type { ModuleShape, ReferenceConfig } from '../reference/types.ts';
import { TOOL_OF_LAYOUT, UNKNOWN_TOOLS } from './tool.ts';
import type { AdapterDescriptor, Refusal, RefusalCode } from './types.ts';

/** `reasons` are the sentences (the contract since issue 5); `refusals` the same, each with its code and
 *  kind: soft ones an examiner may override on the record, hard ones never (issue 18). */
export interface Applicability { applicable: boolean; reasons: string[]; refusals: Refusal[] }

/** Judgement calls: the tool differs or is uncertain (a converted file has another layout but the same
 *  σ(ΔW); two tools may have run equivalent recipes), or one side's base model is unknown (the module
 *  shapes are still checked). Everything else changes the numbers themselves. */
export const SOFT_CODES: ReadonlySet<RefusalCode> = new Set(['TOOL', 'BASE_MODEL_UNKNOWN']);

export function refusal(code: RefusalCode, text: string): Refusal {
  return { code, kind: SOFT_CODES.has(code) ? 'soft' : 'hard', text };
}

/** Refusals from sentences of one hard kind (non-finite values, features that do not fit the set). */
export const hardRefusals = (code: RefusalCode, texts: string[]): Refusal[] => texts.map((t) => refusal(code, t));

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

function moduleReasons(query: ModuleShape[], ref: ModuleShape[]): Refusal[] {
  const reasons: Refusal[] = [];
  const q = new Map(query.map((m) => [m.id, m]));
  const r = new Map(ref.map((m) => [m.id, m]));
  const missing = ref.filter((m) => !q.has(m.id)).map((m) => m.id);
  const extra = query.filter((m) => !r.has(m.id)).map((m) => m.id);
  if (missing.length > 0) {
    reasons.push(refusal('MODULES_MISSING', `The adapter lacks ${plural(missing.length, 'module')} that every reference adapter has (e.g. ${list(missing.slice(0, 2))}): it was trained on a different set of layers.`));
  }
  if (extra.length > 0) {
    reasons.push(refusal('MODULES_EXTRA', `The adapter has ${plural(extra.length, 'module')} the reference set does not (e.g. ${list(extra.slice(0, 2))}): it was trained on a different set of layers${extra.some((id) => id.startsWith('text_encoder')) ? ', including the text encoder' : ''}.`));
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
    reasons.push(refusal('MODULE_SHAPES', `${plural(shape.length, 'module')} ${shape.length === 1 ? 'has' : 'have'} different shapes: ${detail}; the adapter was made for a different base model.${widths}`));
  }
  return reasons;
}

/** The tool sentence: what the adapter's evidence says (training metadata, or its layout alone) against
 *  what produced the reference set. */
function toolReason(desc: AdapterDescriptor, refTool: string): string | null {
  const tool = desc.tool ?? { tool: TOOL_OF_LAYOUT[desc.family], basis: 'layout' as const, evidence: '' };
  if (tool.tool === refTool && !UNKNOWN_TOOLS.has(tool.tool) && !UNKNOWN_TOOLS.has(refTool)) return null;
  const why = 'Training tools initialise and scale A and B differently, so their spectra may not be comparable: use references made with the same tool.';
  if (tool.basis === 'metadata') {
    return `This adapter was produced by ${tool.tool} (evidence: its ${tool.evidence}); the reference adapters by ${refTool}. ${why}`;
  }
  const layout = TOOL_OF_LAYOUT[desc.family];
  if (UNKNOWN_TOOLS.has(layout)) {
    return `This adapter was produced by ${layout}: neither its layout nor any training metadata names the tool; the reference adapters were produced by ${refTool}. ${why}`;
  }
  return `This adapter has the layout of ${layout} and no training metadata (possibly converted from another tool's output: σ(ΔW) survives a conversion unchanged), so the tool that trained it is uncertain; the reference adapters were produced by ${refTool}. ${why}`;
}

export function checkApplicability(desc: AdapterDescriptor, config: ReferenceConfig): Applicability {
  const refusals: Refusal[] = [];
  const done = (): Applicability => ({ applicable: refusals.length === 0, reasons: refusals.map((r) => r.text), refusals });
  if (desc.method !== config.method) {
    refusals.push(refusal('METHOD', `This adapter is ${METHOD[desc.method]}; the reference set holds ${METHOD[config.method]} adapters. DSiRe compares only adapters of the same method: their weight spectra are not comparable.`));
  }
  const tool = toolReason(desc, TOOL_OF_LAYOUT[config.family]);
  if (tool) refusals.push(refusal('TOOL', tool));
  if (desc.baseModel !== config.baseModel && desc.baseModel !== 'unknown' && config.baseModel !== 'unknown') {
    refusals.push(refusal('BASE_MODEL', `This adapter was fine-tuned from ${BASE[desc.baseModel]}; the reference set from ${BASE[config.baseModel]}.`));
  } else if (desc.baseModel !== config.baseModel) {
    const [known, side] = desc.baseModel === 'unknown' ? [config.baseModel, 'the adapter'] : [desc.baseModel, 'the reference set'];
    refusals.push(refusal('BASE_MODEL_UNKNOWN', `The base model of ${side} is unknown; the ${side === 'the adapter' ? 'reference set' : 'adapter'} was fine-tuned from ${BASE[known]}, so it cannot be confirmed that both come from the same base model (their module shapes agree where that is checked).`));
  }
  // A file with no LoRA-style modules at all (LoKr, LoHa…) has been refused by method already; its
  // rank, scale and module list would only repeat that.
  if (desc.modules.length === 0 && refusals.length > 0) return done();
  if (desc.ranks.length !== 1 || desc.ranks[0] !== config.rank) {
    refusals.push(refusal('RANK', desc.ranks.length === 0
      ? `This adapter has no LoRA modules with a rank; the reference set was trained at rank ${config.rank}.`
      : `This adapter has rank ${list(desc.ranks)}; the reference set was trained at rank ${config.rank}. Spectra of different ranks cannot be compared: use a rank-${desc.ranks.length === 1 ? desc.ranks[0] : desc.ranks.join('/')} reference set.`));
  }
  const scales = desc.scales ?? (Number.isNaN(desc.scale) ? [] : [desc.scale]);
  // The number multiplies ΔW; the rule that produced it (alpha/r with alpha = r, or a fixed 1) does not matter.
  if (scales.length === 0 || scales.some((s) => !sameScale(s, config.scale))) {
    const shown = scales.length > 0 ? list(scales.map((s) => +s.toPrecision(6))) : 'unknown';
    const rule = (r: ScaleRule, v: string) => (r === 'one' ? `a fixed scale of ${v}` : `${RULE[r]} = ${v}`);
    refusals.push(refusal('SCALE', `This adapter scales its update by ${rule(desc.scaleRule, shown)}; the reference adapters by ${rule(config.scaleRule, String(+config.scale.toPrecision(6)))}. A different scale multiplies every σ(ΔW) and would shift the estimate.`));
  }
  refusals.push(...moduleReasons(desc.modules, config.modules));
  return done();
}

/** Hard refusals among these, and whether what is left may be overridden: only when every one is soft. */
export function overridable(refusals: Refusal[]): { allowed: boolean; hard: Refusal[]; soft: Refusal[] } {
  const hard = refusals.filter((r) => r.kind === 'hard');
  return { allowed: refusals.length > 0 && hard.length === 0, hard, soft: refusals.filter((r) => r.kind === 'soft') };
}
