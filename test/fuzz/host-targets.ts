// Fuzz target for the headless host (main/host/): damaged raw HTTP requests (methods, request targets
// with broken escapes, hostile headers, Content-Length lies, chunked framing cut short, bodies of
// deep JSON, huge strings and wrong field types) sent over a raw loopback socket to one host started
// per worker. Property: every request is answered with well-formed HTTP, a status under 500, and a
// 4xx in the one error shape ({ok:false, error:{code, message}}), never with the untyped INTERNAL.
//
// The client half-closes after writing, so a request the parser is still waiting on (a body shorter
// than announced) ends instead of hanging, and reads until the host closes: every answer on the
// connection is checked, not only the first.
import fc from 'fast-check';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Channel } from '../../main/api/contract.ts';
import { AuditError, type ErrorCode } from '../../main/errors.ts';
import { startHost } from '../../main/host/server.ts';
import type { Handler, HandlerTable } from '../../main/services/dispatch.ts';
import { createServices } from '../../main/services/create.ts';
import { deepJson } from './mutate.ts';
import type { Target } from './target.ts';

/** Channels cheap and harmless to call with any request; the rest answer a typed refusal here (the
 *  services have their own targets), so the host's transport is what this target exercises. */
const LIVE: Channel[] = ['cases.list', 'cases.get', 'references.list', 'jobs.cancel', 'dialog.openFiles', 'dialog.saveFile'];
const ROUTES = ['/', '/index.html', '/app.js', '/api/invoke', '/api/upload', '/api/events', '/api/nope', '/api/', '/../secret.txt',
  '/%2e%2e/secret.txt', '//evil.example/x', '*', 'http://127.0.0.1/', '/index.html/..', '/api/invoke/'];
const ESCAPES = ['', '%', '%z', '%zz', '%E0%A4%A', '%C0%AF', '%00', '%FF', '%25', '/..', '%2F', 'é', '%F0%9F%98%80', '?', '#x'];
const LIMITS = { jsonBody: 256 * 1024, upload: 256 * 1024, drain: 4 * 1024 * 1024 };

type Framing = 'length' | 'short' | 'long' | 'chunked' | 'chunked-cut' | 'chunked-bad' | 'none';

type BodySpec =
  | { kind: 'envelope'; fields: [string, unknown][] }
  | { kind: 'deep'; depth: number; shape: 'array' | 'object'; inside: boolean }
  | { kind: 'long'; length: number; field: 'search' | 'channel' | 'jobId' | 'request' }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'filled'; length: number; byte: number }
  | { kind: 'empty' };

/** A well-formed request to `route`, damaged in the dimensions named in `damaged` (most inputs: one or two). */
interface RequestSpec {
  route: string;
  damaged: Dimension[];
  method: string;
  target: { route: string; escape: string; query: string };
  version: string;
  host: 'wrong' | 'none' | 'twice';
  token: 'query' | 'wrong' | 'none';
  headers: [string, string][];
  framing: Framing;
  cut: number;          // fraction of the body a Content-Length lie leaves out or adds; chunk size
  body: BodySpec;
}

const DIMENSIONS = ['method', 'target', 'version', 'host', 'token', 'headers', 'framing'] as const;
type Dimension = typeof DIMENSIONS[number];

const pathChars = fc.string({ unit: fc.constantFrom(...'abcXYZ019/%._-~!$&\'()*+,;=:@[]'.split('')), maxLength: 24 });
const oddValue = fc.oneof(
  fc.constantFrom(...LIVE, 'no.such.channel', '', '__proto__', 'constructor', 'toString', 'jobs.cancel '),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constant(null),
);

const body: fc.Arbitrary<BodySpec> = fc.oneof(
  // a live channel with odd request fields: reaches dispatch and the handlers
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...LIVE), fc.dictionary(fc.constantFrom('caseId', 'search', 'jobId', 'title', 'paths', 'filters'), oddValue, { maxKeys: 3 }), fc.option(oddValue))
    .map(([channel, request, jobId]): BodySpec => ({ kind: 'envelope', fields: [['channel', channel], ['request', request], ...(jobId === null ? [] : [['jobId', jobId] as [string, unknown]])] })) },
  { weight: 3, arbitrary: fc.record({
    kind: fc.constant('envelope' as const),
    fields: fc.array(fc.tuple(fc.constantFrom('channel', 'request', 'jobId', '__proto__', 'extra'), oddValue), { maxLength: 4 }),
  }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('deep' as const), depth: fc.constantFrom(10, 1000, 30_000, 100_000), shape: fc.constantFrom('array' as const, 'object' as const), inside: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('long' as const), length: fc.constantFrom(1000, 100_000, LIMITS.jsonBody - 40, LIMITS.jsonBody + 10, 600_000), field: fc.constantFrom('search' as const, 'channel' as const, 'jobId' as const, 'request' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('text' as const), text: fc.constantFrom('null', '[]', '42', '"x"', '{', '{"channel":', '{"channel":"cases.list","request":{}}x', '\u0000', '{"channel":"cases.list","request":{},"jobId":"a","jobId":5}', '\ufeff{"channel":"cases.list"}') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 2048 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('filled' as const), length: fc.constantFrom(1, 4096, LIMITS.upload, LIMITS.upload + 1, 1_000_000), byte: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
);

const header: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constant('content-type'), fc.constantFrom('application/json', 'text/plain', 'multipart/form-data; boundary=x', '')),
  fc.tuple(fc.constant('expect'), fc.constantFrom('100-continue', 'nothing', '')),
  fc.tuple(fc.constantFrom('transfer-encoding', 'Transfer-Encoding', 'content-length', 'Content-Length'),
    fc.constantFrom('chunked', 'gzip, chunked', 'identity', 'chunked, gzip', '5', '-1', '1e3', ' 7', '99999999999999999999', '0x10', '')),
  fc.tuple(fc.constantFrom('connection', 'upgrade'), fc.constantFrom('close', 'keep-alive', 'upgrade', 'websocket', 'h2c')),
  fc.tuple(fc.constantFrom('x-lora-audit-token', 'host', 'origin', 'cookie', 'range'), fc.constantFrom('', 'x', '127.0.0.1', 'bytes=0-1')),
  fc.tuple(fc.constantFrom('bad header', 'x\u0000y', 'ü', ':authority', 'x-€', '', 'x-(a)'), fc.constant('v')),
  fc.tuple(fc.constant('x-long'), fc.constantFrom(1000, 8000, 20_000).map((n) => 'v'.repeat(n))),
  fc.tuple(fc.constant('x-odd'), fc.constantFrom('\u0000', '\u007f', '\t', 'ÿ', 'a\u0001b', '€')),
);

const requestSpec: fc.Arbitrary<RequestSpec> = fc.record({
  route: fc.oneof({ weight: 4, arbitrary: fc.constant('/api/invoke') }, { weight: 2, arbitrary: fc.constant('/api/upload') }, { weight: 1, arbitrary: fc.constantFrom('/api/events', '/') }),
  damaged: fc.subarray([...DIMENSIONS], { maxLength: 2 }),
  method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'FOO', 'get', 'PRI') as fc.Arbitrary<string>,
  target: fc.record({
    route: fc.constantFrom(...ROUTES),
    escape: fc.oneof(fc.constantFrom(...ESCAPES), pathChars),
    query: fc.oneof(
      fc.constant(''),
      fc.constantFrom('?name=%zz', '?name=', '?name=..', '?name=%2e%2e%2fx', '?name=' + 'n'.repeat(300) + '.bin', '?x=%', '?&&=&', '?name=a&name=b', '?name=%E0%A4%A'),
      pathChars.map((s) => `?name=${s}`),
    ),
  }),
  version: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/0.9', '') as fc.Arbitrary<string>,
  host: fc.constantFrom('wrong' as const, 'none' as const, 'twice' as const),
  token: fc.constantFrom('query' as const, 'wrong' as const, 'none' as const),
  headers: fc.array(header, { minLength: 1, maxLength: 3 }),
  framing: fc.constantFrom('short' as const, 'long' as const, 'chunked' as const, 'chunked-cut' as const, 'chunked-bad' as const, 'none' as const),
  cut: fc.double({ min: 0, max: 1, noNaN: true }),
  body,
});

function bodyBytes(spec: BodySpec): Buffer {
  switch (spec.kind) {
    case 'envelope': {
      // built as text so duplicate keys and "__proto__" reach the host as sent
      const members = spec.fields.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`);
      return Buffer.from(`{${members.join(',')}}`);
    }
    case 'deep': {
      const deep = deepJson(spec.depth, spec.shape);
      return Buffer.from(spec.inside ? `{"channel":"cases.list","request":${deep}}` : deep);
    }
    case 'long': {
      const s = JSON.stringify('x'.repeat(spec.length));
      const fields = { search: `"channel":"cases.list","request":{"search":${s}}`, channel: `"channel":${s},"request":{}`,
        jobId: `"channel":"cases.list","request":{},"jobId":${s}`, request: `"channel":"cases.list","request":${s}` };
      return Buffer.from(`{${fields[spec.field]}}`);
    }
    case 'text': return Buffer.from(spec.text);
    case 'bytes': return Buffer.from(spec.bytes);
    case 'filled': return Buffer.alloc(spec.length, spec.byte);
    case 'empty': return Buffer.alloc(0);
  }
}

function requestBytes(spec: RequestSpec, port: number, token: string): Buffer {
  const hurt = (d: Dimension) => spec.damaged.includes(d);
  const method = hurt('method') ? spec.method : spec.route.startsWith('/api/') && spec.route !== '/api/events' ? 'POST' : 'GET';
  const tokenQuery = hurt('token') && spec.token === 'query' ? `${spec.target.query ? '&' : '?'}token=${token}` : '';
  const target = (hurt('target') ? spec.target.route + spec.target.escape + spec.target.query : spec.route) + tokenQuery;
  const lines = [`${method} ${target} ${hurt('version') ? spec.version : 'HTTP/1.1'}`.trimEnd()];
  const host = hurt('host') ? spec.host : 'right';
  if (host === 'right' || host === 'twice') lines.push(`Host: 127.0.0.1:${port}`);
  if (host === 'twice' || host === 'wrong') lines.push('Host: attacker.example');
  if (!hurt('token')) lines.push(`x-lora-audit-token: ${token}`);
  else if (spec.token === 'wrong') lines.push(`x-lora-audit-token: ${token.slice(1)}x`);
  if (hurt('headers')) for (const [name, value] of spec.headers) lines.push(`${name}: ${value}`);
  const content = bodyBytes(spec.body);
  let payload = content;
  switch (hurt('framing') ? spec.framing : 'length') {
    case 'length': lines.push(`Content-Length: ${content.length}`); break;
    case 'short': lines.push(`Content-Length: ${Math.floor(content.length * spec.cut)}`); break;
    case 'long': lines.push(`Content-Length: ${content.length + 1 + Math.floor(spec.cut * 1e6)}`); break;
    case 'none': break;
    default: {
      lines.push('Transfer-Encoding: chunked');
      // at most ~256 chunks: a million one-byte chunks would measure the client's memory, not the host
      const size = Math.max(Math.ceil(content.length / 256), Math.floor(spec.cut * 70_000), 1);
      const parts: Buffer[] = [];
      for (let at = 0; at < content.length; at += size) {
        const piece = content.subarray(at, at + size);
        parts.push(Buffer.from(`${spec.framing === 'chunked-bad' && at === 0 ? 'zz' : piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
      }
      if (spec.framing !== 'chunked-cut') parts.push(Buffer.from('0\r\n\r\n'));
      payload = Buffer.concat(parts);
    }
  }
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8'), payload]);
}

interface Answer { status: number; head: string; headers: Map<string, string>; body: Buffer }

/** Writes the request, half-closes, and reads until the host closes (or, for an event stream, until its head). */
export function exchange(port: number, bytes: Buffer, isHead: boolean): Promise<{ answers: Answer[]; trailing: Buffer }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(parseAnswers(Buffer.concat(chunks), isHead));
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const { answers } = parseAnswers(Buffer.concat(chunks), isHead);
      if (answers.some((a) => a.headers.get('content-type') === 'text/event-stream')) finish();
    });
    socket.on('error', () => undefined); // a reset after the answers is judged by what was read
    socket.on('close', finish);
    socket.end(bytes);
  });
}

/** Splits what came back into whole answers (1xx interim answers skipped) and whatever is left. */
function parseAnswers(all: Buffer, firstIsHead: boolean): { answers: Answer[]; trailing: Buffer } {
  const answers: Answer[] = [];
  let at = 0;
  for (;;) {
    const end = all.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = all.subarray(at, end).toString('latin1');
    const status = /^HTTP\/1\.[01] (\d{3}) /.exec(head);
    if (!status) break;
    const headers = new Map<string, string>();
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const code = Number(status[1]);
    let next = end + 4;
    if (code >= 100 && code < 200) { at = next; continue; }
    const noBody = (firstIsHead && answers.length === 0) || code === 204 || code === 304 || headers.get('content-type') === 'text/event-stream';
    if (!noBody && headers.get('transfer-encoding') === 'chunked') {
      const chunked = dechunk(all, next);
      if (!chunked) break;
      answers.push({ status: code, head, headers, body: chunked.body });
      at = chunked.end;
      continue;
    }
    // neither length nor chunks: the body runs to the close (the exchange reads until then)
    const length = noBody ? 0 : Number(headers.get('content-length') ?? all.length - next);
    if (!Number.isInteger(length) || next + length > all.length) break;
    answers.push({ status: code, head, headers, body: all.subarray(next, next + length) });
    next += length;
    at = next;
  }
  return { answers, trailing: all.subarray(at) };
}

/** A chunked body starting at `at`: its bytes and where it ends, or null while incomplete or malformed. */
function dechunk(all: Buffer, at: number): { body: Buffer; end: number } | null {
  const parts: Buffer[] = [];
  for (;;) {
    const eol = all.indexOf('\r\n', at);
    if (eol < 0) return null;
    const size = Number.parseInt(all.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isInteger(size) || size < 0) return null;
    const start = eol + 2;
    if (start + size + 2 > all.length) return null;
    if (size === 0) return { body: Buffer.concat(parts), end: start + 2 };
    parts.push(all.subarray(start, start + size));
    at = start + size + 2;
  }
}

const isHead = (spec: RequestSpec) => spec.damaged.includes('method') && spec.method === 'HEAD';

/** What a well-behaved host answered; throws a finding (Error) or the answer's refusal (AuditError). */
function judge(spec: RequestSpec, answers: Answer[], trailing: Buffer): void {
  const what = `${spec.route} damaged in ${spec.damaged.join(', ') || 'nothing'} (${spec.body.kind} body)`;
  if (answers.length === 0) throw new Error(`no whole HTTP answer to ${what}; got ${JSON.stringify(trailing.toString('latin1').slice(0, 300))}`);
  let refusal: AuditError | null = null;
  for (const [i, a] of answers.entries()) {
    if (a.status >= 500) throw new Error(`status ${a.status} for ${what}: ${a.body.toString('utf8').slice(0, 500)}`);
    const headOnly = i === 0 && isHead(spec);
    if (headOnly || a.headers.get('content-type') === 'text/event-stream' || a.status < 400 && a.headers.get('content-type') !== 'application/json') continue;
    if (a.headers.get('content-type') !== 'application/json') throw new Error(`a ${a.status} answer that is not JSON for ${what}: ${a.head}`);
    let parsed: { ok?: unknown; error?: { code?: unknown; message?: unknown } };
    try {
      parsed = JSON.parse(a.body.toString('utf8'));
    } catch {
      throw new Error(`an answer whose JSON does not parse for ${what}: ${a.body.toString('utf8').slice(0, 300)}`);
    }
    if (typeof parsed?.ok !== 'boolean') throw new Error(`an answer without the envelope's "ok" for ${what}: ${a.body.toString('utf8').slice(0, 300)}`);
    if (a.status >= 400 || parsed.ok === false) {
      const e = parsed.error;
      if (parsed.ok !== false || typeof e?.code !== 'string' || typeof e.message !== 'string') {
        throw new Error(`a refusal out of the error shape for ${what}: ${a.body.toString('utf8').slice(0, 300)}`);
      }
      // INTERNAL is a handler's untyped crash: every malformed request is refused at dispatch, typed
      if (e.code === 'INTERNAL') throw new Error(`an untyped INTERNAL answer for ${what}: ${e.message.slice(0, 300)}`);
      refusal ??= new AuditError(e.code as ErrorCode, `${a.status}: ${e.message}`);
    }
  }
  if (refusal) throw refusal;
}

export const hostRequest: Target = {
  name: 'host request',
  weight: 2,
  async prepare(dir) {
    const rendererDir = join(dir, 'renderer');
    const stagingDir = join(dir, 'staging');
    mkdirSync(rendererDir);
    writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>LoRA Auditor</title>');
    writeFileSync(join(rendererDir, 'app.js'), 'export {};');
    writeFileSync(join(dir, 'secret.txt'), 'not for the page');
    const services = await createServices({
      host: 'headless', dataDir: join(dir, 'data'),
      renderPdf: async () => { throw new AuditError('RENDER_FAILED', 'no printing under fuzz'); },
      openFiles: async () => [], saveFile: async () => null,
    });
    const refused: Handler<Channel> = async () => { throw new AuditError('BAD_REQUEST', 'this channel is not exercised by the host target'); };
    const handlers = Object.fromEntries(Object.entries(services.handlers).map(([c, h]) => [c, LIVE.includes(c as Channel) ? h : refused])) as HandlerTable;
    const host = await startHost({ rendererDir, handlers, jobs: services.jobs, stagingDir, limits: LIMITS });
    const port = Number(new URL(host.origin).port);
    let n = 0;
    return {
      arbitrary: requestSpec,
      async run(spec: RequestSpec, time) {
        const bytes = requestBytes(spec, port, host.token);
        const { answers, trailing } = await time(bytes.length, () => exchange(port, bytes, isHead(spec)));
        // uploads nobody claims stay until the host closes; keep the disk small between inputs
        if (++n % 50 === 0) for (const e of readdirSync(stagingDir)) rmSync(join(stagingDir, e), { recursive: true, force: true });
        judge(spec, answers, trailing);
      },
      async close() {
        await host.close();
        await services.close();
      },
    };
  },
};
