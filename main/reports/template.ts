// The report as one self-contained HTML page: inline CSS, the bundled DejaVu fonts as data: URLs (so
// σ λ ∑ Δ render with no network and on any machine), Chart.js inlined, and the chart data as JSON.
// The same page is printed by Playwright's page.pdf() (CLI, headless host) and Electron's printToPDF
// (the app). Every string that came from a file or a person is escaped here, in one place.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assetCandidates, findAssets } from '../paths/assets.ts';
import type { ReportModel, ReportResult, ReportEvidence } from './model.ts';
import type { Disclosure } from '../intake/disclosure.ts';

import { READY_FLAG } from '../api/print.ts';
import { intervalRow, intervalSummary, overrideRow, reliabilitySection } from './reliability-section.ts';
import { recipeMatchSection } from './recipe-match-section.ts';

// Found, not computed from this file's URL: in the Electron bundle and the packaged app the assets
// are elsewhere (main/paths/assets.ts).
const ASSETS = pathToFileURL(join(findAssets(join('report', 'report.css')) ?? assetCandidates().at(-1) ?? 'assets', '/'));

/** file: URL of the bundled fonts, for renderers that load the page from a file (see RenderOptions.fontBase). */
export const FONTS_URL = new URL('fonts/', ASSETS).href;

const FONT_FILES: [file: string, family: string, weight: string][] = [
  ['DejaVuSans.ttf', 'Report Sans', '400'], ['DejaVuSans-Bold.ttf', 'Report Sans', '700'], ['DejaVuSansMono.ttf', 'Report Mono', '400'],
];

export interface RenderOptions {
  /** Where the fonts come from. Absent: embedded as data: URLs (the page is wholly self-contained,
   *  ~2.6 MB). A file: URL of a folder holding the DejaVu files (FONTS_URL): the page is ~0.2 MB and
   *  Chromium loads it about twice as fast, but only a renderer that loads the page from a file and
   *  allows that folder can use it. */
  fontBase?: string;
}

let cachedAssets: { embeddedFonts: string; chartJs: string; css: string } | null = null;

function assets(): { embeddedFonts: string; chartJs: string; css: string } {
  if (cachedAssets) return cachedAssets;
  const embeddedFonts = FONT_FILES.map(([file, family, weight]) => {
    const b64 = readFileSync(new URL(`fonts/${file}`, ASSETS)).toString('base64');
    return fontFace(family, weight, `data:font/ttf;base64,${b64}`);
  }).join('');
  // not named `require`: in the CommonJS bundle import.meta.url is defined through require()
  const resolveHere = createRequire(import.meta.url);
  const chartPath = join(dirname(resolveHere.resolve('chart.js')), 'chart.umd.min.js');
  // The source-map comment would name a file the offline page cannot (and must not try to) fetch.
  const chartJs = readFileSync(chartPath, 'utf8').replace(/\/\/# sourceMappingURL=.*$/m, '');
  const css = readFileSync(new URL('report/report.css', ASSETS), 'utf8');
  cachedAssets = { embeddedFonts, chartJs, css };
  return cachedAssets;
}

function fontFace(family: string, weight: string, url: string): string {
  return `@font-face{font-family:'${family}';font-weight:${weight};src:url(${url}) format('truetype');}`;
}

function fontCss(options: RenderOptions): string {
  if (!options.fontBase) return assets().embeddedFonts;
  const base = options.fontBase.endsWith('/') ? options.fontBase : `${options.fontBase}/`;
  return FONT_FILES.map(([file, family, weight]) => fontFace(family, weight, `"${base}${file}"`)).join('');
}

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

/** JSON inside <script type="application/json">: `<` escaped so no string can close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const e = escapeHtml;

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]} (${n.toLocaleString('en-GB')} B)`;
}

function num(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1000 || Number.isInteger(v) ? Math.round(v).toLocaleString('en-GB') : v.toPrecision(digits);
}

function images(n: number): string {
  return `${Math.round(n).toLocaleString('en-GB')} ${Math.round(n) === 1 ? 'image' : 'images'}`;
}

function isRefused(r: ReportResult): boolean {
  return r.result === null || !r.result.applicable || r.result.estimate === null;
}

function refusalReasons(r: ReportResult): string[] {
  if (r.result === null) return [r.refusal ?? 'not analysed'];
  const reasons = r.result.reasons.length > 0 ? r.result.reasons : ['the classifier gave no estimate'];
  return reasons;
}

function summaryRow(r: ReportResult): string {
  if (isRefused(r)) {
    return `<tr class="refused"><td class="file">${e(r.fileName)}</td><td colspan="3"><strong>Refused.</strong> ${e(refusalReasons(r)[0])}</td></tr>`;
  }
  const res = r.result!;
  const interval = intervalSummary(res);
  const claim = res.metadataClaim ? `${num(res.metadataClaim.claimed)} · ${res.metadataClaim.agrees === null ? 'not comparable' : res.metadataClaim.agrees ? 'agrees' : 'disagrees'}` : 'none';
  return `<tr><td class="file">${e(r.fileName)}</td><td class="num"><strong>${e(images(res.estimate!))}</strong>${res.override ? '<br><span class="muted">compared despite soft refusal reasons</span>' : ''}</td><td>${e(interval)}</td><td>${e(claim)}</td></tr>`;
}

function evidenceRow(ev: ReportEvidence): string {
  const claim = ev.metadataClaim ? `${num(ev.metadataClaim.claimed)} (${e(ev.metadataClaim.source)})` : '—';
  return `<tr><td class="file">${e(ev.fileName)}${ev.refused ? `<div class="warn">refused at intake: ${e(ev.refused)}</div>` : ''}</td>` +
    `<td class="num">${e(bytes(ev.size))}</td><td class="hash">${e(ev.sha256)}</td>` +
    `<td>${e(ev.family)}<br>${e(ev.method)}</td><td>${e(ev.baseModel)}</td><td>${claim}</td></tr>`;
}

/** Report cells hold at most this much of a disclosed value; the whole (escaped, capped) value stays in the stored inspection. */
const DISCLOSED_CHARS = 300;
const DISCLOSED_ROWS = 80;

function disclosed(value: string, fullLength?: number): string {
  const whole = fullLength ?? value.length;
  return value.length > DISCLOSED_CHARS || whole > value.length
    ? `${e(value.slice(0, DISCLOSED_CHARS))}… <span class="muted">(${e(whole.toLocaleString('en-GB'))} characters; the full value is in the case's stored inspection, lora-audit inspect --json)</span>`
    : e(value);
}

/** Each file's provenance matches, as recorded when it was added to the case. */
function provenanceSection(ev: ReportEvidence, index: number): string {
  const head = `<h3>${index + 1}. <span class="file">${e(ev.fileName)}</span></h3>`;
  if (ev.provenance.length === 0) return `${head}<p class="muted">No copy of another case's evidence or of a reference adapter was found when it was added.</p>`;
  return `${head}<ul>${ev.provenance.map((p) => `<li style="overflow-wrap:anywhere">${e(p.message)}</li>`).join('')}</ul>`;
}

/** What each file's metadata gives away: tags per dataset folder (most frequent first), then every other item. */
function disclosureSection(ev: ReportEvidence, index: number): string {
  const head = `<h3>${index + 1}. <span class="file">${e(ev.fileName)}</span></h3>`;
  const id = ev.baseModelIdentity;
  const base = id.status === 'none' ? '' : `<p style="overflow-wrap:anywhere"><strong>${e(id.status === 'unknown' ? 'Base model: unknown hash.' : id.summary)}</strong>${id.source ? ` <span class="muted">Source of the table entry: ${e(id.source)}</span>` : ''}</p>`;
  if (ev.disclosure.length === 0) return `${head}${base}<p class="muted">${ev.refused ? 'Intake refused the file; its metadata was not read.' : 'The metadata discloses nothing beyond the file\'s format.'}</p>`;
  const folders = new Map<string, Disclosure[]>();
  for (const d of ev.disclosure) if (d.count !== undefined) folders.set(d.folder ?? '', [...(folders.get(d.folder ?? '') ?? []), d]);
  const tagRows = [...folders].map(([folder, tags]) => `<tr><td class="file">${e(folder)}${tags[0].images !== undefined ? `<br><span class="muted">${e(tags[0].images)} images</span>` : ''}</td>` +
    `<td>${tags.map((t) => `${disclosed(t.value)} (${e(t.count)})`).join(', ')}</td></tr>`).join('');
  const tags = tagRows ? `<table class="grid" style="table-layout:fixed;overflow-wrap:anywhere"><colgroup><col style="width:18%"><col></colgroup><thead><tr><th>dataset folder</th><th>most frequent caption tags (in how many images' captions)</th></tr></thead><tbody>${tagRows}</tbody></table>` : '';
  const rest = ev.disclosure.filter((d) => d.count === undefined);
  const rows = rest.slice(0, DISCLOSED_ROWS).map((d) => `<tr><td>${e(d.category)}</td><td class="file">${e(d.field)}</td><td class="file">${disclosed(d.value, d.fullLength)}</td><td>${e(d.note)}</td></tr>`).join('');
  const more = rest.length > DISCLOSED_ROWS ? `<p class="muted">${rest.length - DISCLOSED_ROWS} more items are in the case's stored inspection.</p>` : '';
  return `${head}${base}${tags}${rows ? `<table class="grid" style="table-layout:fixed;overflow-wrap:anywhere"><colgroup><col style="width:11%"><col style="width:24%"><col style="width:30%"><col></colgroup><thead><tr><th>category</th><th>field</th><th>value</th><th>what it means</th></tr></thead><tbody>${rows}</tbody></table>` : ''}${more}`;
}

function resultSection(r: ReportResult, index: number): string {
  const head = `<h3>${index + 1}. <span class="file">${e(r.fileName)}</span></h3>
<p class="hashline">SHA-256 <span class="hash">${e(r.sha256)}</span></p>`;
  if (isRefused(r)) {
    const reasons = refusalReasons(r).map((x) => `<li>${e(x)}</li>`).join('');
    const warnings = r.result?.warnings.length ? `<p>Warnings:</p><ul>${r.result.warnings.map((w) => `<li>${e(w)}</li>`).join('')}</ul>` : '';
    return `<section class="result refused">${head}
<div class="refusal"><p class="verdict">Refused: no estimate is given for this adapter.</p>
<p>The tool declined to estimate because:</p><ul>${reasons}</ul>${warnings}
<p>An estimate outside the conditions the method was validated for would look like evidence without being evidence.</p></div>
</section>`;
  }
  const res = r.result!;
  const interval = intervalRow(res);
  const regression = res.regression
    ? `<tr><th>Between sizes</th><td>${e(num(res.regression.estimate))} images <span class="muted">(${e(res.regression.method)}; shown beside the classifier, never instead)</span></td></tr>` : '';
  const claim = res.metadataClaim
    ? `<tr><th>Metadata claim</th><td>${e(num(res.metadataClaim.claimed))} images (${e(res.metadataClaim.source)}): ${res.metadataClaim.agrees === null ? 'cannot be compared' : res.metadataClaim.agrees ? 'agrees with the estimate' : '<strong>disagrees with the estimate</strong>'}${res.metadataClaim.withinInterval === null ? '' : res.metadataClaim.withinInterval ? ', inside the interval' : ', outside the interval'}</td></tr>`
    : '<tr><th>Metadata claim</th><td>the file makes no claim about its training set</td></tr>';
  const ood = res.outOfDistribution
    ? `<tr><th>Distribution check</th><td>${res.outOfDistribution.flagged ? '<strong>flagged</strong>: ' : 'within the reference set: '}score ${e(num(res.outOfDistribution.score))} against threshold ${e(num(res.outOfDistribution.threshold))}. ${e(res.outOfDistribution.explanation)}</td></tr>` : '';
  const nearest = res.nearest.slice(0, 8).map((n) => `<tr><td>${e(n.name)}</td><td class="num">${e(num(n.size))}</td><td class="num">${e(num(n.distance, 4))}</td><td class="file">${e(n.source)}</td></tr>`).join('');
  const warnings = res.warnings.length ? `<div class="warnings"><p><strong>Warnings</strong></p><ul>${res.warnings.map((w) => `<li>${e(w)}</li>`).join('')}</ul></div>` : '';
  const votes = voteWording(res);
  const spectra = res.spectra && res.spectra.modules.length > 0
    ? `<figure><canvas id="spectra-${index}" width="640" height="260"></canvas><figcaption>${e(res.spectra.statistic)} per module: this adapter against the mean of the reference adapters of each dataset size.</figcaption></figure>`
    : '<p class="muted">The spectra of this analysis were not recorded with it, so no spectra chart is drawn.</p>';
  return `<section class="result">${head}
<table class="kv"><tr><th>Estimate</th><td><strong class="estimate">${e(images(res.estimate!))}</strong> (the size most modules vote for; ${votes.total})</td></tr>
${overrideRow(res)}${interval}${regression}${claim}${ood}
<tr><th>Applicability</th><td>${res.override
    ? 'compared despite soft refusal reasons (see “Compared despite”): the method, rank, scaling, module set and shapes match the reference set; only the reasons above were set aside, on the examiner\'s justification'
    : 'applicable: the adapter\'s family, method, rank, scaling, modules and base model match the reference set'}</td></tr>
<tr><th>Reference set</th><td>${e(res.referenceSet)} · mode ${e(res.mode)} · backend ${e(res.backend)}</td></tr></table>
${warnings}
${reliabilitySection(res)}
${recipeMatchSection(res)}
<div class="charts"><figure><canvas id="votes-${index}" width="640" height="220"></canvas><figcaption>Votes per reference dataset size (${votes.unit}).</figcaption></figure>
${spectra}</div>
<table class="grid"><thead><tr><th>Nearest reference</th><th>size</th><th>distance</th><th>source</th></tr></thead><tbody>${nearest || '<tr><td colspan="4">none recorded</td></tr>'}</tbody></table>
</section>`;
}

/** How many votes there were, in words that fit the variant: whole module votes, or a total vote weight
 *  when the variant weighted its voters (a fractional sum printed as a count reads as a rounding bug). */
export function voteWording(res: { votes: { count: number }[] }): { total: string; unit: string } {
  const total = res.votes.reduce((s, v) => s + v.count, 0);
  if (res.votes.every((v) => Number.isInteger(v.count))) {
    return { total: `${total} module votes, one per module and feature`, unit: 'one vote per module and feature' };
  }
  return { total: `votes weighted by the variant, ${total.toFixed(1)} in all`, unit: 'each module and feature\'s vote weighted by the variant' };
}

/** Method parameters as one row per key; nested values as compact JSON. */
function parameterTable(params: Record<string, unknown>): string {
  const rows = Object.entries(params).map(([k, v]) =>
    `<tr><th>${e(k)}</th><td>${e(typeof v === 'string' ? v : JSON.stringify(v))}</td></tr>`).join('');
  return rows ? `<table class="params">${rows}</table>` : '—';
}

export interface ChartData {
  votes: { index: number; labels: string[]; counts: number[]; estimate: number }[];
  spectra: { index: number; statistic: string; modules: string[]; query: number[]; bySize: { size: number; mean: number[] }[] }[];
}

export function chartData(model: ReportModel): ChartData {
  const data: ChartData = { votes: [], spectra: [] };
  model.results.forEach((r, index) => {
    if (isRefused(r)) return;
    const res = r.result!;
    const votes = [...res.votes].sort((x, y) => x.size - y.size);
    data.votes.push({ index, labels: votes.map((v) => String(v.size)), counts: votes.map((v) => v.count), estimate: res.estimate! });
    if (res.spectra && res.spectra.modules.length > 0) data.spectra.push({ index, ...res.spectra });
  });
  return data;
}

// Runs in the page. Plain ES2020, no imports: Chart is the UMD global. Animation off so the first
// frame is the final one; the ready flag is set after every chart has drawn once.
const PAGE_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('chart-data').textContent);
  Chart.defaults.font.family = "'Report Sans', sans-serif";
  Chart.defaults.font.size = 10;
  Chart.defaults.color = '#222';
  var common = { animation: false, responsive: false, devicePixelRatio: 3, plugins: { legend: { display: false } } };
  data.votes.forEach(function (v) {
    new Chart(document.getElementById('votes-' + v.index), {
      type: 'bar',
      data: { labels: v.labels, datasets: [{ data: v.counts, label: 'votes',
        backgroundColor: v.labels.map(function (l) { return Number(l) === v.estimate ? '#1f4e8c' : '#9db3cf'; }) }] },
      options: Object.assign({}, common, { scales: {
        x: { title: { display: true, text: 'reference dataset size (images)' } },
        y: { beginAtZero: true, title: { display: true, text: 'votes' }, ticks: { precision: 0 } } } })
    });
  });
  var palette = ['#8c510a', '#bf812d', '#35978f', '#01665e', '#762a83', '#9970ab', '#5aae61', '#1b7837', '#c51b7d', '#4d4d4d'];
  data.spectra.forEach(function (s) {
    var sets = s.bySize.map(function (b, i) {
      return { label: 'mean, ' + b.size + ' images', data: b.mean, borderColor: palette[i % palette.length],
        backgroundColor: palette[i % palette.length], borderWidth: 1, pointRadius: 0, borderDash: [4, 3] };
    });
    sets.unshift({ label: 'this adapter', data: s.query, borderColor: '#d7191c', backgroundColor: '#d7191c', borderWidth: 2, pointRadius: 1.5 });
    new Chart(document.getElementById('spectra-' + s.index), {
      type: 'line',
      data: { labels: s.modules.map(function (m, i) { return String(i + 1); }), datasets: sets },
      options: Object.assign({}, common, { plugins: { legend: { display: true, position: 'right', labels: { boxWidth: 12 } } },
        scales: { x: { title: { display: true, text: 'module (order as listed by the reference set)' } },
          y: { type: 'logarithmic', title: { display: true, text: s.statistic } } } })
    });
  });
  window.${READY_FLAG} = true;
})();`;

export function renderReportHtml(model: ReportModel, options: RenderOptions = {}): string {
  const { chartJs, css } = assets();
  const fonts = fontCss(options);
  const signer = model.signature.signer;
  const refs = model.references.map((ref) => {
    const shards = ref.provenance.shards.map((s) => `<tr><td class="file">${e(s.fileName)}</td><td class="num">${e(bytes(s.size))}</td><td class="num">${e(num(s.rows))}</td><td class="hash">${e(s.sha256)}</td></tr>`).join('');
    return `<h3>${e(ref.name)} <span class="muted">(set ${e(ref.id)})</span></h3>
<p>Source: ${e(ref.provenance.source)} · importer ${e(ref.provenance.importerVersion)} · created ${e(ref.provenance.createdAt)}${ref.provenance.notes ? ` · ${e(ref.provenance.notes)}` : ''}</p>
<table class="grid"><thead><tr><th>shard</th><th>size</th><th>rows</th><th>SHA-256</th></tr></thead><tbody>${shards || '<tr><td colspan="4">no shards recorded</td></tr>'}</tbody></table>`;
  }).join('');
  const methods = new Map<string, ReportResult['method']>();
  for (const r of model.results) if (r.result) methods.set(JSON.stringify([r.method.version, r.method.mode, r.method.parameters, r.method.backend]), r.method);
  const methodRows = [...methods.values()].map((m) =>
    `<tr><td>${e(m.name)} ${e(m.version)}</td><td>${e(m.mode)}</td><td>${parameterTable(m.parameters)}</td><td>${e(m.backend)}</td><td>${e(m.appVersion)}</td></tr>`).join('');
  const audit = model.audit.entries.map((a) => `<tr><td class="num">${e(a.seq)}</td><td>${e(a.at)}</td><td>${e(a.actor)}</td><td>${e(a.action)}</td><td>${e(a.summary)}</td><td class="hash short">${e(a.hash.slice(0, 16))}…</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; font-src data:${options.fontBase ? ' file:' : ''}; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${e(model.case.title)}: audit report</title>
<style>${fonts}${css}</style></head>
<body>
<header class="title">
<p class="kicker">LoRA Auditor · forensic report · training-set size recovery (DSiRe)</p>
<h1>${e(model.case.title)}</h1>
<table class="kv"><tr><th>Case</th><td class="hash">${e(model.case.id)}</td></tr>
<tr><th>Examiner</th><td>${e(model.case.examiner)}${model.case.organisation ? `, ${e(model.case.organisation)}` : ''}</td></tr>
<tr><th>Case opened</th><td>${e(model.case.createdAt)} · status ${e(model.case.status)}</td></tr>
<tr><th>Report generated</th><td>${e(model.generatedAt)} by ${e(model.app.name)} ${e(model.app.version)}</td></tr></table>
${model.case.description ? `<p class="description">${e(model.case.description)}</p>` : ''}
</header>

<section><h2>Summary</h2>
<table class="grid"><thead><tr><th>adapter</th><th>estimated training images</th><th>interval</th><th>metadata claim</th></tr></thead>
<tbody>${model.results.map(summaryRow).join('') || '<tr><td colspan="4">no evidence in this case</td></tr>'}</tbody></table></section>

<section><h2>Evidence</h2>
<p>Each file was hashed (SHA-256) when it entered the case; the hashes below identify exactly the bytes analysed.</p>
<table class="grid evidence"><thead><tr><th>file</th><th>size</th><th>SHA-256</th><th>family / method</th><th>base model</th><th>claim</th></tr></thead>
<tbody>${model.evidence.map(evidenceRow).join('') || '<tr><td colspan="6">none</td></tr>'}</tbody></table></section>

<section class="provenance"><h2>Where the files came from</h2>
<p>Each file's exact fingerprint (σ(ΔW) per module and probe sketches of its update, the same whatever its format or
factorisation) was compared with every evidence item of every case and every reference adapter when it was added.</p>
${model.evidence.map(provenanceSection).join('') || '<p>No evidence in this case.</p>'}</section>

<section class="disclosure"><h2>What the file discloses</h2>
<p>An adapter's metadata is its maker's own text: it can be edited and proves nothing by itself, but it can name the person
or work in the training images, the maker, the machine and the tools. It is shown as written, with control characters as
\\u{…} escapes; long values are cut here.</p>
${model.evidence.map(disclosureSection).join('') || '<p>No evidence in this case.</p>'}</section>

<section><h2>Reference data and provenance</h2>
${refs || '<p>No analysis used a reference set.</p>'}</section>

<section><h2>Method</h2>
<p>DSiRe (Dataset Size Recovery) reads only the adapter's weights. For each adapted module with factors A (r × in) and
B (out × r) and update ΔW = s · B · A, it computes the singular values σ(A), σ(B) and σ(ΔW) (the square roots of the
eigenvalues λ of the r × r Gram matrices). Each module and feature votes, by its nearest neighbour among reference
adapters of known dataset size, for one size; the estimate is the size with the most votes (∑ of votes over modules).</p>
<table class="grid"><thead><tr><th>method</th><th>mode</th><th>parameters</th><th>compute backend</th><th>app</th></tr></thead>
<tbody>${methodRows || '<tr><td colspan="5">no analyses</td></tr>'}</tbody></table></section>

<section class="results"><h2>Results per adapter</h2>
${model.results.map(resultSection).join('')}</section>

<section class="limitations"><h2>Limitations</h2><ul>${model.limitations.map((l) => `<li>${e(l)}</li>`).join('')}</ul></section>

<section class="audit"><h2>Audit trail (excerpt)</h2>
<p>The case's audit trail is hash-chained: each entry's hash covers the previous one. ${model.audit.entries.length} of ${model.audit.total} entries shown
(newest last); head of the chain: entry ${e(model.audit.headSeq)}, <span class="hash">${e(model.audit.headHash || '—')}</span>.
${model.audit.chainOk ? 'The chain verified intact when this report was generated.' : `<strong>The chain did not verify when this report was generated: ${e(model.audit.chainProblem ?? 'broken')}</strong>`}</p>
<table class="grid"><thead><tr><th>#</th><th>time</th><th>actor</th><th>action</th><th>details</th><th>hash</th></tr></thead>
<tbody>${audit || '<tr><td colspan="6">no entries</td></tr>'}</tbody></table></section>

<section class="signature"><h2>Signature</h2>
<p>${e(model.signature.statement)}</p>
<table class="kv">
<tr><th>Signed by</th><td>${signer ? `${e(signer.subject)}${signer.organisation ? `, ${e(signer.organisation)}` : ''}${signer.email ? ` &lt;${e(signer.email)}&gt;` : ''}` : e(model.case.examiner)}</td></tr>
${signer ? `<tr><th>Certificate</th><td>issued by ${e(signer.issuer)}${signer.selfSigned ? ' (self-signed)' : ''} · serial ${e(signer.serial)} · valid ${e(signer.notBefore)} to ${e(signer.notAfter)}</td></tr>
<tr><th>SHA-256 fingerprint</th><td class="hash">${e(signer.sha256Fingerprint)}</td></tr>` : ''}
${model.signature.place ? `<tr><th>Place</th><td>${e(model.signature.place)}</td></tr>` : ''}
<tr><th>Verification</th><td>The PDF carries a CMS (PKCS#7) detached signature over every byte but the signature itself; any PDF reader that checks signatures, or <span class="mono">lora-audit verify</span>, can confirm it. A signed manifest of the evidence hashes and results accompanies this file.</td></tr>
</table></section>
<script type="application/json" id="chart-data">${scriptJson(chartData(model))}</script>
<script>${chartJs}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>`;
}
