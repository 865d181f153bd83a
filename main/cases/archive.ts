// A whole case as one .tar, for handing over to another examiner or machine:
//   manifest.json   format, case id, exporting app version, the audit head, and the size and SHA-256
//                   of every other file in the archive
//   case.json       every row of the case (case, evidence, analyses, reports, notes, audit_log)
//   store/<caseId>/evidence/<sha256>/<file>, store/<caseId>/reports/<id>/<file>   the stored copies
// Import trusts nothing in it: every file is re-hashed against the manifest, files the manifest does not
// list are refused, the audit chain is verified, every evidence and report row must match its file,
// and only then are the rows written (one transaction) and the files moved into the store.
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, writeFile, cp, open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { tmpdir } from 'node:os';
import { create, extract } from 'tar';
import type { Database, Queryable, SqlValue } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import { resolveActor } from './actor.ts';
import { appendAudit, verifyChain, type AuditRow } from './audit.ts';
import { getCase, type CaseRow } from './cases.ts';
import { canonicalJson, sha256File } from './hashing.ts';
import { newId } from './ids.ts';
import { READ_ONLY, storeRoot } from './store.ts';
import { verifyCase } from './verify.ts';
import { appVersion } from './version.ts';

export const ARCHIVE_FORMAT = 'lora-audit-case-archive';
export const ARCHIVE_VERSION = 1;

export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  version: number;
  caseId: string;
  title: string;
  exportedAt: string;
  appVersion: string;
  auditHead: { seq: number; hash: string };
  files: { path: string; size: number; sha256: string }[];
}

export interface CaseRows {
  case: CaseRow;
  evidence: Record<string, SqlValue>[];
  analyses: Record<string, SqlValue>[];
  reports: Record<string, SqlValue>[];
  notes: Record<string, SqlValue>[];
  audit_log: AuditRow[];
}

export interface ExportResult {
  caseId: string;
  file: string;
  size: number;
  sha256: string;
  files: number;
}

export interface ImportResult {
  caseId: string;
  title: string;
  archiveSha256: string;
  counts: { evidence: number; analyses: number; reports: number; notes: number; auditEntries: number };
}

const ROW_TABLES = ['evidence', 'analyses', 'reports', 'notes'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Exports a case that verifies (an archive vouches for what it holds, so a case that fails
 *  verification is refused, naming the first problem). */
export async function exportCase(db: Database, caseIdOrPrefix: string, outFile: string, options: { actor?: string } = {}): Promise<ExportResult> {
  const kase = await getCase(db, caseIdOrPrefix);
  const check = await verifyCase(db, kase.id, options);
  if (!check.ok) {
    throw new AuditError(check.problems[0].kind === 'audit-chain' ? 'AUDIT_BROKEN' : 'HASH_MISMATCH',
      `case ${kase.id} does not verify, so it is not exported: ${check.problems[0].message}`);
  }
  const root = storeRoot(db.path);
  const out = resolve(outFile);
  const work = join(tmpdir(), `lora-audit-export-${process.pid}-${newId()}`);
  await mkdir(work, { recursive: true });
  try {
    const rows = await readCaseRows(db, kase.id);
    await writeFile(join(work, 'case.json'), canonicalJson(rows));
    const storeFiles = [...rows.evidence.map((r) => r.stored_path as string),
      ...rows.evidence.flatMap((r) => (JSON.parse(r.companions as string) as { storedPath: string }[]).map((c) => c.storedPath)),
      ...rows.reports.map((r) => r.stored_path as string)];
    for (const rel of storeFiles) {
      await mkdir(dirname(join(work, 'store', rel)), { recursive: true });
      await cp(join(root, rel), join(work, 'store', rel));
    }
    const files: ArchiveManifest['files'] = [];
    for (const rel of ['case.json', ...storeFiles.map((p) => `store/${p}`)]) {
      files.push({ path: rel, ...(await sha256File(join(work, rel))) });
    }
    const manifest: ArchiveManifest = {
      format: ARCHIVE_FORMAT, version: ARCHIVE_VERSION, caseId: kase.id, title: kase.title,
      exportedAt: new Date().toISOString(), appVersion: appVersion(),
      auditHead: { seq: rows.case.audit_head_seq, hash: rows.case.audit_head_hash }, files,
    };
    await writeFile(join(work, 'manifest.json'), JSON.stringify(manifest, null, 2));
    // written beside the target and renamed, so a crash never leaves a half archive under its name
    await mkdir(dirname(out), { recursive: true });
    const partial = `${out}.partial-${process.pid}`;
    // Not compressed: adapter weights are float noise to gzip (measured 0.90 of the size on the real
    // fixtures) and compression was most of the export's time (docs/BENCHMARKS.md, case files section). Import reads
    // gzipped archives too (tar detects them).
    await create({ file: partial, cwd: work, portable: true }, ['manifest.json', 'case.json', ...(storeFiles.length ? ['store'] : [])]);
    await fsync(partial);
    await rename(partial, out);
    const { sha256, size } = await sha256File(out);
    await db.transaction((tx) => appendAudit(tx, kase.id, resolveActor(kase.examiner, options.actor), 'export',
      { file: out, sha256, size, files: files.length, auditHead: manifest.auditHead }));
    return { caseId: kase.id, file: out, size, sha256, files: files.length };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function readCaseRows(q: Queryable, caseId: string): Promise<CaseRows> {
  const kase = await q.get<CaseRow>('SELECT * FROM cases WHERE id = ?', [caseId]);
  if (!kase) throw new AuditError('NOT_FOUND', `no case with id ${caseId}`);
  const rows: CaseRows = { case: kase, evidence: [], analyses: [], reports: [], notes: [], audit_log: [] };
  for (const table of ROW_TABLES) rows[table] = await q.all<Record<string, SqlValue>>(`SELECT * FROM ${table} WHERE case_id = ? ORDER BY id`, [caseId]);
  rows.audit_log = await q.all<AuditRow>(`SELECT case_id, seq, at, actor, os_user, action, details, prev_hash, hash
    FROM audit_log WHERE case_id = ? ORDER BY seq`, [caseId]);
  return rows;
}

export async function importCase(db: Database, archive: string, options: { actor?: string } = {}): Promise<ImportResult> {
  const file = resolve(archive);
  const { sha256: archiveSha256 } = await sha256File(file).catch((e: NodeJS.ErrnoException) => {
    throw new AuditError('FILE_NOT_FOUND', e.code === 'ENOENT' ? 'no such file' : e.message, file);
  });
  const root = storeRoot(db.path);
  // unpacked inside the store root (same file system, so the final move is a rename); a crash leaves
  // a folder of a dead process that recoverStore() removes
  const work = join(root, `.partial-${process.pid}-${newId()}`);
  await mkdir(work, { recursive: true });
  const bad = (message: string): AuditError => new AuditError('BAD_ARCHIVE', message, file);
  try {
    // Warnings (an entry with '..' in its path, a bad header checksum …) are collected and refused once
    // the extraction has stopped: with strict: true tar rejected at the first one while its writers were
    // still filling the folder, and the cleanup's rm then failed with a raw ENOTEMPTY (fuzz finding).
    const warnings: string[] = [];
    try {
      await extract({
        file, cwd: work, strict: false, onwarn: (code, message) => { warnings.push(`${code}: ${message}`); },
        // plain files and folders only: a link could point the import outside its folder
        filter: (_path, entry) => 'type' in entry ? entry.type === 'File' || entry.type === 'Directory' : entry.isFile() || entry.isDirectory(),
      });
    } catch (e) {
      throw bad(`not a readable case archive (${(e as Error).message})`);
    }
    if (warnings.length) throw bad(`not a readable case archive (${warnings[0]})`);
    const manifest = await readManifest(work, file);
    const listed = new Map(manifest.files.map((f) => [f.path, f]));
    const present = (await walk(work)).filter((p) => p !== 'manifest.json');
    for (const p of present) if (!listed.has(p)) throw bad(`the archive holds ${p}, which its manifest does not list`);
    for (const f of manifest.files) {
      const abs = join(work, f.path);
      if (!present.includes(f.path)) throw bad(`the manifest lists ${f.path}, which the archive does not hold`);
      const now = await sha256File(abs);
      if (now.sha256 !== f.sha256 || now.size !== f.size) {
        throw bad(`${f.path} does not match the manifest (SHA-256 ${now.sha256}, manifest says ${f.sha256}): the archive was altered`);
      }
    }
    const rows = caseRowsOf(await readFile(join(work, 'case.json'), 'utf8'), bad);
    const caseId = rows.case.id;
    if (caseId !== manifest.caseId) throw bad(`case.json is for case ${caseId}, the manifest for ${manifest.caseId}`);
    // the id names a folder in the store: only the ids this app makes (UUIDs) are accepted
    if (!UUID.test(caseId)) throw bad(`"${caseId}" is not a case id`);
    const chain = verifyChain(caseId, rows.audit_log ?? [], { seq: rows.case.audit_head_seq, hash: rows.case.audit_head_hash });
    if (!chain.ok) throw bad(`its audit trail does not verify: ${chain.problem?.message}`);
    if (rows.case.audit_head_hash !== manifest.auditHead.hash) throw bad('the manifest\'s audit head does not match the case\'s');
    for (const r of rows.evidence) {
      await expectStored(work, caseId, r.stored_path as string, r.sha256 as string, bad);
      for (const c of JSON.parse(r.companions as string) as { storedPath: string; sha256: string }[]) {
        await expectStored(work, caseId, c.storedPath, c.sha256, bad);
      }
    }
    for (const r of rows.reports) await expectStored(work, caseId, r.stored_path as string, r.sha256 as string, bad);
    if (await db.get('SELECT 1 AS x FROM cases WHERE id = ?', [caseId])) {
      throw new AuditError('ALREADY_EXISTS', `case ${caseId} ("${rows.case.title}") is already in this database; nothing was imported`, file);
    }

    const columns = await tableColumns(db);
    await db.transaction(async (tx) => {
      await insertRow(tx, 'cases', rows.case as unknown as Record<string, SqlValue>, columns);
      for (const table of ROW_TABLES) for (const r of rows[table]) await insertRow(tx, table, r, columns);
      for (const r of rows.audit_log) await insertRow(tx, 'audit_log', r as unknown as Record<string, SqlValue>, columns);
      const unpacked = join(work, 'store', caseId);
      const target = join(root, caseId);
      // a folder there without a case row is a crashed import's leftover
      await rm(target, { recursive: true, force: true });
      if (await exists(unpacked)) {
        await makeReadOnly(unpacked);
        await rename(unpacked, target);
      }
      await appendAudit(tx, caseId, resolveActor(rows.case.examiner, options.actor), 'import', {
        archive: basename(file), archiveSha256, exportedAt: manifest.exportedAt, exportedBy: manifest.appVersion,
        files: manifest.files.length,
      });
    });
    return {
      caseId, title: rows.case.title, archiveSha256,
      counts: { evidence: rows.evidence.length, analyses: rows.analyses.length, reports: rows.reports.length,
        notes: rows.notes.length, auditEntries: rows.audit_log.length + 1 },
    };
  } finally {
    // retried: a tar writer that failed mid-entry may still be closing its file when this runs
    await rm(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  }
}

/** case.json parsed and checked for the shape the import relies on (the manifest's hash proves nothing: it is unsigned). */
function caseRowsOf(text: string, bad: (m: string) => AuditError): CaseRows {
  let rows: CaseRows;
  try {
    rows = JSON.parse(text) as CaseRows;
  } catch (e) {
    throw bad(`case.json is not valid JSON (${(e as Error).message})`);
  }
  const isRow = (r: unknown) => r !== null && typeof r === 'object' && !Array.isArray(r);
  if (!isRow(rows) || !isRow(rows.case) || typeof rows.case.id !== 'string') throw bad('case.json does not hold a case');
  for (const table of [...ROW_TABLES, 'audit_log'] as const) {
    const list = (rows as unknown as Record<string, unknown>)[table];
    if (!Array.isArray(list) || !list.every(isRow)) throw bad(`case.json's ${table} is not a list of rows`);
  }
  for (const r of rows.evidence) {
    if (typeof r.stored_path !== 'string' || typeof r.sha256 !== 'string' || typeof r.companions !== 'string') throw bad('an evidence row of case.json lacks its stored path, hash or companions');
    let companions: unknown;
    try { companions = JSON.parse(r.companions); } catch { companions = null; }
    if (!Array.isArray(companions) || !companions.every((c) => isRow(c) && typeof c.storedPath === 'string' && typeof c.sha256 === 'string')) {
      throw bad('an evidence row of case.json has unreadable companions');
    }
  }
  for (const r of rows.reports) if (typeof r.stored_path !== 'string' || typeof r.sha256 !== 'string') throw bad('a report row of case.json lacks its stored path or hash');
  return rows;
}

async function readManifest(work: string, file: string): Promise<ArchiveManifest> {
  let manifest: ArchiveManifest;
  try {
    manifest = JSON.parse(await readFile(join(work, 'manifest.json'), 'utf8')) as ArchiveManifest;
  } catch {
    throw new AuditError('BAD_MANIFEST', 'the archive has no readable manifest.json: it is not a LoRA Auditor case archive', file);
  }
  // shape first: a manifest of null, or files that are not {path, sha256, size}, crashed the checks below (fuzz finding)
  if (!manifest || typeof manifest !== 'object' || manifest.format !== ARCHIVE_FORMAT || !Array.isArray(manifest.files) || typeof manifest.caseId !== 'string'
    || !manifest.files.every((f) => f && typeof f === 'object' && typeof f.path === 'string' && typeof f.sha256 === 'string' && typeof f.size === 'number')) {
    throw new AuditError('BAD_MANIFEST', 'manifest.json is not a LoRA Auditor case manifest', file);
  }
  if (manifest.version > ARCHIVE_VERSION) {
    throw new AuditError('BAD_MANIFEST', `the archive was written in format version ${manifest.version} by LoRA Auditor ${manifest.appVersion}; this version reads up to ${ARCHIVE_VERSION}`, file);
  }
  if (!manifest.files.some((f) => f.path === 'case.json')) throw new AuditError('BAD_MANIFEST', 'the manifest does not list case.json', file);
  return manifest;
}

async function expectStored(work: string, caseId: string, rel: string, sha256: string, bad: (m: string) => AuditError): Promise<void> {
  const abs = resolve(work, 'store', rel);
  if (!rel.startsWith(`${caseId}/`) || !abs.startsWith(resolve(work, 'store', caseId) + sep)) {
    throw bad(`a row points at ${rel}, outside the case's own folder`);
  }
  if (!(await exists(abs))) throw bad(`a row records ${rel}, which the archive does not hold`);
  if ((await sha256File(abs)).sha256 !== sha256) throw bad(`${rel} does not match the SHA-256 its row records`);
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

/** Inserts the archive's row with the columns this schema has (names checked against the schema, never
 *  taken from the file into SQL unchecked). */
async function insertRow(tx: Queryable, table: string, row: Record<string, SqlValue>, columns: Columns): Promise<void> {
  const known = columns.get(table)!;
  const names = Object.keys(row).filter((k) => known.has(k) && !(table === 'audit_log' && k === 'id'));
  await tx.run(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`, names.map((k) => row[k]));
}

async function walk(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const abs = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(abs, base)));
    else out.push(relative(base, abs).split(sep).join('/'));
  }
  return out;
}

async function makeReadOnly(dir: string): Promise<void> {
  for (const rel of await walk(dir)) await chmod(join(dir, rel), READ_ONLY);
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function fsync(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

