// `study status` and `study import`: what came back from a study's runs, matched to the plan. An output
// belongs to a run by its planned path, or, found elsewhere in the bundle, by the run id its trainer
// stamped in the metadata (the built-in trainer's lora_auditor_run, kohya's --training_comment "lora-audit
// study <id> run <runId>"). Each is checked against the plan (rank, adapted modules, tool, scale, the
// stamp) before it joins the set; missing, unplanned, duplicated and mismatched outputs are named by run
// id. The matched ones are imported by the reference layer's labelled-folder importer (one adapter, one
// shard row, resumable), into a set whose provenance records the plan's hash, the recipe, and each run's
// command and image hashes, with the coverage of a partial study stated.
import { lstat, readdir } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { sha256File } from '../common/hashing.ts';
import type { Database } from '../db/database.ts';
import { AuditError, toApiError } from '../errors.ts';
import { openAdapter } from '../intake/open.ts';
import { readSafetensorsHeader } from '../intake/safetensors.ts';
import type { CanonicalAdapter } from '../intake/model.ts';
import type { FeatureEngine } from '../../native/types.ts';
import { importLabelledRows, type LabelRow } from '../reference/import-folder.ts';
import { IMPORTER_VERSION, ImportRun, type ImportProgress, type ImportReport } from '../reference/import-run.ts';
import type { ReferenceProvenance, StudyProvenance } from '../reference/types.ts';
import { BUNDLE_LIMITS, fileInside, readBundle, readInside, type Bundle } from './bundle.ts';
import { DONE_FILE, META_RUN, META_STUDY, type DoneRecord } from './run.ts';
import type { Plan, PlanRun } from './types.ts';

export type RunState = 'trained' | 'present' | 'changed' | 'missing';

export interface StudyRunStatus {
  runId: string;
  subject: string;
  size: number;
  output: string;
  /** trained: its done.json's hash matches; present: an output is there (another trainer: no record);
   *  changed: the output no longer hashes to what done.json recorded; missing: no output yet. */
  state: RunState;
  sha256?: string;
}

export interface Coverage {
  planned: number;
  done: number;
  missing: string[];
  sizes: { size: number; planned: number; done: number }[];
  subjects: { name: string; planned: number; done: number }[];
}

export interface StudyStatus {
  studyId: string;
  bundle: string;
  planSha256: string;
  trainer: string;
  evidence: { file: string; sha256: string };
  runs: StudyRunStatus[];
  coverage: Coverage;
  complete: boolean;
}

function coverageOf(plan: Plan, done: Set<string>): Coverage {
  const by = <K>(key: (r: PlanRun) => K) => {
    const m = new Map<K, { planned: number; done: number }>();
    for (const r of plan.runs) {
      const e = m.get(key(r)) ?? { planned: 0, done: 0 };
      e.planned++;
      if (done.has(r.runId)) e.done++;
      m.set(key(r), e);
    }
    return m;
  };
  return {
    planned: plan.runs.length, done: done.size,
    missing: plan.runs.filter((r) => !done.has(r.runId)).map((r) => r.runId),
    sizes: [...by((r) => r.size)].sort((a, b) => a[0] - b[0]).map(([size, e]) => ({ size, ...e })),
    subjects: [...by((r) => r.subject)].map(([name, e]) => ({ name, ...e })),
  };
}

async function runState(b: Bundle, run: PlanRun): Promise<StudyRunStatus> {
  const base = { runId: run.runId, subject: run.subject, size: run.size, output: run.output };
  const out = await fileInside(b, run.output);
  if (!out) return { ...base, state: 'missing' };
  const rec = await readInside(b.root, posix.join(run.dir, DONE_FILE), BUNDLE_LIMITS.recordBytes).catch(() => null);
  let done: DoneRecord | null = null;
  try { done = rec ? JSON.parse(rec.toString('utf8')) as DoneRecord : null; } catch { done = null; }
  if (!done || done.output !== run.output) return { ...base, state: 'present' };
  const { sha256 } = await sha256File(out.path);
  return { ...base, state: sha256 === done.sha256 ? 'trained' : 'changed', sha256 };
}

/** Per-run state and coverage of a bundle, from the files alone (nothing is imported). */
export async function studyStatus(bundleDir: string): Promise<StudyStatus> {
  const b = await readBundle(bundleDir);
  const runs: StudyRunStatus[] = [];
  for (const r of b.plan.runs) runs.push(await runState(b, r));
  const coverage = coverageOf(b.plan, new Set(runs.filter((r) => r.state === 'trained' || r.state === 'present').map((r) => r.runId)));
  return {
    studyId: b.plan.studyId, bundle: b.root, planSha256: b.planSha256, trainer: b.plan.trainer,
    evidence: { file: b.plan.evidence.file, sha256: b.plan.evidence.sha256 }, runs, coverage,
    complete: coverage.done === coverage.planned,
  };
}

// --- import ------------------------------------------------------------------------------------------

export interface StudyImportOptions {
  name: string;
  engine: FeatureEngine;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
}

export interface StudyImportReport {
  studyId: string;
  set: string;
  planSha256: string;
  /** Runs whose outputs are in the set now (this call or an earlier one). */
  imported: { runId: string; output: string; sha256: string; matchedBy: 'path' | 'run id' }[];
  missing: string[];
  mismatched: { runId: string; output: string; reason: string }[];
  duplicated: { runId: string; outputs: string[] }[];
  unplanned: { output: string; runId?: string; reason: string }[];
  coverage: StudyProvenance['coverage'];
  /** Every planned run is in the set. */
  complete: boolean;
  reference: ImportReport;
}

/** The run id and study id a trainer stamped in an adapter's metadata, where it did. */
export function stampOf(md: Record<string, string>): { runId?: string; studyId?: string } {
  const m = /lora-audit study (study-[0-9a-f]{16}) run ([A-Za-z0-9][A-Za-z0-9._-]{0,127})/.exec(md.ss_training_comment ?? '');
  return { runId: md[META_RUN] ?? m?.[2], studyId: md[META_STUDY] ?? m?.[1] };
}

/** The tool behind a file family: files of one tool may stand for each other, as applicability judges. */
function toolOf(family: string): string {
  return family.startsWith('diffusers') || family === 'peft' ? 'diffusers/PEFT' : family;
}

const sameNumber = (a: number, b: number) => Number.isFinite(a) && Number.isFinite(b) && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

/** Why an output does not follow the plan, or null. */
export function planMismatch(plan: Plan, run: PlanRun, a: CanonicalAdapter): string | null {
  const r = plan.recipe;
  const stamp = stampOf(a.metadata.raw);
  if (stamp.runId && stamp.runId !== run.runId) return `its metadata says it is run ${stamp.runId}`;
  if (stamp.studyId && stamp.studyId !== plan.studyId) return `its metadata says it comes from ${stamp.studyId}, not ${plan.studyId}`;
  if (a.modules.length === 0) return 'it has no LoRA modules';
  if (r.method.value && a.method !== r.method.value) return `its method is ${a.method}, the plan's ${r.method.value}`;
  if (r.family.value && toolOf(a.family) !== toolOf(r.family.value)) return `it was written by ${toolOf(a.family)} (${a.family}), the plan's tool is ${toolOf(r.family.value)}`;
  if (r.rank.value !== null && (a.ranks.length !== 1 || a.ranks[0] !== r.rank.value)) return `its rank is ${a.ranks.join('/')}, the plan's ${r.rank.value}`;
  const wanted = r.targetModules.value;
  if (wanted) {
    const short = new Set(a.modules.map((m) => wanted.find((w) => m.id.endsWith(`.${w}`)) ?? m.id));
    const extra = [...short].filter((s) => !wanted.includes(s));
    const absent = wanted.filter((w) => !short.has(w));
    if (extra.length) return `it adapts modules the plan does not (${extra.slice(0, 2).join(', ')})`;
    if (absent.length) return `it does not adapt ${absent.join(', ')}, which the plan targets`;
  }
  if (r.trainTextEncoder.value === false && a.modules.some((m) => m.id.startsWith('text_encoder'))) return 'it adapts the text encoder; the plan trains the UNet only';
  const rank = r.rank.value, alpha = r.alpha.value, rule = r.scaleRule.value;
  if (rank && alpha && rule) {
    const scale = rule === 'alpha/r' ? alpha / rank : rule === 'alpha/sqrt(r)' ? alpha / Math.sqrt(rank) : rule === 'one' ? 1 : NaN;
    const bad = a.modules.find((m) => !sameNumber(m.scale, scale));
    if (Number.isFinite(scale) && bad) return `it scales ΔW by ${+bad.scale.toPrecision(6)}, the plan's ${rule} gives ${+scale.toPrecision(6)}`;
  }
  return null;
}

/** Every .safetensors file in the bundle (not under the images, no symlinks followed), bounded. */
async function outputsInBundle(b: Bundle): Promise<string[]> {
  const found: string[] = [];
  let entries = 0;
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > 8) return;
    const names = await readdir(rel ? join(b.root, ...rel.split('/')) : b.root);
    for (const name of names.sort()) {
      if (++entries > 50_000) throw new AuditError('LIMIT_EXCEEDED', 'the bundle holds more than 50,000 files and folders', b.root);
      if (name.startsWith('.')) continue;
      const r = rel ? `${rel}/${name}` : name;
      const l = await lstat(join(b.root, ...r.split('/')));
      if (l.isSymbolicLink()) continue;
      if (l.isDirectory()) { if (!(depth === 0 && name === 'images')) await walk(r, depth + 1); }
      else if (l.isFile() && name.endsWith('.safetensors')) found.push(r);
    }
  };
  await walk('', 0);
  return found;
}

export async function importStudy(db: Database, bundleDir: string, opts: StudyImportOptions): Promise<StudyImportReport> {
  const b = await readBundle(bundleDir);
  const { plan } = b;
  const byId = new Map(plan.runs.map((r) => [r.runId, r]));
  const planned = new Set(plan.runs.map((r) => r.output));
  const report: Omit<StudyImportReport, 'coverage' | 'complete' | 'reference'> = {
    studyId: plan.studyId, set: opts.name, planSha256: b.planSha256, imported: [], missing: [], mismatched: [], duplicated: [], unplanned: [],
  };

  // Outputs elsewhere in the bundle: matched by a stamped run id, else unplanned.
  const elsewhere = new Map<string, string[]>();
  for (const rel of await outputsInBundle(b)) {
    if (planned.has(rel)) continue;
    // held to the bound of an output at its planned path (fileInside): a larger one is never opened or hashed
    const bytes = (await lstat(join(b.root, ...rel.split('/')))).size;
    if (bytes > BUNDLE_LIMITS.outputBytes) {
      report.unplanned.push({ output: rel, reason: `it is ${bytes} bytes, more than the ${BUNDLE_LIMITS.outputBytes} a study output may be` });
      continue;
    }
    let stamp: { runId?: string; studyId?: string } = {};
    try { stamp = stampOf((await readSafetensorsHeader(join(b.root, ...rel.split('/')))).metadata); } catch (e) {
      report.unplanned.push({ output: rel, reason: `not a readable adapter (${toApiError(e).message.slice(0, 200)})` });
      continue;
    }
    if (stamp.runId && byId.has(stamp.runId) && (!stamp.studyId || stamp.studyId === plan.studyId)) {
      elsewhere.set(stamp.runId, [...(elsewhere.get(stamp.runId) ?? []), rel]);
    } else {
      report.unplanned.push({ output: rel, ...(stamp.runId ? { runId: stamp.runId } : {}),
        reason: stamp.runId ? `stamped as run ${stamp.runId}${stamp.studyId && stamp.studyId !== plan.studyId ? ` of ${stamp.studyId}` : ''}, which this plan does not have` : 'no planned run writes here and it carries no run id' });
    }
  }

  const rows: LabelRow[] = [];
  const accepted: { run: PlanRun; rel: string; sha256: string; matchedBy: 'path' | 'run id' }[] = [];
  for (const run of plan.runs) {
    if (opts.signal?.aborted) throw new AuditError('CANCELLED', 'the study import was cancelled; run it again to continue');
    let atPath: { path: string; size: number } | null;
    try { atPath = await fileInside(b, run.output); } catch (e) {
      // a link, a folder or a device where the output should be: named, and the other runs go on
      report.mismatched.push({ runId: run.runId, output: run.output, reason: toApiError(e).message });
      continue;
    }
    const others = elsewhere.get(run.runId) ?? [];
    const candidates = [...(atPath ? [run.output] : []), ...others];
    if (candidates.length === 0) { report.missing.push(run.runId); continue; }
    if (candidates.length > 1) {
      const hashes = new Set<string>();
      for (const c of candidates) hashes.add((await sha256File(join(b.root, ...c.split('/')))).sha256);
      if (hashes.size > 1) { report.duplicated.push({ runId: run.runId, outputs: candidates }); continue; }
    }
    const rel = candidates[0];
    let why: string | null;
    let sha256 = '';
    try {
      const a = await openAdapter(join(b.root, ...rel.split('/')));
      try { why = planMismatch(plan, run, a); sha256 = a.identity.sha256; } finally { await a.source.close(); }
    } catch (e) {
      why = `not a readable adapter (${toApiError(e).message.slice(0, 200)})`;
    }
    if (why) { report.mismatched.push({ runId: run.runId, output: rel, reason: why }); continue; }
    accepted.push({ run, rel, sha256, matchedBy: atPath ? 'path' : 'run id' });
    rows.push({ line: rows.length + 1, file: rel, name: run.subject, size: run.size });
  }
  // One file's bytes handed back as the output of several runs: the set keeps one row per SHA-256 (the
  // rest would be skipped and still counted as imported), and which run it belongs to cannot be told, so
  // every one of them is named and none is imported.
  const runsOf = new Map<string, string[]>();
  for (const x of accepted) runsOf.set(x.sha256, [...(runsOf.get(x.sha256) ?? []), x.run.runId]);
  for (const x of accepted.filter((y) => runsOf.get(y.sha256)!.length > 1)) {
    report.mismatched.push({ runId: x.run.runId, output: x.rel,
      reason: `the same file (SHA-256 ${x.sha256}) is the output of runs ${runsOf.get(x.sha256)!.join(', ')}: one adapter cannot stand for several runs` });
  }
  const shared = new Set(accepted.filter((y) => runsOf.get(y.sha256)!.length > 1).map((y) => y.run.runId));
  if (shared.size > 0) {
    accepted.splice(0, accepted.length, ...accepted.filter((x) => !shared.has(x.run.runId)));
    rows.splice(0, rows.length, ...accepted.map((x, i): LabelRow => ({ line: i + 1, file: x.rel, name: x.run.subject, size: x.run.size })));
  }
  if (rows.length === 0) {
    throw new AuditError('NOT_FOUND', `none of the ${plan.runs.length} planned runs has a usable output yet` +
      (report.mismatched.length ? ` (${report.mismatched.length} did not follow the plan: ${report.mismatched.slice(0, 3).map((m) => `${m.runId}: ${m.reason}`).join('; ')})` : '') +
      ': run the study first (lora-audit study run, or the bundle\'s run-all.sh / slurm.sbatch)', b.root);
  }

  const importedIds = new Set(accepted.map((x) => x.run.runId));
  const cov = coverageOf(plan, importedIds);
  const coverage: StudyProvenance['coverage'] = {
    planned: cov.planned, imported: cov.done, missing: cov.missing,
    rejected: [...report.mismatched.map((m) => m.runId), ...report.duplicated.map((d) => d.runId)],
    sizes: cov.sizes.map((s) => ({ size: s.size, planned: s.planned, imported: s.done })),
  };
  const study: StudyProvenance = {
    studyId: plan.studyId, planSha256: b.planSha256, trainer: plan.trainer,
    evidence: { file: plan.evidence.file, sha256: plan.evidence.sha256, family: plan.evidence.family },
    recipe: Object.fromEntries(Object.entries(plan.recipe).map(([k, f]) => [k, { value: f.value, source: f.source }])),
    assumed: plan.assumed.map((a) => a.field),
    coverage,
    runs: accepted.map(({ run, rel, sha256 }) => ({
      runId: run.runId, subject: run.subject, size: run.size, seed: run.seed, output: rel, sha256, command: run.command,
      images: run.images.map((im) => ({ path: im.path, sha256: im.sha256 })),
    })),
  };
  const provenance: ReferenceProvenance = {
    source: 'study', importerVersion: IMPORTER_VERSION, createdAt: new Date().toISOString(), shards: [], study,
    notes: studyNotes(plan, b.planSha256, coverage),
  };
  const run = await ImportRun.begin(db, { name: opts.name, paths: [b.root], engine: opts.engine, signal: opts.signal, onProgress: opts.onProgress });
  // The bytes this study's runs were imported from before: with this import's, the only rows of the set
  // its provenance may attribute to a run.
  const attributable = new Set(accepted.map((x) => x.sha256));
  if (run.setId !== undefined) {
    const p = run.provenance;
    if (p?.source !== 'study' || p.study?.studyId !== plan.studyId) {
      throw new AuditError('ALREADY_EXISTS', `reference set "${opts.name}" exists and is not from study ${plan.studyId}; choose another --name`);
    }
    // The study id is plan.json's own claim: only the very plan the set was built from adds to it.
    if (p.study.planSha256 !== b.planSha256) {
      throw new AuditError('ALREADY_EXISTS', `reference set "${opts.name}" was built from another plan.json of study ${plan.studyId} (plan SHA-256 ${p.study.planSha256}, this one ${b.planSha256}): its outputs and recipe are not added to it; choose another --name`, join(b.root, 'plan.json'));
    }
    for (const r of Array.isArray(p.study.runs) ? p.study.runs : []) if (typeof r?.sha256 === 'string') attributable.add(r.sha256);
  }
  run.adaptersTotal = 0;
  await importLabelledRows(run, b.root, rows, provenance);
  // Until here the provenance is provisional (what a new set is created with). From here it states what
  // the set holds, from this import and any before it: per run, the file and SHA-256 its row was imported
  // from. A run whose output now hashes otherwise (replaced since an earlier import) keeps the row it had;
  // the bytes offered now are named and not imported. A row whose bytes no run of this study was imported
  // from is not attributed to a run.
  const held = run.setId === undefined ? [] : await heldRows(db, run.setId);
  const heldByRun = new Map(held.filter((h) => attributable.has(h.sha256)).map((h) => [ImportRun.key(h.name, h.label), h]));
  const heldOf = (r: PlanRun) => heldByRun.get(ImportRun.key(r.subject, r.size));
  const heldBySha = new Map(held.map((h) => [h.sha256, h]));
  // The importer names a refused file `<bundle folder>/<its path>`.
  const failed = new Map(run.report.errors.map((e) => [e.file, e]));
  for (const x of accepted) {
    const h = heldOf(x.run);
    const e = failed.get(`${basename(b.root)}/${x.rel}`);
    const other = heldBySha.get(x.sha256);
    if (h && h.sha256 === x.sha256) {
      report.imported.push({ runId: x.run.runId, output: x.rel, sha256: x.sha256, matchedBy: x.matchedBy });
      continue;
    }
    const reason = h ? `it hashes to ${x.sha256}, but the set holds this run from ${h.source}, which hashed to ${h.sha256} when it was ` +
        'imported: the output changed since, and the set keeps what it imported (import into a new set to use the new output)'
      : e ? `the importer refused it (${e.code}: ${e.message.slice(0, 200)})`
        : other ? `its bytes (SHA-256 ${x.sha256}) are already in the set as the adapter of ${other.name} at size ${other.label}: one adapter cannot stand for several runs`
          : 'the importer left it out (see the reference import findings)';
    report.mismatched.push({ runId: x.run.runId, output: x.rel, reason });
  }
  const inSet = plan.runs.filter((r) => heldOf(r) !== undefined);
  const inSetIds = new Set(inSet.map((r) => r.runId));
  const heldCov = coverageOf(plan, inSetIds);
  Object.assign(coverage, {
    imported: heldCov.done, missing: heldCov.missing,
    rejected: [...new Set([...report.mismatched.map((m) => m.runId), ...report.duplicated.map((d) => d.runId)])].filter((id) => !inSetIds.has(id)),
    sizes: heldCov.sizes.map((z) => ({ size: z.size, planned: z.planned, imported: z.done })),
  });
  study.runs = inSet.map((r) => {
    const h = heldOf(r)!;
    return { runId: r.runId, subject: r.subject, size: r.size, seed: r.seed, output: h.source, sha256: h.sha256, command: r.command,
      images: r.images.map((im) => ({ path: im.path, sha256: im.sha256 })) };
  });
  const unattributed = held.length - inSet.length;
  provenance.notes = studyNotes(plan, b.planSha256, coverage) +
    (unattributed > 0 ? `; ${unattributed} other row(s) of the set are no output of this study's runs` : '');
  if (run.setId !== undefined) {
    const { shards: _omit, ...stored } = { ...provenance, featureBackend: opts.engine.info.name };
    await db.run('UPDATE reference_sets SET provenance = ? WHERE id = ?', [JSON.stringify(stored), run.setId]);
  }
  // Complete only once its provenance is final.
  const reference = await run.finish();
  return { ...report, coverage, complete: coverage.imported === coverage.planned && reference.errors.length === 0, reference };
}

function studyNotes(plan: Plan, planSha256: string, coverage: StudyProvenance['coverage']): string {
  return `reference study ${plan.studyId} (plan sha256 ${planSha256}): ${coverage.imported} of ${coverage.planned} planned runs` +
    (coverage.missing.length ? `; missing ${coverage.missing.join(', ')}` : '');
}

interface HeldRow { name: string; label: number; source: string; sha256: string }

/** Each row of the set: its name and size, the file it was imported from and that file's SHA-256 then
 *  (empty for a row stored without a file of its own, as a pack's are). */
async function heldRows(db: Database, setId: number): Promise<HeldRow[]> {
  return db.all<HeldRow>(
    `SELECT a.name, a.label, a.source, coalesce(s.sha256, '') AS sha256
     FROM reference_adapters a LEFT JOIN reference_shards s ON s.id = a.shard_id WHERE a.set_id = ?`, [setId]);
}
