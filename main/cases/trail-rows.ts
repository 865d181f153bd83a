// Each row a case shows must be the row its audit entry recorded. The chain protects the entries, not
// the rows beside them: without this check one UPDATE of analyses.result (an estimate of 1 made 500),
// or a stored evidence copy swapped together with its row's SHA-256, passed `case verify` untouched
// by the trail, and a report signed afterwards printed the new value. So every evidence item, analysis,
// report and note is held to the entry that recorded it (same id, same hashes, sizes, names, result),
// the case row to its creation and last status change, and an entry whose row is gone, or a row no
// entry recorded, is a divergence too. Pure over rows as stored: `case verify` and `verify --db` run
// it on the database, an archive import on case.json before anything is written.
import type { Queryable, SqlValue } from '../db/database.ts';
import { canonicalJson, sha256Hex } from '../common/hashing.ts';
import { auditRows, type AuditRow } from './audit.ts';
import type { VerifyProblem } from './verify.ts';

type Row = Record<string, SqlValue>;

export interface RecordedRows {
  case: Row;
  evidence: Row[];
  analyses: Row[];
  reports: Row[];
  notes: Row[];
}

/** Which table's rows an action's entries record, and under which id. */
const RECORDS = {
  evidence: { action: 'evidence-added', id: 'evidenceId', noun: 'evidence' },
  analyses: { action: 'analysis', id: 'analysisId', noun: 'analysis' },
  reports: { action: 'report', id: 'reportId', noun: 'report' },
  notes: { action: 'note', id: 'noteId', noun: 'note' },
} as const;
type Table = keyof typeof RECORDS;

/** One recorded field: the row's value now and the value the entry recorded (only fields the entry has). */
type Compared = [field: string, now: unknown, recorded: unknown];

/** Shown values are cut: a row is untrusted text. */
const shown = (v: unknown) => {
  const s = typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 119)}…` : s;
};

export async function compareCaseRowsWithTrail(q: Queryable, caseId: string): Promise<VerifyProblem[]> {
  const rows: RecordedRows = {
    case: (await q.get<Row>('SELECT * FROM cases WHERE id = ?', [caseId])) ?? { id: caseId },
    evidence: [], analyses: [], reports: [], notes: [],
  };
  for (const table of Object.keys(RECORDS) as Table[]) rows[table] = await q.all<Row>(`SELECT * FROM ${table} WHERE case_id = ?`, [caseId]);
  return compareRowsWithTrail(rows, await auditRows(q, caseId));
}

export function compareRowsWithTrail(rows: RecordedRows, trail: AuditRow[]): VerifyProblem[] {
  const problems: VerifyProblem[] = [];
  const entries = trail.map((r) => ({ seq: r.seq, action: r.action, details: parse(r.details) }));
  const diverge = (message: string, extra: Partial<VerifyProblem>) => problems.push({ kind: 'record-divergence', ...extra, message });

  for (const table of Object.keys(RECORDS) as Table[]) {
    const { action, id: idField, noun } = RECORDS[table];
    const recorded = new Map<string, { seq: number; details: Record<string, unknown> }>();
    for (const e of entries) if (e.action === action && e.details && typeof e.details[idField] === 'string') recorded.set(e.details[idField] as string, { seq: e.seq, details: e.details });
    const present = new Set<string>();
    for (const row of rows[table]) {
      const id = String(row.id);
      present.add(id);
      const ref = table === 'evidence' ? { evidenceId: id } : table === 'reports' ? { reportId: id } : {};
      const entry = recorded.get(id);
      if (!entry) {
        diverge(`${noun} ${id} is in the database, but no audit entry records it: it was added outside the application`, ref);
        continue;
      }
      const differing = fieldsOf(table, row, entry.details).filter(([, now, then]) => !same(now, then));
      if (differing.length > 0) {
        diverge(`${noun} ${id} is not what audit entry ${entry.seq} recorded (${differing.map(([f, now, then]) => `${f}: ${shown(now)} now, ${shown(then)} recorded`).join('; ')}): ` +
          'the row was changed after it was recorded', { ...ref, seq: entry.seq });
      }
    }
    for (const [id, entry] of recorded) {
      if (!present.has(id)) diverge(`audit entry ${entry.seq} records ${noun} ${id}, which is no longer in the database: the row was deleted`, { seq: entry.seq });
    }
  }
  problems.push(...caseRowProblems(rows.case, entries));
  return problems;
}

/** The fields an entry recorded, against the row now. An entry lacking a field (written by an older
 *  version) leaves it uncompared. */
function fieldsOf(table: Table, row: Row, d: Record<string, unknown>): Compared[] {
  const out: Compared[] = [];
  const add = (field: string, now: unknown, key: string = field) => { if (key in d) out.push([field, now, d[key]]); };
  if (table === 'evidence') {
    add('fileName', row.file_name);
    add('sha256', row.sha256);
    add('size', row.size);
    add('family', row.family);
    add('method', row.method);
    add('baseModel', row.base_model);
    if (Array.isArray(d.companions)) {
      const list = parse(row.companions as string);
      const now = Array.isArray(list) ? list.map((c: Record<string, unknown>) => ({ fileName: c?.fileName, size: c?.size, sha256: c?.sha256 })) : list;
      add('companions', now);
    }
  } else if (table === 'analyses') {
    add('evidenceId', row.evidence_id);
    add('referenceSet', row.reference_set);
    add('referenceSetId', row.reference_set_id);
    add('mode', row.mode);
    add('methodVersion', row.method_version);
    const result = parse(row.result as string);
    add('applicable', result?.applicable);
    add('estimate', result?.estimate);
    add('result SHA-256', typeof row.result === 'string' ? sha256Hex(row.result) : null, 'resultSha256');
  } else if (table === 'reports') {
    add('sha256', row.sha256);
    add('size', row.size);
    const companions = parse(row.companions as string);
    const roleSha = (role: string) => (Array.isArray(companions) ? companions.find((c: Record<string, unknown>) => c?.role === role)?.sha256 : undefined) ?? null;
    add('manifest SHA-256', roleSha('manifest'), 'manifestSha256');
    add('signature SHA-256', roleSha('signature'), 'signatureSha256');
  } else {
    add('text', row.text);
  }
  return out;
}

/** JSON-equal, and no side a number that JSON would write as null (1e999 in a row reads as Infinity). */
function same(now: unknown, recorded: unknown): boolean {
  if (typeof now === 'number' && !Number.isFinite(now)) return false;
  return canonicalJson(now) === canonicalJson(recorded);
}

/** The case row: title, examiner, organisation and description as created, status as last changed. */
function caseRowProblems(row: Row, entries: { seq: number; action: string; details: Record<string, unknown> | null }[]): VerifyProblem[] {
  const created = entries.find((e) => e.action === 'case-created');
  const out: VerifyProblem[] = [];
  if (created?.details) {
    const d = created.details;
    const differing = (['title', 'examiner', 'organisation', 'description'] as const).filter((k) => k in d && row[k] !== d[k]);
    if (differing.length > 0) {
      out.push({ kind: 'record-divergence', seq: created.seq, message: `the case's ${differing.map((k) => `${k} (${shown(row[k])} now, ${shown(d[k])} recorded)`).join(', ')} ` +
        `is not what audit entry ${created.seq} recorded when it was created: the row was changed after it was recorded` });
    }
  }
  const lastStatus = entries.filter((e) => e.action === 'case-status' && typeof e.details?.to === 'string').at(-1);
  const status = lastStatus ? lastStatus.details!.to : 'open';
  if (created && row.status !== status) {
    out.push({ kind: 'record-divergence', ...(lastStatus ? { seq: lastStatus.seq } : {}),
      message: `the case's status is ${shown(row.status)}, but the audit trail ${lastStatus ? `last recorded ${shown(status)} (entry ${lastStatus.seq})` : 'records no change from "open"'}: the row was changed after it was recorded` });
  }
  return out;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of untrusted rows, read field by field
function parse(text: string | null | undefined): any {
  if (typeof text !== 'string') return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
