// The one way any service talks to SQLite. sqlite3 (N-API: the same build loads in Node and in
// Electron, see ../shared/docs/STACK.md) is callback-based and shares one connection between all
// async callers, so every statement goes through a small lock: a transaction owns the connection
// until it commits, and no other caller's statement can slip into it.
import sqlite3 from 'sqlite3';
import { AuditError } from '../errors.ts';

export type SqlValue = string | number | bigint | null | Uint8Array | Buffer;
export type Params = SqlValue[] | Record<string, SqlValue>;

export interface Queryable {
  run(sql: string, params?: Params): Promise<{ lastID: number; changes: number }>;
  get<T = Record<string, unknown>>(sql: string, params?: Params): Promise<T | undefined>;
  all<T = Record<string, unknown>>(sql: string, params?: Params): Promise<T[]>;
  exec(sql: string): Promise<void>;
}

/** The connection inside transaction(): its statements, plus follow-up work that must happen only once
 *  the transaction has committed (the audit journal beside the database: a rolled-back append must not
 *  be recorded there). */
export interface Transaction extends Queryable {
  /** The database file, for files kept beside it. */
  readonly dbPath: string;
  /** Runs fn after COMMIT, still holding the connection (so one process's follow-ups keep commit order);
   *  never after a rollback. An error from fn reaches the caller although the transaction did commit. */
  afterCommit(fn: () => Promise<void>): void;
}

export interface Migration {
  /** Global order across modules: cases 100–199, reference sets 200–299, analyses/reports 300–399. */
  version: number;
  name: string;
  sql: string;
}

const BUSY_TIMEOUT_MS = 10_000;

export class Database implements Queryable {
  readonly path: string;
  private readonly db: sqlite3.Database;
  private tail: Promise<void> = Promise.resolve();

  private constructor(path: string, db: sqlite3.Database) {
    this.path = path;
    this.db = db;
  }

  /** Opens (creating if needed), sets WAL + foreign keys + busy timeout, and applies migrations.
   *  A database written by a newer version of the app is refused before anything is changed. */
  static async open(path: string, migrations: Migration[]): Promise<Database> {
    const raw = await new Promise<sqlite3.Database>((resolve, reject) => {
      const d = new sqlite3.Database(path, (err) => (err ? reject(err) : resolve(d)));
    }).catch((err: Error) => {
      throw new AuditError('DB_ERROR', `cannot open database: ${err.message}`, path);
    });
    raw.configure('busyTimeout', BUSY_TIMEOUT_MS);
    const db = new Database(path, raw);
    try {
      // Refuse a newer database before anything writes to it (even switching to WAL rewrites the header).
      await db.refuseNewer(migrations);
      await db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;');
      await db.migrate(migrations);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    return db;
  }

  private async refuseNewer(migrations: Migration[]): Promise<void> {
    const known = new Set(migrations.map((m) => m.version));
    const table = await this.get("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
    if (!table) return;
    const applied = await this.all<{ version: number; name: string }>('SELECT version, name FROM schema_migrations');
    const unknown = applied.filter((m) => !known.has(m.version));
    if (unknown.length > 0) {
      throw new AuditError('DB_TOO_NEW',
        `this database was written by a newer version of LoRA Auditor (schema ${unknown.map((m) => `${m.version} ${m.name}`).join(', ')}); ` +
        'open it with that version. Nothing was changed.', this.path);
    }
  }

  private async migrate(migrations: Migration[]): Promise<void> {
    const sorted = [...migrations].sort((x, y) => x.version - y.version);
    // Two processes opening a new database at once both get here; CREATE IF NOT EXISTS is safe.
    await this.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
    const applied = await this.all<{ version: number; name: string }>('SELECT version, name FROM schema_migrations');
    const done = new Set(applied.map((m) => m.version));
    for (const m of sorted) {
      if (done.has(m.version)) continue;
      await this.transaction(async (tx) => {
        // Another process may have applied it since we looked: re-check under the write lock.
        if (await tx.get('SELECT 1 FROM schema_migrations WHERE version = ?', [m.version])) return;
        await tx.exec(m.sql);
        await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
          [m.version, m.name, new Date().toISOString()]);
      });
    }
  }

  /** Runs fn inside BEGIN IMMEDIATE … COMMIT, holding the connection; rolls back on any throw. */
  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.locked(async () => {
      const committed: (() => Promise<void>)[] = [];
      const tx: Transaction = { ...this.direct(), dbPath: this.path, afterCommit: (f) => { committed.push(f); } };
      await tx.exec('BEGIN IMMEDIATE');
      let result: T;
      try {
        result = await fn(tx);
        await tx.exec('COMMIT');
      } catch (err) {
        await tx.exec('ROLLBACK').catch(() => undefined);
        throw err;
      }
      for (const f of committed) await f();
      return result;
    });
  }

  run(sql: string, params: Params = []) { return this.locked(() => this.direct().run(sql, params)); }
  get<T = Record<string, unknown>>(sql: string, params: Params = []) { return this.locked(() => this.direct().get<T>(sql, params)); }
  all<T = Record<string, unknown>>(sql: string, params: Params = []) { return this.locked(() => this.direct().all<T>(sql, params)); }
  exec(sql: string) { return this.locked(() => this.direct().exec(sql)); }

  close(): Promise<void> {
    return this.locked(() => new Promise<void>((resolve, reject) => this.db.close((e) => (e ? reject(e) : resolve()))));
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(() => undefined, () => undefined);
    return result;
  }

  /** Statements straight on the connection, for use while the lock is held. */
  private direct(): Queryable {
    const db = this.db;
    const path = this.path;
    const wrap = (err: Error, sql: string) =>
      new AuditError('DB_ERROR', `${err.message} (in: ${sql.trim().slice(0, 80)})`, path);
    return {
      run: (sql, params = []) => new Promise((resolve, reject) => {
        db.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
          if (err) reject(wrap(err, sql)); else resolve({ lastID: this.lastID, changes: this.changes });
        });
      }),
      get: <T>(sql: string, params: Params = []) => new Promise<T | undefined>((resolve, reject) => {
        db.get(sql, params, (err: Error | null, row: T) => (err ? reject(wrap(err, sql)) : resolve(row)));
      }),
      all: <T>(sql: string, params: Params = []) => new Promise<T[]>((resolve, reject) => {
        db.all(sql, params, (err: Error | null, rows: T[]) => (err ? reject(wrap(err, sql)) : resolve(rows)));
      }),
      exec: (sql) => new Promise<void>((resolve, reject) => {
        db.exec(sql, (err: Error | null) => (err ? reject(wrap(err, sql)) : resolve()));
      }),
    };
  }
}
