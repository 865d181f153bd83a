// Where the case database lives, and opening it with the migrations the caller hands in (the list of
// every module's schema is composed above this layer: main/services/database.ts).
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dataDir } from './data-dir.ts';
import { Database, type Migration } from './database.ts';

export { dataDir };

export function defaultDbPath(): string {
  return join(dataDir(), 'cases.sqlite');
}

export async function openDatabaseWith(path: string, migrations: readonly Migration[]): Promise<Database> {
  mkdirSync(dirname(path), { recursive: true });
  return Database.open(path, [...migrations]);
}
