// The headless host answers the same contract as the preload, over loopback only, with the real
// services behind it; and the handler table answers exactly the contract's channels.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNELS, type Envelope, type ProgressEvent } from '../../../main/api/contract.ts';
import { startHost, type RunningHost } from '../../../main/host/server.ts';
import { createServices, type Services } from '../../../main/services/create.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';

let dir: string;
let services: Services;
let host: RunningHost;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-audit-host-'));
  const rendererDir = join(dir, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>LoRA Auditor</title>');
  writeFileSync(join(dir, 'secret.txt'), 'not for the page');
  services = await createServices({
    host: 'headless', dataDir: join(dir, 'data'),
    renderPdf: async () => { throw new Error('no printing in this test'); },
    openFiles: async () => [join(dir, 'picked.safetensors')],
    saveFile: async () => null,
  });
  host = await startHost({ rendererDir, handlers: services.handlers, jobs: services.jobs, stagingDir: join(dir, 'staging') });
});

afterAll(async () => {
  await host.close();
  await services.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(channel: string, req: unknown, opts: { token?: string; jobId?: string } = {}): Promise<{ status: number; body: Envelope<unknown> }> {
  const res = await fetch(`${host.origin}/api/invoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-lora-audit-token': opts.token ?? host.token },
    body: JSON.stringify({ channel, request: req, jobId: opts.jobId }),
  });
  return { status: res.status, body: (await res.json()) as Envelope<unknown> };
}

describe('handler table', () => {
  it('answers exactly the contract channels', () => {
    expect(Object.keys(services.handlers).sort()).toEqual([...CHANNELS].sort());
  });
});

describe('headless host', () => {
  it('listens on loopback only', () => {
    expect(host.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(host.url).toContain('#token=');
  });

  it('serves the renderer with the app CSP, and nothing outside it', async () => {
    const page = await fetch(`${host.origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const escape = await new Promise<number>((resolve) => {
      request({ host: '127.0.0.1', port: new URL(host.origin).port, path: '/../secret.txt' }, (r) => resolve(r.statusCode ?? 0)).end();
    });
    expect([403, 404]).toContain(escape);
  });

  it('refuses calls without the per-run token, and from another Host name', async () => {
    expect((await call('cases.list', {}, { token: 'guess' })).status).toBe(401);
    const rebound = await new Promise<number>((resolve) => {
      request({ host: '127.0.0.1', port: new URL(host.origin).port, path: '/', headers: { host: 'attacker.example' } }, (r) => resolve(r.statusCode ?? 0)).end();
    });
    expect(rebound).toBe(421);
  });

  it('answers the contract with the real services', async () => {
    const created = await call('cases.create', { title: 'Host test', examiner: 'E. Xaminer' });
    expect(created.body).toMatchObject({ ok: true, value: { title: 'Host test', examiner: 'E. Xaminer', evidenceCount: 0 } });
    const list = await call('cases.list', {});
    expect(list.body).toMatchObject({ ok: true, value: [{ title: 'Host test' }] });
    expect(await call('dialog.openFiles', { title: 'Pick' })).toEqual({ status: 200, body: { ok: true, value: [join(dir, 'picked.safetensors')] } });
  });

  it('returns the one error shape for bad requests and bad files', async () => {
    expect((await call('no.such.channel', {})).body).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    const kase = ((await call('cases.list', {})).body as { ok: true; value: { id: string }[] }).value[0];
    const noSet = await call('analysis.run', { caseId: kase.id, evidenceIds: [], referenceSet: 'no-such-set', mode: 'faithful' });
    expect(noSet.body).toMatchObject({ ok: false, error: { code: 'NOT_FOUND', message: expect.stringContaining('no-such-set') } });
    const missing = await call('cases.get', { caseId: 'nope' });
    expect(missing.body.ok).toBe(false);
    if (!missing.body.ok) expect(missing.body.error.message).toMatch(/nope/);
  });

  it('streams progress for long work under the caller’s jobId, and stages dropped files', async () => {
    const events: ProgressEvent[] = [];
    const controller = new AbortController();
    const stream = fetch(`${host.origin}/api/events?token=${host.token}`, { signal: controller.signal }).then(async (res) => {
      const reader = res.body!.getReader();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        for (const block of text.split('\n\n').slice(0, -1)) if (block.startsWith('data: ')) events.push(JSON.parse(block.slice(6)));
        text = text.split('\n\n').at(-1) ?? '';
      }
    }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));

    const bytes = encodeSafetensors([
      { key: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight', dtype: 'F32', shape: [2, 8], data: Array.from({ length: 16 }, (_, i) => Math.sin(i)) },
      { key: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.up.weight', dtype: 'F32', shape: [8, 2], data: Array.from({ length: 16 }, (_, i) => Math.cos(i)) },
    ]);
    const upload = await fetch(`${host.origin}/api/upload?name=${encodeURIComponent('../dropped adapter.safetensors')}`, {
      method: 'POST', headers: { 'x-lora-audit-token': host.token, 'content-type': 'application/octet-stream' }, body: bytes,
    });
    const staged = ((await upload.json()) as { value: string }).value;
    expect(staged.startsWith(join(dir, 'staging'))).toBe(true);
    expect(readFileSync(staged)).toEqual(bytes);

    const kase = (await call('cases.list', {})).body as { ok: true; value: { id: string }[] };
    const added = await call('evidence.add', { caseId: kase.value[0].id, paths: [staged, join(dir, 'missing.safetensors')] }, { jobId: 'job-test-1' });
    expect(added.body).toMatchObject({ ok: true, value: { added: [{ family: 'diffusers-lora' }], errors: [{ file: join(dir, 'missing.safetensors') }] } });
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    await stream;
    expect(events.filter((e) => e.jobId === 'job-test-1').map((e) => e.unit)).toContain('files');
  });
});
