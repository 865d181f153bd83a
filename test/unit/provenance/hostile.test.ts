// Everything the provenance check reads may be hostile: the file asked about (NaN factors, absurd ranks,
// too many modules) and the database behind it (edited fingerprints, reference features, layouts,
// calibration, a cut index). Each is refused or skipped with its reason, and no match is ever claimed
// from it; an index someone cut is rebuilt by `provenance --rebuild`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { storedFile, storeRoot } from '../../../main/cases/store.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { diffusersKey } from '../../../main/intake/naming.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';
import { checkFingerprinted, type ProvenanceReport } from '../../../main/provenance/check.ts';
import { SEARCH_LIMITS, searchIndex } from '../../../main/provenance/search.ts';
import { fingerprintFile } from '../../../main/provenance/file.ts';
import { syncIndex } from '../../../main/provenance/sync.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import { cliJson, rawSql, tempDir } from '../cases/helpers.ts';
import { adapterWeights, writeAs, writeReferenceFolder } from './fixture.ts';

let t: ReturnType<typeof tempDir>;
let evidenceId: string;
let kohya: string;

/** A lab (database + evidence store) with one case holding the original and a reference set holding it
 *  as `panda` size 10; each test tampers with its own copy. */
beforeAll(async () => {
  t = tempDir('lora-audit-provenance-hostile-');
  const original = adapterWeights(1);
  const upload = writeAs(t.dir, 'upload', 'diffusers', original);
  kohya = writeAs(t.dir, 'copies/kohya-copy', 'kohya', original);
  const folder = writeReferenceFolder(join(t.dir, 'wise'), [
    { file: 'panda-10.safetensors', name: 'panda', size: 10, modules: original },
    { file: 'panda-1.safetensors', name: 'panda', size: 1, modules: adapterWeights(4) },
  ]);
  const db = await openDatabase(join(t.dir, 'base', 'cases.sqlite'));
  const engine = await createFeatureEngine({ backend: 'cpu' });
  try {
    await importReference(db, { name: 'wise', paths: [folder], engine });
    const kase = await createCase(db, { title: 'Hub upload 4711', examiner: 'Ada' });
    evidenceId = (await addEvidence(db, kase.id, upload)).id; // indexes the set and the item
  } finally {
    engine.dispose();
    await db.close();
  }
});
afterAll(() => t.cleanup());

function lab(name: string): string {
  cpSync(join(t.dir, 'base'), join(t.dir, name), { recursive: true });
  return join(t.dir, name, 'cases.sqlite');
}

async function provenanceOf(dbPath: string, file: string): Promise<ProvenanceReport> {
  const db = await openDatabase(dbPath);
  try {
    const root = storeRoot(dbPath);
    const sync = await syncIndex(db, { evidenceFile: (rel) => storedFile(root, rel) });
    return await checkFingerprinted(db, await fingerprintFile(file), sync);
  } finally {
    await db.close();
  }
}

/** One float64 of a BLOB replaced. */
async function poke(dbPath: string, select: string, update: string, index: number, value: number): Promise<void> {
  const [row] = await rawSql(dbPath, select);
  const blob = Buffer.from(row.blob as Uint8Array);
  blob.writeDoubleLE(value, index * 8);
  await rawSql(dbPath, update, [blob]);
}

const kinds = (r: ProvenanceReport, source: 'evidence' | 'reference') => r.matches.filter((m) => m.where.source === source).map((m) => m.kind);

describe('a hostile database', () => {
  it('an evidence fingerprint edited to hold NaN is skipped and named, never matched', async () => {
    const dbPath = lab('nan-sketch');
    // [format, modules, then module 0: rank, roundoff, factorNorm, σ(4), sketch(16)]: the first probe value
    await poke(dbPath, `SELECT data AS blob FROM provenance_fingerprints WHERE evidence_id = '${evidenceId}'`,
      `UPDATE provenance_fingerprints SET data = ? WHERE evidence_id = '${evidenceId}'`, 2 + 3 + 4, NaN);
    const r = await provenanceOf(dbPath, kohya);
    expect(kinds(r, 'evidence')).toEqual([]);
    expect(r.skipped).toEqual([{ where: expect.objectContaining({ source: 'evidence', evidenceId }), reason: expect.stringMatching(/^the stored fingerprint of module unet\.\S+: a probe value is NaN$/) }]);
    expect(kinds(r, 'reference')).toEqual(['same-update']);
  });

  it('reference features edited to hold NaN are skipped and named, never matched', async () => {
    const dbPath = lab('nan-features');
    // features of module 0: σA(4), σB(4), σΔW(4), …: the first σ(ΔW)
    await poke(dbPath, "SELECT features AS blob FROM reference_adapters WHERE name = 'panda' AND label = 10",
      "UPDATE reference_adapters SET features = ? WHERE name = 'panda' AND label = 10", 8, NaN);
    const r = await provenanceOf(dbPath, kohya);
    expect(kinds(r, 'reference')).toEqual([]);
    expect(r.skipped).toEqual([{ where: expect.objectContaining({ source: 'reference', name: 'panda', label: 10 }), reason: expect.stringMatching(/: a singular value of ΔW is NaN$/) }]);
    expect(kinds(r, 'evidence')).toEqual(['same-update']);
  });

  it('a module layout whose stored list was edited no longer matches its hash: skipped', async () => {
    const dbPath = lab('layout');
    await rawSql(dbPath, "UPDATE provenance_layouts SET modules = json_set(modules, '$[0]', 'unet.planted')");
    const r = await provenanceOf(dbPath, kohya);
    expect(kinds(r, 'evidence')).toEqual([]);
    expect(r.skipped).toContainEqual({ where: expect.objectContaining({ evidenceId }), reason: expect.stringMatching(/no longer has the hash it was stored under/) });
  });

  it('a near calibration that is not a distance is not used, and near is then not claimed', async () => {
    const dbPath = lab('calibration');
    await rawSql(dbPath, 'UPDATE provenance_reference_sets SET min_distance = -0.5');
    const r = await provenanceOf(dbPath, kohya);
    expect(r.near.threshold).toBeNull();
    expect(r.near.notes).toContain('the stored near calibration of reference set "wise" is not a set of distances in [0, 1) and was not used');
    expect(r.matches.filter((m) => m.kind === 'near')).toEqual([]);
  });

  it('a cut index hides matches until `provenance --rebuild` recomputes it from the evidence copies and reference rows', async () => {
    const dbPath = lab('cut');
    await rawSql(dbPath, 'DELETE FROM provenance_module_index');
    await rawSql(dbPath, 'DELETE FROM provenance_adapter_index');
    const hidden = await cliJson<{ results: ProvenanceReport[] }>(['provenance', kohya, '--db', dbPath]);
    expect(hidden.data.results[0].matches.map((m) => m.kind)).toEqual([]);
    const rebuilt = await cliJson<{ results: ProvenanceReport[]; index: { evidenceIndexed: number; referenceSetsIndexed: string[] } }>(
      ['provenance', kohya, '--rebuild', '--db', dbPath]);
    expect(rebuilt.data.index).toMatchObject({ evidenceIndexed: 1, referenceSetsIndexed: ['wise'] });
    expect(rebuilt.data.results[0].matches.map((m) => `${m.kind} ${m.where.source}`).sort()).toEqual(['same-update evidence', 'same-update reference']);
  });
});

describe('a hostile library', () => {
  it('stuffed with the query\'s own module shapes (each module scaled apart) still puts the same update first in line', async () => {
    const original = adapterWeights(1);
    // every module of every decoy has the original's σ(ΔW) shape at another scale: the module R-tree
    // cannot rank them, and the candidate bound below leaves room for 3 of 11
    const decoys = Array.from({ length: 10 }, (_, k) => ({
      file: `decoy-${k}.safetensors`, name: 'decoy', size: k + 1,
      modules: original.map((m, i) => ({ ...m, b: m.b.map((v) => v * (1.5 + 0.1 * k + 0.01 * i)) })),
    }));
    const folder = writeReferenceFolder(join(t.dir, 'stuffed'), [...decoys, { file: 'panda-10.safetensors', name: 'panda', size: 10, modules: original }]);
    const db = await openDatabase(join(t.dir, 'stuffed-lab', 'cases.sqlite'));
    const engine = await createFeatureEngine({ backend: 'cpu' });
    try {
      await importReference(db, { name: 'stuffed', paths: [folder], engine });
      await syncIndex(db, { evidenceFile: () => { throw new Error('no evidence here'); } });
      const f = await fingerprintFile(kohya);
      const r = await searchIndex(db, { sha256: f.sha256, fp: f.fp, describe: { family: f.family, dtypes: f.dtypes } }, { ...SEARCH_LIMITS, candidates: 3 });
      expect(r.matches.map((m) => [m.kind, m.where.source === 'reference' && m.where.name])).toEqual([['same-update', 'panda']]);
      expect(r.notes).toContain('11 stored fingerprints were candidates; the first 3 were compared (identical files, then those inside the same-update box, then those with the most agreeing modules)');
    } finally {
      engine.dispose();
      await db.close();
    }
  });
});

describe('a hostile file', () => {
  /** A diffusers file of `count` modules of the given rank on 1×1 layers (a few bytes per module). */
  function write(name: string, count: number, rank: number, fill = 0.5): string {
    const path = join(t.dir, name);
    writeFileSync(path, encodeSafetensors(Array.from({ length: count }, (_, i) => `unet.down_blocks.0.attentions.0.transformer_blocks.${i}.attn1.to_q`)
      .flatMap((id) => [
        { key: diffusersKey(id, 'A'), dtype: 'F16' as const, shape: [rank, 1], data: new Float32Array(rank).fill(fill) },
        { key: diffusersKey(id, 'B'), dtype: 'F16' as const, shape: [1, rank], data: new Float32Array(rank).fill(fill) },
      ])));
    return path;
  }

  it('with NaN factors gets no fingerprint (NOT_APPLICABLE) and no match', async () => {
    const r = await provenanceOf(lab('nan-file'), write('nan.safetensors', 4, 2, NaN));
    expect(r.fingerprint).toMatchObject({ status: 'refused', code: 'NOT_APPLICABLE', message: expect.stringMatching(/holds NaN or infinite values: no fingerprint, so no match is claimed from it$/) });
    expect(r.matches).toEqual([]);
  });

  it('with an absurd rank, too much eigen work or too many modules is refused before its tensors are read', async () => {
    const rank = await fingerprintFile(write('rank.safetensors', 1, 65536));
    expect(rank.refusal).toEqual({ code: 'LIMIT_EXCEEDED', message: 'module unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q has rank 65536, more than the 2048 a fingerprint covers' });
    const work = await fingerprintFile(write('work.safetensors', 17, 2048));
    expect(work.refusal).toMatchObject({ code: 'LIMIT_EXCEEDED', message: expect.stringMatching(/^fingerprinting would take 1\.5e\+11 operations, more than the 1\.4e\+11 allowed$/) });
    const many = await fingerprintFile(write('many.safetensors', 8193, 1));
    expect(many.refusal).toEqual({ code: 'LIMIT_EXCEEDED', message: '8193 modules, more than the 8192 a fingerprint covers' });
    expect([rank, work, many].map((f) => f.fp)).toEqual([null, null, null]);
  });
});
