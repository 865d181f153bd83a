// cloneofsimo lora_diffusion (`unet:N:down` / `unet:N:up`, `text_encoder:N:…`), per-layer ranks in
// `__metadata__` (`unet:N:rank`), embedded textual-inversion tokens (`<s1>`) as other tensors.
//
// The file only numbers the layers. lora_diffusion numbered them in the order torch's `model.modules()`
// visits the injected Linear layers inside the target classes named in the metadata (`unet`:
// Attention/CrossAttention/GEGLU; `text_encoder`: CLIPAttention). For SD 1.x that order is fixed, up to two
// things that changed across diffusers versions (whether `ff` sits between attn1 and attn2, and whether
// mid_block registers before or after up_blocks), so we build each candidate order and keep the one whose
// every layer's widths match the file: attn2.to_k/to_v read 768-wide text embeddings, GEGLU projects C→8C,
// the blocks run 320/640/1280. If no single candidate matches, ids stay `unet.lora_diffusion.N`.
// The text encoder's four projections are all 768→768, so only the count (12 layers × 4) can be checked;
// their order is CLIPAttention's registration order (k_proj, v_proj, q_proj, out_proj).
import type { Finding, LoraModule, OtherTensor, TensorRef } from './model.ts';
import { buildModule, otherTensor, parseKeys, sortModules, type FamilyReader } from './context.ts';

interface Slot { id: string; in: number; out: number }

const ATTN_BLOCKS_DOWN = [[0, 0, 320], [0, 1, 320], [1, 0, 640], [1, 1, 640], [2, 0, 1280], [2, 1, 1280]]
  .map(([b, a, c]) => ({ path: `down_blocks.${b}.attentions.${a}`, c }));
const ATTN_BLOCKS_UP = [[1, 1280], [2, 640], [3, 320]]
  .flatMap(([b, c]) => [0, 1, 2].map((a) => ({ path: `up_blocks.${b}.attentions.${a}`, c })));
const ATTN_MID = [{ path: 'mid_block.attentions.0', c: 1280 }];

function unetCandidates(withFf: boolean): { name: string; slots: Slot[] }[] {
  const out: { name: string; slots: Slot[] }[] = [];
  for (const midFirst of [false, true]) {
    for (const ffBetween of withFf ? [true, false] : [false]) {
      const blocks = midFirst ? [...ATTN_BLOCKS_DOWN, ...ATTN_MID, ...ATTN_BLOCKS_UP] : [...ATTN_BLOCKS_DOWN, ...ATTN_BLOCKS_UP, ...ATTN_MID];
      const slots: Slot[] = [];
      for (const { path, c } of blocks) {
        const t = `unet.${path}.transformer_blocks.0`;
        const attn = (n: 1 | 2): Slot[] => ['to_q', 'to_k', 'to_v', 'to_out.0'].map((p) => ({
          id: `${t}.attn${n}.${p}`, in: n === 2 && (p === 'to_k' || p === 'to_v') ? 768 : c, out: c,
        }));
        const ff: Slot[] = withFf ? [{ id: `${t}.ff.net.0.proj`, in: c, out: 8 * c }] : [];
        slots.push(...attn(1), ...(ffBetween ? ff : []), ...attn(2), ...(ffBetween ? [] : ff));
      }
      out.push({ name: `${midFirst ? 'mid before up' : 'up before mid'}, ${ffBetween ? 'ff between attn1 and attn2' : 'ff last'}`, slots });
    }
  }
  return out;
}

const TE_SLOTS: Slot[] = Array.from({ length: 12 }, (_, l) => ['k_proj', 'v_proj', 'q_proj', 'out_proj']
  .map((p) => ({ id: `text_encoder.text_model.encoder.layers.${l}.self_attn.${p}`, in: 768, out: 768 }))).flat();

export const loraDiffusion: FamilyReader = {
  name: 'lora-diffusion',
  match(ctx) {
    return ctx.tensors.some((t) => /^(unet|text_encoder):\d+:(down|up)$/.test(t.key));
  },
  async open(ctx) {
    const findings: Finding[] = [];
    const { parsed, unknown } = parseKeys(ctx);
    const otherTensors: OtherTensor[] = unknown.map((r) => otherTensor(r, /^<.+>$/.test(r.key) ? 'embedding' : 'unknown'));
    const tokens = otherTensors.filter((t) => t.role === 'embedding');
    if (tokens.length) findings.push({ severity: 'info', code: 'EMBEDDED_TOKENS', message: `embeds ${tokens.length} textual-inversion token(s): ${tokens.map((t) => t.key).join(', ')}` });
    const byComponent = new Map<string, Map<number, { A?: TensorRef; B?: TensorRef }>>();
    for (const p of parsed.filter((x) => x.scheme === 'lora-diffusion')) {
      const [component, n] = p.ref.key.split(':');
      let m = byComponent.get(component);
      if (!m) byComponent.set(component, (m = new Map()));
      const e = m.get(Number(n)) ?? {};
      e[p.part as 'A' | 'B'] = p.ref;
      m.set(Number(n), e);
    }
    const modules: LoraModule[] = [];
    for (const [component, layers] of byComponent) {
      const count = Math.max(...layers.keys()) + 1;
      const shapes = Array.from({ length: count }, (_, i) => layers.get(i));
      const mapping = resolveOrder(component, shapes, ctx.metadata[component], findings);
      for (const [i, e] of shapes.entries()) {
        if (!e?.A || !e.B) {
          findings.push({ severity: 'warning', code: 'HALF_MODULE', message: `${component}:${i} lacks a factor; left out` });
          continue;
        }
        const id = mapping ? mapping[i] : `${component}.lora_diffusion.${i}`;
        const m = buildModule(id, e.A, e.B, () => ({ scale: 1, scaleRule: 'one' }), ctx.file);
        const stated = Number(ctx.metadata[`${component}:${i}:rank`]);
        if (Number.isFinite(stated) && stated !== m.rank) {
          findings.push({ severity: 'warning', code: 'CONFIG_RANK_MISMATCH', message: `${component}:${i} metadata says rank ${stated}, tensors have ${m.rank}` });
        }
        modules.push(m);
      }
    }
    return { family: 'lora-diffusion', method: 'lora', modules: sortModules(modules), otherTensors, findings, metadata: {} };
  },
};

function resolveOrder(component: string, shapes: ({ A?: TensorRef; B?: TensorRef } | undefined)[], targets: string | undefined, findings: Finding[]): string[] | null {
  const fits = (slots: Slot[]) => slots.length === shapes.length && slots.every((s, i) => {
    const e = shapes[i];
    return e?.A && e.B && e.A.shape[1] === s.in && e.B.shape[0] === s.out;
  });
  if (component === 'text_encoder') {
    if (fits(TE_SLOTS)) {
      findings.push({ severity: 'info', code: 'LORA_DIFFUSION_ORDER', message: 'text_encoder:N mapped to CLIP layers in CLIPAttention order (k, v, q, out); widths agree, order within a layer not checkable from shapes' });
      return TE_SLOTS.map((s) => s.id);
    }
  } else if (component === 'unet') {
    const withFf = targets ? targets.includes('GEGLU') : shapes.length === 144;
    const matches = unetCandidates(withFf).filter((c) => fits(c.slots));
    if (matches.length === 1) {
      findings.push({ severity: 'info', code: 'LORA_DIFFUSION_ORDER', message: `unet:N mapped to SD 1.x UNet modules (${matches[0].name}); every layer's widths match` });
      return matches[0].slots.map((s) => s.id);
    }
  }
  findings.push({ severity: 'warning', code: 'LORA_DIFFUSION_UNMAPPED', message: `${component}:N layers do not match a known SD 1.x module order; ids kept as ${component}.lora_diffusion.N` });
  return null;
}
