// lora-audit: the command-line host. Commands are loaded lazily, so a command's dependencies
// (DuckDB, Chromium, sqlite3) load only when that command runs.
import { appVersion } from '../cases/version.ts';
import { dataDir } from '../db/data-dir.ts';
import { useCalibrationCache } from '../../native/calibration-cache.ts';
import { execute, type Command } from './framework.ts';

type Loader = () => Promise<{ command: Command } | { commands: Command[] }>;

/** First word(s) of argv → module under ./commands/. Two-word commands group under one module. */
const registry: Record<string, Loader> = {
  inspect: () => import('./commands/inspect.ts'),
  features: () => import('./commands/features.ts'),
  analyze: () => import('./commands/analyze.ts'),
  evaluate: () => import('./commands/evaluate.ts'),
  reference: () => import('./commands/reference.ts'),
  case: () => import('./commands/case.ts'),
  report: () => import('./commands/report.ts'),
  verify: () => import('./commands/verify.ts'),
  generate: () => import('./commands/generate.ts'),
};

const HELP = `lora-audit — dataset size recovery for LoRA adapters, offline.

usage: lora-audit <command> [options] [--json]

commands:
  inspect <file…>                       what an adapter file is (family, base model, rank, metadata, findings)
  features <adapter…>                   spectral features per module (σ(A), σ(B), σ(ΔW))
  analyze <adapter…> --reference <set>  DSiRe estimate of the fine-tuning set size
  evaluate --reference <set>            the paper's evaluation protocol on a reference set
  reference import|list|export|import-pack
  case create|list|show|add-evidence|note|status|analyze|verify|export|import
  report <case> --out <file.pdf> --key <file.p12>   (report keygen: an examiner key)
  verify <report.pdf> [--manifest …] [--trust <ca.pem>]
  generate                              build the mini LoRA-WiSE benchmark and demo

Every command takes --json and --help.
`;

export async function main(argv: string[]): Promise<number> {
  const [first, second, ...rest] = argv;
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(HELP);
    return first ? 0 : 2;
  }
  const load = registry[first];
  if (!load) {
    process.stderr.write(`lora-audit: unknown command "${first}"\n\n${HELP}`);
    return 2;
  }
  // Auto backend calibration is kept per machine in the data folder, shared by every command.
  useCalibrationCache({ dir: dataDir(), appVersion: appVersion() });
  const mod = await load();
  if ('command' in mod) return execute(mod.command, argv.slice(1));
  const sub = mod.commands.find((c) => c.name === `${first} ${second}`);
  if (!sub) {
    const names = mod.commands.map((c) => `  lora-audit ${c.usage}`).join('\n');
    process.stderr.write(`lora-audit ${first}: ${second ? `unknown subcommand "${second}"` : 'which one?'}\n${names}\n`);
    return 2;
  }
  return execute(sub, rest);
}
