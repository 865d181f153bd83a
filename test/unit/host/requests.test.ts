// Hostile requests to the headless host get a 4xx in the one error shape, never a 500 or a reset:
// bad JSON, a null body, wrong field types, damaged percent-escapes, bodies over the limit (sent by
// real HTTP clients that write the whole body before reading), and messages Node's parser refuses.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoke, send, SMALL_LIMITS, startFixture, type HostFixture } from './fixture.ts';

let f: HostFixture;
beforeAll(async () => { f = await startFixture(); });
afterAll(async () => { await f.close(); });

const badRequest = (message: RegExp) => ({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringMatching(message) } });

describe('invoke bodies', () => {
  it('refuses malformed JSON with 400, not 500', async () => {
    const r = await invoke(f, '{"channel": "cases.list", ');
    expect(r.status).toBe(400);
    expect(r.body).toEqual(badRequest(/not JSON/));
  });

  it('refuses a null, array or scalar body with 400', async () => {
    for (const body of ['null', '[]', '42', '"cases.list"']) {
      const r = await invoke(f, body);
      expect([body, r.status]).toEqual([body, 400]);
      expect(r.body).toEqual(badRequest(/must be a JSON object/));
    }
  });

  it('refuses wrong types for channel and jobId with 400, and bad UTF-8', async () => {
    expect(await invoke(f, '{"channel": 7, "request": {}}')).toMatchObject({ status: 400, body: badRequest(/"channel" must be a string/) });
    expect(await invoke(f, '{"channel": "cases.list", "request": {}, "jobId": {"a": 1}}')).toMatchObject({ status: 400, body: badRequest(/"jobId" must be a string/) });
    expect(await invoke(f, JSON.stringify({ channel: 'cases.list', request: {}, jobId: 'j'.repeat(201) }))).toMatchObject({ status: 400, body: badRequest(/at most 200 characters/) });
    expect(await invoke(f, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))).toMatchObject({ status: 400, body: badRequest(/not UTF-8/) });
    // a request that is not an object is the contract's refusal (dispatch), in the same shape
    expect(await invoke(f, '{"channel": "cases.list", "request": [1]}')).toMatchObject({ status: 200, body: badRequest(/must be an object/) });
  });

  it('answers a body over the limit with 413 to a client that writes it all before reading', async () => {
    const body = Buffer.alloc(4 * 1024 * 1024, 0x20); // 64× the limit
    const r = await invoke(f, body);
    expect(r.status).toBe(413);
    expect(r.body).toEqual({ ok: false, error: { code: 'LIMIT_EXCEEDED', message: `the request body is over the host's limit of ${SMALL_LIMITS.jsonBody} bytes` } });
    // the same from fetch, with the length unknown up front (chunked), and the connection still serves
    const streamed = await fetch(`${f.host.origin}/api/invoke`, {
      method: 'POST', headers: { 'x-lora-audit-token': f.host.token }, duplex: 'half',
      body: new ReadableStream({ start(c) { for (let i = 0; i < 64; i++) c.enqueue(new Uint8Array(64 * 1024)); c.close(); } }),
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toMatchObject({ ok: false, error: { code: 'LIMIT_EXCEEDED' } });
    expect((await invoke(f, '{"channel": "cases.list", "request": {}}')).body).toEqual({ ok: true, value: [] });
  });
});

describe('request targets', () => {
  it('refuses bad percent-escapes in the path and the query with 400', async () => {
    for (const path of ['/api/invoke%', '/%E0%A4%A', '/api/upload?name=%zz', '/index.html?x=%E0%A4']) {
      const r = await send(f, 'POST', path, '{}');
      expect([path, r.status]).toEqual([path, 400]);
      expect(r.body).toEqual(badRequest(/bad percent-escape/));
    }
    expect((await send(f, 'GET', '/%E0%A4%A')).status).toBe(400);
  });

  it('refuses targets that are not a path with 400', async () => {
    expect(await rawStatus('GET * HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n\r\n')).toMatchObject({ status: 400, body: badRequest(/must be a path/) });
    expect(await rawStatus('GET http://127.0.0.1:PORT/ HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n\r\n')).toMatchObject({ status: 400 });
  });
});

describe('HTTP messages Node refuses', () => {
  it('answers them in the error shape: a bad request line, a header too large, a missing Host', async () => {
    expect(await rawStatus('FOO / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n\r\n')).toMatchObject({ status: 400, body: badRequest(/malformed HTTP request \(HPE_INVALID_METHOD\)/) });
    expect(await rawStatus(`GET / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)).toMatchObject({ status: 431, body: badRequest(/HPE_HEADER_OVERFLOW/) });
    expect(await rawStatus('GET / HTTP/1.1\r\n\r\n')).toMatchObject({ status: 421, body: { ok: false, error: { code: 'UNAUTHORIZED', message: 'wrong host' } } });
    expect(await rawStatus('CONNECT 127.0.0.1:PORT HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n\r\n')).toMatchObject({ status: 405, body: badRequest(/method not allowed/) });
  });

  it('answers a client that half-closes right after a whole request', async () => {
    const r = await rawStatus('POST /api/invoke HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nx-lora-audit-token: TOKEN\r\nContent-Length: 40\r\n\r\n{"channel": "cases.list", "request": {}}', true);
    expect(r).toEqual({ status: 200, body: { ok: true, value: [] } });
  });

  it('answers a body cut short by the client closing its side with 400', async () => {
    const r = await rawStatus('POST /api/invoke HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nx-lora-audit-token: TOKEN\r\nContent-Length: 100\r\n\r\n{"chan', true);
    expect(r).toMatchObject({ status: 400, body: badRequest(/HPE_INVALID_EOF_STATE/) });
  });
});

/** Sends raw bytes and reads until the server closes (every answer here closes the connection). */
function rawStatus(text: string, halfClose = false): Promise<{ status: number; body: unknown }> {
  const bytes = text.replaceAll('PORT', String(f.port)).replaceAll('TOKEN', f.host.token);
  return new Promise((resolve, reject) => {
    const socket = connect(f.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => {
      chunks.push(c);
      const all = Buffer.concat(chunks).toString('latin1');
      const head = all.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(all.slice(0, head))?.[1];
      if (head >= 0 && length !== undefined && all.length >= head + 4 + Number(length)) {
        socket.destroy();
        resolve({ status: Number(all.slice(9, 12)), body: JSON.parse(all.slice(head + 4, head + 4 + Number(length))) });
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed without a whole answer: ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`)));
    socket.write(bytes);
    if (halfClose) socket.end();
  });
}
