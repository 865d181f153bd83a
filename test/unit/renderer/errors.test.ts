// Every error the tool can raise must reach the user with advice written for it: a new error code
// added to main/errors.ts without advice in the renderer fails here.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ApiFailure } from '../../../main/api/contract.ts';
import { ADVICE, adviceFor, toErrorShape } from '../../../renderer/src/lib/errors.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function errorCodes(): string[] {
  const source = readFileSync(join(root, 'main', 'errors.ts'), 'utf8');
  const union = source.slice(source.indexOf('export type ErrorCode'), source.indexOf(';', source.indexOf('export type ErrorCode')));
  return [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]);
}

describe('error advice', () => {
  it('covers every error code the tool defines, and no code it does not', () => {
    const codes = errorCodes();
    expect(codes.length).toBeGreaterThan(30);
    expect(codes.filter((c) => !Object.hasOwn(ADVICE, c))).toEqual([]);
    expect(Object.keys(ADVICE).filter((c) => !codes.includes(c))).toEqual([]);
  });

  it('tells the user what to do, in a sentence, for the input errors an auditor meets', () => {
    for (const code of ['TRUNCATED', 'UNSAFE_PICKLE', 'NOT_PARQUET', 'LFS_POINTER', 'BAD_PASSPHRASE']) {
      expect(adviceFor(code)).toMatch(/^[A-Z].{20,}\.$/);
    }
    expect(adviceFor('UNSAFE_PICKLE')).toMatch(/safetensors/);
    expect(adviceFor('NOT_PARQUET')).toMatch(/parquet/);
  });

  it('falls back to general advice for a code it does not know', () => {
    expect(adviceFor('SOMETHING_NEW')).toBe(adviceFor('INTERNAL'));
  });

  it('gives the general advice, not an object property, for codes named like Object.prototype’s', () => {
    for (const code of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(adviceFor(code)).toBe(ADVICE.INTERNAL);
    }
  });
});

describe('toErrorShape', () => {
  it('keeps the code, message and file of a failed call', () => {
    const e = new ApiFailure({ code: 'TRUNCATED', message: '22090344 bytes are missing', file: '/cases/x.safetensors' });
    expect(toErrorShape(e)).toEqual({ code: 'TRUNCATED', message: '22090344 bytes are missing', file: '/cases/x.safetensors' });
  });

  it('turns anything else into an INTERNAL error with its message', () => {
    expect(toErrorShape(new TypeError('Failed to fetch'))).toEqual({ code: 'INTERNAL', message: 'Failed to fetch' });
    expect(toErrorShape('boom')).toEqual({ code: 'INTERNAL', message: 'boom' });
  });
});
