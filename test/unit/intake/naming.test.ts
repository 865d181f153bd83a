import { describe, expect, it } from 'vitest';
import { canonicalIdFromKey, diffusersKey, dottedFromUnderscored, kohyaKey, peftKey } from '../../../main/intake/naming.ts';

const UNET_ID = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0';
const TE_ID = 'text_encoder.text_model.encoder.layers.0.self_attn.q_proj';

describe('canonical module ids', () => {
  it('writes each family naming and reads it back to the same id', () => {
    for (const id of [UNET_ID, TE_ID, 'unet.mid_block.resnets.1.time_emb_proj', 'unet.up_blocks.1.attentions.2.transformer_blocks.0.ff.net.0.proj']) {
      for (const f of ['A', 'B'] as const) {
        expect(canonicalIdFromKey(diffusersKey(id, f))).toMatchObject({ id, part: f });
        expect(canonicalIdFromKey(peftKey(id, f))).toMatchObject({ id, part: f });
        expect(canonicalIdFromKey(kohyaKey(id, f))).toMatchObject({ id, part: f, scheme: 'kohya' });
      }
      expect(canonicalIdFromKey(kohyaKey(id, 'alpha'))).toMatchObject({ id, part: 'alpha' });
    }
  });

  it('produces the documented key shapes', () => {
    expect(diffusersKey(UNET_ID, 'A')).toBe(`${UNET_ID}.lora.down.weight`);
    expect(peftKey(UNET_ID, 'B')).toBe('base_model.model.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.lora_B.weight');
    expect(kohyaKey(UNET_ID, 'A')).toBe('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0.lora_down.weight');
    expect(kohyaKey(TE_ID, 'alpha')).toBe('lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha');
  });

  it('reads the attention-processor, PEFT-native and renamed forms', () => {
    expect(canonicalIdFromKey('down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight'))
      .toMatchObject({ id: UNET_ID, part: 'B', scheme: 'diffusers-attnproc' });
    expect(canonicalIdFromKey('down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.lora_A.weight'))
      .toMatchObject({ id: UNET_ID, part: 'A', scheme: 'diffusers-peft' });
    expect(canonicalIdFromKey('lora_unet_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_out_0_lora_down.weight'))
      .toMatchObject({ id: UNET_ID, part: 'A', scheme: 'kohya-renamed' });
    expect(canonicalIdFromKey('text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_linear_layer.up.weight'))
      .toMatchObject({ id: TE_ID, part: 'B' });
    expect(canonicalIdFromKey('base_model.model.model.embed_tokens.lora_embedding_B'))
      .toMatchObject({ id: 'model.embed_tokens', part: 'B', scheme: 'peft' });
    expect(canonicalIdFromKey('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight'))
      .toMatchObject({ id: 'transformer.h.0.attn.c_attn', part: 'A', scheme: 'peft' });
  });

  it('refuses kohya names outside the vocabulary instead of guessing', () => {
    expect(dottedFromUnderscored('down_blocks_0_mystery_layer_1')).toBeNull();
    expect(canonicalIdFromKey('lora_unet_some_made_up_thing.lora_down.weight')).toBeNull();
    expect(dottedFromUnderscored('mid_block_resnets_0_conv_shortcut')).toBe('mid_block.resnets.0.conv_shortcut');
  });
});
