// The headless host: serves the built renderer and answers the same contract as the Electron
// preload, over loopback only, with a random per-run token. It exists so the renderer can be tested
// in Debian's Chromium where no Electron binary can be had; it is not a second product.
//
// Every request may be hostile: a refused one gets a 4xx in the one error shape
// ({ok:false, error:{code, message}}); 500 is kept for the host's own faults. Bodies are bounded
// while they arrive (413), uploads stream to disk (upload.ts), and a malformed HTTP message is
// answered in the same shape (respond.ts).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ProgressEvent } from '../api/contract.ts';
import { jsonReplacer } from '../api/json.ts';
import { dispatch, type HandlerTable } from '../services/dispatch.ts';
import type { JobRegistry } from '../services/jobs.ts';
import { CONTENT_SECURITY_POLICY } from '../api/security.ts';
import { parseTarget, readInvoke, type Target } from './request.ts';
import { answerClientErrors, answerError, drainRest, refuse, refuseOnSocket, send } from './respond.ts';
import { StagingArea } from './upload.ts';

export interface HostLimits {
  /** `/api/invoke` bodies (JSON). Default 16 MiB. */
  jsonBody: number;
  /** One dropped file. Default 4 GiB. */
  upload: number;
  /** What is read and discarded after a refusal before the connection is closed. Default 64 MiB. */
  drain: number;
}

export interface HostOptions {
  rendererDir: string;     // renderer/dist
  handlers: HandlerTable;
  jobs: JobRegistry;
  stagingDir: string;      // where files dropped on the page are staged (upload.ts)
  port?: number;           // 0 (default): a free port
  limits?: Partial<HostLimits>;
}

export interface RunningHost {
  url: string;             // http://127.0.0.1:PORT/#token=…
  origin: string;
  token: string;
  server: Server;
  close(): Promise<void>;
}

const DEFAULT_LIMITS: HostLimits = { jsonBody: 16 * 1024 * 1024, upload: 4 * 1024 * 1024 * 1024, drain: 64 * 1024 * 1024 };

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.ttf': 'font/ttf', '.json': 'application/json',
  '.wasm': 'application/wasm', '.ico': 'image/x-icon',
};

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const token = randomBytes(24).toString('hex');
  const staging = new StagingArea(options.stagingDir);
  const listeners = new Set<ServerResponse>();
  const emit = (event: ProgressEvent) => {
    const line = `data: ${JSON.stringify(event, jsonReplacer)}\n\n`;
    for (const res of listeners) res.write(line);
  };
  let host = '';

  // requireHostHeader off: a request without Host gets our 421 in the error shape, not Node's bare 400
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    handle(req, res)
      .catch((err: unknown) => answerError(res, err))
      .catch(() => res.destroy())
      .finally(() => drainRest(req, limits.drain));
  });
  // A client that half-closes after its request still gets the answer: Node's default (false) drops
  // the request and closes without a word. A long-standing Server property, not in @types/node.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('clientError', answerClientErrors(limits.drain));
  // every connection, also those Node no longer tracks (after a parse error, a CONNECT), so close() ends them all
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // CONNECT and unknown `Expect:` values would otherwise get Node's bare answers (a closed socket, a 417)
  server.on('connect', (_req: IncomingMessage, socket: Socket) => refuseOnSocket(socket, 405, 'method not allowed', limits.drain));
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => refuse(res, 417, 'BAD_REQUEST', 'unsupported Expect header'));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // DNS-rebinding guard: only our own loopback origin may talk to us.
    if (req.headers.host !== host) return refuse(res, 421, 'UNAUTHORIZED', 'wrong host');
    const target = parseTarget(req.url);
    if (target.pathname.startsWith('/api/')) {
      if (!authorised(req, target)) return refuse(res, 401, 'UNAUTHORIZED', 'missing or wrong token');
      return api(req, res, target);
    }
    if (req.method !== 'GET') return refuse(res, 405, 'BAD_REQUEST', 'method not allowed');
    return serveStatic(target.pathname, res);
  }

  async function api(req: IncomingMessage, res: ServerResponse, target: Target): Promise<void> {
    const route = `${req.method} ${target.pathname}`;
    if (route === 'GET /api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(': connected\n\n');
      listeners.add(res);
      res.on('close', () => listeners.delete(res));
      // a page never half-closes its event stream: the end of what it sends is the page going away
      // (out of the set first: a write after the end would be an 'error' event nobody handles)
      req.socket.once('end', () => {
        listeners.delete(res);
        res.end();
      });
      return;
    }
    if (route === 'POST /api/invoke') {
      const { channel, request, jobId } = await readInvoke(req, limits.jsonBody);
      const envelope = await staging.using(request, () => dispatch(options.handlers, options.jobs, channel, request, jobId, emit));
      return send(res, 200, envelope);
    }
    if (route === 'POST /api/upload') {
      return send(res, 200, { ok: true, value: await staging.receive(req, target.query.get('name'), limits.upload) });
    }
    return refuse(res, 404, 'BAD_REQUEST', `no route ${route.slice(0, 300)}`);
  }

  function authorised(req: IncomingMessage, target: Target): boolean {
    const given = String(req.headers['x-lora-audit-token'] ?? target.query.get('token') ?? '');
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  async function serveStatic(pathname: string, res: ServerResponse): Promise<void> {
    const rel = pathname === '/' ? 'index.html' : pathname.replace(/^\/+/, '');
    const file = normalize(join(options.rendererDir, rel));
    if (!file.startsWith(normalize(options.rendererDir) + sep)) return refuse(res, 403, 'UNAUTHORIZED', 'outside the renderer');
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      return refuse(res, 404, 'NOT_FOUND', `no such file: ${rel.slice(0, 300)}`);
    }
    res.writeHead(200, {
      'content-type': MIME[extname(file)] ?? 'application/octet-stream',
      'content-length': size,
      'content-security-policy': CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    });
    // a file removed or unreadable after the stat: the headers are out, so only the connection can say so
    await pipeline(createReadStream(file), res).catch(() => res.destroy());
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  host = `127.0.0.1:${port}`;
  return {
    url: `${origin}/#token=${token}`,
    origin,
    token,
    server,
    close: () => new Promise<void>((resolve) => {
      for (const res of listeners) res.end();
      listeners.clear(); // jobs still running may emit progress after this
      server.close(() => {
        staging.removeAll();
        resolve();
      });
      for (const socket of sockets) socket.destroy();
    }),
  };
}
