// Files dropped on the page stream into the staging folder as they arrive (the host never holds an
// upload whole), a partial or refused upload leaves nothing, and a staged file lives until the
// invoke that uses it ends (done or failed); what an earlier run left is removed at start.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';
import { eventually, invoke, send, SMALL_LIMITS, startFixture, type HostFixture } from './fixture.ts';

let f: HostFixture;
beforeAll(async () => {
  f = await startFixture((staging) => {
    // left by an earlier run: an upload folder (removed) and a file that is not ours (kept)
    mkdirSync(join(staging, '0123456789abcdef'), { recursive: true });
    writeFileSync(join(staging, '0123456789abcdef', 'old.safetensors'), 'old');
    writeFileSync(join(staging, 'README.txt'), 'not an upload');
  });
});
afterAll(async () => { await f.close(); });

const uploadFolders = () => readdirSync(f.staging).filter((e) => /^[0-9a-f]{16}$/.test(e));
const stagedFiles = () => uploadFolders().flatMap((d) => readdirSync(join(f.staging, d)).map((n) => join(f.staging, d, n)));

const adapter = encodeSafetensors([
  { key: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight', dtype: 'F32', shape: [2, 8], data: Array.from({ length: 16 }, (_, i) => Math.sin(i)) },
  { key: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.up.weight', dtype: 'F32', shape: [8, 2], data: Array.from({ length: 16 }, (_, i) => Math.cos(i)) },
]);

async function upload(name: string, bytes: Uint8Array): Promise<string> {
  const r = await send(f, 'POST', `/api/upload?name=${encodeURIComponent(name)}`, Buffer.from(bytes), { 'content-type': 'application/octet-stream' });
  expect(r.status).toBe(200);
  return r.body.value as string;
}

describe('staging at host start', () => {
  it('removed the upload folders an earlier run left, and nothing else', () => {
    expect(existsSync(join(f.staging, '0123456789abcdef'))).toBe(false);
    expect(readFileSync(join(f.staging, 'README.txt'), 'utf8')).toBe('not an upload');
  });
});

describe('uploads', () => {
  it('writes each chunk to the staged file as it arrives: the file grows before the request ends', async () => {
    // 3 × 64 KiB stays under the fixture's 256 KiB limit
    const chunk = Buffer.alloc(64 * 1024, 7);
    let sent = 0;
    const answer = new Promise<{ status: number; path: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: f.port, method: 'POST', path: '/api/upload?name=grows.bin', headers: { 'x-lora-audit-token': f.host.token } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, path: JSON.parse(text).value }));
      });
      req.on('error', reject);
      const step = async () => {
        for (let i = 1; i <= 3; i++) {
          req.write(chunk);
          sent += chunk.length;
          const expected = sent;
          // the request is still open: only a handler that writes as it reads has these bytes on disk
          await eventually(() => stagedFiles().some((p) => statSync(p).size === expected), `${expected} bytes on disk before the end`);
        }
        req.end();
      };
      step().catch(reject);
    });
    const done = await answer;
    expect(done.status).toBe(200);
    expect(statSync(done.path).size).toBe(3 * chunk.length);
  });

  it('refuses an upload over the limit with 413 and leaves nothing staged', async () => {
    const before = uploadFolders();
    const over = Buffer.alloc(SMALL_LIMITS.upload + 1, 1);
    const r = await send(f, 'POST', '/api/upload?name=big.bin', over);
    expect(r.status).toBe(413);
    expect(r.body).toEqual({ ok: false, error: { code: 'LIMIT_EXCEEDED', message: `the request body is over the host's limit of ${SMALL_LIMITS.upload} bytes` } });
    await eventually(() => uploadFolders().length === before.length, 'the refused upload removed');
    // the same when the length is not announced (chunked): the refusal comes mid-stream
    const chunks = function* () { for (let i = 0; i < 8; i++) yield Buffer.alloc(64 * 1024, 2); };
    const streamed = await send(f, 'POST', '/api/upload?name=big.bin', chunks());
    expect(streamed.status).toBe(413);
    await eventually(() => uploadFolders().length === before.length, 'the refused streamed upload removed');
  });

  it('removes a partial upload when the client goes away mid-body', async () => {
    const before = uploadFolders().length;
    const req = request({ host: '127.0.0.1', port: f.port, method: 'POST', path: '/api/upload?name=cut.bin', headers: { 'x-lora-audit-token': f.host.token, 'content-length': 200_000 } });
    req.on('error', () => undefined);
    req.write(Buffer.alloc(50_000, 3));
    await eventually(() => stagedFiles().some((p) => p.endsWith('cut.bin') && statSync(p).size === 50_000), 'the partial upload on disk');
    req.destroy();
    await eventually(() => uploadFolders().length === before, 'the partial upload removed');
  });

  it('refuses a damaged name escape with 400 and stages nothing', async () => {
    const before = uploadFolders().length;
    const r = await send(f, 'POST', '/api/upload?name=%zz', Buffer.from('abc'));
    expect(r).toMatchObject({ status: 400, body: { ok: false, error: { code: 'BAD_REQUEST', message: expect.stringContaining('bad percent-escape') } } });
    expect(uploadFolders().length).toBe(before);
  });
});

describe('a staged file lives until the invoke that uses it ends', () => {
  it('removes it after evidence.add completes, with the evidence kept in the case', async () => {
    const kase = (await invoke(f, JSON.stringify({ channel: 'cases.create', request: { title: 'Staging', examiner: 'E' } }))).body.value as { id: string };
    const staged = await upload('../dropped adapter.safetensors', adapter);
    expect(staged.startsWith(f.staging)).toBe(true);
    expect(staged.endsWith('dropped_adapter.safetensors')).toBe(true);
    expect(readFileSync(staged)).toEqual(Buffer.from(adapter));
    const added = await invoke(f, JSON.stringify({ channel: 'evidence.add', request: { caseId: kase.id, paths: [staged] } }));
    expect(added.body).toMatchObject({ ok: true, value: { added: [{ family: 'diffusers-lora' }], errors: [] } });
    expect(existsSync(staged)).toBe(false);
    expect(existsSync(join(staged, '..'))).toBe(false);
  });

  it('removes it after an invoke that fails, or refuses the file', async () => {
    const refusedFile = await upload('x.safetensors', adapter);
    const refused = await invoke(f, JSON.stringify({ channel: 'evidence.add', request: { caseId: 'no-such-case', paths: [refusedFile] } }));
    expect(refused.body).toMatchObject({ ok: true, value: { added: [], errors: [{ file: refusedFile }] } });
    expect(existsSync(join(refusedFile, '..'))).toBe(false);
    const named = await upload('y.safetensors', adapter);
    const failed = await invoke(f, JSON.stringify({ channel: 'analysis.run', request: { caseId: 'c', evidenceIds: [named], referenceSet: 'no-such-set', mode: 'faithful' } }));
    expect(failed.body.ok).toBe(false); // which refusal is the service's business; the staged file's end is ours
    expect(existsSync(join(named, '..'))).toBe(false);
  });

  it('keeps uploads no invoke has named yet, and the host removes them when it closes', async () => {
    const other = await startFixture();
    const staged = (await send(other, 'POST', '/api/upload?name=kept.bin', Buffer.from('kept'))).body.value as string;
    await invoke(other, JSON.stringify({ channel: 'cases.list', request: {} }));
    expect(readFileSync(staged, 'utf8')).toBe('kept');
    await other.host.close();
    expect(existsSync(join(staged, '..'))).toBe(false);
    await other.services.close();
  });
});
