// Where the case database lives and how every host (CLI, headless host, Electron shell) opens it.
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Database } from './database.ts';
import { migrations } from './migrations.ts';

/** The app's data folder: $LORA_AUDIT_HOME, else the platform's user-data folder for "LoRA Auditor"
 *  (the same folder Electron's app.getPath('userData') gives, so CLI and app share one database). */
export function dataDir(): string {
  if (process.env.LORA_AUDIT_HOME) return process.env.LORA_AUDIT_HOME;
  const home = homedir();
  if (process.platform === 'darwin') return join(home, 'Library', 'Application Support', 'LoRA Auditor');
  if (process.platform === 'win32') return join(process.env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'LoRA Auditor');
  return join(process.env.XDG_CONFIG_HOME ?? join(home, '.config'), 'LoRA Auditor');
}

export function defaultDbPath(): string {
  return join(dataDir(), 'cases.sqlite');
}

export async function openDatabase(path: string = defaultDbPath()): Promise<Database> {
  mkdirSync(dirname(path), { recursive: true });
  return Database.open(path, migrations);
}
