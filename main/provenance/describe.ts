// A match in the words an examiner reads: what kind, where the other adapter is (case and evidence, or
// reference set, name and size), on how many modules, on what basis, and what differs (layout, dtype,
// factorisation). Names come from files, case titles and reference sets: untrusted text, escaped and
// cut (intake/disclosure.ts `visible`) before it enters a sentence.
import { visible } from '../intake/disclosure.ts';
import type { NearCalibration } from './calibration.ts';
import type { Comparison } from './match.ts';
import type { Describe } from './store.ts';

export type MatchKind = 'identical-file' | 'same-update' | 'rescaled' | 'subset' | 'near';

export type Where =
  | { source: 'evidence'; caseId: string; caseTitle: string; evidenceId: string; fileName: string }
  | { source: 'reference'; set: string; adapterId: number; name: string; label: number; file: string };

export interface ProvenanceMatch {
  kind: MatchKind;
  where: Where;
  /** Modules the match holds on, and the informative modules of each side. */
  modules: { matched: number; query: number; stored: number };
  /** What decided it: the files' bytes, ΔW through the probe sketches (both sides' factors), or σ(ΔW)
   *  only (a reference adapter's factors are not stored). */
  basis: 'sha256' | 'probe-sketches' | 'sigma';
  /** rescaled: ΔW(this file) = factor × ΔW(the other). */
  factor?: number;
  /** near: the σ(ΔW) distance and the calibrated threshold it is below. */
  distance?: number;
  threshold?: number;
  detail: string;
}

const SHOWN = 120;
const text = (s: string) => visible(s, SHOWN).text;

export function whereText(w: Where): string {
  return w.source === 'evidence'
    ? `\`${text(w.fileName)}\` in case *${text(w.caseTitle)}* (evidence ${w.evidenceId.slice(0, 8)})`
    : `\`${text(w.name)}\` (size ${w.label}) of reference set *${text(w.set)}*`;
}

const LAYOUT: Record<string, string> = {
  'diffusers-attnproc': 'diffusers (attention processor)', 'diffusers-lora': 'diffusers', 'diffusers-peft': 'diffusers (PEFT keys)',
  peft: 'PEFT', kohya: 'kohya', 'lora-diffusion': 'lora_diffusion', lycoris: 'LyCORIS', 'pytorch-pickle': 'PyTorch pickle',
};
const layoutName = (family: string) => LAYOUT[family] ?? text(family);

interface MatchInput {
  kind: MatchKind;
  where: Where;
  query: { describe: Describe; fp: { modules: unknown[] } | null };
  stored: Describe;
  sha256?: string;
  comparison?: Comparison;
  distance?: number;
  near?: NearCalibration;
}

export function describeMatch(m: MatchInput): ProvenanceMatch {
  const w = whereText(m.where);
  const queryModules = m.query.fp?.modules.length ?? 0;
  if (m.kind === 'identical-file') {
    return { kind: m.kind, where: m.where, basis: 'sha256', modules: { matched: queryModules, query: queryModules, stored: queryModules },
      detail: `identical file (SHA-256 ${m.sha256!.slice(0, 16)}…) to ${w}` };
  }
  if (m.kind === 'near') {
    const n = m.near!;
    return { kind: m.kind, where: m.where, basis: 'sigma', modules: { matched: queryModules, query: queryModules, stored: queryModules },
      distance: m.distance!, threshold: n.threshold!,
      detail: `σ(ΔW) within ${pct(m.distance!)} of ${w}, below the near threshold ${pct(n.threshold!)}: ${nearCalibrationText(n)}; ` +
        'related, not shown to be the same update' };
  }
  const c = m.comparison!;
  const sigmaOnly = c.basis === 'sigma';
  const modules = { matched: c.equal, query: c.queryModules, stored: c.storedModules };
  const how = [...changes(m.query.describe, m.stored, c)];
  const tail = (how.length ? `, ${how.join(', ')}` : '') + (sigmaOnly ? '; factors not stored, so decided on σ(ΔW) only' : '');
  const base = { kind: m.kind, where: m.where, basis: c.basis, modules };
  if (m.kind === 'same-update') {
    return { ...base, detail: sigmaOnly
      ? `same update as ${w}: σ(ΔW) identical on all ${c.equal} modules${tail}`
      : `same update as ${w}: B(A·x) equal on all ${c.equal} modules${tail}` };
  }
  if (m.kind === 'rescaled') {
    return { ...base, factor: c.factor!, detail: `rescaled copy of ${w}: ${sigmaOnly ? 'σ(ΔW)' : 'ΔW'} = ${factorText(c.factor!)} × its own on all ${c.equal} modules` +
      `${c.relation === 'same-modules' ? '' : ` they share (this file ${c.queryModules}, it ${c.storedModules})`}${tail}` };
  }
  const subset = c.relation === 'query-within'
    ? `same update as ${w} on all ${c.equal} of this file's modules; it has ${c.storedModules}: this file is a pruned copy of it (or it was merged from this file)`
    : c.relation === 'stored-within'
      ? `same update as ${w} on all ${c.equal} of its modules; this file has ${c.queryModules}: this file was merged from it (or it is a pruned copy of this file)`
      : `same update as ${w} on ${c.equal} of the ${c.compared} modules both hold (this file ${c.queryModules}, it ${c.storedModules})`;
  return { ...base, detail: subset + tail };
}

function* changes(query: Describe, stored: Describe, c: Comparison): Generator<string> {
  if (c.basis === 'sigma') return; // a reference set's layout and dtype are its own, not a conversion of this file
  if (query.family !== stored.family) yield `converted from ${layoutName(stored.family)} to ${layoutName(query.family)} layout`;
  const q = [...query.dtypes].sort().join('/');
  const s = [...stored.dtypes].sort().join('/');
  if (q && s && q !== s) yield `stored as ${text(q)} (it: ${text(s)})`;
  if (c.refactorised) yield 'with other factors A, B for the same s·B·A';
}

function pct(x: number): string {
  return `${+(100 * x).toPrecision(2)}%`;
}

/** How the near threshold was calibrated, in one clause. */
export function nearCalibrationText(n: NearCalibration): string {
  const pairs = n.sets.reduce((s, x) => s + x.pairs, 0);
  const medians = n.sets.map((x) => x.median);
  const lo = Math.min(...medians);
  const hi = Math.max(...medians);
  const where = n.sets.length === 1 ? `reference set *${text(n.sets[0].set)}*` : `${n.sets.length} reference sets`;
  return `${n.fraction === 0.5 ? 'half' : `${n.fraction} ×`} the smallest σ(ΔW) distance between two sizes of one image set in ${where} ` +
    `(${pairs} pairs, median ${lo === hi ? pct(lo) : `${pct(lo)}–${pct(hi)}`})`;
}

function factorText(f: number): string {
  return String(+f.toPrecision(4));
}
