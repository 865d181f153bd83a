// Every real adapter in ../shared/fixtures/real-adapters/ reads with the facts its MANIFEST.md states,
// or is refused with the right typed error.
import { afterAll, describe, expect, it } from 'vitest';
import { isAuditError } from '../../../main/errors.ts';
import { loadModuleWeights, openAdapter } from '../../../main/intake/open.ts';
import { inspectFile } from '../../../main/intake/inspect.ts';
import type { CanonicalAdapter } from '../../../main/intake/model.ts';
import { haveRealAdapters, realAdapter } from '../../fixtures.ts';

const at = realAdapter;

interface Expect { file: string; family: string; method: string; rank: number; modules: number; dtype: string[]; base: string; sha256: string; scale?: number }

// From MANIFEST.md (family naming is ours; the facts are the manifest's).
const TABLE: Expect[] = [
  { file: 'diffusers-sd15-attnproc-catundchat-animal/pytorch_lora_weights.safetensors', family: 'diffusers-attnproc', method: 'lora', rank: 4, modules: 128, dtype: ['F32'], base: 'sd1', sha256: 'fb286c8e569d6a07401bd5599d3d1a64126c0b240d2d1d00174602a967e59c9b', scale: 1 },
  { file: 'diffusers-sd15-attnproc-pickle-catundchat-axe/pytorch_lora_weights.bin', family: 'diffusers-attnproc', method: 'lora', rank: 4, modules: 128, dtype: ['F32'], base: 'sd1', sha256: '7e4a28fb8e358b5384c2a4a7fe498d1547032abecb72482132725327612ca61a', scale: 1 },
  { file: 'diffusers-sd21-loradown-justinjiang/pytorch_lora_weights.safetensors', family: 'diffusers-lora', method: 'lora', rank: 4, modules: 128, dtype: ['F32'], base: 'sd2', sha256: 'dbbeae93c5a777bda88c1cf813e0c253e2791500c4d821e5739f01fb9e7e5973', scale: 1 },
  { file: 'diffusers-sd21base-loradown-bf16-vfph55/pytorch_lora_weights.safetensors', family: 'diffusers-lora', method: 'lora', rank: 4, modules: 128, dtype: ['BF16'], base: 'sd2', sha256: '2aecf92c3ac37d80aa4fac5f1d8bc90e74207e69f4b8369715f169c3d810c224', scale: 1 },
  { file: 'diffusers-sd15-peft-faithsang/pytorch_lora_weights.safetensors', family: 'diffusers-peft', method: 'lora', rank: 4, modules: 96, dtype: ['F32'], base: 'sd1', sha256: 'e6062255b3899053c0c2e765ecce5d0552d6a805dc60e8cb3697ee992a2f4b71', scale: 4 },
  { file: 'diffusers-sd15-peft-faithsang/adapter_model.safetensors', family: 'peft', method: 'lora', rank: 4, modules: 96, dtype: ['F32'], base: 'sd1', sha256: 'ca9824eb8fcb9b8f1b65f4b90b43d82517e6b1ebd86543c3c6e7d330dfd9e545', scale: 4 },
  { file: 'diffusers-sd15-loradown-plus-renamed-timohavdk/2100-lora.safetensors', family: 'diffusers-lora', method: 'lora', rank: 4, modules: 128, dtype: ['F32'], base: 'sd1', sha256: 'c70c7969b2d0de46bdec71f95351cfc838e635ea3f030f28eca6d99dfc36262d', scale: 1 },
  { file: 'diffusers-sd15-loradown-plus-renamed-timohavdk/new.safetensors', family: 'kohya', method: 'lora', rank: 4, modules: 128, dtype: ['F32'], base: 'sd1', sha256: 'f068a508d2b636f1d96ceb477c41cd2dc66f64152aa2a90711eb4ef3f5c76d9f', scale: 1 },
  { file: 'cloneofsimo-lora-sd15-inpainting/lora_disney_inpainting.safetensors', family: 'lora-diffusion', method: 'lora', rank: 1, modules: 192, dtype: ['F16', 'F32'], base: 'sd1', sha256: '1c3163b78c4a0eb0e3fed5c75e298c7bef93268685105cd5d678c68347a09839', scale: 1 },
  { file: 'lycoris-lokr-sd15-dim4-smartfalcon/smart_falcon_4_lokr.safetensors', family: 'lycoris', method: 'lokr', rank: 4, modules: 350, dtype: ['F16'], base: 'sd1', sha256: '86c94ad35cf53921f26c7888f018324753813189f5baf504aff03f31c5bbf734' },
  { file: 'lycoris-lokr-sd15-dim16-smartfalcon/smart_falcon_16_lokr.safetensors', family: 'lycoris', method: 'lokr', rank: 16, modules: 350, dtype: ['F16'], base: 'sd1', sha256: '9acf2739577f652395eae74c9a152395d17aa4a6347bc6edd54da46376db24aa' },
  { file: 'peft-gpt2-seqcls-anirudh/adapter_model.safetensors', family: 'peft', method: 'lora', rank: 8, modules: 12, dtype: ['F32'], base: 'transformer', sha256: '658bf57ed30d22120177cda107e513c0712db1b4324528cc4f65cdf562248e3e', scale: 1 },
  { file: 'peft-gpt2-causallm-tigrinya/adapter_model.safetensors', family: 'peft', method: 'lora', rank: 8, modules: 36, dtype: ['F32'], base: 'transformer', sha256: '130792c9a7496b3758e7a1e049ca51698a5776e59e1fc2911ff6c9d8ebd3fa05', scale: 4 },
  { file: 'peft-distilbert-seqcls-dayanidhi/adapter_model.safetensors', family: 'peft', method: 'lora', rank: 8, modules: 12, dtype: ['F32'], base: 'transformer', sha256: 'bc77a4203f29356efecb1e0f4c30072145adfd8b959a4ce1c5cbac7c1e796011', scale: 2 },
  { file: 'peft-bert-seqcls-haresh/adapter_model.safetensors', family: 'peft', method: 'lora', rank: 8, modules: 24, dtype: ['F32'], base: 'transformer', sha256: '19cd2ab6ca11de8c7cd9b25d44f2fbb793a418acadbf5bd7f76a160999fd473d', scale: 4 },
  { file: 'peft-t5small-seq2seq-nasif/adapter_model.safetensors', family: 'peft', method: 'lora', rank: 8, modules: 36, dtype: ['F32'], base: 'transformer', sha256: 'c928a73345dc6a71ff35ee65862c5907d7a977d3ed965acf4ac249a66af2c948', scale: 4 },
  { file: 'peft-gpt2-pickle-thesotti/adapter_model.bin', family: 'peft', method: 'lora', rank: 8, modules: 24, dtype: ['F32'], base: 'transformer', sha256: 'cef87a9c316f2672b9adc1f9bc9eb11aa64ebbfdaaf25917b25df67a987fe770', scale: 4 },
];

const opened: CanonicalAdapter[] = [];
async function openKept(file: string): Promise<CanonicalAdapter> {
  const a = await openAdapter(at(file));
  opened.push(a);
  return a;
}
afterAll(async () => { for (const a of opened) await a.source.close(); });

describe.skipIf(!haveRealAdapters)('real adapters from MANIFEST.md', () => {
  it.each(TABLE)('$file', async (e) => {
    const r = await inspectFile(at(e.file));
    expect(r.error).toBeNull();
    expect(r.sha256).toBe(e.sha256);
    expect(r.family).toBe(e.family);
    expect(r.method).toBe(e.method);
    expect(r.ranks).toEqual([e.rank]);
    expect(r.modules).toBe(e.modules);
    expect(r.dtype).toEqual(e.dtype);
    expect(r.baseModel).toBe(e.base);
    if (e.scale !== undefined) expect(r.scale.values).toEqual([e.scale]);
    expect(r.findings.filter((f) => f.code === 'NAN_VALUES' || f.code === 'INF_VALUES')).toEqual([]);
  });

  it('refuses the truncated SDXL file, saying how many bytes are missing', async () => {
    const file = at('diffusers-sdxl-attnproc-truncated-srikanth/pytorch_lora_weights.safetensors');
    const err = await openAdapter(file).catch((x: unknown) => x);
    expect(isAuditError(err, 'TRUNCATED')).toBe(true);
    // 23,224,320 declared data bytes, 1,133,976 present (MANIFEST.md).
    expect((err as Error).message).toContain('22090344 bytes are missing');
    expect((err as { details?: Record<string, unknown> }).details).toMatchObject({ missingBytes: 22090344, completeTensors: 77 });
    const r = await inspectFile(file);
    expect(r.error?.code).toBe('TRUNCATED');
    expect(r.sha256).toBe('3ebb807e359ef6a7d47b7738ba999e64d09d79565590587fe80d31f4904b428b');
  });

  it.each(['lycoris-lokr-sd15-dim4-smartfalcon/smart_falcon_4_lokr.safetensors', 'lycoris-lokr-sd15-dim16-smartfalcon/smart_falcon_16_lokr.safetensors'])(
    '%s claims 130 distinct training images (not 1204) and its sshs hash matches', async (file) => {
      const a = await openKept(file);
      expect(a.metadata.claimedTrainingImages).toBe(130);
      expect(a.metadata.kohya?.realImageCount).toBe(130);
      expect(a.metadata.kohya?.numTrainImagesWithRepeats).toBe(1204);
      expect(a.metadata.kohya?.datasetDirs?.map((d) => [d.imgCount, d.repeats]).sort()).toEqual([[42, 8], [43, 16], [45, 4]]);
      expect(a.metadata.kohya?.sshsModelHash?.matches).toBe(true);
      // dim 4 is under 1 MiB, so its legacy hash covers no bytes (SHA-256 of nothing, e3b0c442); dim 16's
      // window lies in the data, shifted by the sshs_* header entries added after hashing.
      const legacy = a.metadata.kohya?.sshsLegacyHash;
      expect(legacy?.stated).toBe(a.identity.size < 0x100000 ? 'e3b0c442' : '81b44117');
      expect(legacy).toMatchObject({ recomputed: legacy?.stated, matches: true });
      expect(a.modules).toEqual([]);
      const attn2k = a.otherModules?.find((m) => m.id === 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k');
      expect(attn2k).toMatchObject({ method: 'lokr', inFeatures: 768, outFeatures: 320 });
    });

  it('gives identical modules for the FaithSang pair (diffusers PEFT-native keys vs PEFT base_model.model keys)', async () => {
    const d = await openKept('diffusers-sd15-peft-faithsang/pytorch_lora_weights.safetensors');
    const p = await openKept('diffusers-sd15-peft-faithsang/adapter_model.safetensors');
    expect(d.modules.map((m) => m.id)).toEqual(p.modules.map((m) => m.id));
    expect(d.modules[0].id).toBe('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_k');
    expect(d.modules.map((m) => m.scale)).toEqual(p.modules.map((m) => m.scale));
    const wd = await loadModuleWeights(d);
    const wp = await loadModuleWeights(p);
    expect(wd).toEqual(wp);
  });

  it('recognises the timohavdk hand-renamed keys as the same modules as the original', async () => {
    const orig = await openKept('diffusers-sd15-loradown-plus-renamed-timohavdk/2100-lora.safetensors');
    const renamed = await openKept('diffusers-sd15-loradown-plus-renamed-timohavdk/new.safetensors');
    expect(renamed.findings.map((f) => f.code)).toContain('NONSTANDARD_NAMING');
    expect(renamed.modules.map((m) => m.id)).toEqual(orig.modules.map((m) => m.id));
    const ids = orig.modules.slice(0, 20).map((m) => m.id);
    expect(await loadModuleWeights(renamed, ids)).toEqual(await loadModuleWeights(orig, ids));
  });

  it('reads the torch pickle .bin like its safetensors cousins, without executing it', async () => {
    const bin = await openKept('peft-gpt2-pickle-thesotti/adapter_model.bin');
    const st = await openKept('peft-gpt2-causallm-tigrinya/adapter_model.safetensors');
    expect(bin.container).toBe('torch-zip');
    const shape = (a: CanonicalAdapter, id: string) => a.modules.find((m) => m.id === id) && [a.modules.find((m) => m.id === id)!.a.shape, a.modules.find((m) => m.id === id)!.b.shape];
    for (const id of ['transformer.h.0.attn.c_attn', 'transformer.h.11.attn.c_proj']) expect(shape(bin, id)).toEqual(shape(st, id));
    expect(bin.otherTensors.map((t) => [t.key, t.role])).toEqual([['base_model.model.score.weight', 'head']]);
    const [w] = await loadModuleWeights(bin, ['transformer.h.0.attn.c_attn']);
    expect(w.a).toHaveLength(8 * 768);
    expect(w.b).toHaveLength(2304 * 8);
    expect(w.a.some((v) => v !== 0)).toBe(true);
    const axe = await openKept('diffusers-sd15-attnproc-pickle-catundchat-axe/pytorch_lora_weights.bin');
    const animal = await openKept('diffusers-sd15-attnproc-catundchat-animal/pytorch_lora_weights.safetensors');
    expect(axe.modules.map((m) => [m.id, m.inFeatures, m.outFeatures])).toEqual(animal.modules.map((m) => [m.id, m.inFeatures, m.outFeatures]));
  });

  it('maps cloneofsimo unet:N / text_encoder:N layers to module ids whose widths match, and keeps the tokens', async () => {
    const a = await openKept('cloneofsimo-lora-sd15-inpainting/lora_disney_inpainting.safetensors');
    expect(a.otherTensors.filter((t) => t.role === 'embedding').map((t) => t.key)).toEqual(['<s1>', '<s2>']);
    expect((await inspectFile(a.identity.file)).otherTensors).toEqual({ embedding: 2 });
    const byId = new Map(a.modules.map((m) => [m.id, m]));
    expect(byId.get('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k')?.inFeatures).toBe(768);
    expect(byId.get('unet.mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj')).toMatchObject({ inFeatures: 1280, outFeatures: 10240 });
    expect(byId.get('text_encoder.text_model.encoder.layers.11.self_attn.out_proj')?.inFeatures).toBe(768);
    expect(a.modules.some((m) => m.id.includes('lora_diffusion'))).toBe(false);
  });
});
