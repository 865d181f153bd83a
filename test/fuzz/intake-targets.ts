// Fuzz targets for evidence intake: the safetensors header (pure), whole safetensors files through
// openAdapter (diffusers, PEFT with its config, kohya with its ss_* metadata), the restricted pickle
// walker, and torch.save zips (a real checkpoint and a built one, with damaged central directories).
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { encodeSafetensors, type TensorToWrite } from '../../main/intake/safetensors-writer.ts';
import { parseSafetensorsHeader } from '../../main/intake/safetensors.ts';
import { loadModuleWeights, openAdapter } from '../../main/intake/open.ts';
import { stateDictTensors, walkPickle } from '../../main/intake/pickle.ts';
import { diffusersKey, kohyaKey, peftKey } from '../../main/intake/naming.ts';
import { applyField, applyMutations, byteMutations, deepJson, fieldMutation } from './mutate.ts';
import type { Target } from './target.ts';
import { fixturesDir } from './target.ts';

const IDS = ['unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k',
  'unet.up_blocks.1.attentions.0.transformer_blocks.0.attn1.to_out.0'];

function factors(keyOf: (id: string, f: 'A' | 'B') => string, dtype: TensorToWrite['dtype'] = 'F32'): TensorToWrite[] {
  return IDS.flatMap((id, i) => [
    { key: keyOf(id, 'A'), dtype, shape: [2, 8], data: Array.from({ length: 16 }, (_, k) => Math.sin(i + k)) },
    { key: keyOf(id, 'B'), dtype, shape: [8, 2], data: Array.from({ length: 16 }, (_, k) => Math.cos(i * k) / 100) },
  ]);
}

const KOHYA_META: Record<string, string> = {
  ss_network_module: 'networks.lora', ss_network_dim: '2', ss_network_alpha: '1', ss_num_train_images: '40',
  ss_dataset_dirs: JSON.stringify({ '10_cat': { n_repeats: 10, img_count: 4 } }), ss_max_train_steps: '400',
  sshs_model_hash: '0'.repeat(64), ss_output_name: 'cat',
};

/** Valid adapters of three families, written by the project's own writer. */
export function seedAdapters(): { name: string; bytes: Buffer }[] {
  const kohya = IDS.flatMap((id, i) => [
    { key: kohyaKey(id, 'A'), dtype: 'F16' as const, shape: [2, 8], data: Array.from({ length: 16 }, (_, k) => Math.sin(i + k)) },
    { key: kohyaKey(id, 'B'), dtype: 'F16' as const, shape: [8, 2], data: Array.from({ length: 16 }, (_, k) => Math.cos(k) / 50) },
    { key: kohyaKey(id, 'alpha'), dtype: 'F32' as const, shape: [], data: [1] },
  ]);
  return [
    { name: 'pytorch_lora_weights.safetensors', bytes: encodeSafetensors(factors(diffusersKey)) },
    { name: 'adapter_model.safetensors', bytes: encodeSafetensors(factors(peftKey, 'BF16')) },
    { name: 'kohya.safetensors', bytes: encodeSafetensors(kohya, KOHYA_META) },
  ];
}

/** Opens like the app does (values scanned, factors loaded), always closing the file. */
async function openFully(file: string, configPath?: string): Promise<void> {
  const adapter = await openAdapter(file, { scanValues: true, ...(configPath ? { configPath } : {}) });
  try {
    await loadModuleWeights(adapter);
  } finally {
    await adapter.source.close();
  }
}

const nastyInt = fc.oneof(fc.constantFrom(0, 1, -1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e308, 0.5, -0.0), fc.integer());
const nastyJson = fc.oneof(nastyInt, fc.string(), fc.constant(null), fc.array(nastyInt, { maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }));

type HeaderEdit =
  | { op: 'shape'; t: number; shape: unknown }
  | { op: 'offsets'; t: number; offsets: unknown }
  | { op: 'dtype'; t: number; dtype: unknown }
  | { op: 'replace'; t: number; value: unknown }
  | { op: 'deep'; depth: number; kind: 'array' | 'object'; where: 'metadata' | 'tensor' | 'top' }
  | { op: 'long'; length: number; where: 'key' | 'value' }
  | { op: 'many'; count: number }
  | { op: 'duplicate'; t: number };

const headerEdit: fc.Arbitrary<HeaderEdit> = fc.oneof(
  fc.record({ op: fc.constant('shape' as const), t: fc.nat(5), shape: fc.oneof(fc.array(nastyInt, { maxLength: 6 }), nastyJson) }),
  fc.record({ op: fc.constant('offsets' as const), t: fc.nat(5), offsets: fc.oneof(fc.tuple(nastyInt, nastyInt), nastyJson) }),
  fc.record({ op: fc.constant('dtype' as const), t: fc.nat(5), dtype: fc.oneof(fc.constantFrom('F32', 'F16', 'BF16', 'F64', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'f32', ''), fc.string()) }),
  fc.record({ op: fc.constant('replace' as const), t: fc.nat(5), value: nastyJson }),
  fc.record({ op: fc.constant('deep' as const), depth: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constantFrom(5_000, 100_000, 1_000_000)),
    kind: fc.constantFrom<'array' | 'object'>('array', 'object'), where: fc.constantFrom<'metadata' | 'tensor' | 'top'>('metadata', 'tensor', 'top') }),
  fc.record({ op: fc.constant('long' as const), length: fc.oneof(fc.nat(1000), fc.constantFrom(1 << 16, 1 << 20, 8 << 20)), where: fc.constantFrom<'key' | 'value'>('key', 'value') }),
  fc.record({ op: fc.constant('many' as const), count: fc.oneof(fc.nat(100), fc.constantFrom(10_000, 200_000)) }),
  fc.record({ op: fc.constant('duplicate' as const), t: fc.nat(5) }),
);

/** A header as text after edits; deep nesting is spliced in as text so building it cannot recurse. */
export function editHeader(base: Record<string, unknown>, edits: readonly HeaderEdit[]): string {
  const h: Record<string, unknown> = structuredClone(base);
  const keys = () => Object.keys(h).filter((k) => k !== '__metadata__');
  const splices: string[] = [];
  const dupes: string[] = [];
  for (const e of edits) {
    const ks = keys();
    const key = ks.length ? ks[('t' in e ? e.t : 0) % ks.length] : 'x';
    const t = (h[key] && typeof h[key] === 'object' ? h[key] : {}) as Record<string, unknown>;
    switch (e.op) {
      case 'shape': h[key] = { ...t, shape: e.shape }; break;
      case 'offsets': h[key] = { ...t, data_offsets: e.offsets }; break;
      case 'dtype': h[key] = { ...t, dtype: e.dtype }; break;
      case 'replace': h[key] = e.value; break;
      case 'deep': {
        const mark = `\u0001SPLICE${splices.length}\u0001`;
        splices.push(deepJson(e.depth, e.kind));
        if (e.where === 'metadata') h.__metadata__ = { ...(h.__metadata__ as object ?? {}), deep: mark };
        else if (e.where === 'tensor') h[key] = { ...t, shape: mark };
        else h[`deep${splices.length}`] = mark;
        break;
      }
      case 'long': {
        const s = 'x'.repeat(e.length);
        h.__metadata__ = { ...(h.__metadata__ as object ?? {}), ...(e.where === 'key' ? { [s]: 'v' } : { long: s }) };
        break;
      }
      case 'many': for (let i = 0; i < e.count; i++) h[`extra.${i}`] = { dtype: 'F32', shape: [0], data_offsets: [0, 0] }; break;
      case 'duplicate': dupes.push(key); break;
    }
  }
  let text = JSON.stringify(h);
  splices.forEach((s, i) => { text = text.replace(JSON.stringify(`\u0001SPLICE${i}\u0001`), s); });
  for (const k of dupes) if (h[k] !== undefined) text = `${text.slice(0, -1)},${JSON.stringify(k)}:${JSON.stringify(h[k])}}`;
  return text;
}

export const safetensorsHeader: Target = {
  name: 'safetensors header',
  weight: 2,
  async prepare() {
    const seeds = seedAdapters().map(({ bytes }) => {
      const n = Number(bytes.readBigUInt64LE(0));
      return { header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>, data: bytes.length - 8 - n };
    });
    return {
      arbitrary: fc.record({ seed: fc.nat(seeds.length - 1), edits: fc.array(headerEdit, { minLength: 1, maxLength: 4 }), dataDelta: fc.integer({ min: -64, max: 64 }) }),
      async run({ seed, edits, dataDelta }, time) {
        const s = seeds[seed];
        const json = Buffer.from(editHeader(s.header, edits), 'utf8');
        await time(json.length, () => parseSafetensorsHeader(json, 8 + json.length + Math.max(0, s.data + dataDelta), 'fuzz.safetensors'));
      },
    };
  },
};

export const safetensorsFile: Target = {
  name: 'safetensors file',
  weight: 3,
  async prepare(dir) {
    const seeds = seedAdapters();
    let i = 0;
    return {
      arbitrary: fc.record({ seed: fc.nat(seeds.length - 1), muts: byteMutations }),
      async run({ seed, muts }, time) {
        const bytes = applyMutations(seeds[seed].bytes, muts);
        const file = join(dir, `${i++ % 4}-${seeds[seed].name}`);
        writeFileSync(file, bytes);
        await time(bytes.length, () => openFully(file));
      },
    };
  },
};

const CONFIG = { peft_type: 'LORA', r: 2, lora_alpha: 4, use_rslora: false, target_modules: ['to_q', 'to_k', 'to_out.0'],
  rank_pattern: {}, alpha_pattern: {}, base_model_name_or_path: 'runwayml/stable-diffusion-v1-5', task_type: null };

export const peftConfig: Target = {
  name: 'PEFT config',
  weight: 2,
  async prepare(dir) {
    const adapter = join(dir, 'adapter_model.safetensors');
    writeFileSync(adapter, encodeSafetensors(factors(peftKey)));
    const config = join(dir, 'adapter_config.json');
    const field = fc.constantFrom(...Object.keys(CONFIG), 'use_dora', 'modules_to_save', 'init_lora_weights', 'fan_in_fan_out');
    // Regex-shaped pattern keys: the reader compiles them, so catastrophic patterns belong here too.
    const patternKey = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('(a+)+$', '(.*a){20}', '[', '\\', 'to_q|to_k', '(?<x>', '.*'));
    const edit = fc.oneof(
      fc.record({ field, value: nastyJson }),
      fc.record({ field: fc.constantFrom('rank_pattern', 'alpha_pattern'), value: fc.dictionary(patternKey, nastyInt, { maxKeys: 4 }) }),
    );
    return {
      arbitrary: fc.record({
        edits: fc.array(edit, { maxLength: 5 }),
        text: fc.option(fc.oneof(fc.string(), fc.constantFrom(deepJson(100_000, 'array'), deepJson(100_000, 'object'), '{"r": 1e999}', '\ufeff{}')), { freq: 5 }),
        muts: fc.option(byteMutations, { freq: 4 }),
      }),
      async run({ edits, text, muts }, time) {
        const c: Record<string, unknown> = { ...CONFIG };
        for (const e of edits) c[e.field] = e.value;
        let bytes: Buffer = Buffer.from(text ?? JSON.stringify(c), "utf8");
        if (muts) bytes = applyMutations(bytes, muts);
        writeFileSync(config, bytes);
        await time(bytes.length, () => openFully(adapter, config));
      },
    };
  },
};

export const kohyaMetadata: Target = {
  name: 'kohya metadata',
  weight: 2,
  async prepare(dir) {
    const kohyaSeed = seedAdapters()[2];
    const n = Number(kohyaSeed.bytes.readBigUInt64LE(0));
    const header = JSON.parse(kohyaSeed.bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
    const data = kohyaSeed.bytes.subarray(8 + n);
    const key = fc.oneof(fc.constantFrom(...Object.keys(KOHYA_META), 'ss_tag_frequency', 'ss_bucket_info', 'ss_training_comment', 'modelspec.title'), fc.string({ maxLength: 20 }));
    const datasetDirs = fc.dictionary(fc.string({ maxLength: 10 }), fc.record({ n_repeats: nastyInt, img_count: nastyInt }, { requiredKeys: [] }), { maxKeys: 5 }).map((v) => JSON.stringify(v));
    const value = fc.oneof(fc.string({ maxLength: 40 }), nastyInt.map(String), datasetDirs, fc.json({ maxDepth: 4 }),
      fc.constantFrom(deepJson(100_000, 'object'), 'x'.repeat(1 << 20), 'NaN', '-Infinity', '1e400', 'f'.repeat(64)));
    let i = 0;
    return {
      arbitrary: fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 6 }),
      async run(edits, time) {
        const meta = { ...(header.__metadata__ as Record<string, string>) };
        for (const [k, v] of edits) meta[k] = v;
        let json = JSON.stringify({ ...header, __metadata__: meta });
        json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
        const head = Buffer.alloc(8);
        head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
        const bytes = Buffer.concat([head, Buffer.from(json), data]);
        const file = join(dir, `kohya-${i++ % 4}.safetensors`);
        writeFileSync(file, bytes);
        await time(bytes.length, () => openFully(file));
      },
    };
  },
};

/** Opcodes with arguments of the right shape (and some of the wrong shape), so walks get deep. */
const latin = (s: string) => Buffer.from(s, 'latin1');
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };
const GLOBALS: [string, string][] = [['collections', 'OrderedDict'], ['torch._utils', '_rebuild_tensor_v2'], ['torch', 'FloatStorage'],
  ['torch', 'HalfStorage'], ['torch._utils', '_rebuild_parameter'], ['os', 'system'], ['builtins', 'eval'], ['__builtin__', 'getattr']];
const opcode: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom(...'()tl]}.aesuRbQ0120NI'.split('').map(latin), ...[0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x93, 0x94, 0x81, 0x92, 0x6f, 0x97, 0x98].map((b) => Buffer.from([b]))),
  fc.constantFrom(...GLOBALS).map(([m, n]) => latin(`c${m}\n${n}\n`)),
  fc.constantFrom(...GLOBALS).map(([m, n]) => Buffer.concat([Buffer.from([0x8c, m.length]), latin(m), Buffer.from([0x8c, n.length]), latin(n), Buffer.from([0x93])])),
  fc.constantFrom('storage', '0', 'cpu', 'state_dict', 'w').map((s) => Buffer.concat([Buffer.from([0x8c, s.length]), latin(s)])),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((n) => { const b = Buffer.alloc(5); b[0] = 0x4a; b.writeInt32LE(n, 1); return b; }),
  fc.integer({ min: 0, max: 255 }).map((n) => Buffer.from([0x4b, n])),
  fc.integer({ min: 0, max: 20 }).map((n) => Buffer.from([0x68, n])),                                   // BINGET
  fc.integer({ min: 0, max: 20 }).map((n) => Buffer.from([0x72, ...u32(n)])),                            // LONG_BINPUT
  fc.nat().map((n) => Buffer.concat([latin('X'), u32(n)])),                                               // BINUNICODE with a wild length
  fc.nat().map((n) => Buffer.concat([Buffer.from([0x8a, n % 9]), Buffer.alloc(n % 9, 0xff)])),           // LONG1
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((n) => { const b = Buffer.alloc(9); b[0] = 0x8e; b.writeBigUInt64LE(n, 1); return b; }), // BINBYTES8
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((n) => { const b = Buffer.alloc(9); b[0] = 0x95; b.writeBigUInt64LE(n, 1); return b; }), // FRAME
  fc.string({ maxLength: 12 }).map((s) => latin(`V${s}\n`)),
  fc.integer().map((n) => latin(`I${n}\n`)), fc.string({ maxLength: 6 }).map((s) => latin(`L${s}\n`)), fc.string({ maxLength: 8 }).map((s) => latin(`S'${s}'\n`)),
  fc.integer({ min: 0, max: 255 }).map((b) => Buffer.from([b])),                                          // anything at all
);

export const pickleStream: Target = {
  name: 'pickle opcodes',
  weight: 2,
  async prepare(dir) {
    let i = 0;
    return {
      arbitrary: fc.record({ proto: fc.integer({ min: 0, max: 6 }), ops: fc.array(opcode, { maxLength: 60 }), stop: fc.boolean(), bare: fc.boolean() }),
      async run({ proto, ops, stop, bare }, time) {
        const bytes = Buffer.concat([proto >= 2 ? Buffer.from([0x80, proto]) : Buffer.alloc(0), ...ops, stop ? latin('.') : Buffer.alloc(0)]);
        if (bare) {
          const file = join(dir, `bare-${i++ % 4}.bin`);
          writeFileSync(file, bytes);
          await time(bytes.length, () => openFully(file));
        } else {
          await time(bytes.length, () => stateDictTensors(walkPickle(bytes, 'fuzz.pkl'), 'fuzz.pkl'));
        }
      },
    };
  },
};

/** A stored zip as torch.save writes it; returns the bytes and where each length/offset field sits. */
export function storedZip(entries: { name: string; data: Buffer }[]): { bytes: Buffer; fields: number[] } {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  const fields: number[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt32LE(crc32(e.data), 14);
    lh.writeUInt32LE(e.data.length, 18); lh.writeUInt32LE(e.data.length, 22); lh.writeUInt16LE(name.length, 26);
    fields.push(offset + 18, offset + 22, offset + 26, offset + 28);
    locals.push(lh, name, e.data);
    offset += 30 + name.length + e.data.length;
  }
  let cdPos = offset;
  entries.forEach((e, k) => {
    const name = Buffer.from(e.name);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt32LE(crc32(e.data), 16);
    ch.writeUInt32LE(e.data.length, 20); ch.writeUInt32LE(e.data.length, 24); ch.writeUInt16LE(name.length, 28);
    let local = 0;
    for (let j = 0; j < k; j++) local += 30 + Buffer.byteLength(entries[j].name) + entries[j].data.length;
    ch.writeUInt32LE(local, 42);
    fields.push(cdPos + 10, cdPos + 20, cdPos + 24, cdPos + 28, cdPos + 30, cdPos + 32, cdPos + 42);
    centrals.push(ch, name);
    cdPos += 46 + name.length;
  });
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(entries.length, 8); eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12); eocd.writeUInt32LE(offset, 16);
  fields.push(cdPos + 8, cdPos + 10, cdPos + 12, cdPos + 16, cdPos + 20);
  return { bytes: Buffer.concat([...locals, cd, eocd]), fields };
}

/** A torch.save state dict {key: FloatTensor[2, 2]} as protocol-2 opcodes. */
function statePickle(key: string): Buffer {
  const short = (s: string) => Buffer.concat([Buffer.from([0x8c, s.length]), latin(s)]);
  return Buffer.concat([Buffer.from([0x80, 2]), latin('ccollections\nOrderedDict\n'), latin(')R'), short(key),
    latin('ctorch._utils\n_rebuild_tensor_v2\n'), latin('('), latin('('), short('storage'), latin('ctorch\nFloatStorage\n'), short('0'), short('cpu'),
    Buffer.from([0x4b, 4]), latin('tQ'), Buffer.from([0x4b, 0]), Buffer.from([0x4b, 2, 0x4b, 2, 0x86]), Buffer.from([0x4b, 2, 0x4b, 1, 0x86]),
    Buffer.from([0x89]), latin('ccollections\nOrderedDict\n)R'), latin('tR'), latin('s.')]);
}

export const torchZip: Target = {
  name: 'torch zip',
  weight: 2,
  async prepare(dir) {
    const built = storedZip([{ name: 'archive/data.pkl', data: statePickle('unet.x.lora.down.weight') },
      { name: 'archive/data/0', data: Buffer.alloc(16, 1) }, { name: 'archive/version', data: Buffer.from('3\n') }]);
    const real = readFileSync(join(fixturesDir, 'peft-gpt2-pickle-thesotti/adapter_model.bin'));
    const cdMuts = fc.array(fieldMutation(built.fields), { minLength: 1, maxLength: 4 });
    let i = 0;
    return {
      arbitrary: fc.oneof(
        fc.record({ kind: fc.constant('directory' as const), fields: cdMuts }),
        fc.record({ kind: fc.constant('built' as const), muts: byteMutations }),
        // the real checkpoint (~600 KB): damage in its tail hits the central directory
        fc.record({ kind: fc.constant('real' as const), muts: byteMutations, tail: fc.boolean() }),
      ),
      async run(input, time) {
        let bytes: Buffer;
        if (input.kind === 'directory') bytes = input.fields.reduce((b: Buffer, f: { at: number; width: 2 | 4 | 8; value: bigint }) => applyField(b, f), built.bytes);
        else if (input.kind === 'built') bytes = applyMutations(built.bytes, input.muts);
        else {
          const tail = input.tail ? Math.max(0, real.length - 4096) : 0;
          bytes = Buffer.concat([real.subarray(0, tail), applyMutations(real.subarray(tail), input.muts)]);
        }
        const file = join(dir, `torch-${i++ % 4}.bin`);
        writeFileSync(file, bytes);
        await time(bytes.length, () => openFully(file));
      },
    };
  },
};
