// Issue 18's done-when on the shipped demo: `analyze --json` against the demo reference states the method's
// error measured on that set (the same figures `evaluate` gives with the same protocol), an interval with
// bounds and its measured coverage, and an opinion grade. The figures are measured once and cached with the
// set; a changed set is measured again; a set of three names says why it has no figures; the app measures
// a set as a job that reports progress and can be cancelled.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { createServices, type Services } from '../../../main/services/create.ts';
import type { ProgressEvent } from '../../../main/api/contract.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import { repoRoot, runCli, tempDir } from '../cases/helpers.ts';

const demo = join(repoRoot, 'assets/demo');
const EVIDENCE = join(demo, 'evidence/diffusers/clay_ring-2img/pytorch_lora_weights.safetensors');

interface Json {
  estimate: number;
  reliability: { accuracy: number; withinOne: number; mae: number; mape: number; intervalCoverage: number; splits: number; trainNames: number; names: number; seed: number; methodVersion: string } | null;
  reliabilityUnavailable: { code: string; reason: string } | null;
  interval: { low: number; high: number; nominal: number; coverage: number | null } | { reason: string };
  opinion: { grade: string; because: string[] };
}

describe('reliability measured on the demo reference', () => {
  let tmp: { dir: string; cleanup(): void };
  let services: Services;
  let dbPath: string;

  beforeAll(async () => {
    tmp = tempDir('lora-audit-reliability-');
    dbPath = join(tmp.dir, 'cases.sqlite');
    services = await createServices({
      host: 'headless', dataDir: tmp.dir, renderPdf: async () => { throw new Error('no PDF in this test'); },
      openFiles: async () => [], saveFile: async () => null,
    });
    const engine = await createFeatureEngine({ backend: 'cpu' });
    for (const name of ['demo', 'small']) {
      const imported = await importReference(services.db, { name, paths: [join(demo, 'reference/train-00000-of-00001.parquet')], rank: 4, engine });
      expect(imported.errors).toEqual([]);
    }
    engine.dispose();
  }, 120_000);

  afterAll(async () => {
    await services?.close();
    tmp?.cleanup();
  });

  const analyzeJson = async (set: string): Promise<Json> => {
    const run = await runCli(['analyze', EVIDENCE, '--reference', set, '--db', dbPath, '--json']);
    expect(run.stderr).not.toMatch(/INTERNAL/);
    return (JSON.parse(run.stdout) as Json[])[0];
  };
  const rows = () => services.db.all<{ set_name: string; content_hash: string; mode: string; measured_at: string }>(
    `SELECT s.name AS set_name, r.content_hash, r.mode, r.measured_at FROM reference_reliability r JOIN reference_sets s ON s.id = r.set_id ORDER BY s.name`);

  it('gives analyze --json numeric reliability figures, an interval with bounds and its measured coverage, and a grade', async () => {
    const r = await analyzeJson('demo');
    const rel = r.reliability!;
    expect(typeof rel.mae).toBe('number');
    expect(typeof rel.accuracy).toBe('number');
    expect(rel).toMatchObject({ splits: 10, trainNames: 8, names: 10, seed: 42, methodVersion: '1.0.0' });
    // the same protocol as `lora-audit evaluate`, on the same set: the same figures
    const ev = JSON.parse((await runCli(['evaluate', '--reference', 'demo', '--db', dbPath, '--mode', 'best', '--train-names', '8', '--splits', '10', '--seed', '42', '--json'])).stdout) as
      { accuracy: { mean: number }; mae: { mean: number }; mape: { mean: number }; interval: { coverage: { mean: number } } };
    expect(rel.accuracy).toBe(ev.accuracy.mean);
    expect(rel.mae).toBe(ev.mae.mean);
    expect(rel.mape).toBe(ev.mape.mean);
    expect(rel.intervalCoverage).toBe(ev.interval.coverage.mean);
    expect(rel.withinOne).toBeGreaterThanOrEqual(rel.accuracy);
    if (!('low' in r.interval)) throw new Error(`no bounds: ${r.interval.reason}`);
    expect(r.interval.low).toBeLessThanOrEqual(r.estimate);
    expect(r.interval.high).toBeGreaterThanOrEqual(r.estimate);
    expect(r.interval.nominal).toBe(0.9);
    expect(r.interval.coverage).toBe(ev.interval.coverage.mean);
    expect(['strong', 'moderate', 'limited', 'none']).toContain(r.opinion.grade);
    expect(r.opinion.because[0]).toMatch(/^On held-out adapters of this reference set/);
  }, 120_000);

  it('measures once and reads the cached figures afterwards', async () => {
    const before = await rows();
    expect(before.map((x) => [x.set_name, x.mode])).toEqual([['demo', 'best']]);
    const again = await analyzeJson('demo');
    expect(await rows()).toEqual(before); // same row, same measured_at: not measured again
    expect(again.reliability).not.toBeNull();
  }, 120_000);

  it('states the grade and the set\'s figures in `case analyze`\'s text output', async () => {
    const kase = JSON.parse((await runCli(['case', 'create', '--title', 'grade', '--examiner', 'E. Examiner', '--db', dbPath, '--json'])).stdout) as { id: string };
    expect((await runCli(['case', 'add-evidence', kase.id, EVIDENCE, '--db', dbPath])).code).toBe(0);
    const text = (await runCli(['case', 'analyze', kase.id, '--reference', 'demo', '--db', dbPath])).stdout;
    expect(text).toMatch(/: estimate \d+; opinion (strong|moderate|limited|none) \(on this set: exact \d+ %, within one \d+ %, MAE \d+\.\d\d\)  \[analysis /);
  }, 120_000);

  it('measures again when the method changed since the figures were cached', async () => {
    const [before] = await rows();
    await services.db.run("UPDATE reference_reliability SET method_version = '0.9.0#earlier' WHERE mode = 'best'");
    await analyzeJson('demo');
    const after = (await rows()).filter((x) => x.set_name === 'demo');
    expect(after).toHaveLength(1); // the stale row is gone
    expect(after[0].measured_at > before.measured_at).toBe(true);
    const key = await services.db.get<{ method_version: string }>('SELECT method_version FROM reference_reliability');
    expect(key?.method_version).toMatch(/^1\.0\.0#[0-9a-f]{16}$/);
  }, 120_000);

  it('measures a changed set again, and states no figures for a set left with three names', async () => {
    await analyzeJson('small');
    const first = (await rows()).find((x) => x.set_name === 'small')!;
    const names = (await services.db.all<{ name: string }>(
      "SELECT DISTINCT a.name FROM reference_adapters a JOIN reference_sets s ON s.id = a.set_id WHERE s.name = 'small' ORDER BY a.name")).map((x) => x.name);
    const drop = async (keep: number) => services.db.run(
      `DELETE FROM reference_adapters WHERE set_id = (SELECT id FROM reference_sets WHERE name = 'small') AND name NOT IN (${names.slice(0, keep).map(() => '?').join(',')})`, names.slice(0, keep));

    await drop(9);
    const nine = await analyzeJson('small');
    expect(nine.reliability).toMatchObject({ names: 9, trainNames: 7 });
    const second = (await rows()).filter((x) => x.set_name === 'small');
    expect(second).toHaveLength(1); // the old content's row is gone
    expect(second[0].content_hash).not.toBe(first.content_hash);

    await drop(3);
    const three = await analyzeJson('small');
    expect(three.reliability).toBeNull();
    expect(three.reliabilityUnavailable).toEqual({ code: 'TOO_FEW_NAMES', reason: expect.stringMatching(/has 3 image-set names; .*at least 4/) });
    if (!('low' in three.interval)) throw new Error('best mode still calibrates an interval on three names');
    expect(three.interval.coverage).toBeNull();
    expect(three.opinion.grade).toBe('none');
  }, 180_000);

  it('is measured by `reference import` once the set is complete, and shown by `reference reliability`', async () => {
    const db = join(tmp.dir, 'cli.sqlite');
    const imported = await runCli(['reference', 'import', join(demo, 'reference'), '--name', 'demo', '--db', db, '--backend', 'cpu']);
    expect(imported.code).toBe(0);
    expect(imported.stderr).toMatch(/reliability of "demo" \(best mode\), on held-out adapters: exact \d+ %, within one size \d+ %, MAE \d+\.\d\d, MAPE \d+ %, 90 % interval coverage \d+ % \(10 splits, 8 of 10 names as references, seed 42; \d+ ms\)/);
    const shown = await runCli(['reference', 'reliability', 'demo', '--db', db, '--json']);
    const m = JSON.parse(shown.stdout) as { referenceSet: string; mode: string; reliability: { measuredAt: string; confusion: { sizes: number[]; counts: number[][] }; queries: number } };
    expect(m).toMatchObject({ referenceSet: 'demo', mode: 'best' });
    expect(m.reliability.confusion.sizes).toEqual([1, 2, 3, 4, 5, 6]);
    expect(m.reliability.confusion.counts.flat().reduce((a, b) => a + b, 0)).toBe(m.reliability.queries);
    // read from the cache, not measured again; --remeasure measures again
    const cached = JSON.parse((await runCli(['reference', 'reliability', 'demo', '--db', db, '--json'])).stdout) as typeof m;
    expect(cached.reliability.measuredAt).toBe(m.reliability.measuredAt);
    const again = JSON.parse((await runCli(['reference', 'reliability', 'demo', '--db', db, '--json', '--remeasure'])).stdout) as typeof m;
    expect(again.reliability.measuredAt > m.reliability.measuredAt).toBe(true);
  }, 180_000);

  it('measures a set as a job: progress while it runs, the figures cached, and a cancelled job stores nothing', async () => {
    const events: ProgressEvent[] = [];
    const job = (signal: AbortSignal) => ({ jobId: 'rel', signal, progress: (e: Omit<ProgressEvent, 'jobId' | 'channel'>) => events.push({ ...e, jobId: 'rel', channel: 'references.reliability' }) });
    const aborted = new AbortController();
    aborted.abort();
    await expect(services.handlers['references.reliability']({ name: 'demo', mode: 'faithful' }, job(aborted.signal))).rejects.toMatchObject({ code: 'CANCELLED' });
    expect((await rows()).filter((x) => x.mode === 'faithful')).toEqual([]);

    const view = await services.handlers['references.reliability']({ name: 'demo', mode: 'faithful' }, job(new AbortController().signal));
    expect(view.referenceSet).toBe('demo');
    expect(view.unavailable).toBeNull();
    expect(view.reliability).toMatchObject({ mode: 'faithful', names: 10, trainNames: 8, intervalCoverage: null });
    expect(events.map((e) => e.phase)).toEqual(['hashing', 'measuring', 'storing', 'done']);
    expect((await rows()).filter((x) => x.mode === 'faithful')).toHaveLength(1);
  }, 120_000);
});
