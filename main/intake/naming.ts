// Canonical module ids and the key names each family writes for them. A canonical id is the dotted
// module path as diffusers names it, with its component prefix (`unet.…`, `text_encoder.…`,
// `text_encoder_2.…`, `transformer.…`); for PEFT models of other kinds it is the path under
// `base_model.model.`. The same layer gets the same id whichever tool wrote the file, so layers can be
// compared across tools.

export type Factor = 'A' | 'B';

/** One tensor key understood: which module it belongs to and which part of it it is. */
export interface ParsedKey {
  id: string;
  /** 'A' | 'B' | 'alpha' | 'mid' | 'magnitude', or the family's own suffix (`hada_w1_a`, `lokr_w1`, `lora_E`, …). */
  part: string;
  scheme: 'diffusers-attnproc' | 'diffusers-lora' | 'diffusers-peft' | 'peft' | 'kohya' | 'kohya-renamed' | 'lora-diffusion';
}

const COMPONENTS = ['unet', 'text_encoder', 'text_encoder_2', 'transformer', 'prior', 'decoder_unet'];

/** First path segments of a diffusers UNet, so un-prefixed keys can be given their `unet.` prefix. */
const UNET_TOP = new Set(['down_blocks', 'up_blocks', 'mid_block', 'conv_in', 'conv_out', 'time_embedding',
  'add_embedding', 'conv_norm_out', 'encoder_hid_proj', 'class_embedding']);
/** First path segments of an SD3/Flux transformer. */
const TRANSFORMER_TOP = new Set(['transformer_blocks', 'single_transformer_blocks', 'context_embedder', 'x_embedder',
  'proj_out', 'norm_out', 'time_text_embed', 'pos_embed']);

function withComponent(path: string): string {
  const first = path.split('.', 1)[0];
  if (COMPONENTS.includes(first)) return path;
  if (UNET_TOP.has(first)) return `unet.${path}`;
  if (first === 'text_model') return `text_encoder.${path}`;
  if (TRANSFORMER_TOP.has(first)) return `transformer.${path}`;
  return path;
}

/** diffusers LoRACompatibleLinear naming (LoRA-WiSE's): `unet.<module>.lora.down.weight` / `.lora.up.weight`. */
export function diffusersKey(id: string, factor: Factor): string {
  return `${id}.lora.${factor === 'A' ? 'down' : 'up'}.weight`;
}

/** PEFT naming: `base_model.model.<module without unet.>.lora_A.weight`. */
export function peftKey(id: string, factor: Factor): string {
  const path = id.startsWith('unet.') ? id.slice(5) : id;
  return `base_model.model.${path}.lora_${factor}.weight`;
}

/** kohya-ss naming: `lora_unet_<module with _>.lora_down.weight`, `.lora_up.weight`, `.alpha`. */
export function kohyaKey(id: string, part: Factor | 'alpha'): string {
  const suffix = part === 'A' ? 'lora_down.weight' : part === 'B' ? 'lora_up.weight' : 'alpha';
  return `${kohyaModuleName(id)}.${suffix}`;
}

export function kohyaModuleName(id: string): string {
  const dot = id.indexOf('.');
  const component = id.slice(0, dot);
  const prefix = component === 'unet' ? 'lora_unet' : component === 'text_encoder' ? 'lora_te'
    : component === 'text_encoder_2' ? 'lora_te2' : component === 'transformer' ? 'lora_transformer' : `lora_${component}`;
  return `${prefix}_${id.slice(dot + 1).replaceAll('.', '_')}`;
}

// kohya joins the module path with '_', which is ambiguous (`to_out_0` = `to_out.0`, `ff_net_0_proj` =
// `ff.net.0.proj`). We map it back with the vocabulary of module names that diffusers UNets, SD3/Flux
// transformers, CLIP text encoders and kohya's SDXL (LDM-style) names use: an underscore joins words of one
// name only when that name is in this list; numbers are always their own segment. Anything the list does
// not cover is refused (null), never guessed.
const VOCABULARY = [
  // diffusers UNet
  'down_blocks', 'up_blocks', 'mid_block', 'attentions', 'resnets', 'transformer_blocks', 'attn1', 'attn2',
  'to_q', 'to_k', 'to_v', 'to_out', 'proj_in', 'proj_out', 'ff', 'net', 'proj', 'norm', 'norm1', 'norm2',
  'norm3', 'conv1', 'conv2', 'conv_shortcut', 'time_emb_proj', 'downsamplers', 'upsamplers', 'conv',
  'conv_in', 'conv_out', 'conv_norm_out', 'time_embedding', 'linear_1', 'linear_2', 'add_embedding',
  'add_k_proj', 'add_v_proj', 'add_q_proj', 'to_add_out', 'encoder_hid_proj',
  // SD3 / Flux transformers
  'single_transformer_blocks', 'attn', 'ff_context', 'norm1_context', 'proj_mlp', 'linear', 'context_embedder',
  'x_embedder', 'norm_out', 'time_text_embed', 'timestep_embedder', 'text_embedder', 'guidance_embedder',
  // CLIP text encoders
  'text_model', 'encoder', 'layers', 'self_attn', 'q_proj', 'k_proj', 'v_proj', 'out_proj', 'mlp', 'fc1',
  'fc2', 'embeddings', 'token_embedding', 'position_embedding', 'final_layer_norm', 'text_projection',
  'layer_norm1', 'layer_norm2',
  // kohya SDXL keeps the LDM names of the UNet
  'input_blocks', 'middle_block', 'output_blocks', 'emb_layers', 'in_layers', 'out_layers', 'skip_connection',
  'op', 'time_embed', 'label_emb',
];
const WORDS = new Set(VOCABULARY);
const MAX_WORD_PARTS = Math.max(...VOCABULARY.map((w) => w.split('_').length));

/** `down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0` → `down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0`, or null. */
export function dottedFromUnderscored(name: string): string | null {
  const parts = name.split('_');
  const out: string[] = [];
  let i = 0;
  while (i < parts.length) {
    if (/^\d+$/.test(parts[i])) { out.push(parts[i]); i++; continue; }
    let matched = 0;
    for (let n = Math.min(MAX_WORD_PARTS, parts.length - i); n >= 1; n--) {
      if (WORDS.has(parts.slice(i, i + n).join('_'))) { matched = n; break; }
    }
    if (!matched) return null;
    out.push(parts.slice(i, i + matched).join('_'));
    i += matched;
  }
  return out.join('.');
}

const KOHYA_PREFIX: Record<string, string> = {
  lora_unet: 'unet', lora_te: 'text_encoder', lora_te1: 'text_encoder', lora_te2: 'text_encoder_2',
  lora_transformer: 'transformer',
};

/** kohya / LyCORIS tensor suffixes after the module name. */
const KOHYA_PARTS: Record<string, string> = {
  'lora_down.weight': 'A', 'lora_up.weight': 'B', 'lora_mid.weight': 'mid', alpha: 'alpha', dora_scale: 'magnitude',
  hada_w1_a: 'hada_w1_a', hada_w1_b: 'hada_w1_b', hada_w2_a: 'hada_w2_a', hada_w2_b: 'hada_w2_b',
  hada_t1: 'hada_t1', hada_t2: 'hada_t2', lokr_w1: 'lokr_w1', lokr_w2: 'lokr_w2', lokr_w1_a: 'lokr_w1_a',
  lokr_w1_b: 'lokr_w1_b', lokr_w2_a: 'lokr_w2_a', lokr_w2_b: 'lokr_w2_b', lokr_t2: 'lokr_t2', diff: 'diff',
  diff_b: 'diff_b', on_input: 'on_input', 'a1.weight': 'glora_a1', 'a2.weight': 'glora_a2',
  'b1.weight': 'glora_b1', 'b2.weight': 'glora_b2', weight: 'ia3',
};

/** PEFT tensor suffixes after the module path (adapter name already stripped by save_pretrained). */
const PEFT_PARTS: Record<string, string> = {
  'lora_A.weight': 'A', 'lora_B.weight': 'B', lora_magnitude_vector: 'magnitude',
  // PEFT's embedding LoRA: A is r×vocab, B is dim×r; ΔW = (B·A)ᵀ has the same spectrum as B·A.
  lora_embedding_A: 'A', lora_embedding_B: 'B',
  'lora_magnitude_vector.weight': 'magnitude', lora_E: 'lora_E', lora_A: 'adalora_A', lora_B: 'adalora_B',
  vera_lambda_b: 'vera_lambda_b', vera_lambda_d: 'vera_lambda_d', fourierft_spectrum: 'fourierft_spectrum',
  bone_block: 'bone_block', ia3_l: 'ia3_l', boft_R: 'boft_R', boft_s: 'boft_s', oft_r: 'oft_r', oft_s: 'oft_s',
  'oft_R.weight': 'oft_r', hada_w1_a: 'hada_w1_a', hada_w1_b: 'hada_w1_b', hada_w2_a: 'hada_w2_a',
  hada_w2_b: 'hada_w2_b', hada_t1: 'hada_t1', hada_t2: 'hada_t2', lokr_w1: 'lokr_w1', lokr_w2: 'lokr_w2',
  lokr_w1_a: 'lokr_w1_a', lokr_w1_b: 'lokr_w1_b', lokr_w2_a: 'lokr_w2_a', lokr_w2_b: 'lokr_w2_b', lokr_t2: 'lokr_t2',
};
const PEFT_SUFFIXES = Object.keys(PEFT_PARTS).sort((a, b) => b.length - a.length);
const KOHYA_SUFFIXES = Object.keys(KOHYA_PARTS).sort((a, b) => b.length - a.length);

function splitSuffix(key: string, suffixes: string[], parts: Record<string, string>): { path: string; part: string } | null {
  for (const s of suffixes) {
    if (key.endsWith('.' + s)) return { path: key.slice(0, -s.length - 1), part: parts[s] };
  }
  return null;
}

/** Any tensor key of any known naming scheme → its canonical module id and part; null when not understood. */
export function canonicalIdFromKey(key: string): ParsedKey | null {
  // cloneofsimo lora_diffusion: `unet:N:down`; the index is resolved to a module by lora-diffusion.ts.
  const ld = /^(unet|text_encoder):(\d+):(down|up)$/.exec(key);
  if (ld) return { id: `${ld[1]}.lora_diffusion.${ld[2]}`, part: ld[3] === 'down' ? 'A' : 'B', scheme: 'lora-diffusion' };

  // The timohavdk-style rename: `lora_unet_unet_<underscored>_lora_down.weight` (doubled component, `_lora_down`).
  const rn = /^lora_(unet|te|te1|te2)_(unet|text_encoder|text_encoder_2)_(.+)_lora_(down|up)\.weight$/.exec(key);
  if (rn) {
    const dotted = dottedFromUnderscored(rn[3]);
    if (dotted) return { id: `${rn[2]}.${dotted}`, part: rn[4] === 'down' ? 'A' : 'B', scheme: 'kohya-renamed' };
  }

  const kp = /^(lora_unet|lora_te1|lora_te2|lora_te|lora_transformer)_([^.]+)\.(.+)$/.exec(key);
  if (kp) {
    const part = KOHYA_PARTS[kp[3]];
    const dotted = dottedFromUnderscored(kp[2]);
    if (part && dotted) return { id: `${KOHYA_PREFIX[kp[1]]}.${dotted}`, part, scheme: 'kohya' };
    return null;
  }

  if (key.startsWith('base_model.model.')) {
    const s = splitSuffix(key.slice('base_model.model.'.length), PEFT_SUFFIXES, PEFT_PARTS);
    return s ? { id: withComponent(s.path), part: s.part, scheme: 'peft' } : null;
  }

  // diffusers attention-processor era: `[unet.]…attn1.processor.to_q_lora.down.weight`.
  const ap = /^(.+)\.processor\.(to_q|to_k|to_v|to_out|add_k_proj|add_v_proj)_lora\.(down|up)\.weight$/.exec(key);
  if (ap) {
    const proj = ap[2] === 'to_out' ? 'to_out.0' : ap[2];
    return { id: withComponent(`${ap[1]}.${proj}`), part: ap[3] === 'down' ? 'A' : 'B', scheme: 'diffusers-attnproc' };
  }

  // diffusers LoRACompatibleLinear era: `unet.<module>.lora.down.weight`, text encoder `…lora_linear_layer.down.weight`.
  const dl = /^(.+)\.(lora|lora_linear_layer)\.(down|up)\.weight$/.exec(key);
  if (dl) return { id: withComponent(dl[1]), part: dl[3] === 'down' ? 'A' : 'B', scheme: 'diffusers-lora' };

  // diffusers PEFT-native era: `[unet.]<module>.lora_A.weight`.
  const dp = splitSuffix(key, PEFT_SUFFIXES, PEFT_PARTS);
  if (dp && (dp.part === 'A' || dp.part === 'B' || dp.part === 'magnitude')) {
    return { id: withComponent(dp.path), part: dp.part, scheme: 'diffusers-peft' };
  }
  return null;
}
