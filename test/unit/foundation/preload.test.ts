// The preload exposes exactly the contract: checked by running main/shell/preload.ts against a
// recording stand-in for electron's contextBridge and ipcRenderer.
import { describe, expect, it, vi } from 'vitest';
import { ApiFailure, IPC_INVOKE, type LoraAuditApi } from '../../../main/api/contract.ts';

const rec = vi.hoisted(() => ({
  exposed: new Map<string, unknown>(),
  calls: [] as { channel: string; message: unknown }[],
  reply: null as unknown,
  progress: null as ((event: unknown, e: unknown) => void) | null,
}));

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => rec.exposed.set(key, api) },
  ipcRenderer: {
    invoke: async (channel: string, message: { jobId?: string }) => {
      rec.calls.push({ channel, message });
      rec.progress?.({}, { jobId: message.jobId, channel: 'evidence.add', phase: 'hashing', done: 1, total: 2, unit: 'files', message: 'x' });
      return rec.reply;
    },
    on: (_channel: string, listener: (event: unknown, e: unknown) => void) => { rec.progress = listener; },
  },
  webUtils: { getPathForFile: (f: { name: string }) => `/evidence/${f.name}` },
}));

const { EXPOSED_KEYS } = await import('../../../main/shell/preload.ts');
const api = rec.exposed.get('loraAudit') as LoraAuditApi;

describe('preload', () => {
  it('exposes one object, loraAudit, with exactly the contract', () => {
    expect([...rec.exposed.keys()]).toEqual(['loraAudit']);
    expect(Object.keys(api).sort()).toEqual(['cancel', 'host', 'invoke', 'pathsForFiles']);
    expect(EXPOSED_KEYS).toEqual(['cancel', 'host', 'invoke', 'pathsForFiles']);
    expect(api.host).toBe('electron');
  });

  it('forwards invoke on the one IPC channel, delivers progress, and unwraps the envelope', async () => {
    rec.reply = { ok: true, value: [{ id: 'c1' }] };
    const seen: unknown[] = [];
    const value = await api.invoke('cases.list', {}, { jobId: 'j1', onProgress: (e) => seen.push(e.phase) });
    expect(value).toEqual([{ id: 'c1' }]);
    expect(rec.calls.at(-1)).toEqual({ channel: IPC_INVOKE, message: { channel: 'cases.list', request: {}, jobId: 'j1' } });
    expect(seen).toEqual(['hashing']);
  });

  it('turns an error envelope into an ApiFailure with code, message and file', async () => {
    rec.reply = { ok: false, error: { code: 'TRUNCATED', message: '120 bytes missing', file: '/x.safetensors' } };
    const err = await api.invoke('evidence.inspect', { path: '/x.safetensors' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiFailure);
    expect((err as ApiFailure).error).toEqual({ code: 'TRUNCATED', message: '120 bytes missing', file: '/x.safetensors' });
  });

  it('cancels through jobs.cancel and resolves dropped files to their paths', async () => {
    rec.reply = { ok: true, value: { cancelled: true } };
    await api.cancel('j9');
    expect(rec.calls.at(-1)).toEqual({ channel: IPC_INVOKE, message: { channel: 'jobs.cancel', request: { jobId: 'j9' } } });
    expect(await api.pathsForFiles([{ name: 'a.safetensors' } as File])).toEqual(['/evidence/a.safetensors']);
  });
});
