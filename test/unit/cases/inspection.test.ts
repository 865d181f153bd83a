// Evidence in a case shows what the inspect view shows: the typed inspection report is stored with a
// version and mapped by the one view function, so the evidence card's metadata panel (kohya dim and
// alpha, whether sshs_model_hash matches) renders for evidence in a case, not only for a file being added.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence, getEvidence } from '../../../main/cases/evidence.ts';
import { readInspection } from '../../../main/cases/inspect.ts';
import { inspectFile } from '../../../main/intake/inspect.ts';
import { evidenceView, inspectView } from '../../../main/services/views.ts';
import { rawSql, repoRoot, tempDb } from './helpers.ts';

const KOHYA = join(repoRoot, 'assets/demo/evidence/kohya/copper_stripes-3img.safetensors');

describe('stored inspection', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => { await cleanup?.(); cleanup = undefined; });

  it('gives the evidence card the same metadata panel, scale and findings as the inspect view', async () => {
    const t = await tempDb();
    cleanup = t.cleanup;
    const kase = await createCase(t.db, { title: 'inspection', examiner: 'E' });
    const item = await addEvidence(t.db, kase.id, KOHYA);
    const card = evidenceView(await getEvidence(t.db, kase.id, item.id)).inspect!;
    const direct = inspectView(await inspectFile(KOHYA));
    expect(card.metadata.summary).toMatchObject({ 'network dim': '4', 'network alpha': '4' });
    expect(card.metadata.summary).toEqual(direct.metadata.summary);
    expect(card.scale).toBe(1);
    expect({ ...card, file: '' }).toEqual({ ...direct, file: '' });
  });

  it('reads rows written before the report was stored whole, and ignores fields of the wrong type', () => {
    const facts = { fileName: 'x.safetensors', size: 10, sha256: 'ab', family: 'kohya', method: 'lora', baseModel: 'sd1' };
    const v1 = readInspection({
      family: 'kohya', method: 'lora', baseModel: 'sd1', ranks: [4], dtypes: ['F16'], modules: 3,
      otherTensors: [{ key: 'k', role: 'alpha' }, { key: 'l', role: 'alpha' }], findings: [{ severity: 'warning', code: 'X', message: 'm' }],
      metadata: { kohya: { networkDim: 4 }, peft: null, claimedTrainingImages: 7, keys: 12 },
    }, facts);
    expect(v1).toMatchObject({ family: 'kohya', ranks: [4], dtype: ['F16'], modules: 3, otherTensors: { alpha: 2 },
      metadata: { keys: 12, claimedTrainingImages: 7, kohya: { networkDim: 4 } }, error: null });
    const hostile = readInspection({ version: 2, report: { ranks: 'x', findings: [1, null], metadata: { claimedTrainingImages: '9' }, error: { code: 1 } } }, facts);
    expect(hostile).toMatchObject({ family: 'kohya', ranks: [], findings: [], metadata: { claimedTrainingImages: null }, error: null });
    expect(readInspection(null, facts)).toMatchObject({ file: 'x.safetensors', family: 'kohya', error: null });
  });

  it('keeps a refusal: an unreadable file shows its error and no family', async () => {
    const t = await tempDb();
    cleanup = t.cleanup;
    const kase = await createCase(t.db, { title: 'refused', examiner: 'E' });
    const { writeFileSync } = await import('node:fs');
    const bad = join(t.dir, 'bad.safetensors');
    writeFileSync(bad, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    const item = await addEvidence(t.db, kase.id, bad);
    const card = evidenceView(await getEvidence(t.db, kase.id, item.id)).inspect!;
    expect(card.family).toBeNull();
    expect(card.error?.code).toMatch(/^[A-Z_]+$/);
    expect(await rawSql(t.dbPath, 'SELECT family FROM evidence')).toEqual([{ family: 'unknown' }]);
  });
});
