// lora-audit: the command-line host. Commands are loaded lazily, so a command's dependencies
// (DuckDB, Chromium, sqlite3) load only when that command runs.
import { appVersion } from '../cases/version.ts';
import { dataDir } from '../db/data-dir.ts';
import { useCalibrationCache } from '../../native/calibration-cache.ts';
import { useBaseModelFolder } from '../intake/base-models.ts';
import { execute, type Command, type Output } from './framework.ts';
import { closest } from './suggest.ts';

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
  version: () => import('./commands/version.ts'),
  provenance: () => import('./commands/provenance.ts'),
  study: () => import('./commands/study.ts'),
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
  provenance <file…> [--rebuild]        is it a copy of an adapter in a case or a reference set (same file, same update, rescaled, subset, near)
  generate                              build the mini LoRA-WiSE benchmark and demo
  study plan <evidence> --images <folder|builtin> --sizes … --trainer … --out <bundle>   plan reference adapters trained with the evidence's recipe
  study run|status|import <bundle>      train a builtin study, see its runs, import its outputs as a reference set (--name)
  version                               versions of the app, the method, the runtime, and the cached backend

Every command takes --json and --help. lora-audit --version (-V) prints the version.
`;

const GLOBAL_OPTIONS = ['--help', '--version'];

export async function main(argv: string[], out: Output = process.stdout, err: Output = process.stderr): Promise<number> {
  const [first, second, ...rest] = argv;
  if (!first || first === '--help' || first === '-h' || first === 'help') {
    out.write(HELP);
    return first ? 0 : 2;
  }
  if (first === '--version' || first === '-V') {
    out.write(`lora-audit ${appVersion()}\n`);
    return 0;
  }
  if (first.startsWith('-')) {
    const near = closest(first.split('=')[0], GLOBAL_OPTIONS);
    err.write(`lora-audit: unknown option ${first.split('=')[0]}${near ? `; did you mean ${near}?` : ''}\nusage: lora-audit <command> [options] [--json]   (lora-audit --help lists the commands)\n`);
    return 2;
  }
  const load = registry[first];
  if (!load) {
    const near = closest(first, Object.keys(registry));
    err.write(`lora-audit: unknown command "${first}"${near ? `; did you mean "${near}"?` : ''}\n\n${HELP}`);
    return 2;
  }
  // Auto backend calibration is kept per machine in the data folder, shared by every command.
  useCalibrationCache({ dir: dataDir(), appVersion: appVersion() });
  // The examiner's base-model table (<data folder>/base-models.json) extends the shipped one for every inspection.
  useBaseModelFolder(dataDir());
  const mod = await load();
  if ('command' in mod) return execute(mod.command, argv.slice(1), out, err);
  const sub = mod.commands.find((c) => c.name === `${first} ${second}`);
  const names = mod.commands.map((c) => `  lora-audit ${c.usage}`).join('\n');
  if (second === '--help' || second === '-h') {
    // `lora-audit case --help` asks for the subcommands: an answer, not a mistake
    out.write(`lora-audit ${first}: one of\n${names}\n(lora-audit ${first} <subcommand> --help describes one)\n`);
    return 0;
  }
  if (!sub) {
    const near = second ? closest(second, mod.commands.map((c) => c.name.slice(first.length + 1))) : null;
    err.write(`lora-audit ${first}: ${second ? `unknown subcommand "${second}"${near ? `; did you mean "${near}"?` : ''}` : 'which one?'}\n${names}\n`);
    return 2;
  }
  return execute(sub, rest, out, err);
}
