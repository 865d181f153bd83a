// The recipe-match table reads the reference set's study provenance, database content (security review of
// issue 19): a malformed one (a source that is not text, no recipe, assumptions or coverage of the wrong
// kind) is a typed refusal naming the set's provenance, not a TypeError in every analysis against the set.
import { describe, expect, it } from 'vitest';
import { openAdapter } from '../../../main/intake/open.ts';
import { deriveRecipe } from '../../../main/studies/recipe.ts';
import { recipeMatch } from '../../../main/studies/match.ts';
import type { StudyProvenance } from '../../../main/reference/types.ts';
import { AuditError } from '../../../main/errors.ts';
import { KOHYA_EVIDENCE } from './bundle-fixture.ts';

describe('a malformed study provenance', () => {
  it('is refused with a typed error', async () => {
    const a = await openAdapter(KOHYA_EVIDENCE);
    try {
      const { recipe, assumed } = deriveRecipe(a, { trainer: 'builtin' });
      const good = (): StudyProvenance => ({
        studyId: 'study-0123456789abcdef', planSha256: 'a'.repeat(64), trainer: 'builtin',
        evidence: { file: KOHYA_EVIDENCE, sha256: a.identity.sha256, family: 'kohya' },
        recipe: Object.fromEntries(Object.entries(recipe).map(([k, f]) => [k, { value: f.value, source: f.source }])),
        assumed: assumed.map((x) => x.field), coverage: { planned: 2, imported: 1, missing: [], rejected: [], sizes: [] }, runs: [],
      });
      expect(recipeMatch(a, good()).rows.length).toBeGreaterThan(0);
      const edits: ((p: any) => void)[] = [
        (p) => { p.recipe.learningRate.source = 42; },
        (p) => { p.recipe.rank = 'x'; },
        (p) => { p.recipe = null; },
        (p) => { p.assumed = 5; },
        (p) => { p.coverage = null; },
        (p) => { p.evidence = null; },
      ];
      for (const edit of edits) {
        const p = good();
        edit(p);
        let err: unknown = null;
        try { recipeMatch(a, p); } catch (e) { err = e; }
        expect(err, String(edit)).toBeInstanceOf(AuditError);
        expect(err, String(edit)).toMatchObject({ code: 'BAD_CONFIG' });
      }
    } finally { await a.source.close(); }
  });
});
