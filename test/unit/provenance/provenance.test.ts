// Where did this adapter come from: a diffusers LoRA is evidence in a case and an adapter of a labelled
// reference set; its conversions (kohya, PEFT, float16), another factorisation, a rescaled copy and a
// pruned copy are each found for what they are, through `lora-audit provenance` and through
// `case add-evidence` (a finding in the stored inspection, and the audit entry).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { addEvidence, listEvidence } from '../../../main/cases/evidence.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { listAudit } from '../../../main/cases/audit.ts';
import { buildReportModel } from '../../../main/reports/model.ts';
import { renderReportHtml } from '../../../main/reports/template.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import type { ProvenanceMatch } from '../../../main/provenance/describe.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import { cliJson, tempDir } from '../cases/helpers.ts';
import { adapterWeights, halfModules, perturbB, regauge, scaleB, writeAs, writeDtype, writeReferenceFolder } from './fixture.ts';

interface Result { file: string; matches: ProvenanceMatch[]; fingerprint: { status: string; modules?: number }; near: { threshold: number | null } }

let t: ReturnType<typeof tempDir>;
let dbPath: string;
let caseId: string;
let evidenceId: string;
const files: Record<string, string> = {};

beforeAll(async () => {
  t = tempDir('lora-audit-provenance-');
  dbPath = join(t.dir, 'lab', 'cases.sqlite');
  const original = adapterWeights(1);
  files.diffusers = writeAs(t.dir, 'upload', 'diffusers', original);
  files.kohya = writeAs(t.dir, 'copies/kohya-copy', 'kohya', original);
  files.peft = writeAs(t.dir, 'copies/peft-copy', 'peft', original);
  files.f16 = writeDtype(join(t.dir, 'copies', 'half.safetensors'), original, 'F16');
  files.gauge = writeAs(t.dir, 'copies/regauged', 'kohya', regauge(original, 9));
  files.scaled = writeAs(t.dir, 'copies/scaled', 'diffusers', scaleB(original, 2));
  files.pruned = writeAs(t.dir, 'copies/pruned', 'diffusers', halfModules(original));
  files.stranger = writeAs(t.dir, 'copies/stranger', 'diffusers', adapterWeights(3));
  files.retrained = writeAs(t.dir, 'copies/retrained', 'diffusers', perturbB(original, 0.01, 11));
  const folder = writeReferenceFolder(join(t.dir, 'wise'), [
    { file: 'panda-10.safetensors', name: 'panda', size: 10, modules: original },
    { file: 'panda-1.safetensors', name: 'panda', size: 1, modules: adapterWeights(4) },
    { file: 'robot-1.safetensors', name: 'robot', size: 1, modules: adapterWeights(5) },
    { file: 'robot-10.safetensors', name: 'robot', size: 10, modules: adapterWeights(6) },
  ]);
  const db = await openDatabase(dbPath);
  const engine = await createFeatureEngine({ backend: 'cpu' });
  try {
    const imported = await importReference(db, { name: 'wise', paths: [folder], engine });
    expect(imported.errors).toEqual([]);
    caseId = (await createCase(db, { title: 'Hub upload 4711', examiner: 'Ada' })).id;
    evidenceId = (await addEvidence(db, caseId, files.diffusers)).id;
  } finally {
    engine.dispose();
    await db.close();
  }
});
afterAll(() => t.cleanup());

const evidenceMatch = (r: Result) => r.matches.filter((m) => m.where.source === 'evidence');
const referenceMatch = (r: Result, name: string, label: number) =>
  r.matches.filter((m) => m.where.source === 'reference' && m.where.name === name && m.where.label === label);

describe('lora-audit provenance', () => {
  let results: Record<string, Result>;
  beforeAll(async () => {
    const names = ['diffusers', 'kohya', 'peft', 'f16', 'gauge', 'scaled', 'pruned', 'stranger', 'retrained'];
    const r = await cliJson<{ results: Result[] }>(['provenance', ...names.map((n) => files[n]), '--db', dbPath]);
    expect(r.code).toBe(0);
    results = Object.fromEntries(names.map((n, i) => [n, r.data.results[i]]));
  });

  it('finds the stored file itself by its SHA-256, in the case and in the labelled reference set', () => {
    expect(results.diffusers.matches.map((m) => m.kind)).toEqual(['identical-file', 'identical-file']);
    expect(evidenceMatch(results.diffusers)[0]).toMatchObject({ basis: 'sha256', where: { caseId, evidenceId, caseTitle: 'Hub upload 4711' } });
    expect(referenceMatch(results.diffusers, 'panda', 10)[0].detail).toMatch(/^identical file \(SHA-256 [0-9a-f]{16}…\) to `panda` \(size 10\) of reference set \*wise\*$/);
  });

  it('finds kohya and PEFT conversions as the same update, exactly through B(A·x), naming the conversion', () => {
    expect(evidenceMatch(results.kohya)).toEqual([expect.objectContaining({ kind: 'same-update', basis: 'probe-sketches', modules: { matched: 128, query: 128, stored: 128 } })]);
    expect(evidenceMatch(results.kohya)[0].detail).toBe(
      `same update as \`pytorch_lora_weights.safetensors\` in case *Hub upload 4711* (evidence ${evidenceId.slice(0, 8)}): B(A·x) equal on all 128 modules, converted from diffusers to kohya layout`);
    expect(evidenceMatch(results.peft)).toEqual([expect.objectContaining({ kind: 'same-update', basis: 'probe-sketches' })]);
    expect(evidenceMatch(results.peft)[0].detail).toMatch(/B\(A·x\) equal on all 128 modules, converted from diffusers to PEFT layout$/);
  });

  it('decides reference adapters on σ(ΔW) only and says so; the set\'s unrelated adapters are not the same update', () => {
    for (const name of ['kohya', 'peft', 'f16', 'gauge']) {
      const r = results[name];
      expect(referenceMatch(r, 'panda', 10)).toEqual([expect.objectContaining({ kind: 'same-update', basis: 'sigma' })]);
      expect(referenceMatch(r, 'panda', 10)[0].detail).toMatch(/: σ\(ΔW\) identical on all 128 modules; factors not stored, so decided on σ\(ΔW\) only$/);
      for (const [other, label] of [['panda', 1], ['robot', 1], ['robot', 10]] as const) {
        expect(referenceMatch(r, other, label).filter((m) => m.kind !== 'near')).toEqual([]);
      }
    }
  });

  it('finds a float16 re-save and another factorisation (B·G, G⁻¹·A) as the same update', () => {
    expect(evidenceMatch(results.f16)).toEqual([expect.objectContaining({ kind: 'same-update', basis: 'probe-sketches' })]);
    expect(evidenceMatch(results.f16)[0].detail).toMatch(/B\(A·x\) equal on all 128 modules, stored as F16 \(it: F32\)$/);
    expect(evidenceMatch(results.gauge)).toEqual([expect.objectContaining({ kind: 'same-update', basis: 'probe-sketches' })]);
    expect(evidenceMatch(results.gauge)[0].detail).toMatch(/converted from diffusers to kohya layout, with other factors A, B for the same s·B·A$/);
  });

  it('finds B scaled by 2 as rescaled ×2, in the case (ΔW) and in the reference set (σ)', () => {
    const [e] = evidenceMatch(results.scaled);
    expect(e).toMatchObject({ kind: 'rescaled', basis: 'probe-sketches' });
    expect(e.factor).toBeCloseTo(2, 6);
    expect(e.detail).toMatch(/: ΔW = 2 × its own on all 128 modules$/);
    const [r] = referenceMatch(results.scaled, 'panda', 10);
    expect(r).toMatchObject({ kind: 'rescaled', basis: 'sigma' });
    expect(r.factor).toBeCloseTo(2, 3);
  });

  it('finds a copy with half its modules dropped as a subset: a pruned copy', () => {
    const [e] = evidenceMatch(results.pruned);
    expect(e).toMatchObject({ kind: 'subset', modules: { matched: 64, query: 64, stored: 128 } });
    expect(e.detail).toMatch(/on all 64 of this file's modules; it has 128: this file is a pruned copy of it/);
    expect(referenceMatch(results.pruned, 'panda', 10)).toEqual([expect.objectContaining({ kind: 'subset', basis: 'sigma' })]);
  });

  it('finds a copy trained a little further as near (not the same update), with the calibration stated', () => {
    const [e] = evidenceMatch(results.retrained);
    expect(e).toMatchObject({ kind: 'near', basis: 'sigma' });
    expect(e.distance).toBeLessThan(e.threshold!);
    expect(e.detail).toMatch(/^σ\(ΔW\) within [0-9.]+% of `pytorch_lora_weights.safetensors` in case \*Hub upload 4711\* \(evidence [0-9a-f]{8}\), below the near threshold [0-9.]+%: half the smallest σ\(ΔW\) distance between two sizes of one image set in reference set \*wise\* \(2 pairs, median [0-9.]+%\); related, not shown to be the same update$/);
  });

  it('finds nothing for an unrelated adapter, whose σ(ΔW) is as far as the set\'s own different adapters', () => {
    expect(results.stranger.fingerprint).toMatchObject({ status: 'indexed', modules: 128 });
    expect(results.stranger.matches).toEqual([]);
    // two sizes of "panda" and of "robot" in the set: the threshold is half the smaller of their distances
    expect(results.stranger.near.threshold).toBeGreaterThan(0);
  });
});

describe('case add-evidence records provenance', () => {
  it('as a PROVENANCE_MATCH finding in the evidence\'s stored inspection and in the audit entry', async () => {
    const created = await cliJson<{ id: string }>(['case', 'create', '--title', 'Mirror 2', '--examiner', 'Bo', '--db', dbPath]);
    const added = await cliJson<{ evidence: { id: string; inspect: { findings: { code: string; severity: string; message: string }[] } }[] }>(
      ['case', 'add-evidence', created.data.id, files.kohya, '--db', dbPath]);
    expect(added.code).toBe(0);
    const expected = {
      code: 'PROVENANCE_MATCH', severity: 'warning',
      message: `same update as \`pytorch_lora_weights.safetensors\` in case *Hub upload 4711* (evidence ${evidenceId.slice(0, 8)}): B(A·x) equal on all 128 modules, converted from diffusers to kohya layout`,
    };
    expect(added.data.evidence[0].inspect.findings).toContainEqual(expected);
    expect(added.data.evidence[0].inspect.findings).toContainEqual(expect.objectContaining({
      code: 'PROVENANCE_MATCH', message: expect.stringMatching(/^same update as `panda` \(size 10\) of reference set \*wise\*: σ\(ΔW\) identical on all 128 modules/),
    }));

    const db = await openDatabase(dbPath);
    try {
      const [stored] = await listEvidence(db, created.data.id);
      expect(stored.inspect.findings).toContainEqual(expected);
      const entry = (await listAudit(db, created.data.id)).find((e) => e.action === 'evidence-added')!;
      expect(entry.details.provenance).toMatchObject({
        fingerprint: { status: 'indexed', modules: 128 },
        matches: expect.arrayContaining([
          { kind: 'same-update', where: { caseId, evidenceId }, basis: 'probe-sketches', detail: expected.message },
          expect.objectContaining({ kind: 'same-update', where: expect.objectContaining({ set: 'wise', name: 'panda', label: 10 }), basis: 'sigma' }),
        ]),
      });
      // the new item is in the index: the next upload of the same bytes finds it by SHA-256
      const third = await createCase(db, { title: 'Third', examiner: 'Cy' });
      const again = await addEvidence(db, third.id, files.kohya);
      expect(again.inspect.findings).toContainEqual(expect.objectContaining({
        code: 'PROVENANCE_MATCH', message: expect.stringMatching(/^identical file \(SHA-256 [0-9a-f]{16}…\) to `kohya-copy.safetensors` in case \*Mirror 2\*/),
      }));
      // and the case's report says so, in its section on where the files came from
      const html = renderReportHtml(await buildReportModel(db, third.id));
      const section = html.slice(html.indexOf('<section class="provenance">'), html.indexOf('</section>', html.indexOf('<section class="provenance">')));
      expect(section).toMatch(/<li style="overflow-wrap:anywhere">identical file \(SHA-256 [0-9a-f]{16}…\) to `kohya-copy.safetensors` in case \*Mirror 2\*/);
    } finally {
      await db.close();
    }
  });
});
