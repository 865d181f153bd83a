import type { Migration } from '../db/database.ts';

// Versions 100–199 belong to cases, evidence, analyses, reports, notes and the audit trail.
export const caseMigrations: Migration[] = [];
