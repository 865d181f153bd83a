// The case database every host opens (the CLI, the headless host, the Electron shell, the tests): the db
// layer's Database with every module's schema, composed here because only this layer may know all the
// modules. Each module owns its own range of migration versions (see Migration.version), so adding a
// table never renumbers another module's history.
import type { Database, Migration } from '../db/database.ts';
import { defaultDbPath, openDatabaseWith } from '../db/open.ts';
import { caseMigrations } from '../cases/schema.ts';
import { referenceMigrations } from '../reference/schema.ts';
import { provenanceMigrations } from '../provenance/schema.ts';

export const MIGRATIONS: readonly Migration[] = [...caseMigrations, ...referenceMigrations, ...provenanceMigrations];

export function openDatabase(path: string = defaultDbPath()): Promise<Database> {
  return openDatabaseWith(path, MIGRATIONS);
}
