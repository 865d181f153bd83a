// deriveRecipe: what each kind of evidence states becomes the recipe with its source; what it does not
// state is the trainer's default, listed as an assumption; where the tensors and the metadata disagree
// the tensors are followed, and a trainer that cannot follow the evidence says so or refuses.
import { describe, expect, it } from 'vitest';
import { deriveRecipe, parseOptimizer } from '../../../main/studies/recipe.ts';
import { isAuditError } from '../../../main/errors.ts';
import type { CanonicalAdapter, LoraModule } from '../../../main/intake/model.ts';

const ref = { key: 'k', dtype: 'F32' as const, shape: [1], offset: 0, length: 4 };

function module(id: string, rank: number, alpha: number | undefined, scaleRule: LoraModule['scaleRule'] = 'alpha/r'): LoraModule {
  return { id, kind: 'linear', rank, inFeatures: 320, outFeatures: 320, scale: alpha === undefined ? 1 : alpha / rank, scaleRule, ...(alpha !== undefined ? { alpha } : {}), dtype: 'F32', a: ref, b: ref };
}

function adapter(over: Partial<CanonicalAdapter>): CanonicalAdapter {
  return {
    identity: { file: '/evidence/x.safetensors', fileName: 'x.safetensors', size: 10, sha256: 'ab'.repeat(32) },
    family: 'kohya', method: 'lora', baseModel: 'sd1',
    modules: [module('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 16, 8), module('unet.down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2', 16, 8),
      module('text_encoder.text_model.encoder.layers.0.self_attn.q_proj', 16, 8)],
    otherTensors: [], dtypes: ['F16'], ranks: [16], metadata: { raw: {} }, findings: [],
    source: { read: async () => new Float32Array(0), close: async () => {} },
    ...over,
  };
}

function refusal(fn: () => unknown): { code: string; reason: unknown; message: string } {
  try {
    fn();
  } catch (e) {
    if (isAuditError(e)) return { code: e.code, reason: e.details?.reason, message: e.message };
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('deriveRecipe', () => {
  it('reads a full kohya recipe from ss_* metadata, each value with its key', () => {
    const raw = {
      ss_network_module: 'networks.lora', ss_network_dim: '16', ss_network_alpha: '8', ss_learning_rate: '0.0001', ss_max_train_steps: '1200',
      ss_optimizer: 'bitsandbytes.optim.adamw.AdamW8bit(weight_decay=0.1)', ss_lr_scheduler: 'cosine_with_restarts', ss_lr_warmup_steps: '50',
      ss_resolution: '(768, 768)', ss_batch_size_per_device: '2', ss_mixed_precision: 'bf16', ss_sd_model_name: 'v1-5-pruned.safetensors',
      ss_new_sd_model_hash: 'cc'.repeat(32), ss_seed: '1234',
    };
    const { recipe, assumed, warnings } = deriveRecipe(adapter({ metadata: { raw, kohya: { networkDim: 16, networkAlpha: 8, maxTrainSteps: 1200, seed: 1234, datasetDirs: [{ dir: '5_ohwx dog', imgCount: 12, repeats: 5 }] } } }), { trainer: 'kohya' });
    expect(recipe.optimizer).toEqual({ value: 'AdamW8bit', source: 'metadata: ss_optimizer' });
    expect(recipe.optimizerArgs).toEqual({ value: ['weight_decay=0.1'], source: 'metadata: ss_optimizer (its arguments)' });
    expect(recipe.lrScheduler).toEqual({ value: 'cosine_with_restarts', source: 'metadata: ss_lr_scheduler' });
    expect(recipe.lrWarmupSteps).toEqual({ value: 50, source: 'metadata: ss_lr_warmup_steps' });
    expect(recipe.resolution).toEqual({ value: 768, source: 'metadata: ss_resolution' });
    expect(recipe.batchSize).toEqual({ value: 2, source: 'metadata: ss_batch_size_per_device' });
    expect(recipe.mixedPrecision).toEqual({ value: 'bf16', source: 'metadata: ss_mixed_precision' });
    expect(recipe.baseModelHash).toEqual({ value: 'cc'.repeat(32), source: 'metadata: ss_new_sd_model_hash' });
    expect(recipe.repeats).toEqual({ value: 5, source: 'metadata: ss_dataset_dirs' });
    expect(recipe.instancePrompt.value).toBe('ohwx {subject}');
    expect(recipe.targetModules.value).toEqual(['ff.net.2', 'q_proj', 'to_q']);
    expect(recipe.trainTextEncoder).toEqual({ value: true, source: 'structure: text encoder modules present' });
    expect(assumed).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('follows the tensors where the metadata disagrees with them, and says so', () => {
    const { recipe, warnings } = deriveRecipe(adapter({ metadata: { raw: { ss_network_dim: '32', ss_network_alpha: '32' }, kohya: { networkDim: 32, networkAlpha: 32 } } }), { trainer: 'kohya', baseModel: 'sd15' });
    expect(recipe.rank).toEqual({ value: 16, source: 'structure: rank' });
    expect(recipe.alpha).toEqual({ value: 8, source: 'structure: alpha tensors' });
    expect(warnings).toEqual([
      'the metadata states rank 32 but the tensors have rank 16; the tensors are followed',
      'the metadata states alpha 32 but the tensors store alpha 8; the tensors are followed',
    ]);
  });

  it('takes a PEFT config\'s r and lora_alpha, and its base model', () => {
    const mods = [module('unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k', 8, 16, 'alpha/r')];
    const { recipe } = deriveRecipe(adapter({ family: 'peft', modules: mods, ranks: [8], metadata: { raw: {}, peft: { r: 8, loraAlpha: 16, baseModelNameOrPath: 'stabilityai/stable-diffusion-2-1' } } }), { trainer: 'kohya' });
    expect(recipe.rank).toEqual({ value: 8, source: 'config: r' });
    expect(recipe.alpha).toEqual({ value: 16, source: 'config: lora_alpha' });
    expect(recipe.baseModel).toEqual({ value: 'stabilityai/stable-diffusion-2-1', source: 'config: base_model_name_or_path' });
    expect(recipe.tool.value).toBe('peft');
  });

  it('refuses what a trainer cannot train, with the reason', () => {
    const alpha8 = adapter({ metadata: { raw: { ss_sd_model_name: 'sd15' } } });
    expect(refusal(() => deriveRecipe(alpha8, { trainer: 'diffusers' }))).toEqual({
      code: 'BAD_REQUEST', reason: 'TRAINER_CANNOT_FOLLOW',
      message: 'the diffusers trainer cannot follow this evidence: train_dreambooth_lora.py fixes alpha = rank (16) and the evidence has alpha 8; use --trainer kohya',
    });
    expect(refusal(() => deriveRecipe(adapter({ method: 'dora', metadata: { raw: { ss_sd_model_name: 'sd15' } } }), { trainer: 'kohya' })).message)
      .toBe('the kohya trainer cannot follow this evidence: its method is dora, and study plans train plain LoRA');
    expect(refusal(() => deriveRecipe(adapter({ modules: [], metadata: { raw: { ss_sd_model_name: 'sd15' } } }), { trainer: 'kohya' })).code).toBe('NO_MODULES');
  });

  it('takes no base model the file names as a path or URL: the examiner names one with --base-model', () => {
    for (const name of ['/etc/evil.ckpt', '~/models/x.ckpt', '../../outside.ckpt', 'models/../../x', 'C:\\x.ckpt', 'https://evil.example/x.ckpt', 'file:///x']) {
      const a = adapter({ metadata: { raw: { ss_sd_model_name: name } } });
      expect(refusal(() => deriveRecipe(a, { trainer: 'kohya' }))).toEqual({
        code: 'BAD_REQUEST', reason: 'NO_BASE_MODEL',
        message: '/evidence/x.safetensors: the evidence names its base model as a path or URL (structure says sd1); pass --base-model <checkpoint path or hub id> for the kohya trainer to load',
      });
      expect(deriveRecipe(a, { trainer: 'kohya', baseModel: 'sd15.safetensors' }).recipe.baseModel).toEqual({ value: 'sd15.safetensors', source: 'examiner: --base-model' });
    }
    // a hub id and a bare file name are names, not places
    for (const name of ['runwayml/stable-diffusion-v1-5', 'v1-5-pruned.safetensors']) {
      expect(deriveRecipe(adapter({ metadata: { raw: { ss_sd_model_name: name } } }), { trainer: 'kohya' }).recipe.baseModel.value).toBe(name);
    }
  });

  it('refuses a --set of a field read off the evidence, of an unknown field, and of a bad value', () => {
    const a = adapter({ metadata: { raw: { ss_sd_model_name: 'sd15' } } });
    expect(refusal(() => deriveRecipe(a, { trainer: 'kohya', set: { rank: '0' } })).message).toBe('--set rank=0: at least 1');
    expect(refusal(() => deriveRecipe(a, { trainer: 'kohya', set: { method: 'lora' } })).message).toBe('--set method: read off the evidence, not a training choice');
    expect(refusal(() => deriveRecipe(a, { trainer: 'kohya', set: { ['nope' as 'rank']: '1' } })).message).toMatch(/^--set nope: no such recipe field/);
    expect(refusal(() => deriveRecipe(a, { trainer: 'kohya', set: { optimizer: 'Adam\nW' } })).message).toBe('--set optimizer=Adam\nW: 1–200 printable characters');
  });

  it('reads kohya\'s ss_optimizer text into an --optimizer_type name and its arguments, and nothing from junk', () => {
    expect(parseOptimizer('torch.optim.adamw.AdamW')).toEqual({ name: 'AdamW', args: [] });
    expect(parseOptimizer('transformers.optimization.Adafactor(scale_parameter=False,relative_step=False)')).toEqual({ name: 'AdaFactor', args: ['scale_parameter=False', 'relative_step=False'] });
    expect(parseOptimizer('prodigyopt.prodigy.Prodigy(decouple=True,weight_decay=0.01,betas=0.9,0.99)'))
      .toEqual({ name: 'prodigyopt.prodigy.Prodigy', args: ['decouple=True', 'weight_decay=0.01', 'betas=0.9,0.99'] });
    expect(parseOptimizer('$(rm -rf /)')).toBeUndefined();
    expect(parseOptimizer('torch.optim.AdamW(x=__import__("os"))')).toBeUndefined();
    expect(parseOptimizer('Mystery')).toBeUndefined();
  });
});
