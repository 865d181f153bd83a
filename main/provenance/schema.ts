import type { Migration } from '../db/database.ts';

// Versions 400–499 belong to the provenance index: exact fingerprints of every evidence item and every
// reference adapter, so that "where did this adapter come from" is a lookup, not a scan.
//
// It is an index, never a record: everything in it is derived from rows and files the cases and
// reference sets own, it is rebuilt from them when it is missing or stale (index.ts), and no audit
// trail or archive depends on it. A row that does not read back (tampered, truncated, non-finite) is
// skipped and named, never matched.
//
// - provenance_modules: module ids as small integers (the R-tree's first coordinate).
// - provenance_layouts: one row per distinct list of module ids (what an evidence blob's modules are).
// - provenance_fingerprints: one row per evidence item or reference adapter. `data` holds an evidence
//   item's packed module fingerprints (fingerprint.ts: σ(ΔW), the factor-rounding bound and the probe
//   sketch per module); a reference adapter's σ(ΔW) stay where they are (reference_adapters.features).
// - provenance_module_index: per module, the scale-free shape σ₁..σ₄/‖σ‖ widened by its own rounding
//   tolerance; rowid = fingerprint id · 65536 + the module's position. The pre-filter of
//   same-update / rescaled / subset.
// - provenance_adapter_index: per fingerprint, ‖σ(ΔW)‖ over all modules and three 1-Lipschitz
//   projections of the modules' top singular values; rowid = fingerprint id. The pre-filter of `near`.
// - provenance_reference_sets: which state of each reference set is indexed, and the set's `near`
//   calibration (σ(ΔW) distances between adapters of one image set at different sizes).
export const provenanceMigrations: Migration[] = [
  {
    version: 400,
    name: 'provenance index: fingerprints, module and adapter R-trees, reference-set calibration',
    sql: `
CREATE TABLE provenance_modules (
  id    INTEGER PRIMARY KEY,
  name  TEXT NOT NULL UNIQUE
);

CREATE TABLE provenance_layouts (
  id       INTEGER PRIMARY KEY,
  key      TEXT NOT NULL UNIQUE,          -- SHA-256 of the module ids joined by newlines
  modules  TEXT NOT NULL                  -- JSON array of module ids, sorted
);

CREATE TABLE provenance_fingerprints (
  id                    INTEGER PRIMARY KEY,
  source                TEXT NOT NULL CHECK (source IN ('evidence', 'reference')),
  evidence_id           TEXT UNIQUE,      -- source 'evidence' (no foreign key: the index must never block the case)
  reference_adapter_id  INTEGER UNIQUE,   -- source 'reference'
  set_id                INTEGER,          -- source 'reference'
  sha256                TEXT,             -- the file's, where one file is known
  status                TEXT NOT NULL CHECK (status IN ('indexed', 'unreadable')),
  reason                TEXT NOT NULL DEFAULT '',
  layout_id             INTEGER,
  describe              TEXT NOT NULL DEFAULT '{}',  -- JSON {family, dtypes}
  data                  BLOB,
  index_rows            TEXT NOT NULL DEFAULT '[]',  -- JSON: its rowids in provenance_module_index
  format                INTEGER NOT NULL,
  indexed_at            TEXT NOT NULL
);
CREATE INDEX provenance_fingerprints_sha ON provenance_fingerprints (sha256);
CREATE INDEX provenance_fingerprints_set ON provenance_fingerprints (set_id);

CREATE VIRTUAL TABLE provenance_module_index USING rtree (
  id, module_lo, module_hi, s1_lo, s1_hi, s2_lo, s2_hi, s3_lo, s3_hi, s4_lo, s4_hi
);

CREATE VIRTUAL TABLE provenance_adapter_index USING rtree (
  id, layout_lo, layout_hi, norm_lo, norm_hi, p1_lo, p1_hi, p2_lo, p2_hi, p3_lo, p3_hi
);

CREATE TABLE provenance_reference_sets (
  set_id           INTEGER PRIMARY KEY,
  state            TEXT NOT NULL,         -- what was indexed: adapter count, last adapter id, completeness
  pairs            INTEGER NOT NULL,      -- same-name/different-size pairs measured
  min_distance     REAL,
  median_distance  REAL,
  indexed_at       TEXT NOT NULL
);
`,
  },
];
