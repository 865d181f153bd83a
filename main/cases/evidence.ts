// Evidence items: a file copied into the case's store, hashed as it is copied, inspected (family,
// method, base model) from the stored copy, and recorded with an audit entry, in one transaction.
// A file intake cannot parse is still evidence (a truncated upload is exactly what an auditor must
// keep): it is stored and recorded with the reason intake refused it.
import { access } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Database, Queryable } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import { resolveActor } from './actor.ts';
import { appendAudit } from './audit.ts';
import { getCase } from './cases.ts';
import { newId, resolveId } from './ids.ts';
import type { InspectReport } from '../intake/inspect.ts';
import { inspectEvidence, readInspection, type EvidenceInspection } from './inspect.ts';
import { commitStaging, discardStaging, newStaging, stageCopy, storeRoot, storedFile } from './store.ts';

export type Inspector = (path: string) => Promise<EvidenceInspection>;

/** A PEFT adapter is only half the evidence without the config beside it (scale, rank pattern, base). */
export const COMPANION_FILES = ['adapter_config.json'];

export interface Companion {
  fileName: string;
  storedPath: string;   // absolute
  size: number;
  sha256: string;
}

export interface EvidenceItem {
  id: string;
  caseId: string;
  fileName: string;
  originalPath: string;
  storedPath: string;   // absolute
  size: number;
  sha256: string;
  family: string;
  method: string;
  baseModel: string;
  /** Intake's inspection report of the file, as stored at import (cases/inspect.ts). */
  inspect: InspectReport;
  companions: Companion[];
  importedAt: string;
  examiner: string;
  notes: string;
  tags: string[];
}

export interface AddEvidenceOptions {
  notes?: string;
  tags?: string[];
  /** Who imported it, when not the case's examiner. */
  actor?: string;
  /** How to read family/method/base model; the intake pipeline unless a caller substitutes one. */
  inspector?: Inspector;
  /** false: skip the provenance check (main/provenance), which otherwise records its matches as findings. */
  provenance?: boolean;
}

export interface AddedEvidence extends EvidenceItem {
  /** True when these exact bytes were already in the case: nothing new was stored or recorded. */
  duplicate: boolean;
}

export interface EvidenceRow {
  id: string; case_id: string; file_name: string; original_path: string; stored_path: string; size: number;
  sha256: string; family: string; method: string; base_model: string; inspect: string; companions: string;
  imported_at: string; examiner: string; notes: string; tags: string;
}

export function rowToEvidence(root: string, r: EvidenceRow): EvidenceItem {
  const companions = (JSON.parse(r.companions) as (Omit<Companion, 'storedPath'> & { storedPath: string })[])
    .map((c) => ({ ...c, storedPath: storedFile(root, c.storedPath) }));
  return {
    id: r.id, caseId: r.case_id, fileName: r.file_name, originalPath: r.original_path,
    storedPath: storedFile(root, r.stored_path), size: r.size, sha256: r.sha256, family: r.family, method: r.method,
    baseModel: r.base_model, inspect: readInspection(parseOrNull(r.inspect), { fileName: r.file_name, size: r.size, sha256: r.sha256, family: r.family, method: r.method, baseModel: r.base_model }),
    companions,
    importedAt: r.imported_at, examiner: r.examiner, notes: r.notes, tags: JSON.parse(r.tags) as string[],
  };
}

export async function addEvidence(db: Database, caseIdOrPrefix: string, file: string, options: AddEvidenceOptions = {}): Promise<AddedEvidence> {
  const kase = await getCase(db, caseIdOrPrefix);
  if (kase.status !== 'open') {
    throw new AuditError('BAD_REQUEST', `case ${kase.id} is ${kase.status}: reopen it before adding evidence`);
  }
  const actor = resolveActor(kase.examiner, options.actor);
  const root = storeRoot(db.path);
  const originalPath = resolve(file);
  const fileName = basename(originalPath);
  const tags = [...new Set((options.tags ?? []).map((t) => t.trim()).filter((t) => t !== ''))];
  const staging = await newStaging(root, kase.id, 'evidence');
  try {
    const main = await stageCopy(originalPath, staging, fileName);
    const companions: { fileName: string; size: number; sha256: string }[] = [];
    for (const name of COMPANION_FILES) {
      const beside = join(dirname(originalPath), name);
      if (name === fileName || !(await exists(beside))) continue;
      companions.push(await stageCopy(beside, staging, name));
    }
    const inspection = await (options.inspector ?? inspectEvidence)(join(staging, fileName));
    const known = await db.get('SELECT 1 FROM evidence WHERE case_id = ? AND sha256 = ?', [kase.id, main.sha256]);
    const provenance = options.provenance === false || known ? null
      : await (await import('../provenance/check.ts')).checkEvidence(db, join(staging, fileName), main.sha256, { evidenceFile: (rel) => storedFile(root, rel) });
    if (provenance) inspection.inspection.report.findings.push(...provenance.findings);
    const finalRel = `${kase.id}/evidence/${main.sha256}`;
    const id = newId();
    const importedAt = new Date().toISOString();
    const outcome = await db.transaction(async (tx) => {
      const existing = await tx.get<{ id: string }>('SELECT id FROM evidence WHERE case_id = ? AND sha256 = ?', [kase.id, main.sha256]);
      if (existing) return { id: existing.id, duplicate: true };
      const finalDir = join(root, finalRel);
      await commitStaging(staging, finalDir);
      const companionRows = companions.map((c) => ({ ...c, storedPath: `${finalRel}/${c.fileName}` }));
      await tx.run(`INSERT INTO evidence (id, case_id, file_name, original_path, stored_path, size, sha256, family, method,
        base_model, inspect, companions, imported_at, examiner, notes, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [id, kase.id, fileName, originalPath, `${finalRel}/${fileName}`, main.size, main.sha256, inspection.family,
          inspection.method, inspection.baseModel, JSON.stringify(inspection.inspection), JSON.stringify(companionRows),
          importedAt, actor.name, options.notes ?? '', JSON.stringify(tags)]);
      await provenance?.record(tx, id);
      await appendAudit(tx, kase.id, actor, 'evidence-added', {
        evidenceId: id, fileName, originalPath, size: main.size, sha256: main.sha256, family: inspection.family,
        method: inspection.method, baseModel: inspection.baseModel,
        companions: companions.map((c) => ({ fileName: c.fileName, size: c.size, sha256: c.sha256 })),
        notes: options.notes ?? '', tags, ...(provenance ? { provenance: provenance.audit } : {}),
      }, importedAt);
      return { id, duplicate: false };
    });
    return { ...(await getEvidence(db, kase.id, outcome.id)), duplicate: outcome.duplicate };
  } finally {
    // after a commit the staging folder has become the final one and this removes nothing
    await discardStaging(staging);
  }
}

export async function listEvidence(db: Database, caseIdOrPrefix: string): Promise<EvidenceItem[]> {
  const kase = await getCase(db, caseIdOrPrefix);
  const rows = await db.all<EvidenceRow>('SELECT * FROM evidence WHERE case_id = ? ORDER BY imported_at, id', [kase.id]);
  return rows.map((r) => rowToEvidence(storeRoot(db.path), r));
}

export async function getEvidence(db: Database, caseId: string, idOrPrefix: string): Promise<EvidenceItem> {
  return getEvidenceIn(db, storeRoot(db.path), caseId, idOrPrefix);
}

export async function getEvidenceIn(q: Queryable, root: string, caseId: string, idOrPrefix: string): Promise<EvidenceItem> {
  const id = await resolveId(q, 'evidence', idOrPrefix, caseId);
  const row = await q.get<EvidenceRow>('SELECT * FROM evidence WHERE id = ?', [id]);
  if (!row) throw new AuditError('NOT_FOUND', `no evidence item ${idOrPrefix} in case ${caseId}`);
  return rowToEvidence(root, row);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function parseOrNull(text: string): unknown {
  try { return JSON.parse(text); } catch { return null; }
}
