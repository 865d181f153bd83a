import type { Migration } from '../db/database.ts';

// Versions 200–299 belong to reference sets, their shards and their adapters' features.
export const referenceMigrations: Migration[] = [];
