// Every transport reaches the services through dispatch(); a request whose fields do not fit its
// channel is refused there as BAD_REQUEST naming the channel and the field, and no handler runs.
// Before this check, `cases.get {caseId: 5}` and the like reached the handlers and came back INTERNAL.
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHANNELS, type Channel, type Envelope } from '../../../main/api/contract.ts';
import { toApiError } from '../../../main/errors.ts';
import { dispatch, type HandlerTable } from '../../../main/services/dispatch.ts';
import { JobRegistry } from '../../../main/services/jobs.ts';
import { REQUEST_SHAPES } from '../../../main/services/request-shapes.ts';

/** A handler table that records which channels ran and answers "ran". */
function recordingTable(): { table: HandlerTable; ran: Channel[] } {
  const ran: Channel[] = [];
  const table = Object.fromEntries(CHANNELS.map((c) => [c, async () => { ran.push(c); return 'ran'; }])) as unknown as HandlerTable;
  return { table, ran };
}

async function send(channel: string, request: unknown): Promise<{ envelope: Envelope<unknown>; ran: Channel[] }> {
  const { table, ran } = recordingTable();
  const envelope = await dispatch(table, new JobRegistry(), channel, request, undefined, () => undefined);
  return { envelope, ran };
}

async function refused(channel: string, request: unknown): Promise<string> {
  const { envelope, ran } = await send(channel, request);
  expect(ran).toEqual([]);
  expect(envelope.ok).toBe(false);
  if (envelope.ok) throw new Error('accepted');
  expect(envelope.error.code).toBe('BAD_REQUEST');
  return envelope.error.message;
}

/** A request with every field of the channel filled with a value its spec accepts. */
function validRequest(channel: Channel, withOptional: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(REQUEST_SHAPES[channel] as Record<string, { kind: string; optional?: true; values?: readonly string[]; min?: number }>)) {
    if (spec.optional && !withOptional) continue;
    out[key] = ({
      string: 'x', enum: spec.values?.[0], boolean: true, number: spec.min, strings: ['x'], numbers: [spec.min],
      stringMap: { key: 'value' }, filters: [{ name: 'Adapters', extensions: ['safetensors'] }],
    } as Record<string, unknown>)[spec.kind];
  }
  return out;
}

describe('request shapes at dispatch', () => {
  it('refuses a field of the wrong type, naming the channel and the field, before any handler runs', async () => {
    expect(await refused('cases.get', { caseId: 5 })).toBe('cases.get: caseId must be a string (got the number 5)');
    expect(await refused('evidence.add', { caseId: 'c', paths: 'one.safetensors' }))
      .toBe('evidence.add: paths must be a list (got a string of 15 characters)');
    expect(await refused('references.import', { name: 'set', paths: ['a', 7] })).toBe('references.import: paths entry 1 must be a string (got the number 7)');
    expect(await refused('dialog.openFiles', { title: 't', multiple: 'yes' })).toBe('dialog.openFiles: multiple must be true or false (got a string of 3 characters)');
    expect(await refused('analysis.run', { caseId: 'c', evidenceIds: ['e'], referenceSet: 's', mode: 'fastest' }))
      .toBe('analysis.run: mode must be one of faithful, best (got a string of 7 characters)');
  });

  it('refuses non-finite and out-of-range numbers', async () => {
    const plan = { caseId: 'c', evidenceId: 'e', trainer: 'kohya', images: '/imgs' };
    expect(await refused('studies.plan', { ...plan, sizes: [1, NaN] })).toBe('studies.plan: sizes entry 1 must be a number from 1 to 1000000000 (got NaN)');
    expect(await refused('studies.plan', { ...plan, sizes: [Infinity] })).toBe('studies.plan: sizes entry 0 must be a number from 1 to 1000000000 (got Infinity)');
    expect(await refused('studies.run', { bundle: 'b', jobs: 0 })).toBe('studies.run: jobs must be a number from 1 to 1024 (got the number 0)');
  });

  it('refuses a missing field, an unknown field and __proto__ as sent over JSON', async () => {
    expect(await refused('cases.addNote', { caseId: 'c' })).toBe('cases.addNote: text is missing');
    expect(await refused('cases.list', { search: 'x', serach: 'y' })).toBe('cases.list: unknown field "serach"');
    expect(await refused('cases.list', JSON.parse('{"__proto__": {"admin": true}}'))).toBe('cases.list: unknown field "__proto__"');
  });

  it('refuses a NUL character in any string (no file system takes one in a name)', async () => {
    expect(await refused('references.import', { name: 'set', paths: ['shard\u0000.parquet'] })).toBe('references.import: paths entry 0 contains a NUL character');
    expect(await refused('cases.create', { title: 'a\u0000b', examiner: 'e' })).toBe('cases.create: title contains a NUL character');
  });

  it('types the file system\'s own complaints about a name instead of answering INTERNAL', async () => {
    const long = 'x'.repeat(300);   // one name past NAME_MAX (255), well inside the 4096-character field bound
    expect(await stat(long).catch(toApiError)).toEqual({ code: 'BAD_REQUEST', message: 'the path is longer than the file system allows', file: long });
    const underAFile = `${fileURLToPath(import.meta.url)}/inside`;
    expect(await stat(underAFile).catch(toApiError))
      .toEqual({ code: 'FILE_NOT_FOUND', message: 'no such file or directory (a part of the path is not a folder)', file: underAFile });
  });

  it('types permission and existence errors, and never lets an odd error code reach Object\'s members', () => {
    const nodeError = (code: string, path: string) => Object.assign(new Error(`${code}: …, open '${path}'`), { code, path });
    expect(toApiError(nodeError('EACCES', '/root/secret.safetensors')))
      .toEqual({ code: 'BAD_REQUEST', message: 'permission denied: this account may not open it', file: '/root/secret.safetensors' });
    expect(toApiError(nodeError('EROFS', '/media/cd/out.zip'))).toEqual({ code: 'BAD_REQUEST', message: 'it is on a read-only file system', file: '/media/cd/out.zip' });
    // a thrown object whose code names a member of Object.prototype stays an untyped INTERNAL with its message
    expect(toApiError(Object.assign(new Error('odd'), { code: 'constructor' }))).toEqual({ code: 'INTERNAL', message: 'odd' });
    expect(toApiError(Object.assign(new Error('odd'), { code: 'toString' }))).toEqual({ code: 'INTERNAL', message: 'odd' });
  });

  it('bounds the job id from every transport', async () => {
    const { table, ran } = recordingTable();
    const envelope = await dispatch(table, new JobRegistry(), 'cases.list', {}, 'j'.repeat(201), () => undefined);
    expect(envelope).toEqual({ ok: false, error: { code: 'BAD_REQUEST', message: 'cases.list: jobId must be a string of at most 200 characters' } });
    expect(ran).toEqual([]);
    expect(await dispatch(table, new JobRegistry(), 'cases.list', {}, 42, () => undefined)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });

  it('bounds strings, lists and maps before any work starts', async () => {
    expect(await refused('cases.get', { caseId: 'x'.repeat(5000) })).toBe('cases.get: caseId is 5000 characters long, more than 4096');
    expect(await refused('evidence.add', { caseId: 'c', paths: Array.from({ length: 10_001 }, () => 'p') }))
      .toBe('evidence.add: paths holds 10001 entries, more than 10000');
    const set = Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`k${i}`, 'v']));
    expect(await refused('studies.plan', { caseId: 'c', evidenceId: 'e', trainer: 'kohya', images: '/i', sizes: [1], set }))
      .toBe('studies.plan: set holds 201 keys, more than 200');
    expect(await refused('dialog.saveFile', { title: 't', defaultName: 'r.pdf', filters: [{ name: 'PDF', extensions: ['pdf'], run: 'x' }] }))
      .toBe('dialog.saveFile: filters entry 0 has an unknown field "run"');
  });

  it('lets every channel through with its required fields, with all its fields, and with optional fields left undefined', async () => {
    for (const channel of CHANNELS) {
      for (const request of [validRequest(channel, false), validRequest(channel, true)]) {
        const { envelope, ran } = await send(channel, request);
        expect(envelope, `${channel} ${JSON.stringify(request)}`).toEqual({ ok: true, value: 'ran' });
        expect(ran).toEqual([channel]);
      }
    }
    // Electron's structured clone keeps keys whose value is undefined
    expect((await send('cases.list', { search: undefined })).envelope).toEqual({ ok: true, value: 'ran' });
    expect(await refused('cases.get', { caseId: undefined })).toBe('cases.get: caseId is missing');
  });
});
