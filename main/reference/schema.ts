import type { Migration } from '../db/database.ts';

// Versions 200–299 belong to reference sets, their shards and their adapters' features.
//
// A set row appears in the same transaction as its first shard, and `complete` turns 1 only when an
// import run has gone through every file it was given: a cancelled or killed import leaves either
// nothing or a set marked incomplete, which loadReferenceSet refuses. Each shard's adapters commit in
// one transaction with the shard's row, so a shard is either wholly in or not at all, and a re-run
// skips it by its SHA-256.
//
// Features, never weights: one BLOB per adapter of little-endian float64 values, module after module
// in the order of the set's config.modules, each module [σA(r), σB(r), σΔW(r), ‖A‖, ‖B‖, ‖ΔW‖,
// effective rank] (see features-blob.ts). About 1.2 KB per module at rank 32.
export const referenceMigrations: Migration[] = [
  {
    version: 200,
    name: 'reference sets, shards, adapters with packed features',
    sql: `
CREATE TABLE reference_sets (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  config      TEXT NOT NULL,               -- ReferenceConfig JSON (sizes and names are derived from adapters)
  provenance  TEXT NOT NULL,               -- ReferenceProvenance JSON without shards (they live in reference_shards)
  complete    INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
  created_at  TEXT NOT NULL
);

CREATE TABLE reference_shards (
  id           INTEGER PRIMARY KEY,
  set_id       INTEGER NOT NULL REFERENCES reference_sets(id) ON DELETE CASCADE,
  file_name    TEXT NOT NULL,
  size         INTEGER NOT NULL,
  sha256       TEXT NOT NULL,
  rows         INTEGER NOT NULL,
  imported_at  TEXT NOT NULL,
  UNIQUE (set_id, sha256)
);

CREATE TABLE reference_adapters (
  id        INTEGER PRIMARY KEY,
  set_id    INTEGER NOT NULL REFERENCES reference_sets(id) ON DELETE CASCADE,
  shard_id  INTEGER REFERENCES reference_shards(id) ON DELETE CASCADE,
  name      TEXT NOT NULL,
  label     INTEGER NOT NULL,
  source    TEXT NOT NULL,                 -- shard file name and row, or the adapter's file name
  features  BLOB NOT NULL,
  UNIQUE (set_id, name, label)
);
CREATE INDEX reference_adapters_set ON reference_adapters (set_id, label);
`,
  },
  {
    // The method's measured error on a set (issue 18), one row per (set, content hash of its features,
    // method version, mode): a set whose adapters change gets a new hash, so an old row is never read
    // for it (and is dropped when the new one is stored). The record is the dsire layer's JSON.
    version: 201,
    name: 'reference set reliability, cached per content hash, method version and mode',
    sql: `
CREATE TABLE reference_reliability (
  set_id          INTEGER NOT NULL REFERENCES reference_sets(id) ON DELETE CASCADE,
  content_hash    TEXT NOT NULL,
  method_version  TEXT NOT NULL,
  mode            TEXT NOT NULL,
  record          TEXT NOT NULL,
  measured_at     TEXT NOT NULL,
  PRIMARY KEY (set_id, content_hash, method_version, mode)
);
`,
  },
];
