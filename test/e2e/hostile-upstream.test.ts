import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, startGateway, staticService, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { rawRequest, request } from '../helpers/http.js';

// Upstreams that misbehave: each shape ends only its own request, with Envoy's answer, and the
// client's keep-alive connection stays usable for the next request.

type Script = (s: Socket, requestOnConnection: number) => void;

/** A raw upstream: each request's path names a script that writes the answer by hand. */
async function scriptedUpstream(scripts: Record<string, Script>): Promise<{ port: number; connections: () => number; requests: () => number; close(): Promise<void> }> {
  let connections = 0;
  let requests = 0;
  const sockets = new Set<Socket>();
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    let n = 0;
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let end;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const path = head.split(' ')[1] ?? '/';
        n++;
        requests++;
        (scripts[path.split('?')[0]!] ?? scripts['/ok']!)(s, n);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    requests: () => requests,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const ok = (s: Socket) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');

/** Sends requests one after another on one keep-alive connection; returns each raw answer. */
async function onOneConnection(port: number, paths: string[]): Promise<{ answers: string[]; closed: boolean }> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => undefined);
  let buf = '';
  let closed = false;
  sock.on('data', (d: Buffer) => (buf += d.toString('latin1')));
  sock.on('close', () => (closed = true));
  await new Promise((r) => sock.once('connect', r));
  const answers: string[] = [];
  for (const p of paths) {
    buf = '';
    sock.write(`GET ${p} HTTP/1.1\r\nHost: app.example.com\r\n\r\n`);
    // An answer is complete with its head when it has no body (204, 304), else when its
    // content-length worth of body has arrived.
    const end = Date.now() + 3000;
    for (;;) {
      const h = buf.indexOf('\r\n\r\n');
      const cl = /content-length: (\d+)/i.exec(buf.slice(0, h));
      if (h >= 0 && /^HTTP\/1\.1 (204|304) /.test(buf)) break;
      if (h >= 0 && cl && buf.length >= h + 4 + Number(cl[1])) break;
      if (closed || Date.now() > end) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    answers.push(buf);
    if (closed) break;
  }
  sock.destroy();
  return { answers, closed };
}

describe('an upstream that misbehaves ends only its own request', () => {
  let gw: TestGateway;
  let up: Awaited<ReturnType<typeof scriptedUpstream>>;

  beforeAll(async () => {
    up = await scriptedUpstream({
      '/ok': ok,
      '/continue': (s) => s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'),
      '/continue-twice': (s) => s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'),
      '/early-hints': (s) => s.write('HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'),
      '/processing': (s) => s.write('HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'),
      '/204-chunked': (s) => s.end('HTTP/1.1 204 No Content\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'),
      '/204-length': (s) => s.end('HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhello'),
      '/204-zero': (s) => s.write('HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nx-a: 1\r\n\r\n'),
      '/304-length': (s) => s.write('HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\netag: "x"\r\n\r\n'),
      '/304-body': (s) => s.end('HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\nhello'),
      '/garbage': (s) => s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'),
      '/close-mid-headers': (s) => s.end('HTTP/1.1 200 OK\r\ncontent-ty'),
      '/close-mid-body': (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'),
      '/huge-headers': (s) => s.end(`HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70 * 1024)}\r\ncontent-length: 2\r\n\r\nok`),
      '/bad-status': (s) => s.end('HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\nok'),
      '/nul-header': (s) => s.end('HTTP/1.1 200 OK\r\nx-a: a\0b\r\ncontent-length: 2\r\n\r\nok'),
    });
    gw = await startGateway({
      'gw.yaml': GATEWAY_ANY_HOST,
      'svc.yaml': staticService('app.svc', [up.port]),
      'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ route: [{ destination: { host: 'app.svc' } }] }]),
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  for (const p of ['/continue', '/continue-twice', '/early-hints', '/processing']) {
    it(`interim answers are swallowed (${p}): the client sees the final 200 only, and the connection goes on`, async () => {
      const { answers, closed } = await onOneConnection(gw.port(), [p, '/ok']);
      expect(answers[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(answers[0]).not.toMatch(/HTTP\/1\.1 1\d\d/);
      expect(answers[0]!.endsWith('\r\n\r\nok')).toBe(true);
      expect(answers[1]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(closed).toBe(false);
    });
  }

  it('a 304 may carry the Content-Length of what it stands for: passed on as it came', async () => {
    const { answers, closed } = await onOneConnection(gw.port(), ['/304-length', '/ok']);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 304 Not Modified\r\n/);
    expect(answers[0]).toContain('etag: "x"');
    expect(answers[1]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(closed).toBe(false);
  });

  it('a 304 followed by body bytes is passed on (as Envoy does); the bytes end only the upstream connection', async () => {
    const { answers, closed } = await onOneConnection(gw.port(), ['/304-body', '/ok']);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 304 Not Modified\r\n/);
    expect(answers[0]).not.toContain('hello');
    expect(answers[1]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(closed).toBe(false);
  });

  it('a 204 with content-length: 0 is passed on without it, as Envoy does', async () => {
    const { answers, closed } = await onOneConnection(gw.port(), ['/204-zero', '/ok']);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 204 No Content\r\n/);
    expect(answers[0]).toContain('x-a: 1');
    expect(answers[0].toLowerCase()).not.toContain('content-length: 0');
    expect(answers[1]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(closed).toBe(false);
  });

  const failures: [string, number, string][] = [
    ['/204-chunked', 503, 'protocol error'],
    ['/204-length', 503, 'protocol error'],
    ['/garbage', 503, 'protocol error'],
    ['/close-mid-headers', 503, 'connection termination'],
    ['/huge-headers', 503, 'protocol error'],
    ['/bad-status', 503, 'protocol error'],
    ['/nul-header', 503, 'protocol error'],
  ];
  for (const [p, status, reason] of failures) {
    it(`${p}: ${status} with Envoy's reason (${reason}), and the client connection serves the next request`, async () => {
      const { answers, closed } = await onOneConnection(gw.port(), [p, '/ok']);
      expect(answers[0]).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(answers[0]).toContain(`reset reason: ${reason}`);
      expect(answers[1]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(closed).toBe(false);
    });
  }

  it('/close-mid-body: the answer had started, so the client connection is closed (the body cannot be completed), and the gateway goes on', async () => {
    const out = await rawRequest(gw.port(), 'GET /close-mid-body HTTP/1.1\r\nHost: app.example.com\r\n\r\n');
    expect(out).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(out.endsWith('abc')).toBe(true);
    const { answers } = await onOneConnection(gw.port(), ['/ok']);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});

describe('a pooled connection the upstream closed under a request (istio/istio#55138)', () => {
  let gw: TestGateway;
  let up: Awaited<ReturnType<typeof scriptedUpstream>>;
  let hinted: http.Server;
  let hintedConnections = 0;

  beforeAll(async () => {
    up = await scriptedUpstream({
      '/ok': ok,
      // The first request on a connection is answered; the next one meets the close.
      '/stale-fin': (s, n) => (n === 1 ? ok(s) : s.end()),
      '/stale-rst': (s, n) => (n === 1 ? ok(s) : s.resetAndDestroy()),
      '/reset': (s) => s.resetAndDestroy(),
    });
    // Node answers with `Keep-Alive: timeout=1` and closes idle connections after 1 s.
    hinted = http.createServer((_req, res) => res.end('ok'));
    hinted.keepAliveTimeout = 1000;
    hinted.on('connection', () => hintedConnections++);
    await new Promise<void>((r) => hinted.listen(0, '127.0.0.1', r));
    gw = await startGateway({
      'gw.yaml': GATEWAY_ANY_HOST,
      'svc.yaml': [staticService('app.svc', [up.port]), staticService('hinted.svc', [(hinted.address() as AddressInfo).port])].join('---\n'),
      'vs.yaml': [
        virtualServiceYaml('app', ['app.example.com'], [{ route: [{ destination: { host: 'app.svc' } }] }]),
        virtualServiceYaml('hinted', ['hinted.example.com'], [{ route: [{ destination: { host: 'hinted.svc' } }] }]),
      ].join('\n---\n'),
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
    await new Promise((r) => hinted?.close(r));
  });

  const send = (path: string, method = 'GET', body?: string) => request({ port: gw.port(), path, method, body, headers: { host: 'app.example.com', ...(body !== undefined ? { 'content-length': String(body.length) } : {}) } });

  for (const how of ['fin', 'rst']) {
    it(`closed (${how.toUpperCase()}) before any answer byte: tried once more on a fresh connection, and the client gets the answer`, async () => {
      const before = up.connections();
      expect((await send(`/stale-${how}`)).status).toBe(200);
      expect((await send(`/stale-${how}`)).status).toBe(200);
      // The stale connection, then the fresh one the second request was tried again on.
      expect(up.connections() - before).toBe(2);
    });
  }

  it('a fresh connection reset is not tried again: 503 UC, the upstream saw the request once', async () => {
    await gw.gateway.reload(); // a new pool: the request goes out on a new connection
    const before = up.requests();
    const a = await send('/reset');
    expect(a.status).toBe(503);
    expect(a.body).toContain('reset reason: connection termination');
    expect(up.requests() - before).toBe(1);
  });

  it('a request whose body went out is not tried again: 503, the upstream saw it once', async () => {
    expect((await send('/stale-fin')).status).toBe(200);
    const before = up.requests();
    const a = await send('/stale-fin', 'POST', 'abc');
    expect(a.status).toBe(503);
    expect(up.requests() - before).toBe(1);
  });

  it("idle connections are kept under the upstream's Keep-Alive: timeout hint (timeout=1: none is reused a second later)", async () => {
    for (let i = 0; i < 3; i++) {
      expect((await request({ port: gw.port(), headers: { host: 'hinted.example.com' } })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(hintedConnections).toBe(3);
  });
});
