// The names a hostile pickle imports are its own text (issue 15 review): a GLOBAL line runs to the next
// newline, megabytes away, and may hold terminal escapes, and the refusal quoted it whole, in its
// message and in details.global (through the CLI, the app and the audit trail). Quoted names are now
// escaped and cut at MAX_GLOBAL_CHARS, with their full length said.
import { describe, expect, it } from 'vitest';
import { toApiError } from '../../../main/errors.ts';
import { MAX_GLOBAL_CHARS, walkPickle } from '../../../main/intake/pickle.ts';

const op = (...codes: number[]) => Buffer.from(codes);
const PROTO2 = op(0x80, 2);
const STOP = op(0x2e);
const text = (s: string) => Buffer.from(s, 'latin1');

function refusal(bytes: Buffer) {
  try {
    walkPickle(bytes, 'evil.pkl');
  } catch (err) {
    return toApiError(err);
  }
  throw new Error('the pickle was accepted');
}

const longName = `system\u001b]0;pwned\u0007${'x'.repeat(1_000_000)}`;
const shownStart = 'os.system\\u{1B}]0;pwned\\u{7}xxx';

describe('global names quoted in refusals', () => {
  it('GLOBAL: a million-character name with escapes is quoted escaped and cut, its length said', () => {
    const e = refusal(Buffer.concat([PROTO2, op(0x63), text(`os\n${longName}\n`), STOP]));
    expect(e.code).toBe('UNSAFE_PICKLE');
    expect(e.message).toMatch(/^the pickle imports os\.system\\u\{1B\}\]0;pwned\\u\{7\}x+… \(1000019 characters\) \(GLOBAL\), which is not a tensor-rebuild global/);
    expect(e.message.length).toBeLessThan(MAX_GLOBAL_CHARS + 200);
    expect(String(e.details?.global).startsWith(shownStart)).toBe(true);
    expect(String(e.details?.global).length).toBeLessThan(MAX_GLOBAL_CHARS + 30);
    expect(e.message).not.toContain('\u001b');
  });

  it('INST and STACK_GLOBAL are quoted the same way', () => {
    const inst = refusal(Buffer.concat([PROTO2, op(0x28, 0x69), text(`os\n${longName}\n`), STOP]));
    expect(inst).toMatchObject({ code: 'UNSAFE_PICKLE', message: expect.stringContaining('… (1000019 characters) (INST)') });
    expect(inst.message.length).toBeLessThan(MAX_GLOBAL_CHARS + 200);

    const len = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
    const binstring = (s: string) => Buffer.concat([op(0x54), len(Buffer.byteLength(s, 'latin1')), text(s)]);
    const stack = refusal(Buffer.concat([PROTO2, binstring('os'), binstring(longName), op(0x93), STOP]));
    expect(stack).toMatchObject({ code: 'UNSAFE_PICKLE', message: expect.stringContaining('… (1000019 characters) (STACK_GLOBAL)') });
    expect(stack.message.length).toBeLessThan(MAX_GLOBAL_CHARS + 200);
  });

  it('a short name is quoted whole', () => {
    expect(refusal(Buffer.concat([PROTO2, op(0x63), text('builtins\neval\n'), STOP])).message)
      .toBe('the pickle imports builtins.eval (GLOBAL), which is not a tensor-rebuild global; refused without running anything');
  });
});
