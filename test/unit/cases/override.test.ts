// Examiner overrides on the record (issue 18), through the CLI on the demo: the kohya evidence is refused
// against the demo reference for its training tool (a soft reason) and, with --override "…", gets an
// estimate carrying the justification, in `analyze --json`, in a case analysis and its audit entry, and in
// the report ("Compared despite", escaped). The rank-8 evidence stays refused: its reason is hard.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../../../main/cases/audit.ts';
import { buildReportModel } from '../../../main/reports/model.ts';
import { chromiumRenderer } from '../../../main/reports/render.ts';
import { renderReportHtml } from '../../../main/reports/template.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { cliJson, repoRoot, runCli, tempDir } from './helpers.ts';

const KOHYA = join(repoRoot, 'assets/demo/evidence/kohya/copper_stripes-3img.safetensors');
const RANK8 = join(repoRoot, 'assets/demo/evidence/not-applicable/clay_ring-4img-rank8/pytorch_lora_weights.safetensors');
const RESULTS = join(repoRoot, 'test-results/reports');
const WHY = 'The maker states the kohya run used the reference recipe (rank 4, alpha 4, same steps); <b>σ(ΔW)</b> & its scale agree.';

type Json = Record<string, any>;
let tmp: ReturnType<typeof tempDir>;
let db: string;

beforeAll(async () => {
  tmp = tempDir('lora-audit-override-');
  db = join(tmp.dir, 'cases.sqlite');
  const r = await runCli(['reference', 'import', 'assets/demo/reference', '--name', 'demo', '--db', db]);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

afterAll(() => tmp?.cleanup());

describe('lora-audit analyze --override', () => {
  it('refuses the demo kohya file for its tool, a soft reason named from its ss_* metadata', async () => {
    const { code, data } = await cliJson<Json[]>(['analyze', KOHYA, '--reference', 'demo', '--db', db]);
    expect(code).toBe(1);
    expect(data[0]).toMatchObject({ applicable: false, estimate: null });
    expect(data[0].reasons).toHaveLength(1);
    expect(data[0].reasons[0]).toMatch(/produced by kohya's sd-scripts \(evidence: its ss_\* training metadata \(\d+ keys, ss_network_module networks\.lora\)\)/);
    expect(data[0].refusals).toEqual([{ code: 'TOOL', kind: 'soft', text: data[0].reasons[0] }]);
    expect(data[0].override ?? null).toBeNull();
  }, 120_000);

  it('gives the kohya file an estimate with the justification when asked to compare anyway', async () => {
    const refused = (await cliJson<Json[]>(['analyze', KOHYA, '--reference', 'demo', '--db', db])).data[0];
    const { code, data } = await cliJson<Json[]>(['analyze', KOHYA, '--reference', 'demo', '--db', db, '--override', `  ${WHY}  `]);
    expect(code).toBe(0);
    expect(data[0].applicable).toBe(true);
    expect(data[0].estimate).toBeGreaterThanOrEqual(1);
    expect(data[0].estimate).toBeLessThanOrEqual(6);
    expect(data[0].override).toEqual({ justification: WHY, reasonsOverridden: refused.reasons });
    expect(data[0].reasons).toEqual([]);
    // the opinion is capped at limited, and says why
    expect(['limited', 'none']).toContain(data[0].opinion.grade);
    expect(data[0].opinion.because.some((b: string) => b.startsWith('Compared despite refusal reasons') && b.includes(WHY))).toBe(true);
  }, 120_000);

  it('still refuses the rank-8 file, saying its rank reason is hard and cannot be overridden', async () => {
    const { code, data } = await cliJson<Json[]>(['analyze', RANK8, '--reference', 'demo', '--db', db, '--override', WHY]);
    expect(code).toBe(1);
    expect(data[0].error.code).toBe('OVERRIDE_REFUSED');
    expect(data[0].error.message).toMatch(/^the refusal cannot be overridden: its reason is hard \(rank\): This adapter has rank 8; the reference set was trained at rank 4\./);
    expect(data[0].error.message).toMatch(/changes the very numbers DSiRe compares/);
    expect(data[0].error.details.hard).toEqual([{ code: 'RANK', text: expect.stringMatching(/rank 8/) }]);
    expect(data[0].estimate).toBeUndefined();
    // the person reading the terminal is told the same
    const human = await runCli(['analyze', RANK8, '--reference', 'demo', '--db', db, '--override', WHY]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/OVERRIDE_REFUSED: the refusal cannot be overridden: its reason is hard \(rank\)/);
  }, 120_000);

  it('refuses an empty or whitespace justification before anything runs', async () => {
    for (const why of ['', '   ']) {
      const { code, data } = await cliJson<Json>(['analyze', KOHYA, '--reference', 'demo', '--db', db, `--override=${why}`]);
      expect(code).not.toBe(0);
      expect(data.error.code).toBe('BAD_JUSTIFICATION');
    }
  }, 120_000);
});

describe('lora-audit case analyze --override', () => {
  it('records the override with the analysis and its audit entry, and the report prints it beside the estimate', async () => {
    const kase = (await cliJson<Json>(['case', 'create', '--title', 'Override on the record', '--examiner', 'Ana Examiner', '--db', db])).data;
    const added = await cliJson<Json>(['case', 'add-evidence', kase.id, KOHYA, RANK8, '--db', db]);
    expect(added.code).toBe(0);
    const [kohyaId, rank8Id] = (added.data.evidence as Json[]).map((e) => e.id as string);
    expect(kohyaId).toBeTruthy();

    const ran = await cliJson<Json>(['case', 'analyze', kase.id, kohyaId, '--reference', 'demo', '--db', db, '--override', WHY]);
    expect(ran.code).toBe(0);
    const analysis = ran.data.outcomes[0].analysis;
    expect(analysis.result.override).toMatchObject({ justification: WHY });
    expect(analysis.result.estimate).toBeGreaterThanOrEqual(1);

    const hard = await cliJson<Json>(['case', 'analyze', kase.id, rank8Id, '--reference', 'demo', '--db', db, '--override', WHY]);
    expect(hard.code).toBe(1);
    expect(hard.data.outcomes[0]).toMatchObject({ status: 'refused', finding: { code: 'OVERRIDE_REFUSED' } });
    expect(hard.data.outcomes[0].finding.message).toMatch(/hard \(rank\)/);

    const d = await openDatabase(db);
    const work = tempDir('lora-audit-override-report-');
    const renderer = await chromiumRenderer();
    try {
      const trail = await listAudit(d, kase.id);
      const entry = trail.find((a) => a.action === 'analysis' && a.details.analysisId === analysis.id)!;
      expect(entry.details.override).toEqual({ justification: WHY, reasonsOverridden: analysis.result.override.reasonsOverridden });
      const refusedEntry = trail.find((a) => a.action === 'analysis-refused' && a.details.evidenceId === rank8Id)!;
      expect(refusedEntry.details).toMatchObject({ code: 'OVERRIDE_REFUSED', override: { justification: WHY, refused: [{ code: 'RANK' }] } });

      const html = renderReportHtml(await buildReportModel(d, kase.id));
      expect(html).toContain('Compared despite: This adapter was produced by kohya');
      expect(html).toContain('&lt;b&gt;σ(ΔW)&lt;/b&gt; &amp; its scale agree.');
      expect(html).not.toContain('<b>σ(ΔW)</b>');
      expect(html).toContain('compared despite soft refusal reasons');

      const pdf = join(work.dir, 'report.pdf');
      writeFileSync(pdf, await renderer.render(html));
      const pages = Number(execFileSync('pdfinfo', [pdf], { encoding: 'utf8' }).match(/Pages:\s+(\d+)/)![1]);
      const page = Array.from({ length: pages }, (_, i) => i + 1)
        .find((p) => execFileSync('pdftotext', ['-f', String(p), '-l', String(p), pdf, '-'], { encoding: 'utf8' }).includes('Compared despite:'));
      expect(page, 'a page of the PDF prints "Compared despite:"').toBeDefined();
      const text = execFileSync('pdftotext', ['-f', String(page), '-l', String(page), pdf, '-'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
      expect(text).toContain('<b>σ(ΔW)</b> & its scale agree.');
      mkdirSync(RESULTS, { recursive: true });
      execFileSync('pdftoppm', ['-png', '-r', '80', '-f', String(page), '-l', String(page), pdf, join(work.dir, 'override')]);
      const png = readdirSync(work.dir).find((f) => f.startsWith('override') && f.endsWith('.png'))!;
      copyFileSync(join(work.dir, png), join(RESULTS, 'override.png'));
    } finally {
      await renderer.close();
      await d.close();
      work.cleanup();
    }
  }, 240_000);
});
