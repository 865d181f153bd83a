// The audit journal: a file beside the database (`<db>.audit-journal`) that gets one JSON line
// {caseId, seq, hash, at} for every audit entry, written once the entry's transaction has committed
// (a rolled-back append is never journaled). Whoever can write the database can rewrite the trail
// consistently (every entry rechained, the case's head updated) and the chain still verifies; the
// journal is a record such a rewrite does not reach. A journaled (seq, hash) that today's chain no
// longer has names the rewritten entry; a journaled seq past today's head names a cut tail.
//
// It is append-only by use (O_APPEND, fsynced), not by protection: someone who also edits or deletes
// the journal defeats it. A missing journal is therefore reported (a warning, not a failure: databases
// written before the journal existed, or copied without it, must still verify; the warning says that a
// rewrite would not be seen by this check). Its lines are untrusted input: their length and count, and
// the bytes read, are bounded, and lines that do not parse are skipped and reported.
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AuditError } from '../errors.ts';
import type { VerifyProblem } from './verify.ts';
import { syncPath } from '../common/fs.ts';

/** A line is ~180 bytes; anything longer was not written by this app. */
export const MAX_JOURNAL_LINE_BYTES = 1024;
/** Lines read per verification (about 180 MB of journal): past this the rest is reported as unread. */
export const MAX_JOURNAL_LINES = 1_000_000;
/** Bytes read per verification, whatever they hold: a journal extended without newlines (a sparse
 *  file of a terabyte costs nothing to make) would otherwise be read to its end. */
export const MAX_JOURNAL_BYTES = 256 * 1024 * 1024;
const CHUNK = 1 << 16;
const HASH = /^[0-9a-f]{64}$/;
const UNREADABLE_SHOWN = 5;

export interface JournalHead { caseId: string; seq: number; hash: string }
export interface JournalLine extends JournalHead { at: string; line: number }

export interface JournalRead {
  path: string;
  exists: boolean;
  /** This case's lines, in file order. */
  lines: JournalLine[];
  /** Lines read in all (every case). */
  total: number;
  /** How many lines are not a journal line: overlong, not JSON, wrong shape, or torn (no newline). */
  unreadableCount: number;
  /** The first few of them, by line number (1-based). */
  unreadable: number[];
  /** Lines past MAX_JOURNAL_LINES, or bytes past MAX_JOURNAL_BYTES, were not read. */
  truncated: boolean;
  /** Bytes read. */
  bytes: number;
  /** Set when the path exists but is not a regular file. */
  notAFile: boolean;
}

export function journalPath(dbPath: string): string {
  return `${resolve(dbPath)}.audit-journal`;
}

/** Appends one head and fsyncs. Called after the commit that wrote the entry (see appendAudit). */
export async function appendJournal(dbPath: string, head: JournalHead, at: string = new Date().toISOString()): Promise<void> {
  const path = journalPath(dbPath);
  const line = Buffer.from(JSON.stringify({ caseId: head.caseId, seq: head.seq, hash: head.hash, at }) + '\n');
  let handle: FileHandle | undefined;
  try {
    const created = !(await stat(path).then(() => true, () => false));
    // non-blocking and no links: a FIFO or a link put in its place must not hang or redirect the write
    handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
    if (!(await handle.stat()).isFile()) throw new Error('it is not a regular file');
    // one write: with O_APPEND the whole line lands at the end, whichever process writes
    const { bytesWritten } = await handle.write(line, 0, line.length);
    if (bytesWritten !== line.length) throw new Error(`only ${bytesWritten} of ${line.length} bytes were written`);
    await handle.sync();
    if (created) await syncPath(dirname(path));
  } catch (e) {
    throw new AuditError('DB_ERROR', `audit entry ${head.seq} of case ${head.caseId} was recorded in the database, but the audit journal ` +
      `could not be written (${(e as Error).message}): the next recorded change writes it again`, path);
  } finally {
    await handle?.close();
  }
}

/** Reads this case's journal lines, bounded in line length and count. Never throws for bad content. */
export async function readJournal(dbPath: string, caseId: string): Promise<JournalRead> {
  const path = journalPath(dbPath);
  const out: JournalRead = { path, exists: false, lines: [], total: 0, unreadableCount: 0, unreadable: [], truncated: false, bytes: 0, notAFile: false };
  let handle: FileHandle;
  try {
    // non-blocking: a FIFO put in its place must not hang the verification
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return out;
    out.exists = true;
    out.notAFile = true;
    return out;
  }
  out.exists = true;
  try {
    if (!(await handle.stat()).isFile()) {
      out.notAFile = true;
      return out;
    }
    // a line split across reads is gathered in `pending`; one over the limit is dropped as it arrives
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let overlong = false;
    const take = (text: string | null) => {
      out.total++;
      const entry = text === null ? null : parseLine(text);
      if (entry?.caseId === caseId) out.lines.push({ ...entry, line: out.total });
      else if (!entry && out.unreadableCount++ < UNREADABLE_SHOWN) out.unreadable.push(out.total);
    };
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      if (out.bytes >= MAX_JOURNAL_BYTES) {
        // what is left unread is said, not guessed at: a line cut here is not taken as torn
        out.truncated = true;
        return out;
      }
      const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK, MAX_JOURNAL_BYTES - out.bytes), null);
      if (bytesRead === 0) break;
      out.bytes += bytesRead;
      let start = 0;
      while (start < bytesRead) {
        const nl = buffer.indexOf(0x0a, start);
        const end = nl === -1 || nl >= bytesRead ? bytesRead : nl;
        if (!overlong && pendingBytes + end - start > MAX_JOURNAL_LINE_BYTES) {
          overlong = true;
          pending = [];
          pendingBytes = 0;
        }
        if (end === bytesRead) {
          if (!overlong) {
            pending.push(Buffer.from(buffer.subarray(start, end)));
            pendingBytes += end - start;
          }
          break;
        }
        if (out.total >= MAX_JOURNAL_LINES) {
          out.truncated = true;
          return out;
        }
        if (overlong) take(null);
        else if (pendingBytes === 0) take(buffer.toString('utf8', start, end));
        else take(Buffer.concat([...pending, buffer.subarray(start, end)]).toString('utf8'));
        pending = [];
        pendingBytes = 0;
        overlong = false;
        start = end + 1;
      }
    }
    // a last line without its newline was torn (a crash mid-write) or added by hand
    if (overlong || pendingBytes > 0) {
      if (out.total >= MAX_JOURNAL_LINES) out.truncated = true;
      else take(null);
    }
    return out;
  } finally {
    await handle.close();
  }
}

function parseLine(text: string): Omit<JournalLine, 'line'> | null {
  if (!text.startsWith('{')) return null;   // spares a thrown SyntaxError per blank or junk line
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const { caseId, seq, hash, at } = v as Record<string, unknown>;
  if (typeof caseId !== 'string' || caseId.length === 0 || caseId.length > 200) return null;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return null;
  if (typeof hash !== 'string' || !HASH.test(hash)) return null;
  if (typeof at !== 'string' || at.length > 64) return null;
  return { caseId, seq, hash, at };
}

/** Today's trail against the journal: the first journaled entry the trail no longer has (rewritten or
 *  cut) is a problem; a journal that is missing, holds nothing for this case, or has unreadable lines is
 *  a warning. `trail` is the case's rows as stored, read AFTER the journal: every journaled line was
 *  committed before it was written, so a line the trail lacks is never one still in flight. */
export function compareWithJournal(journal: JournalRead, trail: { seq: number; hash: string }[]): { problems: VerifyProblem[]; warnings: VerifyProblem[] } {
  const problems: VerifyProblem[] = [];
  const warnings: VerifyProblem[] = [];
  const file = journal.path;
  if (journal.notAFile) {
    warnings.push({ kind: 'journal-missing', file, message: `no journal anchor: ${file} is not a regular file, so the audit trail cannot be compared with a record kept outside the database` });
    return { problems, warnings };
  }
  if (!journal.exists || journal.lines.length === 0) {
    if (trail.length > 0) {
      warnings.push({ kind: 'journal-missing', file, message: !journal.exists
        ? `no journal anchor: ${file} does not exist, so the audit trail cannot be compared with a record kept outside the database (a consistent rewrite of the database would not be seen by this check)`
        : `no journal anchor: ${file} has no line for this case (its entries were written before the journal existed, or the journal was replaced), so its audit trail cannot be compared with it` });
    }
  }
  if (journal.unreadableCount > 0) {
    const more = journal.unreadableCount > journal.unreadable.length ? ', …' : '';
    warnings.push({ kind: 'journal-unreadable', file, message: `the audit journal has ${journal.unreadableCount} unreadable line(s) (line ${journal.unreadable.join(', ')}${more}), which were ignored` });
  }
  if (journal.truncated) {
    warnings.push({ kind: 'journal-unreadable', file, message: `the audit journal is longer than one verification reads (${MAX_JOURNAL_LINES} lines or ${MAX_JOURNAL_BYTES} bytes); only its beginning was compared` });
  }
  const bySeq = new Map(trail.map((r) => [r.seq, r.hash]));
  const lastSeq = trail.reduce((m, r) => Math.max(m, r.seq), 0);
  const differing = journal.lines.filter((l) => l.seq <= lastSeq && bySeq.get(l.seq) !== l.hash).sort((x, y) => x.seq - y.seq);
  if (differing.length > 0) {
    const first = differing[0];
    const now = bySeq.get(first.seq);
    const more = new Set(differing.slice(1).map((l) => l.seq)).size;
    problems.push({ kind: 'audit-journal', seq: first.seq, file,
      message: `audit entry ${first.seq} differs from the journal written at ${first.at}: the journal recorded hash ${first.hash}, the trail ${now ? `now has ${now}` : 'has no such entry'}` +
        `${more > 0 ? ` (and ${more} later journaled entr${more === 1 ? 'y differs' : 'ies differ'} too)` : ''}: the audit trail was rewritten after it was written` });
  }
  const beyond = journal.lines.filter((l) => l.seq > lastSeq).sort((x, y) => y.seq - x.seq)[0];
  if (beyond) {
    problems.push({ kind: 'audit-journal', seq: lastSeq + 1, file,
      message: `the journal written at ${beyond.at} records audit entry ${beyond.seq}, but the trail ends at entry ${lastSeq}: ` +
        `${beyond.seq === lastSeq + 1 ? `entry ${beyond.seq} was` : `entries ${lastSeq + 1}–${beyond.seq} were`} cut from its tail` });
  }
  return { problems, warnings };
}
