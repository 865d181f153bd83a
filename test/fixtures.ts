// The one place tests find the real adapter files written by real tools: ../shared/fixtures/real-adapters
// beside the clone (CI lays ../shared there too). A suite that needs them runs under
// `describe.skipIf(!haveRealAdapters)` (or it.skipIf), so a checkout without them reports those tests as
// skipped, never as failed or silently passed.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const realAdaptersDir = resolve(repoRoot, '../shared/fixtures/real-adapters');
export const haveRealAdapters = existsSync(join(realAdaptersDir, 'MANIFEST.md'));

/** A file under ../shared/fixtures/real-adapters, e.g. realAdapter('peft-bert-seqcls-haresh/adapter_model.safetensors'). */
export function realAdapter(relativePath: string): string {
  return join(realAdaptersDir, relativePath);
}
