import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, startGateway, staticService, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// An invalid Host (or absolute-form authority) is refused with 400 and the connection closed,
// before any routing: a URL parser behind the gateway could read `h.example:80@evil.example` as
// evil.example while the gateway routed it as h.example.

/** Sends one request and waits for the server to close the connection (bounded at 5 s); what it wrote, and whether it closed. */
function exchange(port: number, text: string): Promise<{ answer: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let answer = '';
    s.setEncoding('latin1');
    s.on('data', (d) => (answer += d));
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ answer, closed: false });
    }, 5000);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, closed: true });
    });
    s.on('error', () => undefined);
  });
}

describe('invalid Host and authority', () => {
  let up: Upstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startUpstream({ name: 'app' });
    gw = await startGateway({ 'gw.yaml': GATEWAY_ANY_HOST, 'svc.yaml': staticService('svc.test', [up.port]), 'vs.yaml': virtualServiceYaml('app', ['*'], [{ route: [{ destination: { host: 'svc.test' } }] }]) });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  const HOSTILE = ['h.example:80@evil.example', 'evil@h.example', 'h.example/../x', 'h.example other.example', 'h.example:80:81', 'h.example:evil', ''];

  it.each(HOSTILE)('Host %j: 400, connection closed, nothing forwarded', async (host) => {
    const before = up.seen.length;
    // A second request pipelined behind it must not be served either: the connection is gone.
    const r = await exchange(gw.port(80), `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /second HTTP/1.1\r\nHost: h.example\r\n\r\n`);
    expect(r.answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(r.answer.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(r.answer.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(r.closed).toBe(true);
    expect(up.seen.length).toBe(before);
  });

  it('an absolute-form target with userinfo or a bad port is refused the same way', async () => {
    for (const target of ['http://evil@h.example/', 'http://h.example:evil/']) {
      const r = await exchange(gw.port(80), `GET ${target} HTTP/1.1\r\nHost: h.example\r\n\r\n`);
      expect(r.answer, target).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(r.closed, target).toBe(true);
    }
  });

  it('a missing Host: 400 and the connection closed', async () => {
    const r = await exchange(gw.port(80), 'GET / HTTP/1.1\r\n\r\n');
    expect(r.answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(r.closed).toBe(true);
  });

  it('valid forms still route: a name with a port, an IPv4 and a bracketed IPv6 literal, a trailing dot', async () => {
    for (const host of ['h.example:8080', '10.0.0.1', '[::1]:80', 'h.example.', 'under_score.example']) {
      const r = await exchange(gw.port(80), `GET /ok HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(r.answer, host).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    }
  });
});

describe('header count', () => {
  let up: Upstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startUpstream({ name: 'app' });
    gw = await startGateway({ 'gw.yaml': GATEWAY_ANY_HOST, 'svc.yaml': staticService('svc.test', [up.port]), 'vs.yaml': virtualServiceYaml('app', ['*'], [{ route: [{ destination: { host: 'svc.test' } }] }]) });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  const fields = (n: number) => Array.from({ length: n }, (_, i) => `x-f${i}: v\r\n`).join('');

  it("more header fields than Envoy's max_headers_count (100): 431, connection closed, nothing forwarded", async () => {
    const before = up.seen.length;
    // 101 fields with Host; a Content-Length at the end that node:http would otherwise have dropped.
    const r = await exchange(gw.port(80), `POST / HTTP/1.1\r\nHost: h.example\r\n${fields(99)}content-length: 5\r\n\r\nhello`);
    expect(r.answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(r.closed).toBe(true);
    expect(up.seen.length).toBe(before);
  });

  it('exactly 100 fields are served', async () => {
    const r = await exchange(gw.port(80), `GET / HTTP/1.1\r\nHost: h.example\r\nConnection: close\r\n${fields(98)}\r\n`);
    expect(r.answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});
