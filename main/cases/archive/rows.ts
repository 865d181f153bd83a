// case.json of an archive: parsed, then checked as a whole before anything is written. Every row must
// belong to the archived case and point only at rows and files of that case, the audit trail must
// verify and record every issued report that the archive holds (and no other), and every stored file
// a row records must be listed by the manifest with the same size and SHA-256 (and every listed file
// must lie in a folder some row owns). Nothing here trusts the manifest's hash of case.json alone: an
// unsigned manifest proves nothing, so these checks stand on their own.
import type { Queryable, SqlValue } from '../../db/database.ts';
import { AuditError } from '../../errors.ts';
import { verifyChain } from '../audit.ts';
import { compareRowsWithTrail, type RecordedRows } from '../trail-rows.ts';
import { CASE_JSON, ROW_TABLES, UUID, isObject, type ArchiveManifest, type CaseRows, type RowTable } from './format.ts';

type Bad = (m: string) => AuditError;
type Row = Record<string, SqlValue>;

/** case.json parsed and checked for the shape the import relies on. */
export function parseCaseRows(bytes: Buffer, bad: Bad): CaseRows {
  let rows: CaseRows;
  try {
    rows = JSON.parse(bytes.toString('utf8')) as CaseRows;
  } catch (e) {
    throw bad(`case.json is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(rows) || !isObject(rows.case) || typeof rows.case.id !== 'string') throw bad('case.json does not hold a case');
  checkValues('cases', rows.case as unknown as Record<string, unknown>, bad);
  for (const table of [...ROW_TABLES, 'audit_log'] as const) {
    const list = (rows as unknown as Record<string, unknown>)[table];
    if (!Array.isArray(list) || !list.every(isObject)) throw bad(`case.json's ${table} is not a list of rows`);
    for (const r of list) checkValues(table, r, bad);
  }
  for (const r of rows.evidence) {
    if (typeof r.stored_path !== 'string' || typeof r.sha256 !== 'string' || typeof r.companions !== 'string') throw bad('an evidence row of case.json lacks its stored path, hash or companions');
    if (!Array.isArray(companionsOf(r))) throw bad('an evidence row of case.json has unreadable companions');
  }
  for (const r of rows.reports) {
    if (typeof r.stored_path !== 'string' || typeof r.sha256 !== 'string') throw bad('a report row of case.json lacks its stored path or hash');
    // a report's companions (its signed manifest and signature) are optional: older rows have none
    if (r.companions !== undefined && r.companions !== null && (typeof r.companions !== 'string' || !Array.isArray(companionsOf(r)))) {
      throw bad('a report row of case.json has unreadable companions');
    }
  }
  return rows;
}

/** A row's values go into SQL as parameters: text, finite numbers and nulls only (JSON's 1e999 is Infinity). */
function checkValues(table: string, row: Record<string, unknown>, bad: Bad): void {
  for (const [column, v] of Object.entries(row)) {
    if (v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) continue;
    throw bad(`case.json's ${table} row ${String(row.id ?? row.seq ?? '').slice(0, 64)} has a ${column} that is not text, a finite number or null`);
  }
}

interface Companion { storedPath: string; sha256: string; size?: unknown }

function companionsOf(r: Row): Companion[] | null {
  let list: unknown;
  try { list = JSON.parse(r.companions as string); } catch { return null; }
  return Array.isArray(list) && list.every((c) => isObject(c) && typeof c.storedPath === 'string' && typeof c.sha256 === 'string') ? list as Companion[] : null;
}

/** Checks the rows against themselves, the archived case and the manifest (see the file comment). */
export function checkRows(rows: CaseRows, manifest: ArchiveManifest, bad: Bad): void {
  const caseId = rows.case.id;
  if (caseId !== manifest.caseId) throw bad(`case.json is for case ${caseId.slice(0, 64)}, the manifest for ${manifest.caseId}`);
  const ids = new Map<RowTable, Set<string>>();
  for (const table of ROW_TABLES) {
    const seen = new Set<string>();
    for (const r of rows[table]) {
      const id = r.id;
      if (typeof id !== 'string' || !UUID.test(id)) throw bad(`a ${table} row of case.json has the id "${String(id).slice(0, 64)}", which is not a row id`);
      if (seen.has(id)) throw bad(`case.json holds two ${table} rows with the id ${id}`);
      seen.add(id);
      // the attack this stops: rows of a new case's archive naming an existing case, which the import
      // would otherwise have written into that case, past its audit trail
      if (r.case_id !== caseId) {
        throw bad(`${table} row ${id} belongs to case ${String(r.case_id).slice(0, 64)}, not to the archived case ${caseId}: an archive may carry only its own case's rows`);
      }
    }
    ids.set(table, seen);
  }
  const evidenceIds = ids.get('evidence')!;
  for (const table of ['analyses', 'notes'] as const) {
    for (const r of rows[table]) {
      const ref = r.evidence_id;
      if ((table === 'analyses' || (ref !== undefined && ref !== null)) && (typeof ref !== 'string' || !evidenceIds.has(ref))) {
        throw bad(`${table} row ${String(r.id)} refers to evidence ${String(ref).slice(0, 64)}, which is not evidence of the archived case`);
      }
    }
  }
  for (const r of rows.audit_log) {
    if (r.case_id !== caseId) throw bad(`audit entry ${String(r.seq).slice(0, 20)} belongs to case ${String(r.case_id).slice(0, 64)}, not to the archived case ${caseId}`);
  }
  const chain = verifyChain(caseId, rows.audit_log, { seq: rows.case.audit_head_seq, hash: rows.case.audit_head_hash });
  if (!chain.ok) throw bad(`its audit trail does not verify: ${chain.problem?.message}`);
  if (rows.case.audit_head_hash !== manifest.auditHead.hash || rows.case.audit_head_seq !== manifest.auditHead.seq) {
    throw bad('the manifest\'s audit head does not match the case\'s');
  }
  checkReports(rows, manifest, bad);
  checkFiles(rows, manifest, bad);
}

/** Every row as its own audit entry recorded it: what case verify checks, checked before the rows are
 *  written (an edited estimate in an unsigned archive is refused, not imported and found later). */
export function checkRowsRecorded(rows: CaseRows, bad: Bad): void {
  const diverging = compareRowsWithTrail(rows as unknown as RecordedRows, rows.audit_log)[0];
  if (diverging) throw bad(`case.json's rows are not what its audit trail recorded: ${diverging.message}`);
}

/** Every report the audit trail records as issued is in the archive with the hash it was issued with,
 *  every report row was recorded as issued, and (version 2) the manifest lists exactly these. A report
 *  dropped from an archive is found even when the archive is unsigned. */
function checkReports(rows: CaseRows, manifest: ArchiveManifest, bad: Bad): void {
  const held = new Map(rows.reports.map((r) => [r.id as string, r.sha256 as string]));
  const issued = new Set<string>();
  for (const entry of rows.audit_log) {
    if (entry.action !== 'report') continue;
    const details = JSON.parse(entry.details) as unknown; // valid JSON: the chain was verified
    const id = String(isObject(details) ? details.reportId : undefined);
    if (!held.has(id)) throw bad(`the audit trail records report ${id.slice(0, 64)} as issued (entry ${entry.seq}), but the archive does not hold it: reports were dropped from the archive`);
    if (held.get(id) !== (details as Record<string, unknown>).sha256) throw bad(`report ${id} is not the one the audit trail records as issued (entry ${entry.seq}): its SHA-256 differs`);
    issued.add(id);
  }
  for (const id of held.keys()) if (!issued.has(id)) throw bad(`report ${id} is in the archive, but the audit trail records no such report as issued`);
  if (manifest.reports) {
    const listed = new Map(manifest.reports.map((r) => [r.id, r.sha256]));
    if (listed.size !== manifest.reports.length) throw bad('the manifest lists a report twice');
    for (const [id, sha256] of listed) {
      if (!held.has(id)) throw bad(`the manifest lists report ${id.slice(0, 64)}, which the archive does not hold: reports were dropped from the archive`);
      if (held.get(id) !== sha256) throw bad(`report ${id} does not match the SHA-256 the manifest lists`);
    }
    for (const id of held.keys()) if (!listed.has(id)) throw bad(`report ${id} is in case.json but not in the manifest's list of reports`);
  }
}

/** Rows ↔ listed files: each file a row records is listed (same size and SHA-256) and lies in that
 *  row's own folder; each listed store file lies in the folder of one row (an evidence item's or a report's). */
function checkFiles(rows: CaseRows, manifest: ArchiveManifest, bad: Bad): void {
  const caseId = rows.case.id;
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  const owners = new Map<string, string>(); // row folder (store/…) → the row owning it
  const expect = (kind: 'evidence' | 'reports', id: string, ownFolder: unknown, rel: string, sha256: unknown, size: unknown) => {
    const owner = `${kind} row ${id}`;
    const parts = rel.split('/');
    if (parts.length !== 4 || parts[0] !== caseId || parts[1] !== kind) throw bad(`${owner} records ${rel.slice(0, 200)}, outside the case's own folder`);
    // the store's own layout (evidence/<SHA-256 of the file>/, reports/<report id>/) and nothing else:
    // a folder named like an unpacking folder (".partial-<pid>-…") was deleted by the next case verify
    if (parts[2] !== ownFolder) throw bad(`${owner} records ${rel.slice(0, 200)}, not in its own folder ${caseId}/${kind}/${String(ownFolder).slice(0, 64)}`);
    const f = listed.get(`store/${rel}`);
    if (!f) throw bad(`${owner} records ${rel}, which the archive does not hold`);
    if (typeof sha256 !== 'string' || f.sha256 !== sha256) throw bad(`${rel} does not match the SHA-256 its row records`);
    if (size !== undefined && f.size !== size) throw bad(`${rel} does not match the size its row records`);
    const folder = `store/${parts.slice(0, 3).join('/')}`;
    const had = owners.get(folder);
    if (had !== undefined && had !== owner) throw bad(`${had} and ${owner} record files in the same folder ${folder}`);
    owners.set(folder, owner);
  };
  for (const r of rows.evidence) {
    expect('evidence', r.id as string, r.sha256, r.stored_path as string, r.sha256, r.size);
    for (const c of companionsOf(r)!) expect('evidence', r.id as string, r.sha256, c.storedPath, c.sha256, c.size);
  }
  for (const r of rows.reports) {
    expect('reports', r.id as string, r.id, r.stored_path as string, r.sha256, r.size);
    for (const c of typeof r.companions === 'string' ? companionsOf(r)! : []) expect('reports', r.id as string, r.id, c.storedPath, c.sha256, c.size);
  }
  for (const f of manifest.files) {
    if (f.path === CASE_JSON) continue;
    if (!owners.has(f.path.split('/').slice(0, 4).join('/'))) throw bad(`the archive holds ${f.path}, which no row of case.json records`);
  }
}

/** The case and every row id must be new to this database: an import adds, it never overwrites. */
export async function checkNewToDatabase(q: Queryable, rows: CaseRows, file: string): Promise<void> {
  if (await q.get('SELECT 1 AS x FROM cases WHERE id = ?', [rows.case.id])) {
    throw new AuditError('ALREADY_EXISTS', `case ${rows.case.id} ("${rows.case.title}") is already in this database; nothing was imported`, file);
  }
  for (const table of ROW_TABLES) {
    const ids = rows[table].map((r) => r.id as string);
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      const found = await q.get<{ id: string; case_id: string }>(`SELECT id, case_id FROM ${table} WHERE id IN (${chunk.map(() => '?').join(', ')}) LIMIT 1`, chunk);
      if (found) throw new AuditError('BAD_ARCHIVE', `${table} row ${found.id} is already in this database (in case ${found.case_id}): an archive may only bring rows new to it`, file);
    }
  }
}

type Columns = Map<string, Set<string>>;

async function tableColumns(q: Queryable): Promise<Columns> {
  const out: Columns = new Map();
  for (const table of ['cases', ...ROW_TABLES, 'audit_log']) {
    const info = await q.all<{ name: string }>(`PRAGMA table_info(${table})`);
    out.set(table, new Set(info.map((c) => c.name)));
  }
  return out;
}

/** Inserts every row with the columns this schema has (names checked against the schema, never taken
 *  from the file into SQL unchecked). A row the schema rejects (a missing column …) refuses the archive;
 *  the caller's transaction then rolls back. */
export async function insertCaseRows(tx: Queryable, rows: CaseRows, bad: Bad): Promise<void> {
  const columns = await tableColumns(tx);
  const insert = async (table: string, row: Record<string, unknown>) => {
    const known = columns.get(table)!;
    const names = Object.keys(row).filter((k) => known.has(k) && !(table === 'audit_log' && k === 'id'));
    try {
      await tx.run(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`, names.map((k) => row[k] as SqlValue));
    } catch (e) {
      throw bad(`a ${table} row of case.json cannot be stored (${(e as Error).message})`);
    }
  };
  await insert('cases', rows.case as unknown as Row);
  for (const table of ROW_TABLES) for (const r of rows[table]) await insert(table, r);
  for (const r of rows.audit_log) await insert('audit_log', r as unknown as Row);
}
