// `lora-audit generate`: bad options are refused with a usage error (exit 2) before any training.
import { describe, expect, it } from 'vitest';
import { execute } from '../../../main/cli/framework.ts';
import { command } from '../../../main/cli/commands/generate.ts';

function sink() {
  let text = '';
  return { stream: { write: (s: string) => { text += s; return true; } } as unknown as typeof process.stdout & typeof process.stderr, text: () => text };
}

async function run(args: string[]): Promise<{ code: number; json: { error?: { code: string; message: string } } }> {
  const out = sink(), err = sink();
  const code = await execute(command, [...args, '--json'], out.stream, err.stream);
  return { code, json: JSON.parse(out.text()) };
}

describe('lora-audit generate options', () => {
  it.each([
    [['--names', '0'], '--names'],
    [['--names', 'ten'], '--names'],
    [['--sizes', '1,zero,3'], '--sizes'],
    [['--sizes', '0,1'], '--sizes'],
    [['--steps', '-5'], '--steps'],
    [['--seed', '4.2'], '--seed'],
  ])('refuses %j naming the option', async (args, option) => {
    const r = await run(args);
    expect(r.code).toBe(2);
    expect(r.json.error?.code).toBe('BAD_REQUEST');
    expect(r.json.error?.message).toContain(option);
  });
});
