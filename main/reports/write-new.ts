// Writing the files a report or a key produces, where someone else may have been first: an output
// folder can be shared (/tmp, a network drive), and a link planted at a predictable temporary name
// ("report.pdf.partial") made the write go into the link's target, overwriting whatever it named.
// Each file is written under an unpredictable name that must not exist yet (O_EXCL: never a link's
// target), then renamed over its final name (which replaces a link there, never follows it).
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';

/** Writes every file, then renames them into place together: none appears before all are written. */
export function writeFilesInPlace(files: [path: string, data: Uint8Array, mode?: number][]): void {
  const suffix = `.partial-${process.pid}-${randomBytes(8).toString('hex')}`;
  const written: string[] = [];
  try {
    for (const [path, data, mode] of files) {
      writeFileSync(`${path}${suffix}`, data, { flag: 'wx', mode: mode ?? 0o644 });
      written.push(`${path}${suffix}`);
    }
    for (const [path] of files) renameSync(`${path}${suffix}`, path);
  } catch (err) {
    for (const w of written) rmSync(w, { force: true });
    throw err;
  }
}
