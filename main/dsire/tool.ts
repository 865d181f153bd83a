// Which training tool made an adapter, judged from evidence and not from its key layout alone (issue 18).
// A layout can be rewritten by any converter (a kohya-named file may be a diffusers adapter renamed, and
// σ(ΔW) is the same after the rename); the training metadata a tool writes as it trains is better
// evidence: kohya's sd-scripts `ss_*` keys, a PEFT config (adapter_config.json), diffusers'
// `lora_adapter_metadata`, cloneofsimo lora_diffusion's per-layer `…:rank` keys. A file with one tool's
// layout and none of that is said to be exactly that: "layout of X, no training metadata (possibly converted)".
import type { CanonicalAdapter, Family } from '../intake/model.ts';
import type { ToolEvidence } from './types.ts';

/** The training tool behind each key layout. The diffusers training scripts have saved the same recipe
 *  under attention-processor keys, `.lora.down/up` keys and PEFT keys over their versions, and PEFT is
 *  their LoRA implementation: one tool, one init. kohya's sd-scripts, cloneofsimo's lora_diffusion and
 *  LyCORIS initialise and scale A and B their own way (METHOD.md: reference and target must come from
 *  the same tool). */
export const TOOL_OF_LAYOUT: Record<Family, string> = {
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

/** Layouts that name no tool at all: a comparison with them is never "the same tool". */
export const UNKNOWN_TOOLS = new Set([TOOL_OF_LAYOUT.unknown, TOOL_OF_LAYOUT['pytorch-pickle']]);

/** A metadata value as a reason may quote it: printable ASCII only, at most 60 characters (it is the file's own text). */
function quoted(value: string): string {
  const clean = value.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 60 ? `${clean.slice(0, 60)}…` : clean;
}

export function trainingTool(adapter: CanonicalAdapter): ToolEvidence {
  const raw = adapter.metadata.raw ?? {};
  const keys = Object.keys(raw);
  const layout = TOOL_OF_LAYOUT[adapter.family];
  const ss = keys.filter((k) => k.startsWith('ss_'));
  if (ss.length > 0 || adapter.metadata.kohya) {
    const module = raw.ss_network_module ?? adapter.metadata.kohya?.networkModule;
    // LyCORIS trains through sd-scripts (network module lycoris.kohya) and initialises its own way.
    const tool = module !== undefined && module.startsWith('lycoris') ? TOOL_OF_LAYOUT.lycoris : TOOL_OF_LAYOUT.kohya;
    return { tool, basis: 'metadata', evidence: `ss_* training metadata (${ss.length} keys${module !== undefined ? `, ss_network_module ${quoted(module)}` : ''})` };
  }
  if (raw.lora_adapter_metadata !== undefined) {
    return { tool: TOOL_OF_LAYOUT['diffusers-peft'], basis: 'metadata', evidence: "diffusers' lora_adapter_metadata (the PEFT LoraConfig saved with the weights)" };
  }
  if (adapter.metadata.peft) {
    const type = adapter.metadata.peft.peftType;
    return { tool: TOOL_OF_LAYOUT.peft, basis: 'metadata', evidence: `PEFT config (adapter_config.json${type ? `, peft_type ${quoted(type)}` : ''}${adapter.metadata.peft.peftVersion ? `, PEFT ${quoted(adapter.metadata.peft.peftVersion)}` : ''})` };
  }
  if (keys.some((k) => /^(unet|text_encoder):\d+:rank$/.test(k))) {
    return { tool: TOOL_OF_LAYOUT['lora-diffusion'], basis: 'metadata', evidence: "lora_diffusion's per-layer rank metadata (…:N:rank)" };
  }
  return { tool: layout, basis: 'layout', evidence: `layout of ${layout}, no training metadata (possibly converted)` };
}
