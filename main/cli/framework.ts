// The shape of every lora-audit command. A command returns plain data; the framework prints it as
// JSON (--json) or through the command's human formatter, and turns thrown AuditErrors into one
// clear line (or {"error": {code, message, file}}) and a non-zero exit.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AuditError, toApiError } from '../errors.ts';
import { visible } from '../intake/disclosure.ts';
import { closest } from './suggest.ts';
import { jsonReplacer } from '../api/json.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CommandContext {
  json: boolean;
  /** Progress and notes for a person; suppressed with --json (stdout stays machine-readable). */
  log(line: string): void;
  /** Cancelled by SIGINT. */
  signal: AbortSignal;
}

export interface CommandResult<T = unknown> {
  /** What --json prints. */
  data: T;
  /** 0 for success; 1 when the command ran but found a failure (a check failed, a file was refused). */
  exitCode?: number;
}

export interface Command<T = unknown> {
  name: string;               // 'inspect', 'reference import', 'case create' …
  summary: string;
  usage: string;              // e.g. 'inspect <file…> [--json]'
  options: Options;
  run(ctx: CommandContext, values: Values, positionals: string[]): Promise<CommandResult<T>>;
  human(data: T): string;
}

export function usageError(message: string): AuditError {
  return new AuditError('BAD_REQUEST', message);
}

export interface Output { write(text: string): unknown }

export async function execute(command: Command, argv: string[], out: Output = process.stdout, err: Output = process.stderr): Promise<number> {
  const options: Options = { ...command.options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } };
  let json = argv.includes('--json');
  try {
    checkOptions(argv, options);
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    json = values.json === true;
    if (values.help) {
      out.write(`usage: lora-audit ${command.usage}\n\n${command.summary}\n`);
      return 0;
    }
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once('SIGINT', onSigint);
    try {
      const ctx: CommandContext = { json, log: (line) => { if (!json) err.write(terminalText(line) + '\n'); }, signal: controller.signal };
      const result = await command.run(ctx, values as Values, positionals);
      out.write(json ? JSON.stringify(result.data, jsonReplacer, 2) + '\n' : terminalText(command.human(result.data)) + '\n');
      return result.exitCode ?? 0;
    } finally {
      process.off('SIGINT', onSigint);
    }
  } catch (e) {
    const api = toApiError(e);
    const isUsage = api.code === 'BAD_REQUEST' || (e as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS');
    if (json) out.write(JSON.stringify({ error: { code: isUsage ? 'BAD_REQUEST' : api.code, message: api.message, ...(api.file ? { file: api.file } : {}) } }, null, 2) + '\n');
    else err.write(`lora-audit ${command.name}: ${terminalText(`${api.file ? api.file + ': ' : ''}${api.message}`)}\n${isUsage ? `usage: lora-audit ${command.usage}\n` : ''}`);
    return isUsage ? 2 : 1;
  }
}

/** Human output as a terminal shows it: titles, file names, notes and metadata are anyone's text, and
 *  an escape sequence in them would recolour, clear or retitle the examiner's terminal (or hide a line).
 *  Control and invisible characters are shown escaped (\u{1B}); line breaks between lines are kept. */
export function terminalText(text: string): string {
  return text.split('\n').map((line) => visible(line, Number.POSITIVE_INFINITY).text).join('\n');
}

/** The option mistakes node:util's strict parse would report in its own words, said in ours:
 *  an unknown option with the nearest known one, a missing value, a value given to a flag. */
export function checkOptions(argv: string[], options: Options): void {
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = options[token.name];
    if (!spec) {
      // `-refrence` (one dash) parses as a group of short flags; it was meant as a long option
      const arg = argv[token.index].split('=')[0];
      const shown = token.rawName.startsWith('--') || !/^-[^-]{2,}$/.test(arg) ? token.rawName : arg;
      const near = shown.length > 2 ? closest(shown.replace(/^-+/, '--'), Object.keys(options).map((n) => `--${n}`)) : null;
      throw usageError(`unknown option ${shown}${near ? `; did you mean ${near}?` : ''}`);
    }
    if (spec.type === 'string' && (token.value === undefined || (!token.inlineValue && token.value.startsWith('-')))) {
      throw usageError(`${token.rawName} needs a value (one that starts with a dash is written ${token.rawName}=-…)`);
    }
    if (spec.type === 'boolean' && token.inlineValue) throw usageError(`${token.rawName} takes no value`);
  }
}

export function requireString(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw usageError(`--${name} is required`);
  return v;
}
