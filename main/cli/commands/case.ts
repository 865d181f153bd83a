// lora-audit case …: cases with chain of custody (see main/cases/). Every subcommand takes
// --db <path> (default: the app's database) and keeps the evidence store beside that database.
import type { Database } from '../../db/database.ts';
import { defaultDbPath } from '../../db/open.ts';
import { openDatabase } from '../../services/database.ts';
import { exportCase, importCase, type ArchiveSigning, type ExportResult, type ImportResult } from '../../cases/archive.ts';
import { listAudit, verifyAudit, type AuditEntry, type ChainVerification } from '../../cases/audit.ts';
import { CASE_STATUSES, createCase, getCase, listCases, setCaseStatus, type CaseRecord, type CaseStatus } from '../../cases/cases.ts';
import { addEvidence, listEvidence, type AddedEvidence, type EvidenceItem } from '../../cases/evidence.ts';
import { addNote, listNotes, type Note } from '../../cases/notes.ts';
import { listReports, type ReportRecord } from '../../cases/reports.ts';
import { recoverStore } from '../../cases/store.ts';
import { verifyCase, type CaseVerification } from '../../cases/verify.ts';
import { AuditError, toApiError, type ApiError } from '../../errors.ts';
import { requireString, usageError, type Command, type Options, type Values } from '../framework.ts';
import { listAnalyses, type AnalysisRecord, type AnalysisOutcome } from '../../cases/analyses.ts';
import { parseMode } from '../mode.ts';

const common: Options = {
  db: { type: 'string' },
  actor: { type: 'string' },
};

async function withDb<T>(values: Values, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(typeof values.db === 'string' && values.db !== '' ? values.db : defaultDbPath());
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const actorOf = (values: Values): string | undefined => (typeof values.actor === 'string' ? values.actor : undefined);

function oneCase(positionals: string[], usage: string): string {
  if (!positionals[0]) throw usageError(`which case? (${usage})`);
  return positionals[0];
}

const caseLine = (c: CaseRecord) => `${c.id}  ${c.status.padEnd(8)} ${c.title}  (${c.examiner}${c.organisation ? `, ${c.organisation}` : ''})`;

const create: Command<CaseRecord> = {
  name: 'case create',
  summary: 'Open a new case; prints its id.',
  usage: 'case create --title <text> --examiner <name> [--organisation <name>] [--description <text>] [--db <path>]',
  options: { ...common, title: { type: 'string' }, examiner: { type: 'string' }, organisation: { type: 'string' }, description: { type: 'string' } },
  async run(_ctx, values) {
    const title = requireString(values, 'title');
    const examiner = requireString(values, 'examiner');
    const data = await withDb(values, (db) => createCase(db, {
      title, examiner, organisation: values.organisation as string | undefined, description: values.description as string | undefined,
    }, actorOf(values)));
    return { data };
  },
  human: (c) => `case ${c.id} created: ${c.title} (examiner ${c.examiner})`,
};

const list: Command<{ cases: CaseRecord[] }> = {
  name: 'case list',
  summary: 'All cases in the database.',
  usage: 'case list [--db <path>]',
  options: common,
  async run(_ctx, values) {
    return { data: { cases: await withDb(values, (db) => listCases(db)) } };
  },
  human: ({ cases }) => (cases.length === 0 ? 'no cases yet (lora-audit case create --title … --examiner …)' : cases.map(caseLine).join('\n')),
};

/** What `case show` prints (the app's view of a case is services/views.ts caseView). */
interface CaseShowOutput {
  case: CaseRecord;
  evidence: EvidenceItem[];
  analyses: AnalysisRecord[];
  reports: ReportRecord[];
  notes: Note[];
  audit: { entries: number; ok: boolean; head: ChainVerification['head']; problem?: ChainVerification['problem']; recent: AuditEntry[] };
}

const show: Command<CaseShowOutput> = {
  name: 'case show',
  summary: 'A case with its evidence, analyses, reports, notes and a summary of its audit trail.',
  usage: 'case show <case> [--db <path>]',
  options: common,
  async run(_ctx, values, positionals) {
    const id = oneCase(positionals, this.usage);
    return {
      data: await withDb(values, async (db) => {
        const kase = await getCase(db, id);
        const chain = await verifyAudit(db, kase.id);
        const entries = await listAudit(db, kase.id);
        return {
          case: kase, evidence: await listEvidence(db, kase.id), analyses: await listAnalyses(db, kase.id),
          reports: await listReports(db, kase.id), notes: await listNotes(db, kase.id),
          audit: { entries: chain.entries, ok: chain.ok, head: chain.head, ...(chain.problem ? { problem: chain.problem } : {}), recent: entries.slice(-10) },
        };
      }),
    };
  },
  human(v) {
    const lines = [caseLine(v.case)];
    if (v.case.description) lines.push(`  ${v.case.description}`);
    lines.push('', `evidence (${v.evidence.length}):`);
    for (const e of v.evidence) lines.push(`  ${e.id}  ${e.fileName}  ${e.family}/${e.method}/${e.baseModel}  ${e.size} B  sha256 ${e.sha256}`);
    lines.push('', `analyses (${v.analyses.length}):`);
    for (const a of v.analyses) lines.push(`  ${a.id}  evidence ${a.evidenceId.slice(0, 8)}  ${a.referenceSet} (${a.mode})  estimate ${a.result.estimate ?? 'n/a'}${a.result.applicable ? '' : ' (not applicable)'}`);
    lines.push('', `reports (${v.reports.length}):`);
    for (const r of v.reports) lines.push(`  ${r.id}  ${r.file}  signed by ${r.signer}  sha256 ${r.sha256}`);
    lines.push('', `notes (${v.notes.length}):`);
    for (const n of v.notes) lines.push(`  ${n.createdAt}  ${n.author}: ${n.text}`);
    lines.push('', `audit trail: ${v.audit.entries} entries, ${v.audit.ok ? 'chain verifies' : `BROKEN at entry ${v.audit.problem?.seq}: ${v.audit.problem?.message}`}`);
    for (const e of v.audit.recent) lines.push(`  ${String(e.seq).padStart(4)}  ${e.at}  ${e.actor} (${e.osUser})  ${e.action}`);
    return lines.join('\n');
  },
};

interface AddEvidenceOutput { caseId: string; evidence: AddedEvidence[]; errors: (ApiError & { input: string })[] }

const addEvidenceCommand: Command<AddEvidenceOutput> = {
  name: 'case add-evidence',
  summary: 'Copy adapter files into the case (read-only, hashed, inspected, audited).',
  usage: 'case add-evidence <case> <file…> [--notes <text>] [--tags a,b] [--db <path>] [--actor <name>]',
  options: { ...common, notes: { type: 'string' }, tags: { type: 'string' } },
  async run(ctx, values, positionals) {
    const [caseArg, ...files] = positionals;
    if (!caseArg || files.length === 0) throw usageError('give a case and at least one file');
    const tags = typeof values.tags === 'string' ? values.tags.split(',') : [];
    return withDb(values, async (db) => {
      const kase = await getCase(db, caseArg);
      // leftovers of an import that was killed earlier go first, so the store holds only recorded files
      const { removed } = await recoverStore(db, kase.id);
      if (removed.length > 0) ctx.log(`removed ${removed.length} leftover(s) of an interrupted import`);
      const out: AddEvidenceOutput = { caseId: kase.id, evidence: [], errors: [] };
      for (const file of files) {
        try {
          const item = await addEvidence(db, kase.id, file, { notes: values.notes as string | undefined, tags, actor: actorOf(values) });
          out.evidence.push(item);
          ctx.log(`${item.duplicate ? 'already in case' : 'added'}: ${item.fileName}`);
        } catch (err) {
          out.errors.push({ input: file, ...toApiError(err) });
        }
      }
      return { data: out, exitCode: out.errors.length > 0 ? 1 : 0 };
    });
  },
  human(o) {
    const lines = o.evidence.map((e) => `${e.id}  ${e.fileName}${e.duplicate ? ' (already in case)' : ''}\n  sha256 ${e.sha256}\n  stored ${e.storedPath}\n  family ${e.family}, method ${e.method}, base ${e.baseModel}`);
    for (const e of o.errors) lines.push(`refused ${e.input}: ${e.message}`);
    return lines.join('\n');
  },
};

const note: Command<Note> = {
  name: 'case note',
  summary: 'Add a note to a case.',
  usage: 'case note <case> <text> [--db <path>] [--actor <name>]',
  options: common,
  async run(_ctx, values, positionals) {
    const [caseArg, ...words] = positionals;
    if (!caseArg || words.length === 0) throw usageError('give a case and the text of the note');
    return { data: await withDb(values, (db) => addNote(db, caseArg, words.join(' '), actorOf(values))) };
  },
  human: (n) => `note ${n.id} added by ${n.author}`,
};

const status: Command<CaseRecord> = {
  name: 'case status',
  summary: 'Close, archive or reopen a case (a closed case takes no new evidence).',
  usage: `case status <case> ${CASE_STATUSES.join('|')} [--db <path>] [--actor <name>]`,
  options: common,
  async run(_ctx, values, positionals) {
    const [caseArg, to] = positionals;
    if (!caseArg || !to) throw usageError(`give a case and its new status (${CASE_STATUSES.join(', ')})`);
    if (!CASE_STATUSES.includes(to as CaseStatus)) throw usageError(`unknown status "${to}" (one of ${CASE_STATUSES.join(', ')})`);
    return { data: await withDb(values, (db) => setCaseStatus(db, caseArg, to as CaseStatus, actorOf(values))) };
  },
  human: (c) => `case ${c.id} is ${c.status}`,
};

interface AnalyzeOutput { caseId: string; outcomes: AnalysisOutcome[] }

const analyze: Command<AnalyzeOutput> = {
  name: 'case analyze',
  summary: 'Estimate the training-set size of evidence items (all, or those named) against a reference set.',
  usage: 'case analyze <case> [<evidence-id>…] --reference <set> [--mode faithful|best] [--backend auto|<name>] [--override "<justification>"] [--db <path>] [--actor <name>]',
  options: { ...common, reference: { type: 'string' }, mode: { type: 'string' }, backend: { type: 'string' }, override: { type: 'string' } },
  async run(ctx, values, positionals) {
    const [caseArg, ...evidenceIds] = positionals;
    if (!caseArg) throw usageError('which case?');
    const reference = requireString(values, 'reference');
    const mode = parseMode(values);
    // --override "<why>": compare despite soft refusal reasons, recorded with the result and its audit entry (issue 18)
    const { checkJustification } = await import('../../analysis/override.ts');
    const override = values.override === undefined ? undefined : checkJustification(values.override);
    // the compute backends load only for this command
    const { runAnalysis } = await import('../../cases/analyses.ts');
    const { createFeatureEngine } = await import('../../../native/engine.ts');
    return withDb(values, async (db) => {
      const kase = await getCase(db, caseArg);
      const ids = evidenceIds.length > 0 ? evidenceIds : (await listEvidence(db, kase.id)).map((e) => e.id);
      if (ids.length === 0) throw usageError(`case ${kase.id} has no evidence yet (lora-audit case add-evidence …)`);
      const engine = await createFeatureEngine({
        backend: (typeof values.backend === 'string' ? values.backend : 'auto') as NonNullable<Parameters<typeof createFeatureEngine>[0]>['backend'],
        log: ctx.log,
      });
      try {
        const outcomes: AnalysisOutcome[] = [];
        for (const id of ids) {
          ctx.log(`analysing ${id} …`);
          outcomes.push(await runAnalysis(db, kase.id, id, reference, { mode, actor: actorOf(values), ...(override !== undefined ? { override } : {}) }, engine));
        }
        const refused = outcomes.some((o) => o.status === 'refused');
        return { data: { caseId: kase.id, outcomes }, exitCode: refused ? 1 : 0 };
      } finally {
        engine.dispose();
      }
    });
  },
  human: (o) => o.outcomes.map((x) => x.status === 'refused'
    ? `evidence ${x.evidenceId}: REFUSED: ${x.finding.message}`
    : `evidence ${x.evidenceId}: estimate ${x.analysis.result.estimate ?? 'n/a'}${x.analysis.result.applicable ? '' : ` (not applicable: ${x.analysis.result.reasons.join('; ')})`}`
      + `${x.analysis.result.override ? ` (compared despite soft reasons; justification: ${x.analysis.result.override.justification})` : ''}`
      + `${x.analysis.result.applicable && x.analysis.result.opinion ? `; opinion ${x.analysis.result.opinion.grade}${x.analysis.result.reliability ? ` (on this set: exact ${Math.round(x.analysis.result.reliability.accuracy * 100)} %, within one ${Math.round(x.analysis.result.reliability.withinOne * 100)} %, MAE ${x.analysis.result.reliability.mae.toFixed(2)})` : ''}` : ''}`
      + `  [analysis ${x.analysis.id}]`).join('\n'),
};

const verify: Command<CaseVerification> = {
  name: 'case verify',
  summary: 'Re-hash every stored evidence copy and report, and verify the audit chain; exits 1 naming the first problem.',
  usage: 'case verify <case> [--db <path>] [--actor <name>]',
  options: common,
  async run(_ctx, values, positionals) {
    const id = oneCase(positionals, this.usage);
    // the reports layer checks the signed manifests the case is compared with (main/cases may not import it)
    const { checkSignedStatement } = await import('../../reports/signed-statement.ts');
    const data = await withDb(values, (db) => verifyCase(db, id, { actor: actorOf(values), checkSignedStatement }));
    return { data, exitCode: data.ok ? 0 : 1 };
  },
  human: (v) => [...(v.ok
    ? [`case ${v.caseId} verifies: ${v.checked.evidence} evidence item(s), ${v.checked.reports} report(s), ${v.checked.auditEntries} audit entries`]
    : [`case ${v.caseId} does NOT verify: ${v.problems[0].message}`, ...v.problems.slice(1).map((p) => `  also: ${p.message}`)]),
  ...v.warnings.map((w) => `  warning: ${w.message}`)].join('\n'),
};

const exportCommand: Command<ExportResult> = {
  name: 'case export',
  summary: 'Write the whole case (rows, evidence copies, reports, audit trail, SHA-256 manifest) to one archive; with --key the manifest is signed.',
  usage: 'case export <case> --out <file.tar> [--key <examiner.p12>] [--passphrase …] [--db <path>] [--actor <name>]',
  options: { ...common, out: { type: 'string' }, key: { type: 'string' }, passphrase: { type: 'string' } },
  async run(_ctx, values, positionals) {
    const id = oneCase(positionals, this.usage);
    const out = requireString(values, 'out');
    // the reports layer signs (main/cases may not import it); the key opens before anything is written
    const { checkSignedStatement } = await import('../../reports/signed-statement.ts');
    const signing = typeof values.key === 'string' ? await archiveSigning(values.key, values) : undefined;
    return { data: await withDb(values, (db) => exportCase(db, id, out, { actor: actorOf(values), checkSignedStatement, ...(signing ? { signing } : {}) })) };
  },
  human: (r) => `case ${r.caseId} exported to ${r.file} (${r.files} files, ${r.size} B, sha256 ${r.sha256})\n` +
    (r.signer ? `manifest signed by ${r.signer.subject} (certificate SHA-256 ${r.signer.sha256Fingerprint})` : 'UNSIGNED archive: give --key to sign its manifest'),
};

const importCommand: Command<ImportResult> = {
  name: 'case import',
  summary: 'Import a case archive, verifying its signature (if any), every file and the audit chain first.',
  usage: 'case import <archive> [--trust <ca.pem>]… [--db <path>] [--actor <name>] [--json]',
  options: { ...common, trust: { type: 'string', multiple: true } },
  async run(_ctx, values, positionals) {
    if (!positionals[0]) throw usageError('which archive?');
    const { verifyDetachedCms } = await import('../../reports/cms.ts');
    const trust = (values.trust as string[] | undefined) ?? [];
    return { data: await withDb(values, (db) => importCase(db, positionals[0], { actor: actorOf(values), trust, verifyCms: verifyDetachedCms })) };
  },
  human: (r) => [
    `case ${r.caseId} imported: ${r.title} (${r.counts.evidence} evidence, ${r.counts.analyses} analyses, ${r.counts.reports} reports, ${r.counts.auditEntries} audit entries)`,
    ...signatureLines(r.signature),
  ].join('\n'),
};

/** How an imported archive's signature reads to a person: who signed, and whether that signer is trusted. */
function signatureLines(s: ImportResult['signature']): string[] {
  if (s.status === 'unsigned') return ['UNSIGNED archive: its content could have been edited by anyone'];
  return [
    `signed by ${s.signer?.subject} (serial ${s.signer?.serial}, certificate SHA-256 ${s.signer?.sha256Fingerprint})`,
    s.trusted ? 'signer trusted (chains to a --trust certificate)' : 'signer NOT trusted: give --trust with the certificate of the signer or its CA',
    ...(s.problems ?? []).map((p) => `  ${p}`),
  ];
}

/** The examiner's key, opened (a wrong passphrase fails here, before the export starts), as the archive's signer. */
async function archiveSigning(keyFile: string, values: Values): Promise<ArchiveSigning> {
  const { passphrase } = await import('./report.ts');
  const pass = passphrase(values);
  const { readFile } = await import('node:fs/promises');
  const { loadKey } = await import('../../reports/keys.ts');
  const { signDetachedCms } = await import('../../reports/cms.ts');
  const p12 = new Uint8Array(await readFile(keyFile).catch(() => { throw new AuditError('FILE_NOT_FOUND', 'the key file cannot be read', keyFile); }));
  const key = loadKey(p12, pass, keyFile);
  return { sign: (data) => signDetachedCms(data, key), signer: key.info };
}

export const commands: Command[] = [create, list, show, addEvidenceCommand, note, status, analyze, verify, exportCommand, importCommand] as Command[];
