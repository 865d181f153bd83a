// The report's recipe-match table renders a stored result (the case database, an imported case archive):
// every value in it is hostile text, the row's match word too, which was put in a class attribute
// unescaped (security review of issue 19).
import { describe, expect, it } from 'vitest';
import { recipeMatchSection } from '../../../main/reports/recipe-match-section.ts';
import type { AnalysisResult } from '../../../main/dsire/types.ts';

const evil = '"><img src=x onerror=alert(1)>';

describe('the recipe-match table', () => {
  it('escapes every stored value, the match word included', () => {
    const html = recipeMatchSection({
      recipeMatch: {
        studyId: evil, planSha256: evil, sameEvidence: false, coverage: { planned: evil, imported: evil },
        rows: [{ field: evil, evidence: { value: [evil], source: evil }, study: { value: evil, source: evil }, match: evil, assumed: true }],
      },
    } as unknown as AnalysisResult);
    expect(html).toContain('&lt;img');
    expect(html).not.toMatch(/<img|onerror=alert\(1\)>/);
    expect(html).toContain('<tr class="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">');
  });
});
