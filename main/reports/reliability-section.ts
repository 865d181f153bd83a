// The report's "Reliability of this estimate" for one analysis (issue 18): the method's error measured on
// held-out adapters of the very reference set used, in words; the confusion matrix as a shaded table with
// its counts; the interval's measured coverage; the opinion grade and what it rests on. Analyses recorded
// before these were measured say so instead of printing nothing.
import { hasBounds, readInterval } from '../dsire/conformal.ts';
import type { AnalysisResult } from '../dsire/types.ts';
import type { ReliabilitySummary } from '../dsire/reliability.ts';
import { escapeHtml as e } from './template.ts';

const pct = (x: number) => `${Math.round(x * 100)} %`;
const figure = (x: number) => (Math.abs(x) >= 10 ? x.toFixed(0) : x.toFixed(1));

/** The interval as the summary table prints it: bounds with nominal and measured coverage, or why there are none. */
export function intervalSummary(result: AnalysisResult): string {
  const iv = readInterval(result);
  if (!hasBounds(iv)) return `none: ${iv.reason}`;
  const bounds = iv.low === iv.high ? `${iv.low}` : `${iv.low}–${iv.high}`;
  return `${bounds} (${pct(iv.nominal)} nominal${iv.coverage === null ? ', coverage not measured' : `, ${pct(iv.coverage)} measured`})`;
}

/** The interval row of a result's table. */
export function intervalRow(result: AnalysisResult): string {
  const iv = readInterval(result);
  if (!hasBounds(iv)) return `<tr><th>Interval</th><td>none: ${e(iv.reason)}</td></tr>`;
  const measured = iv.coverage === null
    ? 'its coverage on this set was not measured'
    : `on held-out adapters of this reference set it held the true size ${pct(iv.coverage)} of the time`;
  return `<tr><th>Interval</th><td>${e(iv.low)} – ${e(iv.high)} images at ${pct(iv.nominal)} nominal coverage; ${measured} <span class="muted">(${e(iv.method)})</span></td></tr>`;
}

/** "Compared despite: …" beside the estimate when the examiner overrode soft refusal reasons. */
export function overrideRow(result: AnalysisResult): string {
  const o = result.override;
  if (!o) return '';
  return `<tr class="override"><th>Compared despite</th><td><p>Compared despite: ${e(o.reasonsOverridden.join(' '))}</p><p>Examiner's justification: <q>${e(o.justification)}</q></p></td></tr>`;
}

/** The figures in words, as the section and the UI say them. */
export function reliabilityWords(rel: ReliabilitySummary): string {
  return `On held-out adapters of this reference set, the method named the exact size ${pct(rel.accuracy)} of the time and was within one size ${pct(rel.withinOne)} of the time; mean absolute error ${figure(rel.mae)} images (mean absolute percentage error ${Math.round(rel.mape)} %).`;
}

function heatMap(rel: ReliabilitySummary): string {
  const { sizes, counts } = rel.confusion;
  const head = sizes.map((s) => `<th>${e(s)}</th>`).join('');
  const rows = sizes.map((s, i) => {
    const total = counts[i].reduce((a, b) => a + b, 0);
    const cells = counts[i].map((c, j) => {
      const share = total > 0 ? c / total : 0;
      // darker where more of this true size's adapters were named j; the diagonal is right
      const hue = i === j ? '142, 70%' : '215, 60%';
      const light = Math.round(97 - share * 55);
      return `<td class="num${i === j ? ' diag' : ''}" style="background:hsl(${hue}, ${light}%)${light < 62 ? ';color:#fff' : ''}" title="${pct(share)} of true size ${e(s)}">${e(c)}</td>`;
    }).join('');
    const acc = rel.perSize[i]?.accuracy;
    return `<tr><th>${e(s)}</th>${cells}<td class="num">${acc === null || acc === undefined ? '—' : pct(acc)}</td></tr>`;
  }).join('');
  return `<table class="grid heat"><thead><tr><th>true \\ named</th>${head}<th>exact</th></tr></thead><tbody>${rows}</tbody></table>
<p class="muted">Confusion matrix: each row is a true size, each column the size the method named, counted over ${e(rel.queries)} held-out adapters in ${e(rel.splits)} splits; shading is the share of the row.</p>`;
}

export function reliabilitySection(result: AnalysisResult): string {
  const rel = result.reliability;
  const op = result.opinion;
  const title = '<h4>Reliability of this estimate</h4>';
  const opinion = op
    ? `<p class="opinion opinion-${e(op.grade)}">Opinion: <strong>${e(op.grade)}</strong></p><ul>${op.because.map((b) => `<li>${e(b)}</li>`).join('')}</ul>`
    : '';
  if (!rel) {
    const why = result.reliabilityUnavailable?.reason
      ?? 'this analysis was recorded before the method\'s error was measured on each reference set, so none is stated with it';
    return `<div class="reliability">${title}<p>No error rate is stated: ${e(why)}.</p>${opinion}</div>`;
  }
  const iv = readInterval(result);
  const coverage = rel.intervalCoverage === null
    ? '<p>No interval coverage was measured in this mode.</p>'
    : `<p>The ${hasBounds(iv) ? pct(iv.nominal) : ''} interval held the true size of ${pct(rel.intervalCoverage)} of the held-out adapters${rel.intervalWidth === null ? '' : `, spanning ${rel.intervalWidth.toFixed(1)} reference sizes on average`}.</p>`;
  return `<div class="reliability">${title}
<p>${e(reliabilityWords(rel))}</p>
<p class="muted">Measured by the paper's protocol on this set: ${e(rel.splits)} splits by name, ${e(rel.trainNames)} of ${e(rel.names)} names as references and the rest held out, seed ${e(rel.seed)}, ${e(rel.mode)} mode, method ${e(rel.methodVersion)}; always answering the median size would err by ${e(figure(rel.baselineMae))} images on average.</p>
${coverage}
${heatMap(rel)}
${opinion}</div>`;
}
