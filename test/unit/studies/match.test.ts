// The recipe-match table: the demo kohya evidence against a study planned from it (same recipe; the
// assumed fields marked), against one whose steps were changed (differs), and the report's section.
import { describe, expect, it } from 'vitest';
import { openAdapter } from '../../../main/intake/open.ts';
import { deriveRecipe } from '../../../main/studies/recipe.ts';
import { recipeMatch } from '../../../main/studies/match.ts';
import { recipeMatchSection } from '../../../main/reports/recipe-match-section.ts';
import type { StudyProvenance } from '../../../main/reference/types.ts';
import type { AnalysisResult } from '../../../main/dsire/types.ts';
import { KOHYA_EVIDENCE } from './bundle-fixture.ts';

async function study(change?: (p: StudyProvenance) => void) {
  const a = await openAdapter(KOHYA_EVIDENCE);
  const { recipe, assumed } = deriveRecipe(a, { trainer: 'builtin' });
  const p: StudyProvenance = {
    studyId: 'study-0123456789abcdef', planSha256: 'a'.repeat(64), trainer: 'builtin',
    evidence: { file: KOHYA_EVIDENCE, sha256: a.identity.sha256, family: 'kohya' },
    recipe: Object.fromEntries(Object.entries(recipe).map(([k, f]) => [k, { value: f.value, source: f.source }])),
    assumed: assumed.map((x) => x.field), coverage: { planned: 12, imported: 11, missing: ['x-n1'], rejected: [], sizes: [] }, runs: [],
  };
  change?.(p);
  return { a, p };
}

describe('recipe match', () => {
  it('the evidence against its own study: every known field the same, the assumed ones marked', async () => {
    const { a, p } = await study();
    try {
      const m = recipeMatch(a, p);
      expect(m.sameEvidence).toBe(true);
      expect(m.coverage).toEqual({ planned: 12, imported: 11 });
      const row = (f: string) => m.rows.find((r) => r.field === f)!;
      expect(row('rank')).toMatchObject({ match: 'same', assumed: false, evidence: { value: 4, source: 'metadata: ss_network_dim' } });
      expect(row('optimizer')).toMatchObject({ match: 'same', assumed: true });
      expect(m.rows.filter((r) => r.match === 'differs')).toEqual([]);
    } finally { await a.source.close(); }
  });

  it('a study trained with other steps: that field differs, and the report says so', async () => {
    const { a, p } = await study((x) => { x.recipe.maxTrainSteps = { value: 30, source: 'examiner: --set maxTrainSteps' }; });
    try {
      const m = recipeMatch(a, p);
      expect(m.rows.find((r) => r.field === 'maxTrainSteps')).toMatchObject({ match: 'differs', evidence: { value: 100 }, study: { value: 30 } });
      const html = recipeMatchSection({ recipeMatch: m } as AnalysisResult);
      expect(html).toContain('Recipe match: this file against reference study study-0123456789abcdef');
      expect(html).toContain('1 fields agree'.replace('1', String(m.rows.filter((r) => r.match === 'same').length)));
      expect(html).toMatch(/maxTrainSteps<\/td><td>100<br>.*<td>30<br>.*<strong>differs<\/strong>/);
      expect(html).toContain('optimizer <strong>(assumed)</strong>');
      expect(recipeMatchSection({} as AnalysisResult)).toBe('');
    } finally { await a.source.close(); }
  });
});
