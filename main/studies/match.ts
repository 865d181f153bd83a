// The recipe-match table of an analysis against a study's reference set: the analysed file's recipe
// (derived as `study plan` derives it, each value with its source) beside the recipe the study was
// planned and trained with, field by field. "Assumed" on either side is marked, so a reader sees which
// agreements rest on a guess rather than on what the file states.
import type { CanonicalAdapter } from '../intake/model.ts';
import { canonicalJson } from '../common/hashing.ts';
import { AuditError } from '../errors.ts';
import type { RecipeMatch, RecipeMatchRow, StudyProvenance } from '../reference/types.ts';
import { deriveRecipe } from './recipe.ts';
import type { RecipeKey, TrainerKind } from './types.ts';

/** The fields shown, in the order a reader checks them: identity, structure, then training. */
export const MATCH_FIELDS: RecipeKey[] = [
  'tool', 'family', 'method', 'baseModel', 'rank', 'alpha', 'scaleRule', 'targetModules', 'trainTextEncoder',
  'learningRate', 'maxTrainSteps', 'optimizer', 'lrScheduler', 'lrWarmupSteps', 'batchSize', 'repeats', 'resolution', 'mixedPrecision',
];

const norm = (v: unknown) => canonicalJson(Array.isArray(v) ? [...v].map(String).sort() : v);

/** The set's study provenance is database content: refused, named, where it is not of the shape import writes. */
function checkStudy(study: StudyProvenance): void {
  const bad = (what: string) => new AuditError('BAD_CONFIG', `the reference set's study provenance is malformed (${what}); import the study again into a new set`);
  if (!study || typeof study !== 'object') throw bad('not an object');
  if (!study.recipe || typeof study.recipe !== 'object') throw bad('no recipe');
  for (const field of MATCH_FIELDS) {
    const f = (study.recipe as Record<string, unknown>)[field] as { value?: unknown; source?: unknown } | undefined;
    if (f !== undefined && (!f || typeof f !== 'object' || typeof f.source !== 'string')) throw bad(`recipe.${field} is not { value, source }`);
  }
  if (!Array.isArray(study.assumed)) throw bad('assumed is not a list');
  if (!study.coverage || typeof study.coverage !== 'object') throw bad('no coverage');
  if (!study.evidence || typeof study.evidence !== 'object') throw bad('no evidence');
}

export function recipeMatch(adapter: CanonicalAdapter, study: StudyProvenance): RecipeMatch {
  checkStudy(study);
  const trainer = (['kohya', 'diffusers', 'builtin'].includes(study.trainer) ? study.trainer : 'builtin') as TrainerKind;
  const { recipe } = deriveRecipe(adapter, { trainer });
  const assumedInStudy = new Set(study.assumed);
  const rows: RecipeMatchRow[] = MATCH_FIELDS.map((field) => {
    const e = recipe[field] ?? { value: null, source: 'assumed: not derived from this file' };
    const s = study.recipe[field] ?? { value: null, source: 'assumed: the study did not record it' };
    const known = e.value !== null && e.value !== undefined && s.value !== null && s.value !== undefined;
    return {
      field,
      evidence: { value: e.value, source: e.source },
      study: { value: s.value, source: s.source },
      match: !known ? 'unknown' : norm(e.value) === norm(s.value) ? 'same' : 'differs',
      assumed: e.source.startsWith('assumed') || s.source.startsWith('assumed') || assumedInStudy.has(field),
    };
  });
  return {
    studyId: study.studyId, planSha256: study.planSha256, sameEvidence: adapter.identity.sha256 === study.evidence.sha256,
    coverage: { planned: study.coverage.planned, imported: study.coverage.imported }, rows,
  };
}
