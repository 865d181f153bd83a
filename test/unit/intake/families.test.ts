// Family details the real fixtures do not cover, on files built here: DoRA, rsLoRA with rank/alpha
// patterns, other PEFT methods, kohya SDXL + conv + metadata hash, LyCORIS LoHa and Tucker LoCon.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAdapter } from '../../../main/intake/open.ts';
import { kohyaKey } from '../../../main/intake/naming.ts';
import { encodeSafetensors, type TensorToWrite } from '../../../main/intake/safetensors-writer.ts';
import type { CanonicalAdapter } from '../../../main/intake/model.ts';

let dir: string;
let n = 0;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'intake-fam-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const t = (key: string, shape: number[], fill = 0.01): TensorToWrite =>
  ({ key, dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) });

async function open(tensors: TensorToWrite[], opts: { metadata?: Record<string, string>; config?: object } = {}): Promise<CanonicalAdapter> {
  const sub = join(dir, `case${n++}`);
  mkdirSync(sub);
  const file = join(sub, 'adapter_model.safetensors');
  writeFileSync(file, encodeSafetensors(tensors, opts.metadata));
  if (opts.config) writeFileSync(join(sub, 'adapter_config.json'), JSON.stringify(opts.config));
  const a = await openAdapter(file);
  await a.source.close();
  return a;
}

const P = 'base_model.model.model.layers.0.self_attn';

describe('PEFT', () => {
  it('DoRA: magnitude vectors travel with their modules and set the method', async () => {
    const a = await open([t(`${P}.q_proj.lora_A.weight`, [4, 16]), t(`${P}.q_proj.lora_B.weight`, [16, 4]), t(`${P}.q_proj.lora_magnitude_vector`, [16])],
      { config: { peft_type: 'LORA', r: 4, lora_alpha: 8, use_dora: true } });
    expect(a.method).toBe('dora');
    expect(a.modules[0].magnitude?.key).toBe(`${P}.q_proj.lora_magnitude_vector`);
    expect(a.modules[0].scale).toBe(2);
  });

  it('rsLoRA scale α/√r with rank_pattern and alpha_pattern overrides', async () => {
    const a = await open([
      t(`${P}.q_proj.lora_A.weight`, [4, 16]), t(`${P}.q_proj.lora_B.weight`, [16, 4]),
      t(`${P}.k_proj.lora_A.weight`, [8, 16]), t(`${P}.k_proj.lora_B.weight`, [16, 8]),
      t(`${P}.v_proj.lora_A.weight`, [8, 16]), t(`${P}.v_proj.lora_B.weight`, [16, 8]),
    ], { config: { peft_type: 'LORA', r: 8, lora_alpha: 16, use_rslora: true, rank_pattern: { q_proj: 4 }, alpha_pattern: { v_proj: 32 } } });
    const by = Object.fromEntries(a.modules.map((m) => [m.id.split('.').pop(), m]));
    expect(by.q_proj).toMatchObject({ rank: 4, scale: 16 / 2, scaleRule: 'alpha/sqrt(r)', alpha: 16 });
    expect(by.k_proj).toMatchObject({ rank: 8, scale: 16 / Math.sqrt(8) });
    expect(by.v_proj).toMatchObject({ rank: 8, scale: 32 / Math.sqrt(8), alpha: 32 });
    expect(a.findings.map((f) => f.code)).not.toContain('CONFIG_RANK_MISMATCH');
    expect(a.ranks).toEqual([4, 8]);
  });

  it('without a config: scale 1 and a finding saying so', async () => {
    const sub = join(dir, 'noconfig');
    mkdirSync(sub);
    const file = join(sub, 'weights.safetensors');
    writeFileSync(file, encodeSafetensors([t(`${P}.q_proj.lora_A.weight`, [2, 8]), t(`${P}.q_proj.lora_B.weight`, [8, 2])]));
    const a = await openAdapter(file);
    await a.source.close();
    expect(a.modules[0]).toMatchObject({ scale: 1, scaleRule: 'one' });
    expect(a.findings.map((f) => f.code)).toContain('NO_CONFIG');
  });

  it.each([
    ['adalora', { peft_type: 'ADALORA', r: 4, lora_alpha: 8 }, [t(`${P}.q_proj.lora_A`, [4, 16]), t(`${P}.q_proj.lora_B`, [16, 4]), t(`${P}.q_proj.lora_E`, [4, 1])]],
    ['vera', { peft_type: 'VERA', r: 4 }, [t(`${P}.q_proj.vera_lambda_b`, [16]), t(`${P}.q_proj.vera_lambda_d`, [4])]],
    ['ia3', { peft_type: 'IA3' }, [t(`${P}.k_proj.ia3_l`, [16, 1])]],
    ['fourierft', { peft_type: 'FOURIERFT' }, [t(`${P}.q_proj.fourierft_spectrum`, [100])]],
    ['boft', { peft_type: 'BOFT' }, [t(`${P}.q_proj.boft_R`, [1, 4, 2, 2]), t(`${P}.q_proj.boft_s`, [16, 1])]],
  ] as const)('recognises %s and describes it without A/B modules', async (method, config, tensors) => {
    const a = await open([...tensors], { config });
    expect(a.method).toBe(method);
    expect(a.modules).toEqual([]);
    expect(a.otherModules?.[0]).toMatchObject({ method, id: expect.stringContaining('model.layers.0.self_attn') });
    expect(a.findings.map((f) => f.code)).toContain('PEFT_METHOD');
  });
});

describe('kohya', () => {
  const UNET_K = 'unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k';
  const CONV = 'unet.down_blocks.1.resnets.0.conv1';

  it('SDXL text encoders, conv LoRA, alpha scale, image count and a tampered data hash', async () => {
    const tensors = [
      t(kohyaKey(UNET_K, 'A'), [8, 2048]), t(kohyaKey(UNET_K, 'B'), [640, 8]), { ...t(kohyaKey(UNET_K, 'alpha'), []), data: [4] },
      t(kohyaKey(CONV, 'A'), [8, 320, 3, 3]), t(kohyaKey(CONV, 'B'), [640, 8, 1, 1]), { ...t(kohyaKey(CONV, 'alpha'), []), data: [0] },
      t('lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight', [8, 768]),
      t('lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight', [768, 8]),
      t('lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight', [8, 1280]),
      t('lora_te2_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight', [1280, 8]),
      t('lora_unet_down_blocks_1_attentions_0_proj_in.lora_down.weight', [8, 640]),
    ];
    const a = await open(tensors, { metadata: {
      ss_network_module: 'networks.lora', ss_network_dim: '8', ss_network_alpha: '4', ss_num_train_images: '250',
      ss_dataset_dirs: JSON.stringify({ '10_cat': { n_repeats: 10, img_count: 20 }, '5_dog': { n_repeats: 5, img_count: 10 } }),
      sshs_model_hash: '0'.repeat(64),
    } });
    expect(a).toMatchObject({ family: 'kohya', method: 'lora', baseModel: 'sdxl', ranks: [8] });
    const by = new Map(a.modules.map((m) => [m.id, m]));
    expect(by.get(UNET_K)).toMatchObject({ scale: 0.5, alpha: 4, inFeatures: 2048 });
    expect(by.get(CONV)).toMatchObject({ kind: 'conv', kernel: [3, 3], inFeatures: 2880, outFeatures: 640, scale: 1 });
    expect(by.has('text_encoder.text_model.encoder.layers.0.self_attn.q_proj')).toBe(true);
    expect(by.has('text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj')).toBe(true);
    expect(a.metadata.claimedTrainingImages).toBe(30);
    expect(a.metadata.kohya).toMatchObject({ numTrainImagesWithRepeats: 250, realImageCount: 30, networkDim: 8, networkAlpha: 4 });
    expect(a.metadata.kohya?.sshsModelHash?.matches).toBe(false);
    const codes = a.findings.map((f) => f.code);
    expect(codes).toContain('METADATA_HASH_MISMATCH');
    expect(codes).toContain('HALF_MODULE');
  });
});

describe('LyCORIS', () => {
  const ID = 'unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q';

  it('LoHa layers are described with their rank and widths, and set the method', async () => {
    const k = kohyaKey(ID, 'A').replace('.lora_down.weight', '');
    const a = await open([t(`${k}.hada_w1_a`, [1280, 4]), t(`${k}.hada_w1_b`, [4, 1280]), t(`${k}.hada_w2_a`, [1280, 4]), t(`${k}.hada_w2_b`, [4, 1280]), { ...t(`${k}.alpha`, []), data: [4] }],
      { metadata: { ss_network_module: 'lycoris.kohya', ss_network_args: '{"algo": "loha"}' } });
    expect(a).toMatchObject({ family: 'lycoris', method: 'loha', modules: [], ranks: [4] });
    expect(a.otherModules).toEqual([expect.objectContaining({ id: ID, method: 'loha', rank: 4, inFeatures: 1280, outFeatures: 1280 })]);
  });

  it('LoCon with a Tucker core (lora_mid) is described, not analysed as B·A', async () => {
    const conv = 'unet.down_blocks.0.resnets.0.conv1';
    const k = kohyaKey(conv, 'A').replace('.lora_down.weight', '');
    const a = await open([t(`${k}.lora_down.weight`, [4, 320, 1, 1]), t(`${k}.lora_mid.weight`, [4, 4, 3, 3]), t(`${k}.lora_up.weight`, [320, 4, 1, 1]),
      t(kohyaKey(ID, 'A'), [4, 1280]), t(kohyaKey(ID, 'B'), [1280, 4])], { metadata: { ss_network_module: 'lycoris.kohya' } });
    expect(a.family).toBe('lycoris');
    expect(a.modules.map((m) => m.id)).toEqual([ID]);
    expect(a.otherModules).toEqual([expect.objectContaining({ id: conv, method: 'locon', rank: 4, inFeatures: 2880 })]);
  });
});

describe('base-model hint from widths and structure', () => {
  const pair = (id: string, inF: number, outF: number): TensorToWrite[] =>
    [t(`${id}.lora.down.weight`, [2, inF]), t(`${id}.lora.up.weight`, [outF, 2])];
  it.each([
    ['sd1 (attn2.to_k reads 768)', pair('unet.up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k', 768, 1280), 'sd1'],
    ['sd2 (attn2.to_k reads 1024)', pair('unet.up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k', 1024, 1280), 'sd2'],
    ['sdxl (attn2.to_k reads 2048)', pair('unet.down_blocks.2.attentions.0.transformer_blocks.3.attn2.to_k', 2048, 1280), 'sdxl'],
    ['sdxl (attn1 only, but transformer_blocks.5 exists only in SDXL)', pair('unet.mid_block.attentions.0.transformer_blocks.5.attn1.to_q', 1280, 1280), 'sdxl'],
    ['flux (single blocks)', pair('transformer.single_transformer_blocks.0.attn.to_q', 3072, 3072), 'flux'],
    ['sd3 (MMDiT 1536)', pair('transformer.transformer_blocks.0.attn.to_q', 1536, 1536), 'sd3'],
    ['sd2 text encoder only (1024)', pair('text_encoder.text_model.encoder.layers.0.self_attn.q_proj', 1024, 1024), 'sd2'],
  ] as const)('%s', async (_name, tensors, base) => {
    const a = await open([...tensors]);
    expect(a.baseModel).toBe(base);
  });
});

describe('kohya legacy hash', () => {
  it('a changed byte in the 1 MiB window breaks sshs_legacy_hash (a note, not an alarm)', async () => {
    const id = 'unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q';
    const big = { key: kohyaKey(id, 'A'), dtype: 'F32' as const, shape: [256, 1280], data: Float32Array.from({ length: 256 * 1280 }, (_, i) => Math.sin(i)) };
    const up = { key: kohyaKey(id, 'B'), dtype: 'F32' as const, shape: [1280, 256], data: new Float32Array(1280 * 256).fill(0.5) };
    const a = await open([big, up], { metadata: { ss_network_dim: '256', sshs_legacy_hash: 'deadbeef' } });
    expect(a.metadata.kohya?.sshsLegacyHash).toMatchObject({ stated: 'deadbeef', matches: false });
    expect(a.findings).toContainEqual(expect.objectContaining({ code: 'METADATA_LEGACY_HASH_MISMATCH', severity: 'info' }));
  });
});
