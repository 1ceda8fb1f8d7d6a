import { rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, staticService, type TestGateway, GATEWAY_ANY_HOST, writeConfigDir } from '../helpers/gateway.js';
import { echo, rawRequest, request, type Answer } from '../helpers/http.js';
import { runCli } from '../helpers/process.js';
import { startUpstream, type Upstream, deadPort } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

// The answers a client gets when something goes wrong, through real sockets, each as an Istio
// gateway (Envoy) gives it: status, body, `server: istio-envoy`, `content-type: text/plain` for
// non-empty local replies, and nothing smuggled past the gateway.

const CONNECT_FAILURE = 'upstream connect error or disconnect/reset before headers. reset reason: connection failure';
const CONNECTION_TERMINATION = 'upstream connect error or disconnect/reset before headers. reset reason: connection termination';

/** A VirtualService bound to the test Gateway, one route to `dest` (port 80), with extra route fields. */
function vs(name: string, host: string, dest: string, extra = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  gateways: [edge]
  http:
  - route:
    - destination: {host: ${dest}, port: {number: 80}}
${extra}`;
}

/** An upstream that records, per request, whether the gateway closed its side before it answered. */
interface Watched {
  url: string;
  bytes: number;
  complete: boolean;
  closed: boolean;
}

async function startWatchedUpstream(): Promise<{ up: Upstream; requests: Watched[] }> {
  const requests: Watched[] = [];
  const up = await startUpstream({
    name: 'watched',
    handler: (req, res) => {
      const w: Watched = { url: req.url ?? '', bytes: 0, complete: false, closed: false };
      requests.push(w);
      req.on('data', (c: Buffer) => (w.bytes += c.length));
      req.on('end', () => (w.complete = true));
      // Never answers: only the gateway (client gone, timeout) can end this exchange.
      res.on('close', () => (w.closed = true));
    },
  });
  return { up, requests };
}


interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses the first response of a raw exchange (null when the server wrote nothing). */
function parseRaw(text: string): RawAnswer | null {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) return null;
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers, body: text.slice(end + 4) };
}

function expectLocalReply(a: Answer, status: number, body: string): void {
  expect(a.status).toBe(status);
  expect(a.body).toBe(body);
  expect(a.headers.server).toBe('istio-envoy');
  if (body === '') {
    expect(a.headers['content-length']).toBe('0');
    expect(a.headers['content-type']).toBeUndefined();
  } else {
    expect(a.headers['content-type']).toBe('text/plain');
    expect(a.headers['content-length']).toBe(String(Buffer.byteLength(body)));
  }
}

describe('error answers, as an Istio gateway gives them', () => {
  let gw: TestGateway;
  let main: Upstream;
  let watched: { up: Upstream; requests: Watched[] };
  let bigHeaders: http.Server;
  let bigHeadersSeen: number[];
  let refusedPort: number;

  beforeAll(async () => {
    main = await startUpstream({ name: 'main' });
    watched = await startWatchedUpstream();
    refusedPort = await deadPort();
    // An upstream that, unlike Node's default, accepts large request headers, to see what the
    // gateway itself lets through.
    bigHeadersSeen = [];
    bigHeaders = http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
      bigHeadersSeen.push(String(req.headers['x-big'] ?? '').length);
      req.resume();
      req.on('end', () => res.end('big ok'));
    });
    await new Promise<void>((resolve) => bigHeaders.listen(0, '127.0.0.1', resolve));
    const bigPort = (bigHeaders.address() as AddressInfo).port;

    gw = await startGateway({
      'gateway.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.test"]
`,
      'services.yaml': [
        staticService('main.test', [main.port]),
        staticService('watched.test', [watched.up.port]),
        staticService('refused.test', [refusedPort]),
        staticService('big.test', [bigPort]),
        // A STATIC ServiceEntry that declares no endpoint at all.
        `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: nowhere, namespace: default}
spec:
  hosts: [nowhere.test]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
`,
        // A Kubernetes Service whose pods exist but none is ready.
        `apiVersion: v1
kind: Service
metadata: {name: unready, namespace: default}
spec:
  selector: {app: unready}
  ports: [{name: http, port: 80, targetPort: 8080}]
`,
        `apiVersion: v1
kind: Endpoints
metadata: {name: unready, namespace: default}
subsets:
- notReadyAddresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: ${main.port}}]
`,
        // A Kubernetes Service scaled to zero: an EndpointSlice without endpoints.
        `apiVersion: v1
kind: Service
metadata: {name: scaled-down, namespace: default}
spec:
  selector: {app: scaled-down}
  ports: [{name: http, port: 80}]
`,
        `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: scaled-down-abcde
  namespace: default
  labels: {kubernetes.io/service-name: scaled-down}
addressType: IPv4
endpoints: []
ports: [{name: http, port: ${main.port}}]
`,
      ].join('---\n'),
      'routes.yaml': [
        vs('main', 'main.test', 'main.test'),
        vs('picky', 'picky.test', 'main.test').replace('  - route:', '  - match: [{uri: {prefix: /only}}]\n    route:'),
        vs('watched', 'watched.test', 'watched.test'),
        vs('watched-short', 'watched-short.test', 'watched.test', '    timeout: 0.3s\n'),
        vs('refused', 'refused.test', 'refused.test'),
        vs('big', 'big.test', 'big.test'),
        vs('nowhere', 'nowhere.test', 'nowhere.test'),
        vs('unready', 'unready.test', 'unready.default.svc.cluster.local'),
        vs('scaled-down', 'scaled-down.test', 'scaled-down'),
        vs('short', 'short.test', 'main.test', '    timeout: 0.3s\n'),
        vs('unlimited', 'unlimited.test', 'main.test', '    timeout: 1h\n'),
      ].join('---\n'),
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await main?.close();
    await watched?.up.close();
    await new Promise<void>((resolve) => {
      if (!bigHeaders) return resolve();
      bigHeaders.close(() => resolve());
      bigHeaders.closeAllConnections();
    });
  });

  describe('nothing matches: 404 with an empty body', () => {
    it('when no Gateway server lists the host', async () => {
      expectLocalReply(await gw.get('www.example.com', '/'), 404, '');
    });

    it('when a server lists the host but no VirtualService is bound to it', async () => {
      expectLocalReply(await gw.get('unbound.test', '/'), 404, '');
    });

    it('when the VirtualService has no route for the path', async () => {
      const seen = main.seen.length;
      expectLocalReply(await gw.get('picky.test', '/elsewhere'), 404, '');
      expect(main.seen.length).toBe(seen);
      // The same host does route what its VirtualService matches.
      expect((await gw.get('picky.test', '/only/this')).status).toBe(200);
    });
  });

  describe('no endpoint: 503 no healthy upstream', () => {
    it('for a STATIC ServiceEntry without endpoints', async () => {
      expectLocalReply(await gw.get('nowhere.test', '/'), 503, 'no healthy upstream');
    });

    it('for a Service whose Endpoints list only not-ready addresses', async () => {
      const seen = main.seen.length;
      expectLocalReply(await gw.get('unready.test', '/'), 503, 'no healthy upstream');
      expect(main.seen.length).toBe(seen);
    });

    it('for a Service whose EndpointSlice has no endpoints', async () => {
      expectLocalReply(await gw.get('scaled-down.test', '/'), 503, 'no healthy upstream');
    });
  });

  describe('upstream failures before headers: 503 upstream connect error', () => {
    it('connection refused: reset reason connection failure', async () => {
      const a = await gw.get('refused.test', '/');
      expect(a.status).toBe(503);
      expect(a.body.startsWith(CONNECT_FAILURE)).toBe(true);
      // Envoy appends the transport failure on Linux: ", transport failure reason: delayed connect error: 111".
      expect(a.body).toMatch(/^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure(, transport failure reason: delayed connect error: 111)?$/);
      expect(a.headers.server).toBe('istio-envoy');
      expect(a.headers['content-type']).toBe('text/plain');
      expect(a.headers['content-length']).toBe(String(Buffer.byteLength(a.body)));
    });

    it('upstream resets the connection before answering: reset reason connection termination, no retry', async () => {
      // A request just before leaves a kept-alive connection in the pool for /reset to go out on.
      expect((await gw.get('main.test', '/warm')).status).toBe(200);
      const before = main.seen.filter((s) => s.url === '/reset').length;
      expectLocalReply(await gw.get('main.test', '/reset'), 503, CONNECTION_TERMINATION);
      // Retries are off unless the route sets `retries`. A reset on a kept-alive connection before
      // any answer byte is taken for the upstream closing it while idle (istio/istio#55138) and
      // tried once more on a fresh connection; that one resets too, and is not tried again.
      expect(main.seen.filter((s) => s.url === '/reset').length).toBe(before + 2);
      // And the pool recovers: the next request is served.
      expect((await gw.get('main.test', '/after-reset')).status).toBe(200);
    });
  });

  describe('route timeout', () => {
    it('timeout: 0.3s with an upstream taking 2 s: 504 upstream request timeout, sent at the timeout', async () => {
      const t0 = Date.now();
      const a = await gw.get('short.test', '/delay/2000');
      const elapsed = Date.now() - t0;
      expectLocalReply(a, 504, 'upstream request timeout');
      // A behaviour, not a speed: the answer comes from the timer, not from the upstream.
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(1900);
    });

    it('on timeout the upstream request is reset, as Envoy does', async () => {
      const n = watched.requests.length;
      const a = await gw.get('watched-short.test', '/hang');
      expectLocalReply(a, 504, 'upstream request timeout');
      const w = watched.requests[n];
      expect(w?.url).toBe('/hang');
      expect(await waitFor(() => w!.closed, 2000)).toBe(true);
    });

    it('timeout: 0s is refused, as Istio refuses it (a duration must be at least 1ms); a long timeout lets a slow answer through', async () => {
      const dir = await writeConfigDir({ 'vs.yaml': vs('zero', 'zero.test', 'main.test', '    timeout: 0s\n') });
      try {
        const r = await runCli(['validate', '-c', dir]);
        expect(r.code).toBe(1);
        expect(r.stdout).toContain('spec.http[0].timeout: must be a valid duration greater than 1ms');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const a = await gw.get('unlimited.test', '/delay/500');
      expect(a.status).toBe(200);
      expect(echo(a).name).toBe('main');
      expect(echo(a).url).toBe('/delay/500');
    });

    it('the default 15 s, 0.3s and 1h show in `meshgate routes` and the admin /routes', async () => {
      const row = (text: string, host: string) => text.split('\n').find((l) => l.split(/\s+/)[1] === host) ?? '';
      const cli = await runCli(['routes', '-c', gw.dir]);
      expect(cli.code).toBe(0);
      const admin = await request({ port: gw.gateway.adminAddress!.port, path: '/routes' });
      expect(admin.status).toBe(200);
      for (const text of [cli.stdout, admin.body]) {
        expect(text.split('\n')[0]).toMatch(/\bTIMEOUT\b/);
        expect(row(text, 'main.test')).toMatch(/\s15s\s/);
        expect(row(text, 'short.test')).toMatch(/\s0\.3s\s/);
        expect(row(text, 'unlimited.test')).toMatch(/\s3600s\s/);
      }
    });
  });

  describe('upstream answers pass through', () => {
    for (const code of [500, 404, 503, 429]) {
      it(`upstream ${code} reaches the client unchanged, with x-envoy-upstream-service-time`, async () => {
        const before = main.seen.length;
        const a = await gw.get('main.test', `/status/${code}`);
        expect(a.status).toBe(code);
        // The upstream's own body and content type, not a local reply.
        expect(a.headers['content-type']).toBe('application/json');
        expect(echo(a).name).toBe('main');
        expect(echo(a).url).toBe(`/status/${code}`);
        expect(a.headers['x-upstream']).toBe('main');
        expect(a.headers.server).toBe('istio-envoy');
        expect(a.headers['x-envoy-upstream-service-time']).toMatch(/^\d+$/);
        // No retry on an error status without `retries`.
        expect(main.seen.length).toBe(before + 1);
      });
    }
  });

  describe('the client going away cancels the upstream request', () => {
    it('while waiting for the answer', async () => {
      const n = watched.requests.length;
      const sock = net.connect(gw.port(), '127.0.0.1');
      sock.on('error', () => undefined);
      sock.write('GET /hang HTTP/1.1\r\nhost: watched.test\r\n\r\n');
      expect(await waitFor(() => watched.requests.length > n, 3000)).toBe(true);
      const w = watched.requests[n]!;
      expect(w.closed).toBe(false);
      sock.destroy();
      expect(await waitFor(() => w.closed, 3000)).toBe(true);
    });

    it('in the middle of an upload', async () => {
      const n = watched.requests.length;
      const sock = net.connect(gw.port(), '127.0.0.1');
      sock.on('error', () => undefined);
      sock.write(`POST /upload HTTP/1.1\r\nhost: watched.test\r\ncontent-length: ${10 * 1024 * 1024}\r\n\r\n`);
      sock.write(Buffer.alloc(256 * 1024, 0x75));
      expect(await waitFor(() => watched.requests.length > n && watched.requests[n]!.bytes > 0, 3000)).toBe(true);
      const w = watched.requests[n]!;
      sock.destroy();
      expect(await waitFor(() => w.closed, 3000)).toBe(true);
      expect(w.complete).toBe(false);
      expect(w.bytes).toBeLessThanOrEqual(256 * 1024);
    });

    it('and the gateway keeps serving', async () => {
      expect((await gw.get('main.test', '/still-here')).status).toBe(200);
    });
  });

  describe('malformed requests: a 4xx, no crash, no hang, nothing smuggled', () => {
    const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nhost: main.test\r\n\r\n';
    const cases: { name: string; data: string; status: number[] }[] = [
      { name: 'garbage request line', data: 'HELLO THERE\r\n\r\n', status: [400] },
      { name: 'request line without a version, then more bytes', data: 'GET / FOO/1.1\r\nhost: main.test\r\n\r\n', status: [400] },
      { name: 'invalid header name (space)', data: 'GET / HTTP/1.1\r\nhost: main.test\r\nbad header: x\r\n\r\n', status: [400] },
      { name: 'space before the colon of Transfer-Encoding', data: `POST / HTTP/1.1\r\nhost: main.test\r\ntransfer-encoding : chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n${SMUGGLED}`, status: [400] },
      { name: 'control character in a header value', data: 'GET / HTTP/1.1\r\nhost: main.test\r\nx-a: a\x01b\r\n\r\n', status: [400] },
      { name: 'Content-Length together with Transfer-Encoding: chunked (CL.TE)', data: `POST / HTTP/1.1\r\nhost: main.test\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, status: [400] },
      { name: 'Transfer-Encoding: chunked then Content-Length (TE.CL)', data: `POST / HTTP/1.1\r\nhost: main.test\r\ntransfer-encoding: chunked\r\ncontent-length: ${SMUGGLED.length + 5}\r\n\r\n0\r\n\r\n${SMUGGLED}`, status: [400] },
      { name: 'two different Content-Length headers', data: `POST / HTTP/1.1\r\nhost: main.test\r\ncontent-length: 0\r\ncontent-length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, status: [400] },
      { name: 'one Content-Length with two different values', data: `POST / HTTP/1.1\r\nhost: main.test\r\ncontent-length: 0, ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, status: [400] },
      // Envoy refuses a transfer coding it does not implement: 400 from its parser or 501 from its codec.
      { name: 'Transfer-Encoding: chunked, identity', data: `POST / HTTP/1.1\r\nhost: main.test\r\ntransfer-encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`, status: [400, 501] },
      { name: 'Transfer-Encoding: gzip (chunked not final)', data: `POST / HTTP/1.1\r\nhost: main.test\r\ntransfer-encoding: gzip\r\n\r\n${SMUGGLED}`, status: [400, 501] },
      { name: 'two Transfer-Encoding headers, chunked not last', data: `POST / HTTP/1.1\r\nhost: main.test\r\ntransfer-encoding: chunked\r\ntransfer-encoding: identity\r\n\r\n0\r\n\r\n${SMUGGLED}`, status: [400, 501] },
      { name: 'invalid chunk size', data: `POST / HTTP/1.1\r\nhost: main.test\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n${SMUGGLED}`, status: [400] },
      { name: 'obs-fold header line', data: 'GET /folded HTTP/1.1\r\nhost: main.test\r\nx-folded: a\r\n b\r\n\r\n', status: [400] },
      { name: 'obs-fold hiding chunked in Transfer-Encoding', data: `POST / HTTP/1.1\r\nhost: main.test\r\ntransfer-encoding: identity\r\n chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, status: [400, 501] },
      { name: 'bare LF line endings', data: 'GET /bare-lf HTTP/1.1\nhost: main.test\n\n', status: [400] },
      { name: 'a bare LF between headers', data: `GET /bare-lf HTTP/1.1\r\nhost: main.test\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, status: [400] },
      { name: 'HTTP/1.1 without Host', data: 'GET / HTTP/1.1\r\n\r\n', status: [400] },
      { name: 'oversized headers (100 KiB, over Envoy\'s 60 KiB)', data: `GET / HTTP/1.1\r\nhost: main.test\r\nx-big: ${'a'.repeat(100 * 1024)}\r\n\r\n`, status: [431] },
    ];

    for (const c of cases) {
      it(`${c.name} → ${c.status.join(' or ')}, then normal service`, async () => {
        const before = main.seen.length;
        const text = await rawRequest(gw.port(), c.data);
        const a = parseRaw(text);
        expect(a, `answer to ${JSON.stringify(c.data.slice(0, 80))}: ${JSON.stringify(text.slice(0, 200))}`).not.toBeNull();
        expect(c.status).toContain(a!.status);
        expect(a!.headers.server).toBe('istio-envoy');
        // One answer and the connection is closed: nothing after it is read as a second request.
        expect(text.match(/HTTP\/1\.1 \d{3}/g)?.length).toBe(1);
        expect(main.seen.length).toBe(before);
        expect(main.seen.some((s) => s.url === '/smuggled')).toBe(false);
        const ok = await gw.get('main.test', '/after');
        expect(ok.status).toBe(200);
        expect(echo(ok).url).toBe('/after');
      });
    }

    it('the bodies of refused requests never reached the upstream as requests', () => {
      expect(main.seen.map((s) => s.url)).not.toContain('/smuggled');
      expect(main.seen.map((s) => s.url)).not.toContain('/folded');
      expect(main.seen.map((s) => s.url)).not.toContain('/bare-lf');
    });

    it('request headers within Envoy\'s default 60 KiB limit are forwarded', async () => {
      const before = bigHeadersSeen.length;
      const a = await request({ port: gw.port(), headers: { host: 'big.test', 'x-big': 'b'.repeat(40 * 1024) } });
      expect(a.status).toBe(200);
      expect(a.body).toBe('big ok');
      expect(bigHeadersSeen.slice(before)).toEqual([40 * 1024]);
    });
  });
});

describe('HTTP/1.0, as Istio gateways answer it', () => {
  it('is refused with 426 Upgrade Required (Envoy accept_http_10 is off in Istio), and the upstream sees nothing', async () => {
    const up = await startUpstream({ name: 'http10' });
    const gw = await startGateway({
      'all.yaml': `${GATEWAY_ANY_HOST}---
${staticService('http10.test', [up.port])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: http10, namespace: default}
spec:
  hosts: ["*"]
  gateways: [gw]
  http: [{route: [{destination: {host: http10.test}}]}]
`,
    });
    try {
      const text = await rawRequest(gw.port(), 'GET / HTTP/1.0\r\nHost: a.example.com\r\n\r\n');
      expect(text).toMatch(/^HTTP\/1\.1 426 Upgrade Required\r\n/);
      expect(text.toLowerCase()).toContain('server: istio-envoy');
      expect(up.seen).toHaveLength(0);
      expect((await gw.get('a.example.com', '/')).status).toBe(200);
    } finally {
      await gw.stop();
      await up.close();
    }
  });
});
