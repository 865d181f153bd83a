// The report's section "What the file discloses": a real LyCORIS file's caption tags per folder with
// counts, its maker and times and named base model, printed from the case database; hostile values
// (HTML and script in tag names and folders, a 50,000-character comment) escaped and cut. A page image
// of the section is kept in test-results/reports/ for a person to look at.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { buildReportModel } from '../../../main/reports/model.ts';
import { chromiumRenderer } from '../../../main/reports/render.ts';
import { renderReportHtml } from '../../../main/reports/template.ts';
import { fixtures, tempDb } from '../cases/helpers.ts';
import { makeModel } from './fixture.ts';

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, '../../../test-results/reports');
const LOKR4 = join(fixtures, 'lycoris-lokr-sd15-dim4-smartfalcon/smart_falcon_4_lokr.safetensors');

/** The section's own HTML (between its heading and the next section). */
function section(html: string): string {
  const start = html.indexOf('<section class="disclosure">');
  expect(start).toBeGreaterThan(0);
  return html.slice(start, html.indexOf('</section>', start));
}

describe('the report says what each file discloses', () => {
  it('escapes HTML and script in tags, folders and values, and cuts long values saying how long they were', () => {
    const html = renderReportHtml(makeModel('both'));
    const s = section(html);
    expect(s).toContain('<h2>What the file discloses</h2>');
    expect(s).toContain('&lt;script&gt;alert(&quot;tag&quot;)&lt;/script&gt; (12), pixel art (9)');
    expect(s).toContain('10_&lt;b&gt;px&lt;/b&gt;<br><span class="muted">12 images</span>');
    expect(s).toContain(`&lt;img src=x onerror=alert(1)&gt;${'c'.repeat(300 - 28)}… <span class="muted">(50,000 characters;`);
    expect(s).not.toMatch(/<script>alert|<img src=x|<b>px/);
    expect(s).toContain('<strong>Base model: unknown hash.</strong>');
    // the second adapter's metadata says nothing
    expect(s).toContain("The metadata discloses nothing beyond the file's format.");
  });

  it.skipIf(!existsSync(LOKR4))('prints a real file\'s tags per folder, maker, times and base model from the case database, and keeps a page image', async () => {
    const t = await tempDb();
    const work = mkdtempSync(join(tmpdir(), 'disclosure-report-'));
    const renderer = await chromiumRenderer();
    try {
      const kase = await createCase(t.db, { title: 'Disclosure', examiner: 'Ana Examiner' });
      await addEvidence(t.db, kase.id, LOKR4);
      const model = await buildReportModel(t.db, kase.id);
      expect(model.evidence[0].disclosure.find((d) => d.count === 43)).toMatchObject({ value: 'smart falcon \\(umamusume\\)', folder: '16_smf girl' });
      const html = renderReportHtml(model);
      const s = section(html);
      expect(s).toContain('<strong>base model: animefull-final-pruned.safetensors (hash matches: SHA-256 and legacy hash)</strong>');
      for (const [folder, n] of [['16_smf girl', 43], ['4_smf girl', 45], ['8_smf girl', 42]]) {
        expect(s).toContain(`<td class="file">${folder}<br><span class="muted">${n} images</span></td><td>smart falcon \\(umamusume\\) (${n}), hair bow (`);
      }
      expect(s).toContain('<td>time</td><td class="file">ss_training_started_at</td><td class="file">2023-04-05T17:41:40Z</td>');
      expect(s).toContain('<td>maker</td><td class="file">ss_session_id</td><td class="file">2097167670</td>');

      const pdf = join(work, 'report.pdf');
      writeFileSync(pdf, await renderer.render(html));
      const pages = Number(execFileSync('pdfinfo', [pdf], { encoding: 'utf8' }).match(/Pages:\s+(\d+)/)![1]);
      const page = Array.from({ length: pages }, (_, i) => i + 1)
        .find((p) => execFileSync('pdftotext', ['-f', String(p), '-l', String(p), pdf, '-'], { encoding: 'utf8' }).includes('What the file discloses'))!;
      const text = execFileSync('pdftotext', ['-f', String(page), '-l', String(page + 1), pdf, '-'], { encoding: 'utf8' });
      expect(text).toContain('smart falcon \\(umamusume\\) (43)');
      mkdirSync(RESULTS, { recursive: true });
      execFileSync('pdftoppm', ['-png', '-r', '80', '-f', String(page), '-l', String(page), pdf, join(work, 'disclosure')]);
      const png = readdirSync(work).find((f) => f.startsWith('disclosure') && f.endsWith('.png'))!;
      copyFileSync(join(work, png), join(RESULTS, 'disclosure-section.png'));
    } finally {
      await renderer.close();
      await t.cleanup();
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);
});

