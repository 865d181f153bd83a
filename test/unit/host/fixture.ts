// A headless host on 127.0.0.1 (port 0) with the real services behind it and small body limits, so
// a test shows a limit with a body of a few hundred KiB.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHost, type HostLimits, type RunningHost } from '../../../main/host/server.ts';
import { createServices, type Services } from '../../../main/services/create.ts';

export interface HostFixture {
  dir: string;
  staging: string;
  services: Services;
  host: RunningHost;
  port: number;
  close(): Promise<void>;
}

export const SMALL_LIMITS: HostLimits = { jsonBody: 64 * 1024, upload: 256 * 1024, drain: 64 * 1024 * 1024 };

/** `prepare` runs before the host starts (e.g. to leave files an earlier run would have left). */
export async function startFixture(prepare?: (staging: string) => void): Promise<HostFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'lora-audit-host-'));
  const rendererDir = join(dir, 'renderer');
  const staging = join(dir, 'staging');
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>LoRA Auditor</title>');
  prepare?.(staging);
  const services = await createServices({
    host: 'headless', dataDir: join(dir, 'data'),
    renderPdf: async () => { throw new Error('no printing in this test'); },
    openFiles: async () => [],
    saveFile: async () => null,
  });
  const host = await startHost({ rendererDir, handlers: services.handlers, jobs: services.jobs, stagingDir: staging, limits: SMALL_LIMITS });
  return {
    dir, staging, services, host, port: Number(new URL(host.origin).port),
    async close() {
      await host.close();
      await services.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Answer { status: number; headers: IncomingHttpHeaders; body: any } // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * One request with Node's own HTTP client, which writes the whole body before it reads (the client
 * that loses an answer when the server resets the connection early). `body` may be a generator of
 * chunks, sent as they are made.
 */
export function send(f: HostFixture, method: string, path: string, body?: Buffer | string | Iterable<Buffer>, headers: Record<string, string | number> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: f.port, method, path, headers: { 'x-lora-audit-token': f.host.token, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try { parsed = JSON.parse(text); } catch { /* not JSON: the test sees the text */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) return void req.end(body);
    const it = body[Symbol.iterator]();
    const pump = () => {
      for (;;) {
        const next = it.next();
        if (next.done) return void req.end();
        if (!req.write(next.value)) return void req.once('drain', pump);
      }
    };
    pump();
  });
}

export const invoke = (f: HostFixture, body: string | Buffer) => send(f, 'POST', '/api/invoke', body, { 'content-type': 'application/json' });

/** Waits (a bounded number of turns, not a time) until `check` holds. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

export const openConnections = (f: HostFixture) => new Promise<number>((resolve) => f.host.server.getConnections((_e, n) => resolve(n)));
