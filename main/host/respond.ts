// How the headless host answers: JSON in the one error shape, a 4xx status for a refused request
// (5xx only for the host's own faults), and the rest of a refused body drained, not reset, so the
// client reads the answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { jsonReplacer } from '../api/json.ts';
import { toApiError, type ErrorCode } from '../errors.ts';

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400, UNAUTHORIZED: 401, NOT_FOUND: 404, LIMIT_EXCEEDED: 413,
};

export function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return void res.end();
  const text = JSON.stringify(body, jsonReplacer);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function refuse(res: ServerResponse, status: number, code: ErrorCode, message: string): void {
  send(res, status, { ok: false, error: { code, message } });
}

/** A thrown error as an answer: a typed refusal keeps its code and gets its 4xx; anything else is ours (500). */
export function answerError(res: ServerResponse, err: unknown): void {
  const error = toApiError(err);
  send(res, STATUS[error.code] ?? 500, { ok: false, error });
}

/**
 * Reads and discards what is left of a request answered before its body was read (a refusal, a
 * body over the limit). Resetting the connection instead would make the client's kernel drop the
 * answer it had not read yet. A client that keeps sending past `limit` more bytes loses the
 * connection: draining is bounded too.
 */
export function drainRest(req: IncomingMessage, limit: number): void {
  if (req.readableEnded || req.destroyed) return;
  let drained = 0;
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > limit) req.socket.destroy();
  });
  req.on('error', () => undefined); // a client that hangs up mid-drain is not an error of ours
  req.resume();
}

/**
 * The answer to a request Node's parser refused (bad request line, bad header, body framing, header
 * too large, timeout): written on the socket, as no response object exists, when no answer has
 * started on this connection; the connection is then closed. Node may report several errors for one
 * connection: the first decides.
 */
export function answerClientErrors(drainLimit: number): (err: Error & { code?: string }, socket: Socket) => void {
  const answered = new WeakSet<Socket>();
  return (err, socket) => {
    if (answered.has(socket)) return;
    answered.add(socket);
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
    // An answer has begun (e.g. a GET answered before its announced body was cut short): cutting it
    // now would leave the client half an answer; the parser can read no more, so close once it is sent.
    if (inFlight?.headersSent) return void inFlight.once('finish', () => socket.end());
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    refuseOnSocket(socket, status, `malformed HTTP request (${err.code ?? 'parse error'})`, drainLimit);
  };
}

/** How long a refused connection may stay open, idle, for the client to read the answer and close. */
const LINGER_MS = 10_000;

/**
 * A refusal written straight on a socket that has no response object (clientError, CONNECT), then
 * closed. What the client still sends is read and dropped, up to `drainLimit` bytes: a socket that
 * stops reading never sees the client's close, and would stay open (and keep the server from
 * closing) forever.
 */
export function refuseOnSocket(socket: Socket, status: number, message: string, drainLimit: number): void {
  const text = JSON.stringify({ ok: false, error: { code: 'BAD_REQUEST', message } });
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\n`
    + `cache-control: no-store\r\nconnection: close\r\n\r\n${text}`);
  let drained = 0;
  socket.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > drainLimit) socket.destroy();
  });
  socket.on('error', () => undefined);
  socket.setTimeout(LINGER_MS, () => socket.destroy());
  socket.resume();
}
