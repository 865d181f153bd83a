// The layer rules as data: one source of truth for the layers test and for the table in
// docs/ARCHITECTURE.md (the test renders the table from this list and requires the doc to hold it).
// In the style of VS Code's code-import-patterns: each source folder names what it may import;
// the longest matching `folder` governs a file; every import counts, static, dynamic and type-only.

export interface Layer {
  /** A folder (or one file) under the repository root. */
  folder: string;
  /** What lives there, for the table. */
  what: string;
  /** Folders or files (repository paths) it may import, besides itself. */
  mayImport: string[];
  /** npm packages it may import ('node:*' built-ins are always allowed, except in the renderer). */
  packages?: string[];
  /** Only `import type` of what mayImport names (the contract: both sides load it, so no code may come with it). */
  typesOnly?: boolean;
}

const ERRORS = 'main/errors.ts';

export const LAYERS: Layer[] = [
  { folder: 'native', what: 'compute: Gram products, r×r eigen problems, the nearest-neighbour kernels (WebAssembly built from `.wat`), GPU.js kernels, backend calibration, the float64 reference',
    mayImport: [ERRORS], packages: ['gpu.js', 'webgpu', 'ml-matrix', 'wabt'] },
  { folder: ERRORS, what: 'the one error shape (`AuditError`, `ApiError`: code, message, file); a leaf every layer may use', mayImport: [] },
  { folder: 'main/common', what: 'what every layer shares: streamed SHA-256 of a file or range (progress, cancel), canonical JSON, FNV-1a for seeds and cache keys, fsync, output folders made without the recursive mkdir of Node (which hangs under /proc), the one class of characters untrusted text may not carry', mayImport: [ERRORS] },
  { folder: 'main/paths', what: 'where `assets/` is: source tree, Electron bundle, packaged app', mayImport: [] },
  { folder: 'main/intake', what: 'one module per adapter family (`match` + `open` into `CanonicalAdapter`), safetensors and pickle readers, writers',
    mayImport: ['native/types.ts', ERRORS, 'main/common'] },
  { folder: 'main/features', what: 'adapter → `AdapterFeatures` via `native/`', mayImport: ['main/intake', 'native', ERRORS, 'main/common'] },
  { folder: 'main/db', what: 'the sqlite3 wrapper (`Database`, running the migrations it is handed), the data folder', mayImport: [ERRORS, 'main/common'], packages: ['sqlite3'] },
  { folder: 'main/reference', what: 'reference sets: parquet import (DuckDB locked to the named file), labelled folders, packs, stored features',
    mayImport: ['main/db', 'main/intake', 'main/features', 'native', ERRORS, 'main/common'], packages: ['@duckdb/node-api', '@duckdb/node-bindings', 'tar'] },
  { folder: 'main/dsire', what: 'the classifier, applicability, intervals, evaluation protocol',
    mayImport: ['native', 'main/intake/model.ts', 'main/reference/types.ts', ERRORS, 'main/common'] },
  { folder: 'main/analysis', what: 'the one analysis pipeline every host calls: file → intake → applicability → features → DSiRe',
    mayImport: ['main/intake', 'main/features', 'main/dsire', 'main/reference', 'main/studies', 'native', ERRORS, 'main/common'] },
  { folder: 'main/provenance', what: 'where an adapter came from: exact fingerprints (σ(ΔW), probe sketches B(A·x)) indexed in the database, matched against every case and reference set',
    mayImport: ['main/db', 'main/intake', 'main/features', 'main/reference', 'native', ERRORS, 'main/common'] },
  { folder: 'main/cases', what: 'cases, evidence store, analyses, hash-chained audit trail and its journal, archives',
    mayImport: ['main/db', 'main/intake', 'main/features', 'main/dsire', 'main/reference', 'main/analysis', 'main/provenance', 'native/types.ts', ERRORS, 'main/common'], packages: ['tar'] },
  { folder: 'main/reports', what: 'report model, HTML template, PDF rendering, signing, CMS, verification',
    mayImport: ['main/cases', 'main/db', 'main/dsire', 'main/reference', 'main/analysis', 'main/intake', 'main/features', 'main/paths', 'main/api/print.ts', 'native/types.ts', ERRORS, 'main/common'],
    packages: ['pdf-lib', 'node-forge', 'pkijs', 'asn1js', 'playwright-core', '@signpdf/signpdf', '@signpdf/signer-p12', '@signpdf/placeholder-pdf-lib', '@signpdf/utils'] },
  { folder: 'main/generator', what: 'the mini LoRA-WiSE generator (TensorFlow.js)',
    mayImport: ['main/intake', 'main/reference', 'native', ERRORS, 'main/common'], packages: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', 'ml-matrix'] },
  { folder: 'main/studies', what: 'reference studies: the recipe read off the evidence, the plan and its bundle (trainer inputs, run-all.sh, SLURM array), the built-in trainer\'s runs, the outputs\' status and their import as a reference set',
    mayImport: ['main/intake', 'main/generator', 'main/reference', 'main/db', 'native/types.ts', 'main/cases/version.ts', 'main/paths', ERRORS, 'main/common'] },
  { folder: 'main/api', what: 'the typed contract between renderer and main: channels, request/response types, progress events; loaded by both sides, so it imports types only',
    mayImport: [ERRORS], typesOnly: true },
  { folder: 'main/api/json.ts', what: 'how typed arrays cross JSON (CLI --json, loopback)', mayImport: [] },
  { folder: 'main/api/security.ts', what: 'the content security policy both hosts serve', mayImport: [] },
  { folder: 'main/services', what: 'the handler table wiring the contract to the services; the request shapes `dispatch()` checks before any handler runs; the migrations every database opens with',
    mayImport: ['main/api', 'main/cases', 'main/reports', 'main/analysis', 'main/provenance', 'main/reference', 'main/dsire', 'main/intake', 'main/features', 'main/studies', 'main/db', 'main/paths', 'native', ERRORS, 'main/common'] },
  { folder: 'main/cli', what: '`lora-audit` commands (`commands/<noun>.ts`)',
    mayImport: ['main/services', 'main/api', 'main/cases', 'main/reports', 'main/analysis', 'main/provenance', 'main/reference', 'main/dsire', 'main/intake', 'main/features', 'main/generator', 'main/studies', 'main/db', 'main/paths', 'native', ERRORS, 'main/common'] },
  { folder: 'main/host', what: 'the headless host (serves `renderer/dist`, answers the contract over loopback)', mayImport: ['main/services', 'main/api', 'main/paths', ERRORS, 'main/common'] },
  { folder: 'main/launch', what: '`npm start`: the Electron app where its binary is, else the headless host in the system browser, on the same data folder',
    mayImport: ['main/db/data-dir.ts', 'main/cases/version.ts', 'main/paths', ERRORS] },
  { folder: 'main/api/print.ts', what: 'how a report page is printed (page setup, the ready flag): both printers and the template use it', mayImport: [] },
  { folder: 'main/shell', what: '**the only code that imports `electron`**: window, menu, dialogs, protocol, IPC registration, preload', mayImport: ['main/services', 'main/api', 'main/paths', ERRORS], packages: ['electron'] },
  { folder: 'renderer/src', what: 'the Svelte UI; talks only to the contract (`window.loraAudit`), which is self-contained (its own imports are types only)',
    mayImport: ['main/api/contract.ts'], packages: ['svelte', 'chart.js'] },
];

/** The governing layer of a file: the longest folder that contains it. */
export function layerOf(file: string): Layer | undefined {
  let best: Layer | undefined;
  for (const l of LAYERS) {
    const inside = file === l.folder || file.startsWith(`${l.folder}/`);
    if (inside && (!best || l.folder.length > best.folder.length)) best = l;
  }
  return best;
}

export function allows(path: string, target: string): boolean {
  return target === path || target.startsWith(`${path}/`);
}

/** The table as docs/ARCHITECTURE.md shows it. */
export function renderTable(): string {
  const rows = LAYERS.map((l) => {
    const imports = [...l.mayImport.map((m) => `\`${m}\``), ...(l.packages ?? []).map((p) => p)];
    const may = (l.typesOnly ? 'types only: ' : '') + (imports.length ? imports.join(', ') : 'nothing');
    return `| \`${l.folder}\` | ${l.what} | ${may} |`;
  });
  return ['| folder | what lives there | may import |', '|---|---|---|', ...rows].join('\n');
}
