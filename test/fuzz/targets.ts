// Every reader under fuzz, in run order.
import type { Target } from './target.ts';
import { kohyaMetadata, peftConfig, pickleStream, safetensorsFile, safetensorsHeader, torchZip } from './intake-targets.ts';
import { caseArchive, parquetShard, reportManifest } from './store-targets.ts';
import { reportPdf } from './report-targets.ts';
import { SELFTEST_TARGETS } from './selftest-targets.ts';
import { hostRequest } from './host-targets.ts';

const READERS: Target[] = [safetensorsHeader, safetensorsFile, peftConfig, kohyaMetadata, pickleStream, torchZip, parquetShard, caseArchive, reportManifest, reportPdf, hostRequest];

/** The readers; planted faults instead when the harness's own test asks for them. */
export const TARGETS: Target[] = process.env.LORA_AUDIT_FUZZ_SELFTEST ? SELFTEST_TARGETS : READERS;
