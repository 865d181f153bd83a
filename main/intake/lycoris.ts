// LyCORIS (usually trained through kohya-ss, so kohya key naming and ss_* metadata): LoCon
// (lora_down/lora_up, optional lora_mid), LoHa (hada_w1_a/b, hada_w2_a/b: ΔW = (w1a·w1b) ⊙ (w2a·w2b)),
// LoKr (lokr_w1[_a/_b], lokr_w2[_a/_b]: ΔW = w1 ⊗ w2). Only LoRA-shaped A/B layers become `modules`;
// LoHa and LoKr layers are described in `otherModules` and set the method, so DSiRe compares like with like.
import type { Method, OtherModule, TensorRef } from './model.ts';
import { parseKeys, type FamilyReader } from './context.ts';
import { isKohyaScheme, openKohyaLike } from './kohya.ts';

export const lycoris: FamilyReader = {
  name: 'lycoris',
  match(ctx) {
    const { parsed } = parseKeys(ctx);
    const k = parsed.filter(isKohyaScheme);
    if (k.length === 0) return false;
    return k.some((p) => /^(hada_|lokr_|glora_)/.test(p.part) || p.part === 'mid')
      || (ctx.metadata.ss_network_module ?? '').startsWith('lycoris');
  },
  async open(ctx) {
    const base = await openKohyaLike(ctx, 'locon');
    const otherModules: OtherModule[] = [...(base.otherModules ?? [])];
    for (const [id, parts] of base.groups) {
      const keys = [...parts.values()].map((r) => r.key);
      if (parts.has('lokr_w1') || parts.has('lokr_w1_a') || parts.has('lokr_w2') || parts.has('lokr_w2_a')) {
        otherModules.push({ id, method: 'lokr', tensors: keys, ...lokrShape(parts) });
      } else if (parts.has('hada_w1_a')) {
        const w1a = parts.get('hada_w1_a')!;
        const w1b = parts.get('hada_w1_b');
        otherModules.push({ id, method: 'loha', tensors: keys, rank: w1a.shape[1], outFeatures: w1a.shape[0],
          ...(w1b ? { inFeatures: w1b.shape.slice(1).reduce((x, y) => x * y, 1) } : {}) });
      } else if (parts.has('diff')) {
        const d = parts.get('diff')!;
        otherModules.push({ id, method: 'full-diff', tensors: keys, outFeatures: d.shape[0], inFeatures: d.shape.slice(1).reduce((x, y) => x * y, 1) });
      } else if (parts.has('ia3')) {
        otherModules.push({ id, method: 'ia3', tensors: keys });
      }
    }
    const counts = new Map<Method, number>();
    for (const m of otherModules) counts.set(m.method, (counts.get(m.method) ?? 0) + 1);
    let method: Method = base.modules.length ? 'locon' : 'unknown';
    let best = base.modules.length;
    for (const [m, n] of counts) if (n > best) { method = m; best = n; }
    const algo = algoFromMetadata(ctx.metadata.ss_network_args);
    if (algo && counts.size + (base.modules.length ? 1 : 0) > 1) {
      base.findings.push({ severity: 'info', code: 'LYCORIS_MIXED', message: `layers of more than one kind (${[...counts.keys()].join(', ')}${base.modules.length ? ', locon' : ''}); method set to the majority, ${method}` });
    }
    base.findings.push({ severity: 'info', code: 'LYCORIS_METHOD',
      message: `LyCORIS ${method}${algo ? ` (ss_network_args algo=${algo})` : ''}: ${otherModules.length} non-LoRA layers, ${base.modules.length} LoRA-shaped layers; a DSiRe estimate needs a reference set of the same method` });
    const { groups: _groups, ...result } = base;
    return { ...result, family: 'lycoris', method, otherModules };
  },
};

/** LoKr: W1 (out1×in1) ⊗ W2 (out2×in2) → out1·out2 × in1·in2; the rank is the inner dimension of the factored halves. */
function lokrShape(parts: Map<string, TensorRef>): Pick<OtherModule, 'rank' | 'inFeatures' | 'outFeatures'> {
  const half = (w: string): { out: number; in: number; rank?: number } | null => {
    const full = parts.get(w);
    if (full) return { out: full.shape[0], in: full.shape.slice(1).reduce((x, y) => x * y, 1) };
    const a = parts.get(`${w}_a`);
    const b = parts.get(`${w}_b`);
    if (!a || !b) return null;
    return { out: a.shape[0], in: b.shape.slice(1).reduce((x, y) => x * y, 1), rank: a.shape[1] };
  };
  const w1 = half('lokr_w1');
  const w2 = half('lokr_w2');
  const out: Pick<OtherModule, 'rank' | 'inFeatures' | 'outFeatures'> = {};
  const rank = w2?.rank ?? w1?.rank;
  if (rank !== undefined) out.rank = rank;
  if (w1 && w2) {
    out.outFeatures = w1.out * w2.out;
    out.inFeatures = w1.in * w2.in;
  }
  return out;
}

function algoFromMetadata(args: string | undefined): string | undefined {
  if (!args) return undefined;
  try {
    const a = JSON.parse(args) as { algo?: unknown };
    return typeof a.algo === 'string' ? a.algo : undefined;
  } catch {
    return undefined;
  }
}
