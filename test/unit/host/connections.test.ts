// Connections a hostile or careless client leaves behind end: a CONNECT with a body, an event stream
// whose page went away, and an answer already under way when the request turns out malformed is
// still delivered whole.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, openConnections, startFixture, type HostFixture } from './fixture.ts';

let f: HostFixture;
beforeAll(async () => { f = await startFixture(); });
afterAll(async () => { await f.close(); });

/** Writes raw bytes, half-closes, and collects what comes back until `done(text)` or the server closes. */
function exchange(text: string, done: (got: string) => boolean = () => false): Promise<string> {
  const bytes = text.replaceAll('PORT', String(f.port)).replaceAll('TOKEN', f.host.token);
  return new Promise((resolve) => {
    const socket = connect(f.port, '127.0.0.1');
    let got = '';
    socket.on('data', (c) => {
      got += c.toString('latin1');
      if (done(got)) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(got));
    socket.end(bytes);
  });
}

describe('connections end', () => {
  it('after refusing a CONNECT that carries a body', async () => {
    const got = await exchange(`CONNECT 127.0.0.1:PORT HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(100_000)}`);
    expect(got).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n[^]*"code":"BAD_REQUEST","message":"method not allowed"/);
    await eventually(async () => (await openConnections(f)) === 0, 'the CONNECT socket closed');
  });

  it('when the page of an event stream goes away', async () => {
    const got = await exchange('GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nx-lora-audit-token: TOKEN\r\n\r\n', (t) => t.includes(': connected'));
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\ncontent-type: text\/event-stream/);
    await eventually(async () => (await openConnections(f)) === 0, 'the event stream closed');
  });
});

describe('an answer under way when the request turns out malformed', () => {
  it('is delivered whole (a GET whose announced body is cut short by the client closing)', async () => {
    const got = await exchange('GET / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nContent-Length: 50\r\n\r\nshort');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(got.endsWith('<!doctype html><title>LoRA Auditor</title>')).toBe(true);
  });
});
