// Reference packs: a set built once, carried to other air-gapped machines as one gzip'd tar of
//   manifest.json   { format, version, files: { name → sha256, bytes } }
//   set.json        name, config, provenance (with every shard), the feature layout
//   adapters.json   [{ name, label, source }] in the order of features.bin
//   features.bin    the adapters' feature blobs (little-endian float64, see features-blob.ts), back to back
// The manifest's hashes are checked before anything is written to the database: a changed byte is
// refused as BAD_MANIFEST. (The manifest guards against damage and tampering in transit, not against
// someone who rewrites the manifest too: packs are not signed.)
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as tar from 'tar';
import type { Database } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import { packFeatures, unpackFeatures, valuesPerModule } from './features-blob.ts';
import { IMPORTER_VERSION } from './import-run.ts';
import { sha256File, sha256Hex } from '../common/hashing.ts';
import { findSetRow, getReferenceSetSummary, isTrainingSetSize, loadReferenceSet } from './store.ts';
import type { ReferenceConfig, ReferenceProvenance, ReferenceSetSummary } from './types.ts';

export const PACK_FORMAT = 'lora-auditor-reference-pack';
export const PACK_VERSION = 1;
const FILES = ['set.json', 'adapters.json', 'features.bin'] as const;
/** No honest pack comes near this; a bigger entry is refused before it is read into memory. */
const MAX_ENTRY_BYTES = 1 << 30;

interface PackManifest { format: string; version: number; files: Record<string, { sha256: string; bytes: number }> }
interface PackSet {
  name: string;
  config: ReferenceConfig;
  provenance: ReferenceProvenance;
  features: { encoding: 'float64-le'; valuesPerModule: number; order: string; moduleOrder: 'config.modules' };
  adapterCount: number;
}
interface PackAdapter { name: string; label: number; source: string }

export interface PackInfo { file: string; set: string; adapters: number; bytes: number; sha256: string }

export async function exportPack(db: Database, name: string, outFile: string): Promise<PackInfo> {
  const set = await loadReferenceSet(db, name);
  const ids = set.config.modules.map((m) => m.id);
  const blobs = set.adapters.map((a) => packFeatures(a.features, ids, set.config.rank));
  const contents: Record<(typeof FILES)[number], Buffer> = {
    'set.json': Buffer.from(JSON.stringify({
      name: set.name, config: set.config, provenance: set.provenance,
      features: { encoding: 'float64-le', valuesPerModule: valuesPerModule(set.config.rank),
        order: 'per module: sigmaA[rank], sigmaB[rank], sigmaDW[rank], normA, normB, normDW, effectiveRank', moduleOrder: 'config.modules' },
      adapterCount: set.adapters.length,
    } satisfies PackSet, null, 2)),
    'adapters.json': Buffer.from(JSON.stringify(set.adapters.map((a) => ({ name: a.name, label: a.label, source: a.source } satisfies PackAdapter)))),
    'features.bin': Buffer.concat(blobs),
  };
  const manifest: PackManifest = { format: PACK_FORMAT, version: PACK_VERSION, files: {} };
  for (const f of FILES) manifest.files[f] = { sha256: sha256Hex(contents[f]), bytes: contents[f].length };

  const dir = mkdtempSync(join(tmpdir(), 'lora-audit-pack-'));
  try {
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
    for (const f of FILES) writeFileSync(join(dir, f), contents[f]);
    const partial = `${outFile}.partial-${process.pid}`;
    await tar.c({ gzip: true, file: partial, cwd: dir, portable: true }, ['manifest.json', ...FILES]);
    renameSync(partial, outFile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const bytes = (await stat(outFile)).size;
  return { file: outFile, set: name, adapters: set.adapters.length, bytes, sha256: (await sha256File(outFile)).sha256 };
}

async function readEntries(file: string): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  const problems: string[] = [];
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        const path = entry.path.replace(/^\.\//, '');
        if (entry.type !== 'File' || !(['manifest.json', ...FILES] as string[]).includes(path) || entries.has(path)) {
          problems.push(`unexpected entry ${entry.path} (${entry.type})`);
          entry.resume();
          return;
        }
        if ((entry.size ?? 0) > MAX_ENTRY_BYTES) {
          problems.push(`${path} is ${entry.size} bytes, over the ${MAX_ENTRY_BYTES}-byte limit`);
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => entries.set(path, Buffer.concat(chunks)));
      },
    });
  } catch (err) {
    throw new AuditError('BAD_ARCHIVE', `not a readable reference pack (gzip'd tar): ${err instanceof Error ? err.message : String(err)}`, file);
  }
  if (problems.length) throw new AuditError('BAD_ARCHIVE', `not a reference pack: ${problems.join('; ')}`, file);
  return entries;
}

function parseJson<T>(data: Buffer, what: string, file: string): T {
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch {
    throw new AuditError('BAD_ARCHIVE', `${what} is not valid JSON`, file);
  }
}

/** Verifies the pack and stores its set (under `opts.name`, or the name it was exported with). */
export async function importPack(db: Database, file: string, opts: { name?: string } = {}): Promise<ReferenceSetSummary> {
  const entries = await readEntries(file);
  const manifestData = entries.get('manifest.json');
  if (!manifestData) throw new AuditError('BAD_MANIFEST', 'the pack has no manifest.json', file);
  const manifest = parseJson<PackManifest>(manifestData, 'manifest.json', file);
  if (manifest.format !== PACK_FORMAT) throw new AuditError('BAD_MANIFEST', `manifest format is "${manifest.format}", not ${PACK_FORMAT}`, file);
  if (manifest.version !== PACK_VERSION) {
    throw new AuditError('BAD_MANIFEST', `pack version ${manifest.version}; this version of LoRA Auditor reads version ${PACK_VERSION}`, file);
  }
  for (const f of FILES) {
    const data = entries.get(f);
    const want = manifest.files?.[f];
    if (!data || !want) throw new AuditError('BAD_MANIFEST', `${f} is missing from the pack or its manifest`, file);
    const got = sha256Hex(data);
    if (got !== want.sha256 || data.length !== want.bytes) {
      throw new AuditError('BAD_MANIFEST', `${f} does not match the manifest (SHA-256 ${got.slice(0, 16)}…, manifest says ${String(want.sha256).slice(0, 16)}…): the pack was altered or damaged`, file);
    }
  }
  const packSet = parseJson<PackSet>(entries.get('set.json')!, 'set.json', file);
  const adapters = parseJson<PackAdapter[]>(entries.get('adapters.json')!, 'adapters.json', file);
  const features = entries.get('features.bin')!;
  const { config } = packSet;
  const ids = config.modules.map((m) => m.id);
  const per = valuesPerModule(config.rank) * ids.length * 8;
  if (!Array.isArray(adapters) || adapters.length !== packSet.adapterCount || features.length !== per * adapters.length) {
    throw new AuditError('BAD_ARCHIVE', `features.bin holds ${features.length} bytes for ${adapters.length} adapters; ${per} each expected`, file);
  }
  adapters.forEach((a, i) => {
    if (!a || typeof a !== 'object' || typeof a.name !== 'string' || typeof a.source !== 'string') {
      throw new AuditError('BAD_ARCHIVE', `adapters.json entry ${i} is not { name, label, source } with text name and source`, file);
    }
    if (!isTrainingSetSize(a.label)) {
      throw new AuditError('BAD_ARCHIVE',
        `adapters.json entry ${i} (${a.name.slice(0, 100)}, from ${a.source.slice(0, 100)}) has label ${JSON.stringify(a.label)}, not a training-set size (a whole number ≥ 1)`, file);
    }
  });
  const name = opts.name ?? packSet.name;
  if (await findSetRow(db, name)) {
    throw new AuditError('BAD_REQUEST', `a reference set named "${name}" already exists; import the pack under another name (--name)`, file);
  }
  // Decode every blob once before writing: a pack whose numbers do not fit its layout is refused whole.
  for (let i = 0; i < adapters.length; i++) unpackFeatures(features.subarray(i * per, (i + 1) * per), ids, config.rank);
  const packHash = sha256Hex(entries.get('manifest.json')!);
  const provenance: ReferenceProvenance = {
    ...packSet.provenance,
    source: 'pack',
    notes: `imported from pack ${basename(file)} (manifest SHA-256 ${packHash}) by ${IMPORTER_VERSION}; ` +
      `built from ${packSet.provenance.source} by ${packSet.provenance.importerVersion}` +
      (packSet.provenance.notes ? `; ${packSet.provenance.notes}` : ''),
  };
  const now = new Date().toISOString();
  await db.transaction(async (tx) => {
    const { shards, ...rest } = provenance;
    const s = await tx.run('INSERT INTO reference_sets (name, config, provenance, complete, created_at) VALUES (?, ?, ?, 1, ?)',
      [name, JSON.stringify({ ...config, sizes: [], names: [] }), JSON.stringify(rest), now]);
    for (const sh of shards) {
      await tx.run('INSERT INTO reference_shards (set_id, file_name, size, sha256, rows, imported_at) VALUES (?, ?, ?, ?, ?, ?)',
        [s.lastID, sh.fileName, sh.size, sh.sha256, sh.rows, sh.importedAt]);
    }
    for (let i = 0; i < adapters.length; i++) {
      const a = adapters[i];
      await tx.run('INSERT INTO reference_adapters (set_id, shard_id, name, label, source, features) VALUES (?, NULL, ?, ?, ?, ?)',
        [s.lastID, a.name, a.label, a.source, features.subarray(i * per, (i + 1) * per)]);
    }
  });
  return getReferenceSetSummary(db, name);
}
