// What the headless host reads from a request before any service sees it: the target (path and
// query, decoded strictly), a body bounded while it arrives, and the invoke envelope's shape. Every
// refusal is a typed AuditError whose code the responder turns into a 4xx status.
import type { IncomingMessage } from 'node:http';
import { AuditError } from '../errors.ts';
import { MAX_JOB_ID } from '../services/dispatch.ts';

export interface Target {
  pathname: string;                // decoded
  query: Map<string, string>;      // decoded; a repeated name keeps its first value
}

/**
 * Splits and decodes `req.url`. The WHATWG URL parser keeps a lone `%` or `%zz` as literal text and
 * turns bad UTF-8 into U+FFFD, so a damaged escape would reach the routes as a different name than
 * the one sent: here it is a refusal instead. Only origin-form targets (`/path?query`) are accepted;
 * `//host/x`, `*` and absolute URLs are not ours to resolve.
 */
export function parseTarget(raw: string | undefined): Target {
  const url = raw ?? '';
  if (!url.startsWith('/')) throw new AuditError('BAD_REQUEST', `the request target must be a path starting with "/"`);
  const hash = url.indexOf('#');
  const target = hash >= 0 ? url.slice(0, hash) : url;
  const mark = target.indexOf('?');
  const path = mark >= 0 ? target.slice(0, mark) : target;
  const search = mark >= 0 ? target.slice(mark + 1) : '';
  const query = new Map<string, string>();
  for (const pair of search.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeComponent(eq >= 0 ? pair.slice(0, eq) : pair, true);
    if (!query.has(name)) query.set(name, decodeComponent(eq >= 0 ? pair.slice(eq + 1) : '', true));
  }
  return { pathname: decodeComponent(path, false), query };
}

function decodeComponent(text: string, plusIsSpace: boolean): string {
  try {
    return decodeURIComponent(plusIsSpace ? text.replaceAll('+', ' ') : text);
  } catch {
    throw new AuditError('BAD_REQUEST', `bad percent-escape in the request target: ${JSON.stringify(text.slice(0, 200))}`);
  }
}

/**
 * The body's chunks as they arrive, refused with LIMIT_EXCEEDED as soon as they pass `limit` (or at
 * once when Content-Length already says so). Stopping early leaves the request open, not destroyed:
 * destroying it would reset the connection before the 413 reaches the client (the responder drains
 * what is left instead).
 */
export async function* boundedBody(req: IncomingMessage, limit: number): AsyncGenerator<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw overLimit(limit);
  let seen = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > limit) throw overLimit(limit);
    yield chunk;
  }
}

function overLimit(limit: number): AuditError {
  return new AuditError('LIMIT_EXCEEDED', `the request body is over the host's limit of ${limit} bytes`);
}

export interface InvokeEnvelope {
  channel: string;
  request: unknown;
  jobId: string | undefined;
}

/** Reads and checks `/api/invoke`'s body: `{channel: string, request?: object, jobId?: string}`. */
export async function readInvoke(req: IncomingMessage, limit: number): Promise<InvokeEnvelope> {
  const chunks: Buffer[] = [];
  for await (const chunk of boundedBody(req, limit)) chunks.push(chunk);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new AuditError('BAD_REQUEST', 'the request body is not UTF-8 text');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new AuditError('BAD_REQUEST', `the request body is not JSON: ${(e as Error).message.slice(0, 200)}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AuditError('BAD_REQUEST', 'the request body must be a JSON object {channel, request, jobId}');
  }
  const { channel, request, jobId } = body as Record<string, unknown>;
  if (typeof channel !== 'string') throw new AuditError('BAD_REQUEST', '"channel" must be a string');
  if (jobId !== undefined && (typeof jobId !== 'string' || jobId.length > MAX_JOB_ID)) {
    throw new AuditError('BAD_REQUEST', `"jobId" must be a string of at most ${MAX_JOB_ID} characters`);
  }
  return { channel, request: request ?? {}, jobId };
}
