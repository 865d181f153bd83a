// Where the assets folder (fonts, report stylesheet, demo investigation) is, for every way the code
// runs: LORA_AUDIT_ASSETS when set; the packaged app's resources folder, where forge's extraResource
// puts it; or the source tree's, two folders up from this file. The Electron bundle
// (.vite/build/main.cjs, where vite.main.config.mts defines import.meta.url as the bundle's own URL)
// sits two folders below the project root too, so the same relative step works there.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function sourceTree(): string {
  try {
    return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets');
  } catch {
    return ''; // no module URL at all: only the other candidates can answer
  }
}

/** The candidates in order of precedence (empty ones dropped). */
export function assetCandidates(): string[] {
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  return [
    process.env.LORA_AUDIT_ASSETS ?? '',
    resources ? join(resources, 'assets') : '',
    sourceTree(),
  ].filter(Boolean);
}

/** The first assets folder holding `probe` (a path inside it), or null. */
export function findAssets(probe: string): string | null {
  return assetCandidates().find((dir) => existsSync(join(dir, probe))) ?? null;
}
