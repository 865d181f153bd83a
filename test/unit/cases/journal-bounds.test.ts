// The audit journal as hostile input (issue 15 review): extended to gigabytes without a newline (a
// sparse file costs nothing to make: `truncate -s 1T`), it was read to its end by every `case verify`
// (an 8 GB one ran past two minutes). The read is now bounded in bytes as well as lines, and says so.
import { statSync, truncateSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCase } from '../../../main/cases/cases.ts';
import { journalPath, MAX_JOURNAL_BYTES, readJournal } from '../../../main/cases/journal.ts';
import { addNote } from '../../../main/cases/notes.ts';
import { verifyCase } from '../../../main/cases/verify.ts';
import { tempDb } from './helpers.ts';

let t: Awaited<ReturnType<typeof tempDb>>;
let caseId: string;
beforeEach(async () => {
  t = await tempDb();
  caseId = (await createCase(t.db, { title: 'Journal bounds', examiner: 'E' })).id;
  await addNote(t.db, caseId, 'a note');
});
afterEach(async () => { await t.cleanup(); });

describe('audit journal bounds', () => {
  it('a journal padded to 16 × the byte bound with zeros is read up to the bound, its own lines still compared, the rest said unread', async () => {
    const path = journalPath(t.dbPath);
    truncateSync(path, 16 * MAX_JOURNAL_BYTES);   // sparse: no disk, no time to make
    expect(statSync(path).size).toBe(16 * MAX_JOURNAL_BYTES);

    const read = await readJournal(t.dbPath, caseId);
    expect(read.bytes).toBe(MAX_JOURNAL_BYTES);
    expect(read.truncated).toBe(true);
    expect(read.lines.map((l) => l.seq)).toEqual([1, 2]);

    const v = await verifyCase(t.db, caseId);
    expect(v.problems).toEqual([]);
    expect(v.warnings).toEqual([expect.objectContaining({ kind: 'journal-unreadable',
      message: `the audit journal is longer than one verification reads (1000000 lines or ${MAX_JOURNAL_BYTES} bytes); only its beginning was compared` })]);
  }, 60_000);
});
