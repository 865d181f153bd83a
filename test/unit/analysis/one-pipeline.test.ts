// One analysis pipeline (main/analysis/analyze-file.ts): the same file against the same reference set
// gives the same result whichever host asks, the CLI's `analyze`, the CLI's `case analyze`, the app's
// `analysis.run` channel, or the report built from the case, and all of them use one default mode.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODE } from '../../../main/analysis/mode.ts';
import { listAnalyses } from '../../../main/cases/analyses.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { buildReportModel } from '../../../main/reports/model.ts';
import { createServices, type Services } from '../../../main/services/create.ts';
import { AGREEMENT_TOLERANCE, createFeatureEngine } from '../../../native/engine.ts';
import { repoRoot, runCli, tempDir } from '../cases/helpers.ts';

const demo = join(repoRoot, 'assets/demo');
const SET = 'demo';

/** What a result means, without what legitimately differs between two runs (when, which file path,
 *  which feature backend the process calibrated; typed arrays as lists, as the CLI's --json writes them). */
function comparable(result: Record<string, unknown>): Record<string, unknown> {
  const { createdAt: _c, file: _f, backend: _b, ...rest } = result;
  return JSON.parse(JSON.stringify(rest, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v))) as Record<string, unknown>;
}

/** Equal, numbers within the feature backends' documented agreement (native/engine.ts AGREEMENT_TOLERANCE):
 *  two processes may calibrate different backends, whose float32 and float64 features differ in the last digits. */
function expectSame(got: unknown, want: unknown, path = 'result'): void {
  if (typeof want === 'number' && typeof got === 'number') {
    if (Object.is(got, want)) return;
    expect(Math.abs(got - want), `${path}: ${got} vs ${want}`).toBeLessThanOrEqual(AGREEMENT_TOLERANCE * Math.max(1, Math.abs(want)));
    return;
  }
  if (want !== null && typeof want === 'object' && got !== null && typeof got === 'object') {
    expect(Object.keys(got).sort(), path).toEqual(Object.keys(want).sort());
    for (const k of Object.keys(want)) expectSame((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${path}.${k}`);
    return;
  }
  expect(got, path).toEqual(want);
}

describe('one analysis pipeline for every host', () => {
  let tmp: { dir: string; cleanup(): void };
  let services: Services;
  let caseId: string;
  let evidenceFile: string;

  beforeAll(async () => {
    tmp = tempDir('lora-audit-pipeline-');
    services = await createServices({
      host: 'headless', dataDir: tmp.dir, renderPdf: async () => { throw new Error('no PDF in this test'); },
      openFiles: async () => [], saveFile: async () => null,
    });
    const engine = await createFeatureEngine({ backend: 'cpu' });
    const imported = await importReference(services.db, { name: SET, paths: [join(demo, 'reference/train-00000-of-00001.parquet')], rank: 4, engine });
    expect(imported.errors).toEqual([]);
    engine.dispose();
    evidenceFile = join(demo, 'evidence/diffusers/clay_ring-2img/pytorch_lora_weights.safetensors');
    caseId = (await createCase(services.db, { title: 'pipeline', examiner: 'E. Examiner' })).id;
    await addEvidence(services.db, caseId, evidenceFile);
  }, 120_000);

  afterAll(async () => {
    await services?.close();
    tmp?.cleanup();
  });

  it('gives the same result JSON from the CLI, a case (CLI and app) and the report, in the default mode', async () => {
    const job = { jobId: 'j', signal: new AbortController().signal, progress: () => undefined };
    // the app: analysis.run with no mode
    const [viaApp] = await services.handlers['analysis.run']({ caseId, evidenceIds: [], referenceSet: SET }, job);
    expect(viaApp.error ?? null).toBeNull();
    const dbPath = join(tmp.dir, 'cases.sqlite');
    const viaCli = await runCli(['analyze', evidenceFile, '--reference', SET, '--db', dbPath, '--json']);
    expect(viaCli.stderr).not.toMatch(/INTERNAL/);
    const cliResult = JSON.parse(viaCli.stdout)[0] as Record<string, unknown>;
    const viaCase = await runCli(['case', 'analyze', caseId, '--reference', SET, '--db', dbPath, '--json']);
    const caseOutcome = (JSON.parse(viaCase.stdout) as { outcomes: { analysis: { result: Record<string, unknown> } }[] }).outcomes;
    const model = await buildReportModel(services.db, caseId);

    // the app's channel answers with a view for the renderer (the spectra reshaped for its chart); what it
    // recorded in the case is the pipeline's result
    const [recorded] = await listAnalyses(services.db, caseId);
    expect(recorded.id).toBe(viaApp.id);
    const app = comparable(recorded.result as unknown as Record<string, unknown>);
    const { spectra: _s, ...viewed } = comparable(viaApp.result as unknown as Record<string, unknown>);
    const { spectra: _t, ...appWithoutSpectra } = app;
    expectSame(viewed, appWithoutSpectra);
    expect(app.mode).toBe(DEFAULT_MODE);
    expect(app.applicable).toBe(true);
    expectSame(comparable(cliResult), app);
    expectSame(comparable(caseOutcome[0].analysis.result), app);
    // the report shows the newest analysis of the evidence: the CLI's case analysis, the same result
    expectSame(comparable(model.results[0].result as unknown as Record<string, unknown>), app);
  }, 240_000);

  it('states a metadata claim in the same words in the CLI and in a case', async () => {
    const kohyaFile = join(demo, 'evidence/kohya/copper_stripes-3img.safetensors');
    const dbPath = join(tmp.dir, 'cases.sqlite');
    const { id } = await addEvidence(services.db, caseId, kohyaFile);
    const job = { jobId: 'k', signal: new AbortController().signal, progress: () => undefined };
    const [viaApp] = await services.handlers['analysis.run']({ caseId, evidenceIds: [id], referenceSet: SET }, job);
    const viaCli = JSON.parse((await runCli(['analyze', kohyaFile, '--reference', SET, '--db', dbPath, '--json'])).stdout)[0] as { metadataClaim: unknown };
    expect(viaApp.result?.metadataClaim).toEqual(viaCli.metadataClaim);
    expect(viaCli.metadataClaim).toMatchObject({ source: 'kohya ss_dataset_dirs (sum of img_count, repeats not counted)' });
  }, 240_000);
});
