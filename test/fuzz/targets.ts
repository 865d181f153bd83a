// Every reader under fuzz, in run order.
import type { Target } from './target.ts';
import { kohyaMetadata, peftConfig, pickleStream, safetensorsFile, safetensorsHeader, torchZip } from './intake-targets.ts';
import { caseArchive, parquetShard, reportManifest } from './store-targets.ts';

export const TARGETS: Target[] = [safetensorsHeader, safetensorsFile, peftConfig, kohyaMetadata, pickleStream, torchZip, parquetShard, caseArchive, reportManifest];
