// The report's "Recipe match" for an analysis against a reference set built by a study (issue 19): the
// analysed file's training recipe beside the study's, field by field, each value with where it came
// from; a value that was assumed rather than stated is marked, so the reader sees which agreements rest
// on a guess. Absent for sets that did not come from a study.
import type { AnalysisResult } from '../dsire/types.ts';
import type { RecipeMatch } from '../reference/types.ts';
import { escapeHtml as e } from './template.ts';

/** A recipe value as one short line: lists joined, null as "not stated". */
export function recipeValue(v: unknown): string {
  if (v === null || v === undefined) return 'not stated';
  if (Array.isArray(v)) return v.join(', ');
  return String(v);
}

export function recipeMatchCounts(m: RecipeMatch): { same: number; differs: number; unknown: number; assumed: number } {
  return {
    same: m.rows.filter((r) => r.match === 'same').length, differs: m.rows.filter((r) => r.match === 'differs').length,
    unknown: m.rows.filter((r) => r.match === 'unknown').length, assumed: m.rows.filter((r) => r.assumed).length,
  };
}

export function recipeMatchSection(result: AnalysisResult): string {
  const m = result.recipeMatch;
  if (!m) return '';
  const c = recipeMatchCounts(m);
  const rows = m.rows.map((r) => `<tr class="${e(r.match)}"><td>${e(r.field)}${r.assumed ? ' <strong>(assumed)</strong>' : ''}</td>`
    + `<td>${e(recipeValue(r.evidence.value))}<br><span class="muted">${e(r.evidence.source)}</span></td>`
    + `<td>${e(recipeValue(r.study.value))}<br><span class="muted">${e(r.study.source)}</span></td>`
    + `<td>${r.match === 'differs' ? '<strong>differs</strong>' : e(r.match)}</td></tr>`).join('');
  return `<div class="recipe-match"><h4>Recipe match: this file against reference study ${e(m.studyId)}</h4>
<p>The reference set was built by study ${e(m.studyId)} (plan SHA-256 <span class="hash">${e(m.planSha256)}</span>), ${e(m.coverage.imported)} of ${e(m.coverage.planned)} planned runs imported${m.sameEvidence ? ', planned from this very file' : ', planned from another file'}.
${e(c.same)} fields agree, ${e(c.differs)} differ, ${e(c.unknown)} cannot be compared; ${e(c.assumed)} rest on an assumption rather than on what a file states.</p>
<table class="grid"><thead><tr><th>field</th><th>this file</th><th>study</th><th>match</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}
