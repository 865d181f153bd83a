// Shared by the case tests: temporary databases, the real adapter fixtures, the CLI as a child
// process, and raw SQL on a database file (what someone tampering by hand would do).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sqlite3 from 'sqlite3';
import type { Database } from '../../../main/db/database.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { realAdaptersDir } from '../../fixtures.ts';
import { INSPECTION_VERSION, readInspection, type EvidenceInspection } from '../../../main/cases/inspect.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../../..');
export const fixtures = realAdaptersDir;
export const node = join(repoRoot, 'node_modules/.bin/node');
export const cli = join(repoRoot, 'bin/lora-audit.mjs');

/** Two real files from ../shared/fixtures/real-adapters with their published SHA-256 (MANIFEST.md). */
export const CATUNDCHAT = {
  path: join(fixtures, 'diffusers-sd15-attnproc-catundchat-animal/pytorch_lora_weights.safetensors'),
  sha256: 'fb286c8e569d6a07401bd5599d3d1a64126c0b240d2d1d00174602a967e59c9b',
  size: 3227336,
};
export const PEFT_BERT = {
  path: join(fixtures, 'peft-bert-seqcls-haresh/adapter_model.safetensors'),
  sha256: '19cd2ab6ca11de8c7cd9b25d44f2fbb793a418acadbf5bd7f76a160999fd473d',
  configSha256: '4b0a1eb56f94ebef26a9f8116cf5d6221f0d2da7d24b045fb38929cd9e24d5c3',
};
export const TRUNCATED = {
  path: join(fixtures, 'diffusers-sdxl-attnproc-truncated-srikanth/pytorch_lora_weights.safetensors'),
  sha256: '3ebb807e359ef6a7d47b7738ba999e64d09d79565590587fe80d31f4904b428b',
};

export function tempDir(prefix = 'lora-audit-cases-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function tempDb(): Promise<{ db: Database; dir: string; dbPath: string; cleanup(): Promise<void> }> {
  const { dir, cleanup } = tempDir();
  const dbPath = join(dir, 'cases.sqlite');
  const db = await openDatabase(dbPath);
  return { db, dir, dbPath, cleanup: async () => { await db.close().catch(() => undefined); cleanup(); } };
}

/** Stands in for intake where a test is about the store, not about parsing. */
export const plainInspector = fixedInspector({ family: 'diffusers-attnproc', method: 'lora', baseModel: 'sd1' });

/** An inspector that says what a test fixes (a family, a metadata claim, a refusal), in the stored shape. */
export function fixedInspector(said: { family: string; method: string; baseModel: string; claimedTrainingImages?: number; error?: { code: string; message: string } }) {
  return async (path: string): Promise<EvidenceInspection> => ({
    family: said.family, method: said.method, baseModel: said.baseModel,
    inspection: {
      version: INSPECTION_VERSION,
      report: readInspection({ metadata: { claimedTrainingImages: said.claimedTrainingImages ?? null }, ...(said.error ? { error: said.error } : {}) },
        { fileName: path, size: 0, sha256: '', family: said.family, method: said.method, baseModel: said.baseModel }),
    },
  });
}

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(node, [cli, ...args], { cwd: repoRoot, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

export async function cliJson<T = Record<string, unknown>>(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; data: T; stderr: string }> {
  const r = await runCli([...args, '--json'], env);
  let data: T;
  try {
    data = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`lora-audit ${args.join(' ')} printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, data, stderr: r.stderr };
}

/** Raw SQL straight on the file, bypassing the app (and its audit trail). */
export function rawSql(dbPath: string, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  return new Promise((resolvePromise, reject) => {
    const db = new sqlite3.Database(dbPath, (err) => {
      if (err) return reject(err);
      db.all(sql, params, (e, rows) => {
        // resolve only once closed: the last connection's close checkpoints the WAL into the file
        db.close((closeErr) => {
          if (e || closeErr) reject(e ?? closeErr); else resolvePromise(rows as Record<string, unknown>[]);
        });
      });
    });
  });
}
