// Where the case database lives and how every host (CLI, headless host, Electron shell) opens it.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dataDir } from './data-dir.ts';
import { Database } from './database.ts';
import { migrations } from './migrations.ts';

export { dataDir };

export function defaultDbPath(): string {
  return join(dataDir(), 'cases.sqlite');
}

export async function openDatabase(path: string = defaultDbPath()): Promise<Database> {
  mkdirSync(dirname(path), { recursive: true });
  return Database.open(path, migrations);
}
