// Issue 15 item 1: an archive of a new case must not write into other cases. Each attack edits case.json
// of an honest archive, recomputes every SHA-256 (as anyone can for an unsigned archive) and imports it
// into a database holding a victim case: refused with BAD_ARCHIVE, and the database and store unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportCase, importCase } from '../../../main/cases/archive.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { addNote } from '../../../main/cases/notes.ts';
import { newId } from '../../../main/cases/ids.ts';
import type { Database } from '../../../main/db/database.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { editCaseJson, rehash, repack, snapshot, unpack } from './archive-helpers.ts';
import { plainInspector, tempDir } from './helpers.ts';

describe('case archive import: rows of other cases', () => {
  const t = tempDir('lora-audit-archive-owner-');
  let target: Database;
  let targetPath: string;
  let victim: { caseId: string; evidenceId: string; noteId: string };
  let archive: string;
  let n = 0;

  beforeAll(async () => {
    targetPath = join(t.dir, 'target', 'cases.sqlite');
    target = await openDatabase(targetPath);
    const v = await createCase(target, { title: 'Victim', examiner: 'V' });
    writeFileSync(join(t.dir, 'victim.safetensors'), 'victim evidence bytes');
    const ev = await addEvidence(target, v.id, join(t.dir, 'victim.safetensors'), { inspector: plainInspector });
    const note = await addNote(target, v.id, 'victim note');
    victim = { caseId: v.id, evidenceId: ev.id, noteId: note.id };

    const source = await openDatabase(join(t.dir, 'source', 'cases.sqlite'));
    const planted = await createCase(source, { title: 'Planted', examiner: 'Mallory' });
    writeFileSync(join(t.dir, 'planted.safetensors'), 'planted evidence bytes');
    await addEvidence(source, planted.id, join(t.dir, 'planted.safetensors'), { inspector: plainInspector });
    await addNote(source, planted.id, 'a note of the new case');
    archive = join(t.dir, 'planted.tar');
    await exportCase(source, planted.id, archive);
    await source.close();
  });

  afterAll(async () => {
    await target.close();
    t.cleanup();
  });

  /** Unpacks the honest archive, applies the edit to case.json, rehashes, repacks; imports; expects a
   *  refusal naming `words` and no change to the target database or its store. */
  async function refused(edit: (rows: any) => void, words: string[]): Promise<void> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const { dir } = await unpack(archive, join(t.dir, `attack-${++n}`));
    editCaseJson(dir, edit);
    await rehash(dir);
    const forged = await repack(dir, join(t.dir, `attack-${n}.tar`));
    const before = await snapshot(targetPath);
    const err = await importCase(target, forged).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_ARCHIVE' });
    for (const w of words) expect((err as Error).message).toContain(w);
    expect(await snapshot(targetPath)).toBe(before);
    rmSync(dir, { recursive: true, force: true });
  }

  const analysisRow = (caseId: string, evidenceId: string) => ({
    id: newId(), case_id: caseId, evidence_id: evidenceId, reference_set: 'mini', reference_set_id: 1, reference_provenance: '{}',
    mode: 'faithful', parameters: '{}', result: JSON.stringify({ estimate: 500, applicable: true, reasons: [] }),
    method_version: 'x', app_version: 'x', backend: 'cpu', started_at: '2025-01-01T00:00:00.000Z', finished_at: '2025-01-01T00:00:01.000Z',
  });

  it('refuses an analysis row that names an existing case and its evidence (the "estimate 500" plant)', async () => {
    await refused((rows) => rows.analyses.push(analysisRow(victim.caseId, victim.evidenceId)),
      ['analyses row', `belongs to case ${victim.caseId}`, 'only its own case\'s rows']);
  });

  it('refuses an evidence row and a note planted into an existing case', async () => {
    await refused((rows) => rows.evidence.push({ ...rows.evidence[0], id: newId(), case_id: victim.caseId }), ['evidence row', `belongs to case ${victim.caseId}`]);
    await refused((rows) => rows.notes.push({ ...rows.notes[0], id: newId(), case_id: victim.caseId }), ['notes row', `belongs to case ${victim.caseId}`]);
  });

  it('refuses an analysis of the new case that points at another case\'s evidence', async () => {
    await refused((rows) => rows.analyses.push(analysisRow(rows.case.id, victim.evidenceId)),
      ['analyses row', `refers to evidence ${victim.evidenceId}`, 'not evidence of the archived case']);
  });

  it('refuses a row whose id is already in the database (a note overwriting the victim\'s)', async () => {
    await refused((rows) => { rows.notes[0].id = victim.noteId; }, [`notes row ${victim.noteId} is already in this database`, `in case ${victim.caseId}`]);
  });

  it('refuses an audit entry of another case carried in the trail', async () => {
    await refused((rows) => rows.audit_log.push({ ...rows.audit_log[0], case_id: victim.caseId, seq: 99 }),
      ['audit entry 99', `belongs to case ${victim.caseId}`]);
  });

  it('imports the untouched archive, leaving the victim case as it was', async () => {
    const victimBefore = JSON.stringify(await target.all('SELECT * FROM evidence WHERE case_id = ? ORDER BY id', [victim.caseId]));
    const r = await importCase(target, archive);
    expect(r.counts).toMatchObject({ evidence: 1, notes: 1 });
    expect(JSON.stringify(await target.all('SELECT * FROM evidence WHERE case_id = ? ORDER BY id', [victim.caseId]))).toBe(victimBefore);
    expect(await target.all('SELECT id FROM analyses')).toEqual([]);
  });
});
