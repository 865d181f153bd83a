// Every module's schema, in one ordered list. Each module owns its own range of versions (see
// Migration.version) so that adding a table never renumbers another module's history.
import type { Migration } from './database.ts';
import { caseMigrations } from '../cases/schema.ts';
import { referenceMigrations } from '../reference/schema.ts';
import { provenanceMigrations } from '../provenance/schema.ts';

export const migrations: Migration[] = [...caseMigrations, ...referenceMigrations, ...provenanceMigrations];
