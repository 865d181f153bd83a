// What a file gives away about its data and its maker (issue 20, disclosure): the real LyCORIS files'
// tag frequencies, dataset folders and training times, the PEFT files' base model repositories, and
// hostile metadata (huge, deep, a million tags, control characters, HTML in tag names) kept bounded
// and escaped in the inspect JSON and the human output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realAdaptersDir } from '../../fixtures.ts';
import { execute } from '../../../main/cli/framework.ts';
import { command } from '../../../main/cli/commands/inspect.ts';
import { readInspection } from '../../../main/cases/inspect.ts';
import { NO_BASE_MODEL_IDENTITY } from '../../../main/intake/base-models.ts';
import { discloseMetadata, DISCLOSURE_LIMITS, readDisclosure, visible, type Disclosure } from '../../../main/intake/disclosure.ts';
import { inspectFile } from '../../../main/intake/inspect.ts';
import { kohyaKey } from '../../../main/intake/naming.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';

const ROOT = `${realAdaptersDir}/`;
const LOKR4 = `${ROOT}lycoris-lokr-sd15-dim4-smartfalcon/smart_falcon_4_lokr.safetensors`;
const LOKR16 = `${ROOT}lycoris-lokr-sd15-dim16-smartfalcon/smart_falcon_16_lokr.safetensors`;
const CHARACTER = 'smart falcon \\(umamusume\\)';

const of = (items: Disclosure[], category: string, field?: string) =>
  items.filter((d) => d.category === category && (field === undefined || d.field === field));
const disclose = (raw: Record<string, string>, kohya: Parameters<typeof discloseMetadata>[0]['kohya'] = null) =>
  discloseMetadata({ raw, kohya, peft: null, identity: NO_BASE_MODEL_IDENTITY });
/** Control characters, DEL, C1 and direction overrides: none may reach a terminal, page or PDF raw. */
const RAW_UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe.skipIf(!existsSync(ROOT))('what the real files disclose', () => {
  it.each([
    [LOKR4, '2023-04-05T17:41:40Z', '2023-04-05T19:01:47Z', '2097167670', 'smart_falcon_lokr_3.0e-4'],
    [LOKR16, '2023-04-06T13:58:16Z', '2023-04-06T15:18:53Z', '859334563', 'smart_falcon_16_lokr'],
  ])('%s: the character tag per folder with its count, the dataset folders, training times, session and base model', async (file, started, finished, session, output) => {
    const r = await inspectFile(file);
    const subject = of(r.disclosure, 'subject');
    // MANIFEST.md: the trigger-tag count in ss_tag_frequency for each folder is 43/45/42.
    for (const [folder, n] of [['16_smf girl', 43], ['4_smf girl', 45], ['8_smf girl', 42]] as const) {
      const tags = subject.filter((d) => d.folder === folder);
      expect(tags).toHaveLength(DISCLOSURE_LIMITS.topTags);
      expect(tags[0]).toEqual({
        category: 'subject', field: `ss_tag_frequency › ${folder}`, value: CHARACTER, count: n, folder, images: n,
        note: `in ${n} of ${n} images (every image: likely the subject or trigger); reads like a character or person tag with its series; also named in ss_training_comment`,
      });
    }
    expect(of(r.disclosure, 'subject', 'ss_dataset_dirs').map((d) => [d.value, d.note.split(' (')[0]])).toEqual([
      ['16_smf girl', 'dataset folder: 43 images × 16 repeats'], ['4_smf girl', 'dataset folder: 45 images × 4 repeats'], ['8_smf girl', 'dataset folder: 42 images × 8 repeats'],
    ]);
    expect(of(r.disclosure, 'subject', 'ss_output_name').map((d) => d.value)).toEqual([output]);
    expect(of(r.disclosure, 'captions', 'ss_tag_frequency › 16_smf girl')[0].note).toBe('caption vocabulary: 269 distinct tags, 1255 uses over 43 images; the 100 most frequent listed');
    expect(of(r.disclosure, 'time').map((d) => [d.field, d.value])).toEqual([['ss_training_started_at', started], ['ss_training_finished_at', finished]]);
    expect(of(r.disclosure, 'maker').map((d) => [d.field, d.value])).toEqual([
      ['ss_training_comment', `trigger word is ${CHARACTER}`], ['ss_session_id', session],
    ]);
    expect(of(r.disclosure, 'software', 'ss_sd_scripts_commit_hash')[0].value).toBe('8eb60baf3a920fb83a862d95fbfc73d1d19b7b31');
    expect(r.baseModelIdentity).toMatchObject({ status: 'matched', name: 'animefull-final-pruned.safetensors', matchedBy: ['sha256', 'legacy'], shapeAgrees: true,
      summary: 'base model: animefull-final-pruned.safetensors (hash matches: SHA-256 and legacy hash)' });
    expect(of(r.disclosure, 'base-model', 'base-model table')[0].value).toBe('animefull-final-pruned.safetensors');
  });

  it.each([
    ['peft-bert-seqcls-haresh/adapter_model.safetensors', 'bert-base-uncased'],
    ['peft-distilbert-seqcls-dayanidhi/adapter_model.safetensors', 'distilbert-base-uncased'],
    ['peft-gpt2-seqcls-anirudh/adapter_model.safetensors', 'gpt2'],
    ['peft-gpt2-causallm-tigrinya/adapter_model.safetensors', 'gpt2'],
    ['peft-gpt2-pickle-thesotti/adapter_model.bin', 'gpt2'],
    ['peft-t5small-seq2seq-nasif/adapter_model.safetensors', 't5-small'],
  ])('%s names its base model repository %s', async (file, repo) => {
    const r = await inspectFile(ROOT + file);
    expect(of(r.disclosure, 'base-model')).toEqual([{
      category: 'base-model', field: 'adapter_config.json › base_model_name_or_path', value: repo,
      note: 'the base model repository (or local path) the adapter was made for',
    }]);
    expect(r.baseModelIdentity).toMatchObject({ status: 'none', stated: { name: repo, sha256: null, legacyHash: null },
      summary: 'no base model hash stated; the file names the base model only' });
  });

  it('the PEFT version that saved a config is software disclosure', async () => {
    const r = await inspectFile(`${ROOT}peft-distilbert-seqcls-dayanidhi/adapter_model.safetensors`);
    expect(of(r.disclosure, 'software', 'adapter_config.json › peft_version').map((d) => d.value)).toEqual(['0.20.0']);
  });
});

describe('hostile metadata is bounded', () => {
  it('a million tags in one folder: the top tags only, counted in one pass', () => {
    // written as text (building the object first would triple the test's time)
    const parts: string[] = [];
    for (let i = 0; i < 1_000_000; i++) parts.push(`"tag${i}":${i % 1000}`);
    const items = disclose({ ss_tag_frequency: `{"1_x":{${parts.join(',')},"the subject":5000}}` });
    const subject = of(items, 'subject');
    expect(subject).toHaveLength(DISCLOSURE_LIMITS.topTags);
    expect(subject.slice(0, 2).map((d) => [d.value, d.count])).toEqual([['the subject', 5000], ['tag999', 999]]);
    const captions = of(items, 'captions');
    expect(captions).toHaveLength(1);
    expect(captions[0].note).toBe(`caption vocabulary: 1000001 distinct tags, ${499_500_000 + 5000} uses; the 100 most frequent listed`);
    expect(captions[0].value.length).toBeLessThanOrEqual(DISCLOSURE_LIMITS.valueChars);
  });

  it('ss_tag_frequency past the size limit is not parsed, and says so', () => {
    const huge = `{"a":{"${'x'.repeat(DISCLOSURE_LIMITS.tagJsonChars)}":1}}`;
    expect(disclose({ ss_tag_frequency: huge })).toEqual([{
      category: 'captions', field: 'ss_tag_frequency', value: `${huge.length} characters, not read`,
      note: 'longer than the 32 Mi-character limit for tag lists',
    }]);
  });

  it('JSON nested a million deep, counts that are not counts, and a thousand folders', () => {
    const deep = `{"deep":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)},"odd":{"a":"1","b":1e400,"c":-2,"d":2.5,"ok":3}}`;
    const items = disclose({ ss_tag_frequency: deep });
    expect(items.map((d) => [d.category, d.field, d.value, d.count ?? null])).toEqual([
      ['subject', 'ss_tag_frequency › odd', 'ok', 3],
      ['captions', 'ss_tag_frequency › deep', 'a list of 1 items', null],
      ['captions', 'ss_tag_frequency › odd', 'ok (3)', null],
    ]);
    expect(of(items, 'captions')[1].note).toContain('4 entries without a count ignored');
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`${i}_f`, { t: 1 }]));
    const folders = disclose({ ss_tag_frequency: JSON.stringify(many) });
    expect(new Set(of(folders, 'subject').map((d) => d.folder)).size).toBe(DISCLOSURE_LIMITS.folders);
    expect(folders.at(-1)).toMatchObject({ category: 'captions', value: '968 more folders', note: 'only the first 32 folders are read' });
  });

  it('values are capped, with the full length said; control and direction characters become visible escapes', () => {
    const items = disclose({ ss_training_comment: 'c'.repeat(1_000_000), ss_output_name: 'name\u001b[2J\u202eevil\u0000' });
    expect(of(items, 'maker', 'ss_training_comment')[0]).toMatchObject({ fullLength: 1_000_000 });
    expect(of(items, 'maker', 'ss_training_comment')[0].value).toHaveLength(DISCLOSURE_LIMITS.valueChars);
    expect(of(items, 'subject', 'ss_output_name')[0].value).toBe('name\\u{1B}[2J\\u{202E}evil\\u{0}');
    expect(visible('ab\u0007cd', 4)).toEqual({ text: 'ab', cut: true }); // never half an escape
    expect(visible('\ud800x', 20).text).toBe('\\u{D800}x');
    // a line separator would break the report's line where the inspect output shows none
    expect(visible('line\u2028break\u2029', 40).text).toBe('line\\u{2028}break\\u{2029}');
  });

  it('user names in absolute paths, in any field, POSIX and Windows (also JSON-escaped)', () => {
    const items = disclose({
      ss_training_comment: 'made on /home/alice/loras/run1',
      ss_datasets: JSON.stringify([{ subsets: [{ image_dir: 'C:\\Users\\Bob Smith\\Pictures\\set', class_tokens: 'jane doe' }] }]),
      'modelspec.description': 'see /Users/carol/x and /home/alice/y',
    });
    expect(of(items, 'maker').filter((d) => d.note.startsWith('a user name')).map((d) => [d.field, d.value])).toEqual([
      ['ss_training_comment', 'alice'], ['ss_datasets', 'Bob Smith'], ['modelspec.description', 'carol'],
    ]);
    expect(of(items, 'subject', 'ss_datasets › class_tokens').map((d) => d.value)).toEqual(['jane doe']);
  });
});

describe('hostile metadata in a file: inspect --json and the human output', () => {
  let dir: string;
  let file: string;
  const TAG = '<script>alert(1)</script>\u001b]0;pwned\u0007';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'disclosure-'));
    file = join(dir, 'hostile.safetensors');
    const id = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k';
    writeFileSync(file, encodeSafetensors([
      { key: kohyaKey(id, 'A'), dtype: 'F32', shape: [2, 768], data: new Float32Array(1536).fill(0.01) },
      { key: kohyaKey(id, 'B'), dtype: 'F32', shape: [320, 2], data: new Float32Array(640).fill(0.01) },
    ], {
      ss_network_module: 'networks.lora',
      ss_tag_frequency: JSON.stringify({ '5_<b>folder</b>\u001b[31m': { [TAG]: 7, plain: 3 } }),
      ss_dataset_dirs: JSON.stringify({ '5_<b>folder</b>\u001b[31m': { n_repeats: 5, img_count: 7 } }),
      ss_training_started_at: '1e400', ss_training_finished_at: 'NaN',
      ss_sd_model_hash: 'deadbeef', ss_new_sd_model_hash: 'f'.repeat(64),
    }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function sink() {
    let text = '';
    return { stream: { write: (s: string) => { text += s; return true; } } as unknown as typeof process.stdout & typeof process.stderr, text: () => text };
  }

  it('the JSON carries the tag escaped and no raw control character; bad times and an unknown hash are said', async () => {
    const out = sink();
    expect(await execute(command, [file, '--json'], out.stream, sink().stream)).toBe(0);
    const text = out.text();
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/); // newlines are the output's own
    const [report] = JSON.parse(text);
    // JSON's own \u001b would turn back into ESC when read: the disclosure holds none, raw or escaped
    expect(JSON.stringify(report.disclosure)).not.toMatch(/\\u00[01]|\\u007f|\\u202e/i);
    const tag = (report.disclosure as Disclosure[]).find((d) => d.category === 'subject' && d.count === 7)!;
    expect(tag).toMatchObject({ value: '<script>alert(1)</script>\\u{1B}]0;pwned\\u{7}', folder: '5_<b>folder</b>\\u{1B}[31m', images: 7 });
    expect(of(report.disclosure, 'time').map((d) => [d.value, d.note])).toEqual([['1e400', 'not a valid Unix time'], ['NaN', 'not a valid Unix time']]);
    expect(report.baseModelIdentity).toMatchObject({ status: 'unknown', summary: 'unknown hash: the base model\'s hash is in no table entry' });
  });

  it('the human output shows the disclosure with no raw control character', async () => {
    const out = sink();
    await execute(command, [file], out.stream, sink().stream);
    expect(out.text()).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/); // newlines are the output's own
    expect(out.text()).toContain('discloses');
    expect(out.text()).toContain('<script>alert(1)</script>\\u{1B}]0;pwned\\u{7} 7');
    expect(out.text()).toContain('base model: unknown hash');
  });

  it('a stored list from an imported archive is checked, escaped and bounded again', () => {
    const stored = [
      { category: 'subject', field: 'f', value: `x\u001b`, note: 'n', count: 3, folder: 'a\u202e' },
      { category: 'nonsense', field: 'f', value: 'v', note: 'n' },
      { category: 'maker', field: 1, value: 'v', note: 'n' },
      { category: 'maker', field: 'f', value: 'v'.repeat(10_000), note: 'n', count: -1, images: 1.5 },
      ...Array.from({ length: 5000 }, () => ({ category: 'time', field: 'f', value: 'v', note: 'n' })),
    ];
    const read = readDisclosure(stored);
    expect(read).toHaveLength(DISCLOSURE_LIMITS.items);
    expect(read[0]).toEqual({ category: 'subject', field: 'f', value: 'x\\u{1B}', note: 'n', count: 3, folder: 'a\\u{202E}' });
    expect(read[1]).toEqual({ category: 'maker', field: 'f', value: 'v'.repeat(DISCLOSURE_LIMITS.valueChars), note: 'n', fullLength: 10_000 });
    expect(readDisclosure({ not: 'a list' })).toEqual([]);
    // and the evidence store reads every stored inspection through it
    const facts = { fileName: 'x.safetensors', size: 1, sha256: 'ab', family: 'kohya', method: 'lora', baseModel: 'sd1' };
    const back = readInspection({ version: 2, report: { disclosure: stored, baseModelIdentity: { status: 'matched', name: '\u001b' } } }, facts);
    expect(back.disclosure).toHaveLength(DISCLOSURE_LIMITS.items);
    expect(back.disclosure[0].value).toBe('x\\u{1B}');
    expect(back.baseModelIdentity).toMatchObject({ status: 'matched', name: '\\u{1B}' });
  });
});
