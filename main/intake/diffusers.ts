// diffusers LoRA files (`pytorch_lora_weights.safetensors`) of three eras: attention processors
// (`…attn1.processor.to_q_lora.down.weight`, no `unet.` prefix), LoRACompatibleLinear
// (`unet.<module>.lora.down.weight`, text encoder `…lora_linear_layer.down.weight`: LoRA-WiSE's naming),
// and PEFT-native (`[unet.]<module>.lora_A.weight`, with the LoraConfig in `lora_adapter_metadata`).
// Scale is 1 unless the file carries the LoraConfig (α/r or α/√r) or kohya-style `.alpha` network alphas.
import type { Family, Finding, LoraModule, OtherTensor } from './model.ts';
import {
  buildModule, groupById, otherTensor, parseKeys, readScalar, sortModules, type FamilyReader, type ParsedTensor, type Scaling,
} from './context.ts';
import { configFromMetadata, peftConfigSummary, peftScaling } from './peft.ts';

const SCHEMES = new Set(['diffusers-attnproc', 'diffusers-lora', 'diffusers-peft']);

export const diffusers: FamilyReader = {
  name: 'diffusers',
  match(ctx) {
    const { parsed } = parseKeys(ctx);
    const d = parsed.filter((p) => SCHEMES.has(p.scheme));
    return d.length > 0 && d.length >= parsed.length / 2;
  },
  async open(ctx) {
    const findings: Finding[] = [];
    const { parsed, unknown } = parseKeys(ctx);
    const ours = parsed.filter((p) => SCHEMES.has(p.scheme));
    const family = majorityFamily(ours);
    const otherTensors: OtherTensor[] = [];
    // network_alphas as written by diffusers' kohya converters: `<module>.alpha` next to the factors.
    const alphas = new Map<string, number>();
    const known = new Set(ours.map((p) => p.id));
    for (const r of unknown) {
      const id = r.key.endsWith('.alpha') ? r.key.slice(0, -6) : '';
      if (id && r.shape.length === 0 && known.has(id)) alphas.set(id, await readScalar(ctx, r));
      else otherTensors.push(otherTensor(r, 'unknown'));
    }
    if (otherTensors.length) findings.push({ severity: 'warning', code: 'UNKNOWN_TENSORS', message: `${otherTensors.length} tensors follow no known naming (first: "${otherTensors[0].key}")` });
    const config = configFromMetadata(ctx, findings);
    const summary = config ? peftConfigSummary(config, ctx.file) : undefined;
    const modules: LoraModule[] = [];
    for (const [id, parts] of groupById(ours)) {
      const a = parts.get('A');
      const b = parts.get('B');
      if (!a || !b) {
        findings.push({ severity: 'warning', code: 'HALF_MODULE', message: `module ${id} has only its ${a ? 'down (A)' : 'up (B)'} factor; left out` });
        otherTensors.push(otherTensor((a ?? b ?? [...parts.values()][0])!, 'unpaired'));
        continue;
      }
      const scaling = (rank: number): Scaling => {
        const alpha = alphas.get(id);
        if (alpha !== undefined) return { scale: alpha / rank, scaleRule: 'alpha/r', alpha };
        if (summary) return peftScaling(summary, id.startsWith('unet.') ? id.slice(5) : id, rank, findings);
        return { scale: 1, scaleRule: 'one' };
      };
      const m = buildModule(id, a, b, scaling, ctx.file);
      const mag = parts.get('magnitude');
      if (mag) m.magnitude = mag;
      modules.push(m);
    }
    const method = modules.some((m) => m.magnitude) || summary?.useDora ? 'dora' : 'lora';
    return { family, method, modules: sortModules(modules), otherTensors, findings, metadata: summary ? { peft: summary } : {} };
  },
};

function majorityFamily(parsed: ParsedTensor[]): Family {
  const counts = new Map<string, number>();
  for (const p of parsed) counts.set(p.scheme, (counts.get(p.scheme) ?? 0) + 1);
  let best = 'diffusers-lora';
  let n = -1;
  for (const [s, c] of counts) if (c > n) { best = s; n = c; }
  return best as Family;
}
