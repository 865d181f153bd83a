// What an adapter's metadata gives away about its training data and its maker: kohya files carry the
// training captions' tags with counts (ss_tag_frequency, which can name the person or artwork in the
// images), dataset folder names, output names, comments, session ids, start and end times, the base
// model's name and hashes, tool versions, and absolute paths with user names anywhere; PEFT configs
// name the base model's repository. Every value is untrusted text: control and direction-changing
// characters are shown as \u{…} escapes, values are capped, and every list is bounded (top tags per
// folder, folders, user names), however large or deep the JSON in the file.
import type { BaseModelIdentity } from './base-models.ts';
import type { KohyaMetadata, PeftConfigSummary } from './model.ts';
import { escapedCodePoint, UNPRINTABLE } from '../common/text.ts';

export type DisclosureCategory = 'subject' | 'captions' | 'maker' | 'time' | 'base-model' | 'software';
export const DISCLOSURE_CATEGORIES: readonly DisclosureCategory[] = ['subject', 'captions', 'maker', 'time', 'base-model', 'software'];

export interface Disclosure {
  category: DisclosureCategory;
  /** Where it was found: the metadata key, with the dataset folder for per-folder values (untrusted, escaped, capped). */
  field: string;
  /** The disclosed text (untrusted, escaped, at most DISCLOSURE_LIMITS.valueChars characters). */
  value: string;
  /** What it means, in our words. */
  note: string;
  /** Subject tags: in how many of the folder's captions the tag occurs. */
  count?: number;
  /** Subject tags: the dataset folder the count is for (escaped, capped), and its image count when stated. */
  folder?: string;
  images?: number;
  /** Set when the value was cut: the whole value's length in characters. */
  fullLength?: number;
}

export const DISCLOSURE_LIMITS = {
  /** Characters of one value (the full value the UI shows on a click). */
  valueChars: 2000,
  fieldChars: 200,
  /** Dataset folders listed from ss_tag_frequency, ss_dataset_dirs, ss_reg_dataset_dirs. */
  folders: 32,
  /** Tags per folder under `subject` (the most frequent). */
  topTags: 12,
  /** Tags per folder in the `captions` vocabulary line. */
  vocabularyTags: 100,
  /** ss_tag_frequency longer than this (about 1.7 million tags) is not parsed. */
  tagJsonChars: 32 * 2 ** 20,
  /** Distinct user names found in paths. */
  userNames: 32,
  /** Items in all. */
  items: 800,
} as const;

export interface DisclosureInput {
  raw: Record<string, string>;
  kohya: KohyaMetadata | null;
  peft: PeftConfigSummary | null;
  identity: BaseModelIdentity;
}

export function discloseMetadata(input: DisclosureInput): Disclosure[] {
  const out: Disclosure[] = [];
  const { raw } = input;
  const stated = (key: string): string | undefined => {
    const v = Object.hasOwn(raw, key) ? raw[key] : undefined;
    return v === undefined || v.trim() === '' || v.trim() === 'None' ? undefined : v;
  };
  const add = (category: DisclosureCategory, field: string, value: string, note: string, extra: Partial<Disclosure> = {}) => {
    const v = visible(value, DISCLOSURE_LIMITS.valueChars);
    out.push({ category, field: visible(field, DISCLOSURE_LIMITS.fieldChars).text, value: v.text, note, ...extra, ...(v.cut ? { fullLength: value.length } : {}) });
  };
  const addKey = (category: DisclosureCategory, key: string, note: string) => {
    const v = stated(key);
    if (v !== undefined) add(category, key, v, note);
  };

  // subject and captions
  const imagesOf = new Map((input.kohya?.datasetDirs ?? []).map((d) => [d.dir, d.imgCount]));
  tagFrequency(stated('ss_tag_frequency'), imagesOf, stated('ss_training_comment'), add);
  for (const d of (input.kohya?.datasetDirs ?? []).slice(0, DISCLOSURE_LIMITS.folders)) {
    add('subject', 'ss_dataset_dirs', d.dir, `dataset folder: ${d.imgCount} images × ${d.repeats} repeats (kohya names folders "<repeats>_<instance and class words>")`);
  }
  const moreDirs = (input.kohya?.datasetDirs?.length ?? 0) - DISCLOSURE_LIMITS.folders;
  if (moreDirs > 0) add('subject', 'ss_dataset_dirs', `${moreDirs} more folders`, `only the first ${DISCLOSURE_LIMITS.folders} are listed`);
  for (const dir of objectKeys(stated('ss_reg_dataset_dirs'), DISCLOSURE_LIMITS.folders)) {
    add('subject', 'ss_reg_dataset_dirs', dir, 'regularisation folder: class examples shown beside the subject, not the subject');
  }
  for (const tokens of classTokens(stated('ss_datasets'))) add('subject', 'ss_datasets › class_tokens', tokens, 'the words the trainer was told name the subject');
  addKey('subject', 'ss_output_name', 'the name the maker gave the output; it often names the subject');
  addKey('subject', 'modelspec.title', 'the title the maker gave the model');

  // maker
  addKey('maker', 'ss_training_comment', 'the maker\'s comment, written into the file at training time');
  addKey('maker', 'ss_session_id', 'a random number drawn per training run: files with the same id come from one run');
  addKey('maker', 'modelspec.author', 'the author the maker named');
  addKey('maker', 'modelspec.description', 'the maker\'s description');
  userNames(input, add);

  // time
  const started = unixTime(stated('ss_training_started_at'));
  const finished = unixTime(stated('ss_training_finished_at'));
  if (stated('ss_training_started_at') !== undefined) {
    add('time', 'ss_training_started_at', started ?? raw.ss_training_started_at,
      started ? `training started (UTC; Unix time ${raw.ss_training_started_at.trim()})` : 'not a valid Unix time');
  }
  if (stated('ss_training_finished_at') !== undefined) {
    const took = started && finished ? `; ${duration(Number(raw.ss_training_finished_at) - Number(raw.ss_training_started_at))} after the start` : '';
    add('time', 'ss_training_finished_at', finished ?? raw.ss_training_finished_at,
      finished ? `training finished (UTC; Unix time ${raw.ss_training_finished_at.trim()})${took}` : 'not a valid Unix time');
  }
  addKey('time', 'modelspec.date', 'the date the maker gave the model');

  // base model
  addKey('base-model', 'ss_sd_model_name', 'the base checkpoint\'s file name on the maker\'s machine');
  addKey('base-model', 'ss_new_sd_model_hash', 'SHA-256 of the whole base checkpoint, as the trainer computed it');
  addKey('base-model', 'ss_sd_model_hash', 'legacy A1111 hash of the base checkpoint (SHA-256 of 64 KiB at 1 MiB, first 8 hex digits)');
  addKey('base-model', 'ss_base_model_version', 'the base model family the trainer was told');
  addKey('base-model', 'modelspec.architecture', 'the architecture the trainer wrote');
  addKey('base-model', 'ss_vae_name', 'the VAE file the trainer used');
  addKey('base-model', 'ss_new_vae_hash', 'SHA-256 of the VAE file');
  if (stated('ss_v2')?.trim() === 'True') add('base-model', 'ss_v2', 'True', 'the trainer was told the base is Stable Diffusion 2.x');
  if (input.peft?.baseModelNameOrPath) add('base-model', 'adapter_config.json › base_model_name_or_path', input.peft.baseModelNameOrPath, 'the base model repository (or local path) the adapter was made for');
  if (input.peft?.revision) add('base-model', 'adapter_config.json › revision', input.peft.revision, 'the base model revision the adapter was made for');
  const id = input.identity;
  if (id.status !== 'none') {
    add('base-model', 'base-model table', id.status === 'unknown' ? 'unknown hash' : id.name ?? '', `${id.summary}${id.source ? ` (source: ${id.source})` : ''}`);
  }

  // software
  const commit = stated('ss_sd_scripts_commit_hash');
  if (commit !== undefined) add('software', 'ss_sd_scripts_commit_hash', commit, 'kohya-ss/sd-scripts at this git commit trained it');
  addKey('software', 'ss_network_module', 'the network module the trainer loaded (lycoris.kohya: the LyCORIS library)');
  addKey('software', 'ss_optimizer', 'the optimiser, with the library that provides it');
  addKey('software', 'ss_mixed_precision', 'the numeric precision the training ran in');
  addKey('software', 'modelspec.implementation', 'the implementation the trainer names');
  addKey('software', 'modelspec.sai_model_spec', 'version of the Stability AI model-metadata spec');
  if (input.peft?.peftVersion) add('software', 'adapter_config.json › peft_version', input.peft.peftVersion, 'the PEFT library version that saved it');
  if (stated('lora_adapter_metadata') !== undefined) add('software', 'lora_adapter_metadata', 'present', 'diffusers saved the PEFT LoRA config into the file');
  addKey('software', 'format', 'the safetensors "format" entry the saving library wrote ("pt": PyTorch)');

  if (out.length > DISCLOSURE_LIMITS.items) {
    const left = out.length - DISCLOSURE_LIMITS.items + 1;
    out.length = DISCLOSURE_LIMITS.items - 1;
    add('captions', 'disclosure', `${left} more items`, `only the first ${DISCLOSURE_LIMITS.items - 1} are listed`);
  }
  const order = (d: Disclosure) => DISCLOSURE_CATEGORIES.indexOf(d.category);
  return out.map((d, i) => [d, i] as const).sort((x, y) => order(x[0]) - order(y[0]) || x[1] - y[1]).map(([d]) => d);
}

/** A stored disclosure list (a case database row, an imported archive: hostile) → items of the right
 *  shape only, text escaped and capped again, at most DISCLOSURE_LIMITS.items. */
export function readDisclosure(v: unknown): Disclosure[] {
  if (!Array.isArray(v)) return [];
  const out: Disclosure[] = [];
  for (const d of v) {
    if (out.length >= DISCLOSURE_LIMITS.items) break;
    if (!isObject(d) || !DISCLOSURE_CATEGORIES.includes(d.category as DisclosureCategory)) continue;
    if (typeof d.field !== 'string' || typeof d.value !== 'string' || typeof d.note !== 'string') continue;
    const value = visible(d.value, DISCLOSURE_LIMITS.valueChars);
    const item: Disclosure = { category: d.category as DisclosureCategory, field: visible(d.field, DISCLOSURE_LIMITS.fieldChars).text, value: value.text,
      note: visible(d.note, DISCLOSURE_LIMITS.valueChars).text };
    if (isCount(d.count)) item.count = d.count;
    if (typeof d.folder === 'string') item.folder = visible(d.folder, DISCLOSURE_LIMITS.fieldChars).text;
    if (isCount(d.images)) item.images = d.images;
    if (isCount(d.fullLength)) item.fullLength = d.fullLength;
    else if (value.cut) item.fullLength = d.value.length;
    out.push(item);
  }
  return out;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

type Add = (category: DisclosureCategory, field: string, value: string, note: string, extra?: Partial<Disclosure>) => void;

/** ss_tag_frequency: {folder: {tag: count}}. Per folder, the most frequent tags (subject) and the
 *  caption vocabulary (captions); one pass over the tags, keeping only the top ones. */
function tagFrequency(text: string | undefined, imagesOf: Map<string, number>, comment: string | undefined, add: Add): void {
  if (text === undefined) return;
  if (text.length > DISCLOSURE_LIMITS.tagJsonChars) {
    add('captions', 'ss_tag_frequency', `${text.length} characters, not read`, `longer than the ${DISCLOSURE_LIMITS.tagJsonChars / 2 ** 20} Mi-character limit for tag lists`);
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    add('captions', 'ss_tag_frequency', text, 'not valid JSON: shown as text');
    return;
  }
  if (!isObject(parsed)) {
    add('captions', 'ss_tag_frequency', text, 'not a JSON object of folders: shown as text');
    return;
  }
  const lowerComment = comment?.toLowerCase();
  let folders = 0;
  for (const folder in parsed) {
    if (!Object.hasOwn(parsed, folder)) continue;
    if (++folders > DISCLOSURE_LIMITS.folders) continue; // counted, not read
    const tags = parsed[folder];
    const field = `ss_tag_frequency › ${folder}`;
    if (!isObject(tags)) {
      add('captions', field, describe(tags), 'not an object of tag counts');
      continue;
    }
    const s = topTags(tags, DISCLOSURE_LIMITS.vocabularyTags);
    const images = imagesOf.get(folder);
    const folderShown = visible(folder, DISCLOSURE_LIMITS.fieldChars).text;
    for (const [tag, count] of s.top.slice(0, DISCLOSURE_LIMITS.topTags)) {
      const notes = [images !== undefined ? `in ${count} of ${images} images${count === images ? ' (every image: likely the subject or trigger)' : ''}` : `in ${count} captions`];
      // (the readings are for tags of a plausible length only: a hostile megabyte tag is just shown, cut)
      if (tag.length <= 200 && CHARACTER_TAG.test(tag)) notes.push('reads like a character or person tag with its series');
      if (lowerComment && tag.length >= 3 && tag.length <= 200 && lowerComment.includes(tag.toLowerCase())) notes.push('also named in ss_training_comment');
      add('subject', field, tag, notes.join('; '), { count, folder: folderShown, ...(images !== undefined ? { images } : {}) });
    }
    const listed = s.top.map(([t, c]) => `${t} (${c})`).join(', ');
    const rest = s.distinct - s.top.length;
    add('captions', field, listed || '(no tags)',
      `caption vocabulary: ${s.distinct} distinct tags, ${s.uses} uses${images !== undefined ? ` over ${images} images` : ''}${rest > 0 ? `; the ${s.top.length} most frequent listed` : ''}${s.skipped ? `; ${s.skipped} entries without a count ignored` : ''}`);
  }
  if (folders > DISCLOSURE_LIMITS.folders) {
    add('captions', 'ss_tag_frequency', `${folders - DISCLOSURE_LIMITS.folders} more folders`, `only the first ${DISCLOSURE_LIMITS.folders} folders are read`);
  }
}

// Danbooru-style character tags carry their series in brackets: `smart falcon \(umamusume\)`.
const CHARACTER_TAG = /\S\s*\\?\([^()]{2,}\\?\)\s*$/;

/** The k most frequent tags (ties: first seen first), the number of distinct tags and of uses. */
function topTags(tags: Record<string, unknown>, k: number): { top: [string, number][]; distinct: number; uses: number; skipped: number } {
  const top: [string, number][] = [];
  let distinct = 0;
  let uses = 0;
  let skipped = 0;
  for (const tag in tags) {
    if (!Object.hasOwn(tags, tag)) continue;
    const count = tags[tag];
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) { skipped++; continue; }
    distinct++;
    uses += count;
    if (top.length === k && count <= top[k - 1][1]) continue;
    // binary search for the first entry with a smaller count: equal counts keep their order
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (top[mid][1] >= count) lo = mid + 1; else hi = mid;
    }
    top.splice(lo, 0, [tag, count]);
    if (top.length > k) top.pop();
  }
  return { top, distinct, uses, skipped };
}

/** The keys of a JSON object text, at most `max`; nothing when it does not parse. */
function objectKeys(text: string | undefined, max: number): string[] {
  if (text === undefined || text.length > DISCLOSURE_LIMITS.tagJsonChars) return [];
  try {
    const v: unknown = JSON.parse(text);
    if (!isObject(v)) return [];
    const keys: string[] = [];
    for (const k in v) if (Object.hasOwn(v, k) && keys.push(k) >= max) break;
    return keys;
  } catch {
    return [];
  }
}

/** ss_datasets (sd-scripts with a dataset config): [{subsets: [{class_tokens}]}] → the distinct class tokens. */
function classTokens(text: string | undefined): string[] {
  if (text === undefined || text.length > DISCLOSURE_LIMITS.tagJsonChars) return [];
  let v: unknown;
  try { v = JSON.parse(text); } catch { return []; }
  const found = new Set<string>();
  for (const ds of (Array.isArray(v) ? v : []).slice(0, DISCLOSURE_LIMITS.folders)) {
    const subsets = isObject(ds) && Array.isArray(ds.subsets) ? ds.subsets : [];
    for (const sub of subsets.slice(0, DISCLOSURE_LIMITS.folders)) {
      if (isObject(sub) && typeof sub.class_tokens === 'string' && sub.class_tokens.trim()) found.add(sub.class_tokens);
      if (found.size >= DISCLOSURE_LIMITS.folders) return [...found];
    }
  }
  return [...found];
}

// /home/<user>/, /Users/<user>/, C:\Users\<user>\ (also doubled backslashes, as in JSON text, and WSL's /mnt/c/Users).
// A name with spaces ("Bob Smith") counts only when a separator follows it, so prose after a path is not taken.
const NAME_PART = '[^\\\\/\\s"\'<>|:*?\\u0000-\\u001f]{1,64}';
const USER_PATH = new RegExp(`(?:/home/|/Users/|\\b[A-Za-z]:(?:\\\\+|/)(?:Users|Documents and Settings)(?:\\\\+|/))(${NAME_PART}(?:(?: ${NAME_PART}){1,3}(?=[\\\\/]))?)`, 'g');

/** User names in absolute paths, in any metadata key or value (and the PEFT base path). */
function userNames(input: DisclosureInput, add: Add): void {
  const seen = new Map<string, { field: string; path: string; fields: number }>();
  const scan = (field: string, text: string) => {
    if (!/home\/|Users/.test(text)) return;
    for (const m of text.matchAll(USER_PATH)) {
      const user = m[1];
      const known = seen.get(user);
      if (known) { if (known.field !== field) known.fields++; continue; }
      if (seen.size >= DISCLOSURE_LIMITS.userNames) return;
      const start = m.index ?? 0;
      seen.set(user, { field, path: text.slice(Math.max(0, start - 20), start + m[0].length + 60), fields: 1 });
    }
  };
  for (const key of Object.keys(input.raw)) {
    scan(key, key);
    scan(key, input.raw[key]);
  }
  if (input.peft?.baseModelNameOrPath) scan('adapter_config.json › base_model_name_or_path', input.peft.baseModelNameOrPath);
  for (const [user, at] of seen) {
    const path = visible(at.path, 160).text;
    add('maker', at.field, user, `a user name in an absolute path: …${path}…${at.fields > 1 ? ` (in ${at.fields} fields)` : ''}`);
  }
}

function unixTime(text: string | undefined): string | null {
  if (text === undefined || !/^\s*\d{1,12}(\.\d+)?\s*$/.test(text)) return null;
  const ms = Number(text) * 1000;
  if (!Number.isFinite(ms) || ms > 8.64e15) return null;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return 'an end before the start';
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min`;
}

/** Untrusted text made safe to show anywhere (terminal, page, PDF): unprintable characters and lone
 *  surrogates become `\u{…}`, and the result is cut to `max` characters, never inside an escape. */
export function visible(s: string, max: number): { text: string; cut: boolean } {
  let text = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const piece = UNPRINTABLE.test(ch) || (cp >= 0xd800 && cp <= 0xdfff) ? escapedCodePoint(cp) : ch;
    if (text.length + piece.length > max) return { text, cut: true };
    text += piece;
  }
  return { text, cut: false };
}

/** A JSON value that should have been an object, in words (never stringified: it may nest a million deep). */
function describe(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `a list of ${v.length} items`;
  return String(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
