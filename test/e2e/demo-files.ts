// The generator's demo assets (assets/demo/manifest.json, written by `npm run generate:demo`) that
// the walkthrough uses: the mini LoRA-WiSE shard(s) and an adapter trained like them.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { demoAssets, realAdapters } from './ui.ts';

interface Adapter { file: string; size?: number | null; family?: string; applicable?: boolean }
// The generator writes reference.file and adapters[]; earlier drafts had reference.files and evidence[].
interface Manifest {
  reference?: { file?: string; files?: string[]; sizes?: number[] };
  adapters?: Adapter[];
  evidence?: Adapter[];
}

const manifestPath = join(demoAssets, 'manifest.json');
const manifest: Manifest | null = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest : null;
// Evidence with a known size was trained with the benchmark's recipe: analysable against it.
const adapters = manifest?.adapters ?? manifest?.evidence ?? [];
const analysable = adapters.find((e) => e.applicable !== false && e.family === 'diffusers' && typeof e.size === 'number')
  ?? adapters.find((e) => e.applicable !== false && typeof e.size === 'number');
const shardFiles = manifest?.reference?.files ?? (manifest?.reference?.file ? [manifest.reference.file] : []);
const shards = shardFiles.filter((f) => f.endsWith('.parquet')).map((f) => resolve(demoAssets, f));

export const DEMO = {
  /** Why the walkthrough cannot run here, or null when the assets are present. */
  missing: !manifest ? `${manifestPath} is missing: run npm run generate:demo`
    : shards.length === 0 ? 'the demo reference set has no parquet shards'
    : !analysable ? 'the demo manifest lists no evidence of known size' : null,
  benchmark: shards,
  benchmarkName: shards.length ? basename(shards[0]) : '',
  evidence: analysable ? resolve(demoAssets, analysable.file) : '',
  evidenceName: analysable ? basename(analysable.file) : '',
  trueSize: analysable?.size ?? null,
  /** Demo adapters the generator made deliberately not applicable (e.g. rank 8 against rank 4). */
  notApplicable: adapters.filter((e) => e.applicable === false).length,
  /** A file the intake must refuse: a truncated download of a real SDXL adapter. */
  refused: join(realAdapters, 'diffusers-sdxl-attnproc-truncated-srikanth', 'pytorch_lora_weights.safetensors'),
  refusedName: 'truncated_download.safetensors',
};
