// A hand-made report model: one adapter estimated (with spectra, a metadata claim and warnings) and
// one refused by the applicability check. Hashes are real SHA-256 digests of named strings.
import { createHash } from 'node:crypto';
import type { AnalysisResult, Interval, LegacyInterval } from '../../../main/dsire/types.ts';
import { LIMITATIONS, type ReportModel } from '../../../main/reports/model.ts';
import { NO_BASE_MODEL_IDENTITY } from '../../../main/intake/base-models.ts';
import type { Disclosure } from '../../../main/intake/disclosure.ts';

export const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export const EVIDENCE_OK = { id: 'ev-1', fileName: 'pixel_style_v2<script>.safetensors', sha256: sha('adapter one') };
export const EVIDENCE_REFUSED = { id: 'ev-2', fileName: 'sdxl_character_lora.safetensors', sha256: sha('adapter two') };
export const REFUSAL_REASON = 'rank 64 differs from the reference set rank 16: the classifier only compares adapters of the same rank';

/** What the first adapter's metadata discloses, as intake escaped it: a hostile tag and folder among real-looking ones. */
export const DISCLOSURE_OK: Disclosure[] = [
  { category: 'subject', field: 'ss_tag_frequency › 10_<b>px</b>', value: '<script>alert("tag")</script>', note: 'in 12 of 12 images', count: 12, folder: '10_<b>px</b>', images: 12 },
  { category: 'subject', field: 'ss_tag_frequency › 10_<b>px</b>', value: 'pixel art', note: 'in 9 of 12 images', count: 9, folder: '10_<b>px</b>', images: 12 },
  { category: 'maker', field: 'ss_training_comment', value: `<img src=x onerror=alert(1)>${'c'.repeat(1990)}`, note: 'the maker\'s comment', fullLength: 50_000 },
  { category: 'maker', field: 'ss_training_comment', value: 'alice', note: 'a user name in an absolute path: …/home/alice/loras…' },
  { category: 'time', field: 'ss_training_started_at', value: '2023-04-05T17:41:40Z', note: 'training started (UTC; Unix time 1680716500.7709305)' },
];

const modules = Array.from({ length: 12 }, (_, i) => `unet.down_blocks.${i >> 2}.attentions.0.transformer_blocks.0.attn1.to_q`);

function estimated(): AnalysisResult {
  return {
    file: EVIDENCE_OK.fileName, sha256: EVIDENCE_OK.sha256, referenceSet: 'lora-wise-sd15-r16', mode: 'faithful',
    applicable: true, reasons: [], estimate: 10,
    votes: [{ size: 1, count: 3 }, { size: 5, count: 11 }, { size: 10, count: 52 }, { size: 20, count: 6 }],
    // the shape analyses recorded before issue 18 stored (coverage = the nominal level): reports still read it
    interval: { low: 5, high: 20, coverage: 0.9, method: 'split-conformal, leave-one-name-out on the reference set' } satisfies LegacyInterval as unknown as Interval,
    nearest: [{ name: '417', size: 10, distance: 0.0123, source: 'train-00003.parquet#12' }, { name: '88', size: 10, distance: 0.0151, source: 'train-00001.parquet#40' }],
    perModule: [],
    regression: { estimate: 11.4, method: 'ridge on log-size' },
    outOfDistribution: { flagged: false, score: 0.8, threshold: 2.5, explanation: 'nearest-neighbour distance within the reference set spread' },
    metadataClaim: { claimed: 40, source: 'ss_num_train_images', withinInterval: false, agrees: false },
    warnings: ['metadata counts repeats: ss_num_train_images is 40 with 4 repeats'],
    method: { name: 'DSiRe', version: '1.0.0', parameters: { features: ['sigmaA', 'sigmaB', 'sigmaDW'], k: 1 } },
    backend: 'cpu', createdAt: '2026-11-28T18:00:00.000Z',
    spectra: {
      statistic: 'σ₁(ΔW)', modules,
      query: modules.map((_, i) => 0.5 + 0.05 * i),
      bySize: [1, 5, 10, 20].map((size) => ({ size, mean: modules.map((_, i) => 0.2 * Math.log2(size + 1) + 0.05 * i) })),
    },
  };
}

function refused(): AnalysisResult {
  return {
    file: EVIDENCE_REFUSED.fileName, sha256: EVIDENCE_REFUSED.sha256, referenceSet: 'lora-wise-sd15-r16', mode: 'faithful',
    applicable: false, reasons: [REFUSAL_REASON], estimate: null, votes: [], interval: null as unknown as Interval, nearest: [], perModule: [],
    regression: null, outOfDistribution: null, metadataClaim: null, warnings: [],
    method: { name: 'DSiRe', version: '1.0.0', parameters: {} }, backend: 'cpu', createdAt: '2026-11-28T18:01:00.000Z',
  };
}

export function makeModel(kind: 'estimated' | 'refused' | 'both' = 'both'): ReportModel {
  const evidence = [
    { ...EVIDENCE_OK, size: 3_245_112, family: 'kohya', method: 'lora', baseModel: 'sd1', importedAt: '2026-11-28T17:50:00.000Z', metadataClaim: { claimed: 40, source: 'ss_num_train_images' }, refused: null,
      disclosure: DISCLOSURE_OK, baseModelIdentity: { ...NO_BASE_MODEL_IDENTITY, status: 'unknown' as const, summary: 'unknown hash: the base model\'s hash is in no table entry' },
      provenance: [{ severity: 'warning', message: 'same update as <b>upload.safetensors</b> in case "Hub upload 4711" (evidence 1a2b3c4d), converted from diffusers to kohya layout' }] },
    { ...EVIDENCE_REFUSED, size: 45_678_901, family: 'diffusers-peft', method: 'lora', baseModel: 'sdxl', importedAt: '2026-11-28T17:51:00.000Z', metadataClaim: null, refused: null,
      disclosure: [], baseModelIdentity: NO_BASE_MODEL_IDENTITY, provenance: [] },
  ].filter((_, i) => kind === 'both' || (kind === 'estimated' ? i === 0 : i === 1));
  const method = { name: 'DSiRe', version: '1.0.0', mode: 'faithful', parameters: { k: 1 }, backend: 'cpu', appVersion: '0.1.0' };
  const results = [
    { evidenceId: EVIDENCE_OK.id, fileName: EVIDENCE_OK.fileName, sha256: EVIDENCE_OK.sha256, analysedAt: '2026-11-28T18:00:00.000Z', method, result: estimated(), refusal: null },
    { evidenceId: EVIDENCE_REFUSED.id, fileName: EVIDENCE_REFUSED.fileName, sha256: EVIDENCE_REFUSED.sha256, analysedAt: '2026-11-28T18:01:00.000Z', method, result: refused(), refusal: null },
  ].filter((_, i) => kind === 'both' || (kind === 'estimated' ? i === 0 : i === 1));
  return {
    generatedAt: '2026-11-28T18:30:00.000Z',
    app: { name: 'LoRA Auditor', version: '0.1.0' },
    case: { id: '6f1c1f0e-4b7e-4f7a-9c55-3d1e2a7b9c10', title: 'Case 2026-117: Pixel style adapter', examiner: 'Ana Examiner', organisation: 'Audit Lab', description: 'Complaint about a published style adapter.', status: 'open', createdAt: '2026-11-28T17:45:00.000Z' },
    evidence,
    references: [{ name: 'lora-wise-sd15-r16', id: 1, provenance: { source: 'lora-wise-parquet', importerVersion: '1.0.0', createdAt: '2026-11-28T17:00:00.000Z', shards: [{ fileName: 'train-00001.parquet', size: 250_000_000, sha256: sha('shard 1'), rows: 60, importedAt: '2026-11-28T17:00:00.000Z' }] } }],
    results,
    limitations: [...LIMITATIONS],
    audit: { total: 3, headSeq: 3, headHash: sha('head'), chainOk: true, chainProblem: null, entries: [
      { seq: 1, at: '2026-11-28T17:45:00.000Z', actor: 'Ana Examiner', action: 'case.create', summary: 'title: Case 2026-117', hash: sha('e1') },
      { seq: 2, at: '2026-11-28T17:50:00.000Z', actor: 'Ana Examiner', action: 'evidence.add', summary: `sha256: ${EVIDENCE_OK.sha256}`, hash: sha('e2') },
      { seq: 3, at: '2026-11-28T18:00:00.000Z', actor: 'Ana Examiner', action: 'analysis.run', summary: 'estimate: 10', hash: sha('head') },
    ] },
    signature: { signer: null, statement: 'I produced this report from the evidence listed.', place: 'Utrecht' },
  };
}
