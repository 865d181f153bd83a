// lora-audit provenance <file…> [--db <path>] [--json]: where each adapter came from, by exact
// fingerprints against every evidence item of every case and every adapter of every reference set in
// the database (main/provenance/). JSON: {index, results: [{file, sha256, fingerprint, matches: [{kind,
// where, modules, basis, factor?, distance?, threshold?, detail}], truncated, searched, skipped, near,
// notes} | {file, error}]}. Exit 1 when a file could not be read at all. --rebuild recomputes the whole
// index first (from the evidence copies and the reference sets' rows).
import { storedFile, storeRoot } from '../../cases/store.ts';
import { defaultDbPath } from '../../db/open.ts';
import { openDatabase } from '../../services/database.ts';
import { toApiError, type ApiError } from '../../errors.ts';
import { visible } from '../../intake/disclosure.ts';
import { checkFingerprinted, syncIndex, type ProvenanceReport } from '../../provenance/check.ts';
import { nearCalibrationText } from '../../provenance/describe.ts';
import { fingerprintFile } from '../../provenance/file.ts';
import { clearIndex, type SyncReport } from '../../provenance/sync.ts';
import { usageError, type Command } from '../framework.ts';

type Entry = ProvenanceReport | { file: string; error: ApiError };
interface Output { index: Omit<SyncReport, 'notes'>; results: Entry[] }

export const command: Command<Output> = {
  name: 'provenance',
  summary: 'Where an adapter came from: identical files, the same update in another format, dtype or factorisation, '
    + 'rescaled copies, module subsets and near neighbours, among every case\'s evidence and every reference set.',
  usage: 'provenance <file…> [--rebuild] [--db <path>] [--json]',
  options: { db: { type: 'string' }, rebuild: { type: 'boolean' } },
  async run(ctx, values, positionals) {
    if (positionals.length === 0) throw usageError('name at least one adapter file');
    const db = await openDatabase(typeof values.db === 'string' && values.db !== '' ? values.db : defaultDbPath());
    try {
      const root = storeRoot(db.path);
      // the index is derived data: --rebuild throws it away and recomputes it from what it indexes
      if (values.rebuild === true) await clearIndex(db);
      const sync = await syncIndex(db, { evidenceFile: (rel) => storedFile(root, rel), signal: ctx.signal, log: ctx.log });
      const results: Entry[] = [];
      for (const path of positionals) {
        try {
          results.push(await checkFingerprinted(db, await fingerprintFile(path, { signal: ctx.signal }), sync));
        } catch (e) {
          const error = toApiError(e);
          if (error.code === 'CANCELLED') throw e;
          results.push({ file: error.file ?? path, error });
        }
      }
      const { notes: _notes, ...index } = sync;
      return { data: { index, results }, exitCode: results.some((r) => 'error' in r) ? 1 : 0 };
    } finally {
      await db.close();
    }
  },
  human({ results }) {
    return results.map(humanEntry).join('\n\n');
  },
};

/** Messages quote file names, case titles and set names: shown escaped. */
const shown = (s: string) => visible(s, 2000).text;

function humanEntry(r: Entry): string {
  if ('error' in r) return `${r.file}: ${r.error.code}: ${r.error.message}`;
  const f = r.fingerprint;
  const lines = [
    r.file,
    `  sha256 ${r.sha256}`,
    f.status === 'indexed' ? `  fingerprint: ${f.modules} modules (${f.family})` : `  no fingerprint (${f.code}: ${shown(f.message)}): identical files only`,
    `  searched ${r.searched.evidence} evidence item(s) and ${r.searched.referenceAdapters} reference adapter(s)${r.searched.unreadable ? `; ${r.searched.unreadable} stored file(s) have no fingerprint` : ''}`,
  ];
  if (r.matches.length === 0) lines.push('  no match');
  for (const m of r.matches) lines.push(`  ${m.kind}: ${shown(m.detail)}`);
  if (r.truncated) lines.push(`  … and ${r.truncated} more matches, not listed (the strongest come first)`);
  for (const s of r.skipped) lines.push(`  skipped a stored fingerprint that does not read back: ${shown(s.reason)}`);
  // without a threshold, near.notes says why
  if (r.near.threshold !== null) lines.push(`  near threshold: ${(100 * r.near.threshold).toPrecision(2)}% σ(ΔW) distance, ${shown(nearCalibrationText(r.near))}`);
  for (const n of [...r.near.notes, ...r.notes]) lines.push(`  note: ${shown(n)}`);
  return lines.join('\n');
}
