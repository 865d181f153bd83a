// The headless host: serves the built renderer and answers the same contract as the Electron
// preload, over loopback only, with a random per-run token. It exists so the renderer can be tested
// in Debian's Chromium where no Electron binary can be had; it is not a second product.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, mkdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, extname, join, normalize, sep } from 'node:path';
import type { ProgressEvent } from '../api/contract.ts';
import { jsonReplacer } from '../cli/framework.ts';
import { dispatch, type HandlerTable } from '../services/dispatch.ts';
import type { JobRegistry } from '../services/jobs.ts';
import { CONTENT_SECURITY_POLICY } from '../api/security.ts';

export interface HostOptions {
  rendererDir: string;     // renderer/dist
  handlers: HandlerTable;
  jobs: JobRegistry;
  stagingDir: string;      // where files dropped on the page are staged
  port?: number;           // 0 (default): a free port
}

export interface RunningHost {
  url: string;             // http://127.0.0.1:PORT/#token=…
  origin: string;
  token: string;
  server: Server;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.json': 'application/json',
  '.wasm': 'application/wasm', '.ico': 'image/x-icon',
};
const MAX_JSON_BODY = 16 * 1024 * 1024;
const MAX_UPLOAD = 4 * 1024 * 1024 * 1024;

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const token = randomBytes(24).toString('hex');
  const listeners = new Set<ServerResponse>();
  const emit = (event: ProgressEvent) => {
    const line = `data: ${JSON.stringify(event, jsonReplacer)}\n\n`;
    for (const res of listeners) res.write(line);
  };
  mkdirSync(options.stagingDir, { recursive: true });
  let origin = '';

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { ok: false, error: { code: 'INTERNAL', message: String((err as Error)?.message ?? err) } });
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // DNS-rebinding guard: only our own loopback origin may talk to us.
    if (req.headers.host !== new URL(origin).host) return void send(res, 421, { ok: false, error: { code: 'UNAUTHORIZED', message: 'wrong host' } });
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname.startsWith('/api/')) {
      if (!authorised(req, url)) return void send(res, 401, { ok: false, error: { code: 'UNAUTHORIZED', message: 'missing or wrong token' } });
      if (url.pathname === '/api/events' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        res.write(': connected\n\n');
        listeners.add(res);
        req.on('close', () => listeners.delete(res));
        return;
      }
      if (url.pathname === '/api/invoke' && req.method === 'POST') {
        const body = JSON.parse((await readBody(req, MAX_JSON_BODY)).toString('utf8')) as { channel?: unknown; request?: unknown; jobId?: unknown };
        const envelope = await dispatch(options.handlers, options.jobs, String(body.channel), body.request ?? {},
          typeof body.jobId === 'string' ? body.jobId : undefined, emit);
        return void send(res, 200, envelope);
      }
      if (url.pathname === '/api/upload' && req.method === 'POST') {
        // Files dropped on the page: the browser cannot tell us their paths, so their bytes are
        // staged here under their original name and the staged path is used as evidence source.
        const name = basename(url.searchParams.get('name') ?? 'upload.bin').replace(/[^\w.+-]/g, '_') || 'upload.bin';
        const dir = join(options.stagingDir, randomBytes(8).toString('hex'));
        mkdirSync(dir, { recursive: true });
        const path = join(dir, name);
        await writeFile(path, await readBody(req, MAX_UPLOAD));
        return void send(res, 200, { ok: true, value: path });
      }
      return void send(res, 404, { ok: false, error: { code: 'BAD_REQUEST', message: `no route ${req.method} ${url.pathname}` } });
    }
    if (req.method !== 'GET') return void send(res, 405, { ok: false, error: { code: 'BAD_REQUEST', message: 'method not allowed' } });
    serveStatic(url.pathname, res);
  }

  function authorised(req: IncomingMessage, url: URL): boolean {
    const given = String(req.headers['x-lora-audit-token'] ?? url.searchParams.get('token') ?? '');
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  function serveStatic(pathname: string, res: ServerResponse): void {
    const rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '');
    const file = normalize(join(options.rendererDir, rel));
    if (!file.startsWith(normalize(options.rendererDir) + sep)) return void send(res, 403, { ok: false, error: { code: 'UNAUTHORIZED', message: 'outside the renderer' } });
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      return void send(res, 404, { ok: false, error: { code: 'NOT_FOUND', message: `no such file: ${rel}` } });
    }
    res.writeHead(200, {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-length': size,
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    });
    createReadStream(file).pipe(res);
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/#token=${token}`,
    origin,
    token,
    server,
    close: () => new Promise<void>((resolve) => {
      for (const res of listeners) res.end();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, jsonReplacer);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) { reject(new Error(`request body over ${limit} bytes`)); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
