// Where the app keeps its data: one folder shared by every host (the Electron app, the headless
// host `npm start` falls back to, and the CLI), so a case made in one is seen by the others.
// Node built-ins only: the CLI resolves it on every run, before it knows whether it needs sqlite.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The app's data folder: $LORA_AUDIT_HOME, else the platform's user-data folder for "LoRA Auditor"
 *  (the same folder Electron's app.getPath('userData') gives, so CLI and app share one database). */
export function dataDir(): string {
  if (process.env.LORA_AUDIT_HOME) return process.env.LORA_AUDIT_HOME;
  const home = homedir();
  if (process.platform === 'darwin') return join(home, 'Library', 'Application Support', 'LoRA Auditor');
  if (process.platform === 'win32') return join(process.env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'LoRA Auditor');
  return join(process.env.XDG_CONFIG_HOME ?? join(home, '.config'), 'LoRA Auditor');
}
