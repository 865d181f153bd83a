// The report's section "Where the files came from": each evidence file's provenance matches as recorded
// when it was added (escaped: a matched file's name is someone else's text), or a plain line saying
// nothing matched. The real matches from a case database are checked in test/unit/provenance/.
import { describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../../main/reports/template.ts';
import { makeModel } from './fixture.ts';

function section(html: string): string {
  const start = html.indexOf('<section class="provenance">');
  expect(start).toBeGreaterThan(0);
  return html.slice(start, html.indexOf('</section>', start));
}

describe('the report says where each file came from', () => {
  it('lists each file\'s provenance matches escaped, and says so when a file matched nothing', () => {
    const s = section(renderReportHtml(makeModel('both')));
    expect(s).toContain('<h2>Where the files came from</h2>');
    expect(s).toContain('<li style="overflow-wrap:anywhere">same update as &lt;b&gt;upload.safetensors&lt;/b&gt; in case &quot;Hub upload 4711&quot; (evidence 1a2b3c4d), converted from diffusers to kohya layout</li>');
    expect(s).not.toContain('<b>upload');
    expect(s).toMatch(/2\. <span class="file">[^<]+<\/span><\/h3><p class="muted">No copy of another case's evidence or of a reference adapter was found when it was added\.<\/p>/);
  });
});
