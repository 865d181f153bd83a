import type { Migration } from '../db/database.ts';

// Versions 100–199 belong to cases, evidence, analyses, reports, notes and the audit trail.
//
// Every id is a random UUID (text), not an integer rowid: a case exported from one machine keeps its
// ids when imported on another, so the audit trail's hashes (which name the case and the ids its
// entries concern) still verify there. Times are ISO-8601 UTC strings; JSON columns hold text.
export const caseMigrations: Migration[] = [
  {
    version: 100,
    name: 'cases, evidence, analyses, reports, notes, audit_log',
    sql: `
CREATE TABLE cases (
  id            TEXT PRIMARY KEY,
  title         TEXT NOT NULL,
  examiner      TEXT NOT NULL,
  organisation  TEXT NOT NULL DEFAULT '',
  description   TEXT NOT NULL DEFAULT '',
  status        TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'archived')),
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  -- the newest audit entry, updated in the same transaction as each append: deleting the last
  -- entries of the trail (which no link points at) is then still detected
  audit_head_seq  INTEGER NOT NULL DEFAULT 0,
  audit_head_hash TEXT NOT NULL DEFAULT ''
);

CREATE TABLE evidence (
  id             TEXT PRIMARY KEY,
  case_id        TEXT NOT NULL REFERENCES cases(id),
  file_name      TEXT NOT NULL,
  original_path  TEXT NOT NULL,
  stored_path    TEXT NOT NULL,         -- relative to the store root (the folder beside the database)
  size           INTEGER NOT NULL,
  sha256         TEXT NOT NULL,
  family         TEXT NOT NULL,
  method         TEXT NOT NULL,
  base_model     TEXT NOT NULL,
  inspect        TEXT NOT NULL,         -- JSON: what intake saw, or the error it refused the file with
  companions     TEXT NOT NULL DEFAULT '[]',  -- JSON: [{fileName, storedPath, size, sha256}]
  imported_at    TEXT NOT NULL,
  examiner       TEXT NOT NULL,
  notes          TEXT NOT NULL DEFAULT '',
  tags           TEXT NOT NULL DEFAULT '[]',
  UNIQUE (case_id, sha256)
);
CREATE INDEX evidence_case ON evidence(case_id);

CREATE TABLE analyses (
  id                    TEXT PRIMARY KEY,
  case_id               TEXT NOT NULL REFERENCES cases(id),
  evidence_id           TEXT NOT NULL REFERENCES evidence(id),
  reference_set         TEXT NOT NULL,
  reference_set_id      INTEGER NOT NULL,
  reference_provenance  TEXT NOT NULL,  -- JSON snapshot: the set may be re-imported or deleted later
  mode                  TEXT NOT NULL,
  parameters            TEXT NOT NULL,  -- JSON
  result                TEXT NOT NULL,  -- JSON AnalysisResult
  method_version        TEXT NOT NULL,
  app_version           TEXT NOT NULL,
  backend               TEXT NOT NULL,
  started_at            TEXT NOT NULL,
  finished_at           TEXT NOT NULL
);
CREATE INDEX analyses_case ON analyses(case_id);

CREATE TABLE reports (
  id            TEXT PRIMARY KEY,
  case_id       TEXT NOT NULL REFERENCES cases(id),
  file          TEXT NOT NULL,          -- where it was written
  stored_path   TEXT NOT NULL,          -- the read-only copy in the case folder, relative to the store root
  sha256        TEXT NOT NULL,
  size          INTEGER NOT NULL,
  signer        TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  manifest      TEXT NOT NULL           -- JSON
);
CREATE INDEX reports_case ON reports(case_id);

CREATE TABLE notes (
  id          TEXT PRIMARY KEY,
  case_id     TEXT NOT NULL REFERENCES cases(id),
  author      TEXT NOT NULL,
  text        TEXT NOT NULL,
  created_at  TEXT NOT NULL
);
CREATE INDEX notes_case ON notes(case_id);

-- Append-only, hash-chained per case (see audit.ts). No foreign key on purpose: a trail must survive
-- anything done to the rows it describes, so that it can say so.
CREATE TABLE audit_log (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  case_id    TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  at         TEXT NOT NULL,
  actor      TEXT NOT NULL,
  os_user    TEXT NOT NULL,
  action     TEXT NOT NULL,
  details    TEXT NOT NULL,             -- canonical JSON
  prev_hash  TEXT NOT NULL,
  hash       TEXT NOT NULL,
  UNIQUE (case_id, seq)
);
`,
  },
  {
    // The signed manifest and its signature, stored with the report's PDF copy (reports.ts): the
    // signed statement verification compares the case with. Same shape as evidence.companions, plus
    // a role ('manifest' | 'signature').
    version: 101,
    name: 'reports.companions',
    sql: "ALTER TABLE reports ADD COLUMN companions TEXT NOT NULL DEFAULT '[]';",
  },
];
