// Examiner overrides (issue 18): every refusal reason is soft (a judgement call) or hard; the training tool
// is judged from the file's evidence, not its layout alone; an override compares despite soft reasons only,
// and its justification is checked the same way for every host.
import { describe, expect, it } from 'vitest';
import { analyze } from '../../../main/dsire/analyze.ts';
import { checkApplicability, overridable } from '../../../main/dsire/applicability.ts';
import { describeAdapter } from '../../../main/dsire/describe.ts';
import { trainingTool } from '../../../main/dsire/tool.ts';
import type { AdapterDescriptor } from '../../../main/dsire/types.ts';
import { checkJustification, JUSTIFICATION_MAX } from '../../../main/analysis/override.ts';
import { openAdapter } from '../../../main/intake/open.ts';
import { AuditError } from '../../../main/errors.ts';
import { haveRealAdapters, realAdapter, repoRoot } from '../../fixtures.ts';
import { join } from 'node:path';
import { descriptorFor, holdOut, queryOf, syntheticReference } from './synthetic.ts';

const { ref, queries } = holdOut(syntheticReference({ names: 12, modules: 8, rank: 8 }), 1);
const base = descriptorFor(ref.config);
const kohyaByMetadata = { tool: "kohya's sd-scripts", basis: 'metadata' as const, evidence: 'ss_* training metadata (11 keys, ss_network_module networks.lora)' };

function kinds(desc: AdapterDescriptor): Record<string, string> {
  const a = checkApplicability(desc, ref.config);
  expect(a.reasons).toEqual(a.refusals.map((r) => r.text));
  return Object.fromEntries(a.refusals.map((r) => [r.code, r.kind]));
}

describe('refusal kinds', () => {
  it('calls the tool and a base model unknown on one side soft, everything else hard', () => {
    expect(kinds({ ...base, family: 'kohya', tool: kohyaByMetadata })).toEqual({ TOOL: 'soft' });
    expect(kinds({ ...base, baseModel: 'unknown' })).toEqual({ BASE_MODEL_UNKNOWN: 'soft' });
    expect(kinds({ ...base, ranks: [16] })).toEqual({ RANK: 'hard' });
    expect(kinds({ ...base, scale: 0.5, scales: [0.5], scaleRule: 'alpha/r' })).toEqual({ SCALE: 'hard' });
    expect(kinds({ ...base, method: 'dora' })).toEqual({ METHOD: 'hard' });
    expect(kinds({ ...base, baseModel: 'sd2' })).toEqual({ BASE_MODEL: 'hard' });
    expect(kinds({ ...base, modules: base.modules.slice(1) })).toEqual({ MODULES_MISSING: 'hard' });
    expect(kinds({ ...base, modules: base.modules.map((m, i) => (i === 0 ? { ...m, outFeatures: m.outFeatures + 1 } : m)) })).toEqual({ MODULE_SHAPES: 'hard' });
    expect(kinds({ ...base, family: 'kohya', ranks: [4] })).toEqual({ TOOL: 'soft', RANK: 'hard' });
    expect(overridable(checkApplicability({ ...base, family: 'kohya', ranks: [4] }, ref.config).refusals)).toMatchObject({ allowed: false, hard: [{ code: 'RANK' }], soft: [{ code: 'TOOL' }] });
    expect(overridable([]).allowed).toBe(false);
  });

  it('says whether the tool comes from training metadata or from the layout alone', () => {
    const byMetadata = checkApplicability({ ...base, family: 'kohya', tool: kohyaByMetadata }, ref.config).reasons[0];
    expect(byMetadata).toMatch(/^This adapter was produced by kohya's sd-scripts \(evidence: its ss_\* training metadata \(11 keys, ss_network_module networks\.lora\)\); the reference adapters by Hugging Face diffusers\/PEFT\./);
    const byLayout = checkApplicability({ ...base, family: 'kohya', tool: { tool: "kohya's sd-scripts", basis: 'layout', evidence: '' } }, ref.config).reasons[0];
    expect(byLayout).toMatch(/^This adapter has the layout of kohya's sd-scripts and no training metadata \(possibly converted/);
    // diffusers layout and diffusers references: the same tool, whatever the evidence
    expect(checkApplicability({ ...base, tool: { tool: 'Hugging Face diffusers/PEFT', basis: 'layout', evidence: '' } }, ref.config).applicable).toBe(true);
    // a diffusers layout whose training metadata is kohya's: the metadata wins, and refuses (softly)
    expect(kinds({ ...base, tool: kohyaByMetadata })).toEqual({ TOOL: 'soft' });
  });
});

describe.skipIf(!haveRealAdapters)('the training tool of real files', () => {
  const cases: [string, string, 'metadata' | 'layout', RegExp][] = [
    ['demo kohya', join(repoRoot, 'assets/demo/evidence/kohya/copper_stripes-3img.safetensors'), 'metadata', /^ss_\* training metadata \(\d+ keys, ss_network_module networks\.lora\)$/],
    ['kohya-like rename without metadata', realAdapter('diffusers-sd15-loradown-plus-renamed-timohavdk/new.safetensors'), 'layout', /^layout of kohya's sd-scripts, no training metadata \(possibly converted\)$/],
    ['diffusers with lora_adapter_metadata', realAdapter('diffusers-sd15-peft-faithsang/pytorch_lora_weights.safetensors'), 'metadata', /^diffusers' lora_adapter_metadata/],
    ['PEFT with adapter_config.json', realAdapter('diffusers-sd15-peft-faithsang/adapter_model.safetensors'), 'metadata', /^PEFT config \(adapter_config\.json, peft_type LORA/],
    ['diffusers attention processors, format pt only', realAdapter('diffusers-sd15-attnproc-catundchat-animal/pytorch_lora_weights.safetensors'), 'layout', /^layout of Hugging Face diffusers\/PEFT, no training metadata/],
    ['LyCORIS LoKr trained through sd-scripts', realAdapter('lycoris-lokr-sd15-dim4-smartfalcon/smart_falcon_4_lokr.safetensors'), 'metadata', /ss_network_module lycoris\.kohya/],
    ['cloneofsimo lora_diffusion', realAdapter('cloneofsimo-lora-sd15-inpainting/lora_disney_inpainting.safetensors'), 'metadata', /per-layer rank metadata/],
  ];
  const tools: Record<string, string> = {
    'demo kohya': "kohya's sd-scripts", 'kohya-like rename without metadata': "kohya's sd-scripts", 'diffusers with lora_adapter_metadata': 'Hugging Face diffusers/PEFT',
    'PEFT with adapter_config.json': 'Hugging Face diffusers/PEFT', 'diffusers attention processors, format pt only': 'Hugging Face diffusers/PEFT',
    'LyCORIS LoKr trained through sd-scripts': 'LyCORIS', 'cloneofsimo lora_diffusion': 'cloneofsimo lora_diffusion',
  };
  for (const [name, file, basis, evidence] of cases) {
    it(name, async () => {
      const adapter = await openAdapter(file);
      try {
        const tool = trainingTool(adapter);
        expect(tool).toMatchObject({ tool: tools[name], basis });
        expect(tool.evidence).toMatch(evidence);
        expect(describeAdapter(adapter).tool).toEqual(tool);
      } finally {
        await adapter.source.close();
      }
    });
  }
});

describe('comparing despite soft reasons', () => {
  const query = (desc: AdapterDescriptor) => ({ ...queryOf(queries[0], ref), descriptor: desc });

  it('gives an estimate carrying the justification and the reasons it overrode', () => {
    const desc = { ...base, family: 'kohya' as const, tool: kohyaByMetadata };
    const refused = analyze(query(desc), ref, { mode: 'faithful' });
    expect(refused).toMatchObject({ applicable: false, estimate: null, refusals: [{ code: 'TOOL', kind: 'soft' }] });
    const plain = analyze(queryOf(queries[0], ref), ref, { mode: 'faithful' });
    const over = analyze(query(desc), ref, { mode: 'faithful', override: { justification: 'same recipe, converted' } });
    expect(over.applicable).toBe(true);
    expect(over.reasons).toEqual([]);
    expect(over.override).toEqual({ justification: 'same recipe, converted', reasonsOverridden: refused.reasons });
    // the comparison itself is the ordinary one: the soft reason changes nothing in the numbers
    expect(over.estimate).toBe(plain.estimate);
    expect(over.votes).toEqual(plain.votes);
    expect(plain.override).toBeUndefined();
  });

  it('still refuses when any reason is hard, and adds nothing to an applicable result', () => {
    const mixed = analyze(query({ ...base, family: 'kohya', ranks: [4] }), ref, { mode: 'faithful', override: { justification: 'please' } });
    expect(mixed).toMatchObject({ applicable: false, estimate: null });
    expect(mixed.override).toBeUndefined();
    expect(mixed.refusals!.map((r) => `${r.code}:${r.kind}`)).toEqual(['TOOL:soft', 'RANK:hard']);
    const fine = analyze(queryOf(queries[0], ref), ref, { mode: 'faithful', override: { justification: 'not needed' } });
    expect(fine.applicable).toBe(true);
    expect(fine.override).toBeUndefined();
  });
});

describe('the justification', () => {
  const refusedWith = (text: unknown) => {
    try { checkJustification(text); } catch (e) { expect(e).toBeInstanceOf(AuditError); return (e as AuditError).code + ': ' + (e as AuditError).message; }
    return 'accepted';
  };
  it('is required, bounded and plain text', () => {
    expect(refusedWith('')).toMatch(/^BAD_JUSTIFICATION: an override needs a justification/);
    expect(refusedWith(' \n\t ')).toMatch(/^BAD_JUSTIFICATION/);
    expect(refusedWith(undefined)).toMatch(/^BAD_JUSTIFICATION/);
    expect(refusedWith('x'.repeat(JUSTIFICATION_MAX + 1))).toMatch(/2001 characters long; at most 2000/);
    expect(refusedWith('ok\u001b[2Jhidden')).toMatch(/U\+001B/);
    expect(refusedWith('evil\u202Eright-to-left')).toMatch(/U\+202E/);
    expect(checkJustification('  Same recipe.\r\nConverted with kohya\'s script.\t<b>ok</b>  ')).toBe('Same recipe.\nConverted with kohya\'s script.\t<b>ok</b>');
    expect(checkJustification('x'.repeat(JUSTIFICATION_MAX))).toHaveLength(JUSTIFICATION_MAX);
  });
});
