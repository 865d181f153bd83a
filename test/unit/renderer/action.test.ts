// The Action helper: busy while a call runs, the failure kept in the contract's error shape (never an
// unhandled rejection), the error cleared by the next run.
import { describe, expect, it } from 'vitest';
import { ApiFailure } from '../../../main/api/contract.ts';
import { Action } from '../../../renderer/src/lib/action.ts';
import { plain } from './fake-api.ts';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('Action', () => {
  it('is busy while its call runs and resolves to the call’s value', async () => {
    const action = new Action(plain);
    const call = deferred<string>();
    const done = action.run(() => call.promise);
    expect(action.busy).toBe(true);
    call.resolve('saved');
    expect(await done).toBe('saved');
    expect(action.busy).toBe(false);
    expect(action.error).toBeNull();
  });

  it('keeps a failure as the error shape and resolves to undefined', async () => {
    const action = new Action(plain);
    const failure = new ApiFailure({ code: 'BAD_PASSPHRASE', message: 'the passphrase does not open this key', file: '/k.p12' });
    expect(await action.run(async () => { throw failure; })).toBeUndefined();
    expect(action.error).toEqual({ code: 'BAD_PASSPHRASE', message: 'the passphrase does not open this key', file: '/k.p12' });
    expect(action.busy).toBe(false);
    expect(await action.run(async () => 1)).toBe(1);
    expect(action.error).toBeNull();
  });

  it('stays busy until every run it fronts has finished', async () => {
    const action = new Action(plain);
    const a = deferred<void>();
    const b = deferred<void>();
    const first = action.run(() => a.promise);
    const second = action.run(() => b.promise);
    a.resolve();
    await first;
    expect(action.busy).toBe(true);
    b.reject(new TypeError('Failed to fetch'));
    await second;
    expect(action.busy).toBe(false);
    expect(action.error).toEqual({ code: 'INTERNAL', message: 'Failed to fetch' });
  });
});
