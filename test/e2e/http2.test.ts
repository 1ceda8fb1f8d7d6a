import { createHash, randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H2_MAX_CONCURRENT_STREAMS, MAX_REQUEST_HEADER_BYTES, PREMATURE_RESET_WINDOW } from '../../src/http/limits.js';
import type { StreamRecord } from '../../src/http/stream-record.js';
import { GATEWAY_ANY_HOST, startGateway, staticService, type TestGateway } from '../helpers/gateway.js';
import { h2connect, h2ready, h2request, startEchoUpstream, echoOf, type EchoUpstream, type H2Answer, type H2RequestOptions } from '../helpers/h2.js';
import { request } from '../helpers/http.js';
import { startUpstream, type Upstream, deadPort } from '../helpers/upstream.js';

// HTTP/2 end to end, through real sockets: every Gateway port (and the mesh listener) takes
// HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on the same port, as Envoy's codec AUTO does,
// and an HTTP/2 request gets exactly what the same HTTP/1.1 request gets: routing, the
// gateway's own answers, headers both ways, bodies, the stream record's flags. Upstream
// clusters speak h2c when the service port says GRPC or HTTP2 (or a DestinationRule asks for
// h2UpgradePolicy UPGRADE), HTTP/1.1 otherwise. Last, the HTTP/2 limits of src/http/limits.ts.

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM } = http2.constants;

const CONNECT_FAILURE = /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure(, transport failure reason: delayed connect error: 111)?$/;

/** A ServiceEntry with STATIC endpoints on 127.0.0.1 and one port of the given protocol (none: no endpoints). */
function serviceEntry(host: string, protocol: string, ports: number[]): string {
  const eps = ports.map((p) => `  - address: 127.0.0.1\n    ports: {web: ${p}}`).join('\n');
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${host.replace(/[^a-z0-9]/g, '-')}, namespace: default}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: web, protocol: ${protocol}}]
${ports.length > 0 ? `  endpoints:\n${eps}\n` : ''}`;
}

/** A VirtualService bound to `gw` sending every request for `host` to `dest`. */
function routeAll(name: string, host: string, dest: string): string {
  return JSON.stringify({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace: 'default' },
    spec: { hosts: [host], gateways: ['gw'], http: [{ route: [{ destination: { host: dest, port: { number: 80 } } }] }] },
  });
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** RFC 9113 §6.5.2 size of the header list node:http2 sends for a GET to plain.test with these headers. */
function listSize(path: string, headers: Record<string, string>): number {
  const all: [string, string][] = [[':method', 'GET'], [':path', path], [':authority', 'plain.test'], [':scheme', 'http'], ...Object.entries(headers)];
  return all.reduce((n, [k, v]) => n + k.length + v.length + 32, 0);
}

/** What one request got, whichever protocol carried it, with the gateway's record of it. */
interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  raw: Buffer;
  trailers: Record<string, string | string[] | undefined> | null;
  rec: StreamRecord;
}

interface Call {
  host: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

let gw: TestGateway;
/** HTTP/1.1 upstreams (test/helpers/upstream.ts). */
let web: Upstream;
let alt: Upstream;
/** Answers 503 to the first call of each path and 200 after; `/always-503` always 503, `/always-200` always 200. Hashes bodies. */
let flaky: Upstream;
const flakyBodies = new Map<string, string[]>();
/** An echo upstream taking h2c and HTTP/1.1 on one port: the gateway's choice shows in its echo. */
let dual: EchoUpstream;
/** An echo upstream taking h2c only. */
let h2only: EchoUpstream;
const records: StreamRecord[] = [];
let seq = 0;

/** A path nobody used before (prefix routes still match it), so each request's record can be found. */
function uniq(path: string, tag: string): string {
  return `${path}/${tag}-${String(++seq).padStart(4, '0')}`;
}

/** A body with what differs by design between two requests (the path tag, x-request-id) blanked out. */
function normalized(body: string): string {
  return body.replace(/\/(h1|h2)-\d{4}/g, '/TAG').replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID');
}

/** The stream record of the request to `path` (waits briefly: records arrive when streams end). */
async function recordOf(path: string): Promise<StreamRecord> {
  expect(await waitFor(() => records.some((r) => r.path === path), 3000), `a stream record for ${path}`).toBe(true);
  const matching = records.filter((r) => r.path === path);
  expect(matching, `one stream record for ${path}`).toHaveLength(1);
  return matching[0]!;
}

async function viaH1(c: Call, port = gw.port()): Promise<Got> {
  const path = uniq(c.path, 'h1');
  const a = await request({ port, path, method: c.method, headers: { host: c.host, ...(c.headers ?? {}) }, body: c.body });
  return { status: a.status, headers: a.headers, body: a.body, raw: Buffer.from(a.body, 'utf8'), trailers: null, rec: await recordOf(path) };
}

async function viaH2(c: Call, port = gw.port(), session?: http2.ClientHttp2Session): Promise<Got> {
  const path = uniq(c.path, 'h2');
  const opts: H2RequestOptions = { method: c.method, path, authority: c.host, headers: c.headers, body: c.body };
  const s = session ?? h2connect(port);
  let a: H2Answer;
  try {
    a = await h2request(s, opts);
  } finally {
    if (session === undefined) s.close();
  }
  return { ...a, rec: await recordOf(path) };
}

/** The same request over HTTP/1.1 and over HTTP/2, on the same gateway port. */
async function both(c: Call, port?: number): Promise<{ h1: Got; h2: Got }> {
  const h1 = await viaH1(c, port);
  const h2 = await viaH2(c, port);
  expect(h1.rec.protocol).toBe('HTTP/1.1');
  expect(h2.rec.protocol).toBe('HTTP/2');
  return { h1, h2 };
}

/**
 * Status, body and the named headers are the same over both protocols, and so are the record's
 * flags and details. An upstream's echo differs only in the path tag and x-request-id: the
 * upstream got the same request, header for header, in the same order.
 */
function expectSame(p: { h1: Got; h2: Got }, headerNames: string[] = []): void {
  expect(p.h2.status).toBe(p.h1.status);
  expect(normalized(p.h2.body)).toBe(normalized(p.h1.body));
  for (const h of ['server', 'content-type', 'content-length', ...headerNames]) expect(p.h2.headers[h], h).toEqual(p.h1.headers[h]);
  expect(p.h2.rec.flagString).toBe(p.h1.rec.flagString);
  expect(p.h2.rec.details).toBe(p.h1.rec.details);
  expect(p.h2.rec.responseCode).toBe(p.h1.rec.responseCode);
  expect(p.h2.rec.route).toBe(p.h1.rec.route);
  expect(p.h2.rec.cluster).toBe(p.h1.rec.cluster);
}

/** An answer the gateway gave itself, as Envoy words it. */
function expectLocalReply(g: Got, status: number, body: string | RegExp): void {
  expect(g.status).toBe(status);
  if (typeof body === 'string') expect(g.body).toBe(body);
  else expect(g.body).toMatch(body);
  expect(g.headers.server).toBe('istio-envoy');
  expect(g.headers['x-envoy-upstream-service-time']).toBeUndefined();
  if (g.body === '') {
    expect(g.headers['content-length']).toBe('0');
    expect(g.headers['content-type']).toBeUndefined();
  } else {
    expect(g.headers['content-type']).toBe('text/plain');
    expect(g.headers['content-length']).toBe(String(Buffer.byteLength(g.body)));
  }
}

/** An answer relayed from an upstream. */
function expectUpstreamAnswer(g: Got, upstream: string): void {
  expect(g.headers['x-upstream']).toBe(upstream);
  expect(g.headers.server).toBe('istio-envoy');
  expect(g.headers['x-envoy-upstream-service-time']).toMatch(/^\d+$/);
  expect(g.rec.details).toBe('via_upstream');
}

beforeAll(async () => {
  web = await startUpstream({ name: 'web' });
  alt = await startUpstream({ name: 'alt' });
  const calls = new Map<string, number>();
  flaky = await startUpstream({
    name: 'flaky',
    handler: (req, res) => {
      const url = req.url ?? '/';
      const n = (calls.get(url) ?? 0) + 1;
      calls.set(url, n);
      const hash = createHash('sha256');
      req.on('data', (c: Buffer) => hash.update(c));
      req.on('end', () => {
        flakyBodies.set(url, [...(flakyBodies.get(url) ?? []), hash.digest('hex')]);
        const status = url.includes('/always-200') ? 200 : url.includes('/always-503') || n === 1 ? 503 : 200;
        const body = `flaky ${url} call ${n} status ${status}`;
        res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-upstream': 'flaky' });
        res.end(body);
      });
    },
  });
  dual = await startEchoUpstream({ name: 'dual' });
  h2only = await startEchoUpstream({ name: 'h2only', http1: false });
  const refused = await deadPort();

  gw = await startGateway(
    {
      'gateway.yaml': GATEWAY_ANY_HOST,
      'services.yaml': [
        staticService('web.test', [web.port]),
        staticService('alt.test', [alt.port]),
        staticService('flaky.test', [flaky.port]),
        staticService('refused.test', [refused]),
        serviceEntry('nowhere.test', 'HTTP', []),
        serviceEntry('plain.test', 'HTTP', [dual.port]),
        serviceEntry('h2.test', 'HTTP2', [dual.port]),
        serviceEntry('grpc.test', 'GRPC', [h2only.port]),
        serviceEntry('upgrade.test', 'HTTP', [dual.port]),
        `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: upgrade, namespace: default}
spec:
  host: upgrade.test
  trafficPolicy:
    connectionPool:
      http: {h2UpgradePolicy: UPGRADE}
`,
        // A Kubernetes Service whose port name says HTTP/2 (Istio's protocol selection by name prefix).
        `apiVersion: v1
kind: Service
metadata: {name: h2web, namespace: default}
spec:
  selector: {app: h2web}
  ports: [{name: http2-web, port: 80, targetPort: 8080}]
`,
        `apiVersion: v1
kind: Endpoints
metadata: {name: h2web, namespace: default}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http2-web, port: ${dual.port}}]
`,
      ].join('---\n'),
      'routes.yaml': [
        JSON.stringify({
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'app', namespace: 'default' },
          spec: {
            hosts: ['app.test'],
            gateways: ['gw'],
            http: [
              { match: [{ uri: { prefix: '/api/v1/' } }], rewrite: { uri: '/v2/' }, route: [{ destination: { host: 'web.test' } }] },
              { match: [{ headers: { 'x-variant': { exact: 'b' } } }], route: [{ destination: { host: 'alt.test' } }] },
              { match: [{ uri: { prefix: '/old' } }], redirect: { uri: '/new', authority: 'moved.test' } },
              { match: [{ uri: { prefix: '/direct' } }], directResponse: { status: 418, body: { string: 'short and stout' } } },
              { match: [{ uri: { prefix: '/fault' } }], fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }, route: [{ destination: { host: 'web.test' } }] },
              { match: [{ uri: { prefix: '/retry' } }], retries: { attempts: 2, retryOn: '5xx' }, route: [{ destination: { host: 'flaky.test' } }] },
              { match: [{ uri: { prefix: '/slow' } }], timeout: '0.3s', route: [{ destination: { host: 'web.test' } }] },
              // Held by a fault delay: streams that never get an answer, for the rapid-reset test.
              { match: [{ uri: { prefix: '/flood' } }], fault: { delay: { fixedDelay: '5s', percentage: { value: 100 } } }, route: [{ destination: { host: 'web.test' } }] },
              { route: [{ destination: { host: 'web.test' } }] },
            ],
          },
        }),
        JSON.stringify({
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'wild', namespace: 'default' },
          spec: { hosts: ['*.wild.test'], gateways: ['gw'], http: [{ route: [{ destination: { host: 'alt.test' } }] }] },
        }),
        routeAll('nowhere', 'nowhere.test', 'nowhere.test'),
        routeAll('refused', 'refused.test', 'refused.test'),
        routeAll('plain', 'plain.test', 'plain.test'),
        routeAll('h2', 'h2.test', 'h2.test'),
        routeAll('grpc', 'grpc.test', 'grpc.test'),
        routeAll('upgrade', 'upgrade.test', 'upgrade.test'),
        routeAll('k8s-h2', 'k8s-h2.test', 'h2web.default.svc.cluster.local'),
      ].join('\n---\n'),
    },
    { meshListen: { host: '127.0.0.1', port: 0 } },
  );
  gw.gateway.onStreamEnd((r) => records.push(r));
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([web, alt, flaky, dual, h2only].map((u) => u?.close()));
});

describe('h2c and HTTP/1.1 on the same port', () => {
  it('an exact host: the same upstream answer, relayed with the same headers, over both protocols', async () => {
    const p = await both({ host: 'app.test', path: '/hello' });
    for (const g of [p.h1, p.h2]) {
      expect(g.status).toBe(200);
      expectUpstreamAnswer(g, 'web');
      expect(g.rec.flagString).toBe('-');
      expect(g.rec.upstreamHost).toBe(`127.0.0.1:${web.port}`);
      expect(g.rec.cluster).toBe('outbound|80||web.test');
      expect(g.rec.route).toBe('VirtualService default/app http[8]');
      expect(g.rec.listener).toBe('gateway:80');
      expect(g.rec.authority).toBe('app.test');
      expect(g.rec.method).toBe('GET');
    }
    expect(JSON.parse(p.h2.body).url).toMatch(/^\/hello\/h2-\d{4}$/);
    expectSame(p, ['x-upstream']);
    // Nothing HTTP/1.1-only in an HTTP/2 answer (node:http2 would refuse to send it anyway).
    for (const h of ['connection', 'keep-alive', 'transfer-encoding']) expect(p.h2.headers[h]).toBeUndefined();
  });

  it('several concurrent streams on one h2 connection are answered concurrently, each its own answer', async () => {
    const session = h2connect(gw.port());
    try {
      dual.maxInFlight = 0;
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => h2request(session, { authority: 'plain.test', path: `/concurrent/${i}/delay/400` })));
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(answers.map((a) => echoOf(a).url)).toEqual(Array.from({ length: 20 }, (_, i) => `/concurrent/${i}/delay/400`));
      // All twenty were at the upstream at once: the streams were not serialised.
      expect(dual.maxInFlight).toBe(20);
    } finally {
      session.close();
    }
  });

  it(':authority is the Host for routing: a wildcard host', async () => {
    const p = await both({ host: 'any.wild.test', path: '/w' });
    for (const g of [p.h1, p.h2]) {
      expect(g.status).toBe(200);
      expectUpstreamAnswer(g, 'alt');
      expect(g.rec.route).toBe('VirtualService default/wild http[0]');
    }
    expectSame(p, ['x-upstream']);
  });

  it(':authority with the port routes like Host with the port', async () => {
    const g = await viaH2({ host: 'app.test:80', path: '/with-port' });
    expect(g.status).toBe(200);
    expectUpstreamAnswer(g, 'web');
  });

  it('no host matches: 404, empty body, server: istio-envoy, flag NR', async () => {
    const p = await both({ host: 'unknown.example.org', path: '/' });
    for (const g of [p.h1, p.h2]) {
      expectLocalReply(g, 404, '');
      expect(g.rec.flagString).toBe('NR');
      expect(g.rec.details).toBe('route_not_found');
    }
    expectSame(p);
  });
});

describe('the same headers as HTTP/1.1', () => {
  it('the upstream sees Host from :authority, x-forwarded-*, x-request-id, x-envoy-attempt-count, and no pseudo-headers', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-envoy-attempt-count': '9', 'x-custom': 'kept' };
    const p = await both({ host: 'app.test', path: '/headers', headers });
    const seen = [p.h1, p.h2].map((g) => web.seen.find((s) => s.url === JSON.parse(g.body).url)!);
    for (const s of seen) {
      expect(s.headers.host).toBe('app.test');
      expect(s.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
      // The edge sets the scheme it was reached by, whatever the client claimed.
      expect(s.headers['x-forwarded-proto']).toBe('http');
      expect(s.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(s.headers['x-envoy-attempt-count']).toBe('1');
      expect(s.headers['x-custom']).toBe('kept');
      expect(Object.keys(s.headers).filter((k) => k.startsWith(':'))).toEqual([]);
    }
    // The HTTP/2 request carries no header the HTTP/1.1 one does not, and the other way round.
    const names = (h: Record<string, unknown>) => Object.keys(h).sort();
    expect(names(seen[1]!.headers)).toEqual(names(seen[0]!.headers));
    expect(seen[1]!.headers['x-request-id']).not.toBe(seen[0]!.headers['x-request-id']);
    expectSame(p, ['x-upstream']);
  });

  it('a client x-request-id is kept', async () => {
    const g = await viaH2({ host: 'app.test', path: '/rid', headers: { 'x-request-id': 'abc-123' } });
    expect(JSON.parse(g.body).headers['x-request-id']).toBe('abc-123');
  });
});

describe('routing features over HTTP/2, as over HTTP/1.1', () => {
  it('uri prefix match and rewrite', async () => {
    const p = await both({ host: 'app.test', path: '/api/v1/items' });
    for (const g of [p.h1, p.h2]) {
      expect(g.status).toBe(200);
      expectUpstreamAnswer(g, 'web');
      expect(JSON.parse(g.body).url).toMatch(/^\/v2\/items\/h[12]-\d+$/);
      expect(g.rec.route).toBe('VirtualService default/app http[0]');
    }
    expectSame(p, ['x-upstream']);
  });

  it('header match', async () => {
    const p = await both({ host: 'app.test', path: '/variant', headers: { 'x-variant': 'b' } });
    for (const g of [p.h1, p.h2]) {
      expect(g.status).toBe(200);
      expectUpstreamAnswer(g, 'alt');
      expect(g.rec.route).toBe('VirtualService default/app http[1]');
    }
    expectSame(p, ['x-upstream']);
  });

  it('redirect: 301 with Location, nothing forwarded', async () => {
    const before = web.seen.length + alt.seen.length;
    const p = await both({ host: 'app.test', path: '/old' });
    for (const g of [p.h1, p.h2]) {
      expectLocalReply(g, 301, '');
      expect(g.headers.location).toBe('http://moved.test/new');
      expect(g.rec.flagString).toBe('-');
      expect(g.rec.details).toBe('direct_response');
    }
    expect(web.seen.length + alt.seen.length).toBe(before);
    expectSame(p, ['location']);
  });

  it('directResponse', async () => {
    const p = await both({ host: 'app.test', path: '/direct' });
    for (const g of [p.h1, p.h2]) {
      expectLocalReply(g, 418, 'short and stout');
      expect(g.rec.details).toBe('direct_response');
      expect(g.rec.flagString).toBe('-');
    }
    expectSame(p);
  });

  it('fault abort: 503 fault filter abort, flag FI, nothing forwarded', async () => {
    const before = web.seen.length;
    const p = await both({ host: 'app.test', path: '/fault' });
    for (const g of [p.h1, p.h2]) {
      expectLocalReply(g, 503, 'fault filter abort');
      expect(g.rec.flagString).toBe('FI');
      expect(g.rec.details).toBe('fault_filter_abort');
    }
    expect(web.seen.length).toBe(before);
    expectSame(p);
  });

  it('a retry: the upstream answers 503, then 200; x-envoy-attempt-count 1 then 2', async () => {
    const p = await both({ host: 'app.test', path: '/retry/once' });
    for (const g of [p.h1, p.h2]) {
      expect(g.status).toBe(200);
      expectUpstreamAnswer(g, 'flaky');
      expect(g.body).toMatch(/^flaky \/retry\/once\/h[12]-\d+ call 2 status 200$/);
      expect(g.rec.attempts).toBe(2);
      expect(g.rec.flagString).toBe('-');
      const url = g.body.split(' ')[1]!;
      expect(flaky.seen.filter((s) => s.url === url).map((s) => s.headers['x-envoy-attempt-count'])).toEqual(['1', '2']);
    }
    expectSame(p, ['x-upstream']);
  });

  it('a POST body is replayed intact on the retry', async () => {
    const body = randomBytes(200 * 1024);
    const g = await viaH2({ host: 'app.test', path: '/retry/post', method: 'POST', body });
    expect(g.status).toBe(200);
    expect(flakyBodies.get(g.body.split(' ')[1]!)).toEqual([sha256(body), sha256(body)]);
  });

  it('retries exhausted: the last 503 is relayed, flag URX', async () => {
    const p = await both({ host: 'app.test', path: '/retry/always-503' });
    for (const g of [p.h1, p.h2]) {
      expect(g.status).toBe(503);
      expectUpstreamAnswer(g, 'flaky');
      expect(g.body).toMatch(/call 3 status 503$/);
      expect(g.rec.attempts).toBe(3);
      expect(g.rec.flagString).toBe('URX');
    }
    expectSame(p, ['x-upstream']);
  });

  it('route timeout: 504 upstream request timeout, flag UT', async () => {
    const p = await both({ host: 'app.test', path: '/slow/delay/2000' });
    for (const g of [p.h1, p.h2]) {
      expectLocalReply(g, 504, 'upstream request timeout');
      expect(g.rec.flagString).toBe('UT');
      expect(g.rec.details).toBe('upstream_response_timeout');
    }
    expectSame(p);
  });

  it('no endpoint: 503 no healthy upstream, flag UH', async () => {
    const p = await both({ host: 'nowhere.test', path: '/' });
    for (const g of [p.h1, p.h2]) {
      expectLocalReply(g, 503, 'no healthy upstream');
      expect(g.rec.flagString).toBe('UH');
      expect(g.rec.details).toBe('no_healthy_upstream');
    }
    expectSame(p);
  });

  it('connection refused: 503 with Envoy\'s text, flag UF', async () => {
    const p = await both({ host: 'refused.test', path: '/' });
    for (const g of [p.h1, p.h2]) {
      expectLocalReply(g, 503, CONNECT_FAILURE);
      expect(g.rec.flagString).toBe('UF');
      expect(g.rec.details).toBe('upstream_reset_before_response_started{connection_failure}');
    }
    expectSame(p);
  });
});

describe('bodies', () => {
  for (const host of ['plain.test', 'h2.test']) {
    it(`a POST of 300 KiB arrives intact and comes back intact (upstream ${host === 'h2.test' ? 'HTTP/2' : 'HTTP/1.1'})`, async () => {
      const body = randomBytes(300 * 1024);
      const p = await both({ host, path: '/echo-body', method: 'POST', body });
      for (const g of [p.h1, p.h2]) {
        expect(g.status, `${g.rec.protocol} ${g.rec.flagString} ${g.rec.details} ${g.body.slice(0, 200)}`).toBe(200);
        expect(g.headers['content-type']).toBe('application/octet-stream');
        const seen = dual.seen.find((s) => s.url === g.rec.path)!;
        expect(seen.bodyBytes).toBe(body.length);
        expect(seen.sha256).toBe(sha256(body));
        expect(seen.httpVersion).toBe(host === 'h2.test' ? '2.0' : '1.1');
        expect(g.rec.bytesReceived).toBe(body.length);
        expect(g.rec.bytesSent).toBe(body.length);
      }
      // The HTTP/1.1 helper reads text; the HTTP/2 answer is checked byte for byte.
      expect(p.h2.raw.length).toBe(body.length);
      expect(sha256(p.h2.raw)).toBe(sha256(body));
    });
  }

  it('a POST over 1 MiB on a route with retries (too big to replay) streams through intact', async () => {
    const body = randomBytes(1536 * 1024);
    const p = await both({ host: 'app.test', path: '/retry/always-200', method: 'POST', body });
    for (const g of [p.h1, p.h2]) {
      expect(g.status, `${g.rec.protocol} ${g.rec.flagString} ${g.rec.details}`).toBe(200);
      expectUpstreamAnswer(g, 'flaky');
      expect(flakyBodies.get(g.rec.path)).toEqual([sha256(body)]);
      expect(g.rec.attempts).toBe(1);
    }
    expectSame(p, ['x-upstream']);
  });

  it('HEAD over h2 gets the head and no body', async () => {
    const p = await both({ host: 'app.test', path: '/head', method: 'HEAD' });
    for (const g of [p.h1, p.h2]) {
      expect(g.status).toBe(200);
      expect(g.raw.length).toBe(0);
      expectUpstreamAnswer(g, 'web');
      expect(g.rec.bytesSent).toBe(0);
      expect(Number(g.headers['content-length'])).toBeGreaterThan(0);
    }
    expect(web.seen.filter((s) => s.url === p.h2.rec.path).map((s) => s.method)).toEqual(['HEAD']);
  });

  it('HEAD answered by the gateway itself (404) has no body either', async () => {
    const g = await viaH2({ host: 'unknown.example.org', path: '/', method: 'HEAD' });
    expect(g.status).toBe(404);
    expect(g.raw.length).toBe(0);
    expect(g.rec.flagString).toBe('NR');
  });
});

describe('upstream HTTP/2 (h2c)', () => {
  const cases: { host: string; what: string; version: string; upstream: () => EchoUpstream }[] = [
    { host: 'h2.test', what: 'a ServiceEntry port with protocol HTTP2', version: '2.0', upstream: () => dual },
    { host: 'grpc.test', what: 'a ServiceEntry port with protocol GRPC', version: '2.0', upstream: () => h2only },
    { host: 'k8s-h2.test', what: 'a Kubernetes Service port named http2-web', version: '2.0', upstream: () => dual },
    { host: 'upgrade.test', what: 'an HTTP port with DestinationRule h2UpgradePolicy: UPGRADE', version: '2.0', upstream: () => dual },
    { host: 'plain.test', what: 'a plain protocol: HTTP port (stays HTTP/1.1)', version: '1.1', upstream: () => dual },
  ];

  for (const c of cases) {
    it(`${c.what}: the upstream sees HTTP/${c.version === '2.0' ? '2' : '1.1'}, from HTTP/1.1 and HTTP/2 clients alike`, async () => {
      const p = await both({ host: c.host, path: '/proto' });
      for (const g of [p.h1, p.h2]) {
        expect(g.status).toBe(200);
        expectUpstreamAnswer(g, c.upstream().name);
        const e = echoOf(g);
        expect(e.httpVersion).toBe(c.version);
        expect(e.url).toBe(g.rec.path);
        expect(e.headers['x-forwarded-proto']).toBe('http');
        expect(e.headers['x-forwarded-for']).toBe('127.0.0.1');
        expect(e.headers['x-envoy-attempt-count']).toBe('1');
        expect(e.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
        if (c.version === '2.0') {
          // The stream as the upstream got it: exactly the four request pseudo-headers, Host as :authority.
          expect(Object.keys(e.headers).filter((k) => k.startsWith(':')).sort()).toEqual([':authority', ':method', ':path', ':scheme']);
          expect(e.headers[':authority']).toBe(c.host);
          expect(e.headers[':scheme']).toBe('http');
          expect(e.headers[':method']).toBe('GET');
          expect(e.headers.host).toBeUndefined();
        } else {
          expect(e.headers.host).toBe(c.host);
          expect(Object.keys(e.headers).filter((k) => k.startsWith(':'))).toEqual([]);
        }
      }
      expectSame(p, ['x-upstream']);
      const cluster = gw.gateway.snapshot.clusters.get(p.h2.rec.cluster!);
      expect(cluster?.protocol).toBe(c.version === '2.0' ? 'http2' : 'http1');
    });
  }

  it('HTTP/2 streams to one upstream share a connection', async () => {
    const session = h2connect(gw.port());
    try {
      expect((await h2request(session, { authority: 'grpc.test', path: '/warm' })).status).toBe(200);
      const before = h2only.h2Sessions;
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => h2request(session, { authority: 'grpc.test', path: `/shared/${i}/delay/100` })));
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      // Ten concurrent streams, no new upstream connection: the gateway's h2c pool multiplexes.
      expect(h2only.h2Sessions - before).toBe(0);
      expect(h2only.maxInFlight).toBeGreaterThanOrEqual(10);
    } finally {
      session.close();
    }
  });

  it('response trailers from an h2 upstream reach an h2 client', async () => {
    const g = await viaH2({ host: 'h2.test', path: '/trailers' });
    expect(g.status).toBe(200);
    expect(echoOf(g).httpVersion).toBe('2.0');
    expect(g.trailers).not.toBeNull();
    expect(g.trailers!['x-upstream-trailer']).toBe('dual');
    expect(g.trailers!['grpc-status']).toBe('0');
    expect(g.headers.server).toBe('istio-envoy');
  });

  it('te: trailers and request trailers from an h2 client reach the h2 upstream', async () => {
    const path = uniq('/te', 'h2');
    const session = h2connect(gw.port());
    let a: H2Answer;
    try {
      a = await h2request(session, { method: 'POST', authority: 'grpc.test', path, headers: { te: 'trailers' }, body: 'ping', trailers: { 'x-client-trailer': 'done' } });
    } finally {
      session.close();
    }
    expect(a.status).toBe(200);
    const e = echoOf(a);
    expect(e.httpVersion).toBe('2.0');
    expect(e.headers.te).toBe('trailers');
    expect(e.bodyBytes).toBe(4);
    expect(e.trailers['x-client-trailer']).toBe('done');
    expect((await recordOf(path)).protocol).toBe('HTTP/2');
  });
});

describe('the mesh listener takes h2c too', () => {
  it('a registry host is routed straight to its endpoints, over both protocols', async () => {
    const port = gw.gateway.addressOf(0).port;
    const p = await both({ host: 'web.test', path: '/mesh' }, port);
    for (const g of [p.h1, p.h2]) {
      expect(g.status).toBe(200);
      expectUpstreamAnswer(g, 'web');
      expect(g.rec.listener).toBe('mesh');
      expect(web.seen.find((s) => s.url === g.rec.path)?.headers.host).toBe('web.test');
    }
    expectSame(p, ['x-upstream']);
  });

  it('a host outside the registry: 502, nothing forwarded', async () => {
    const port = gw.gateway.addressOf(0).port;
    const p = await both({ host: 'elsewhere.example.org', path: '/' }, port);
    for (const g of [p.h1, p.h2]) {
      expectLocalReply(g, 502, '');
      expect(g.rec.listener).toBe('mesh');
    }
    expectSame(p);
  });
});

describe('HTTP/2 limits', () => {
  it(`streams over SETTINGS_MAX_CONCURRENT_STREAMS (${H2_MAX_CONCURRENT_STREAMS}) are refused with REFUSED_STREAM; the first ${H2_MAX_CONCURRENT_STREAMS} complete`, async () => {
    expect(H2_MAX_CONCURRENT_STREAMS).toBe(100);
    // node:http2 keeps to the server's limit once its SETTINGS arrived; a client that assumes a
    // higher one and opens its streams at once, before them, is what this limit is for.
    const session = h2connect(gw.port(), { peerMaxConcurrentStreams: 1000 });
    const n = H2_MAX_CONCURRENT_STREAMS + 50;
    const before = web.seen.length;
    try {
      const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => h2request(session, { authority: 'app.test', path: `/cap/${i}/delay/500` })));
      const ok = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      const refused = results.flatMap((r, i) => (r.status === 'rejected' && (r.reason as { rstCode?: number }).rstCode === NGHTTP2_REFUSED_STREAM ? [i] : []));
      expect(ok).toEqual(Array.from({ length: H2_MAX_CONCURRENT_STREAMS }, (_, i) => i));
      expect(refused).toEqual(Array.from({ length: 50 }, (_, i) => H2_MAX_CONCURRENT_STREAMS + i));
      for (const r of results) if (r.status === 'fulfilled') expect(r.value.status).toBe(200);
      // The refused streams never reached routing: no upstream request, no stream record.
      expect(web.seen.length - before).toBe(H2_MAX_CONCURRENT_STREAMS);
      expect(records.filter((r) => r.path.startsWith('/cap/')).length).toBe(H2_MAX_CONCURRENT_STREAMS);
      // The connection stays up and serves on.
      expect(session.destroyed).toBe(false);
      expect((await h2request(session, { authority: 'app.test', path: '/cap-after' })).status).toBe(200);
    } finally {
      session.close();
    }
  });

  it(`request headers over ${MAX_REQUEST_HEADER_BYTES / 1024} KiB: the stream is reset with ENHANCE_YOUR_CALM, nothing forwarded, the connection goes on`, async () => {
    const cases: { name: string; over: boolean; headers: (path: string) => Record<string, string> }[] = [
      // Sizes as RFC 9113 §6.5.2 counts them (and node:http2 enforces them): names and values, pseudo-headers included, plus 32 per field.
      { name: 'exactly at the limit', over: false, headers: (path) => ({ 'x-big': 'b'.repeat(MAX_REQUEST_HEADER_BYTES - listSize(path, { 'x-big': '' })) }) },
      { name: 'one byte over', over: true, headers: (path) => ({ 'x-big': 'b'.repeat(MAX_REQUEST_HEADER_BYTES - listSize(path, { 'x-big': '' }) + 1) }) },
      { name: 'two fields of 40 KiB', over: true, headers: () => ({ 'x-big-1': 'b'.repeat(40 * 1024), 'x-big-2': 'b'.repeat(40 * 1024) }) },
    ];
    // A connection's very first request (sent before the client acknowledged the server's
    // SETTINGS, when node:http2 does not enforce them yet) and one on a connection fully up.
    for (const settled of [false, true]) {
      for (const c of cases) {
        const what = `${c.name}, ${settled ? 'on a settled connection' : 'as the first request'}`;
        const before = dual.seen.length;
        // node:http2 refuses to send a header block over 64 KiB unless told otherwise.
        const session = h2connect(gw.port(), { maxSendHeaderBlockLength: 1024 * 1024 });
        try {
          if (settled) await h2ready(session);
          const path = uniq('/big', settled ? 'settled' : 'first');
          const headers = c.headers(path);
          expect(listSize(path, headers) > MAX_REQUEST_HEADER_BYTES, what).toBe(c.over);
          const got = await h2request(session, { authority: 'plain.test', path, headers }).then(
            (a) => ({ status: a.status, rstCode: undefined as number | undefined, body: a.body }),
            (e: Error & { rstCode?: number }) => ({ status: 0, rstCode: e.rstCode, body: e.message }),
          );
          if (c.over) {
            expect(got.rstCode, `${what}: ${got.body}`).toBe(NGHTTP2_ENHANCE_YOUR_CALM);
            expect(dual.seen.length, what).toBe(before);
            expect(records.some((r) => r.path === path), what).toBe(false);
          } else {
            expect(got.status, what).toBe(200);
            expect(echoOf(got).headers['x-big'], what).toBe(headers['x-big']);
          }
          // The same connection serves the next request.
          expect(session.destroyed, what).toBe(false);
          expect((await h2request(session, { authority: 'plain.test', path: '/after-big' })).status, what).toBe(200);
        } finally {
          session.close();
        }
      }
    }
    // HTTP/1.1 on the same port: 431 for the same 80 KiB of headers.
    const h1 = await request({ port: gw.port(), headers: { host: 'plain.test', 'x-big-1': 'b'.repeat(40 * 1024), 'x-big-2': 'b'.repeat(40 * 1024) } });
    expect(h1.status).toBe(431);
    expect(h1.headers.server).toBe('istio-envoy');
  });

  it('one header field whose encoding is over 64 KiB: nghttp2 ends that connection (GOAWAY COMPRESSION_ERROR); others go on', async () => {
    const session = h2connect(gw.port(), { maxSendHeaderBlockLength: 1024 * 1024 });
    const goaways: number[] = [];
    session.on('goaway', (code: number) => goaways.push(code));
    try {
      const before = dual.seen.length;
      // 'b' takes 6 bits in HPACK's Huffman code: 100 KiB of it encode to 75 KiB.
      const err = await h2request(session, { authority: 'plain.test', path: '/huge', headers: { 'x-big': 'b'.repeat(100 * 1024) } }).then(
        (a) => new Error(`answered ${a.status}`),
        (e: Error) => e,
      );
      expect(err.message).toMatch(/Session closed with error code 9/);
      expect(goaways).toEqual([http2.constants.NGHTTP2_COMPRESSION_ERROR]);
      expect(dual.seen.length).toBe(before);
    } finally {
      session.close();
    }
    // Another connection works.
    expect((await viaH2({ host: 'plain.test', path: '/after-huge' })).status).toBe(200);
  });

  it('a rapid-reset flood closes that connection with GOAWAY ENHANCE_YOUR_CALM; a well-behaved connection keeps getting 200s', async () => {
    const good = h2connect(gw.port());
    const flood = h2connect(gw.port());
    await Promise.all([h2ready(good), h2ready(flood)]);
    const goaways: { code: number; last: number }[] = [];
    flood.on('goaway', (code: number, last: number) => goaways.push({ code, last }));
    const floodClosed = new Promise<void>((resolve) => flood.once('close', () => resolve()));
    try {
      let goodGoaway = false;
      good.on('goaway', () => (goodGoaway = true));

      // The well-behaved client keeps asking while the flood runs.
      let flooding = true;
      const goodStatuses: number[] = [];
      const goodLoop = (async () => {
        while (flooding) goodStatuses.push((await h2request(good, { authority: 'app.test', path: uniq('/good', 'h2') })).status);
      })();

      // Open a stream and reset it at once, 600 times (a turn of the event loop between streams,
      // so node:http2 puts each HEADERS and its RST_STREAM on the wire instead of cancelling the
      // queued HEADERS it has not sent yet).
      let opened = 0;
      for (let i = 0; i < 600 && !flood.destroyed && !flood.closed; i++) {
        await new Promise((r) => setImmediate(r));
        try {
          const req = flood.request({ ':method': 'GET', ':path': `/flood/${i}`, ':authority': 'app.test' });
          req.on('error', () => undefined);
          req.close(NGHTTP2_CANCEL);
          opened++;
        } catch {
          break; // the session is gone
        }
      }
      // Bounded, so that a gateway that never closes the connection fails here instead of hanging.
      const closed = await Promise.race([floodClosed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      flooding = false;
      await goodLoop;
      expect(closed, 'the flooding connection was closed').toBe(true);

      // Closed by the gateway, well before the flood was over: GOAWAY ENHANCE_YOUR_CALM once half
      // of PREMATURE_RESET_WINDOW streams were reset early.
      const threshold = PREMATURE_RESET_WINDOW / 2;
      expect(goaways.map((g) => g.code)).toEqual([NGHTTP2_ENHANCE_YOUR_CALM]);
      expect(goaways[0]!.last).toBeGreaterThanOrEqual(2 * threshold - 1);
      expect(opened).toBeLessThan(600);
      expect(flood.destroyed).toBe(true);
      const flooded = records.filter((r) => r.path.startsWith('/flood/'));
      expect(flooded.length).toBeGreaterThanOrEqual(threshold);
      for (const r of flooded) {
        expect(r.protocol).toBe('HTTP/2');
        expect(r.responseCode).toBe(0);
        expect(r.flagString).toBe('DI,DC');
        expect(r.details).toBe('downstream_remote_disconnect');
      }

      // The other connection was not touched: every request answered, and it still serves.
      expect(goodStatuses.length).toBeGreaterThan(0);
      expect(goodStatuses.every((s) => s === 200)).toBe(true);
      expect(goodGoaway).toBe(false);
      expect((await h2request(good, { authority: 'app.test', path: '/good-after' })).status).toBe(200);
      // And a new connection is welcome.
      expect((await viaH2({ host: 'app.test', path: '/after-flood' })).status).toBe(200);
    } finally {
      flood.destroy();
      good.close();
    }
  });

  it('streams a client cancels after their answer began do not count as rapid resets (Envoy counts only streams without a response code)', async () => {
    const session = h2connect(gw.port());
    await h2ready(session);
    const goaways: number[] = [];
    session.on('goaway', (code: number) => goaways.push(code));
    const before = records.length;
    try {
      // More such streams than the threshold of early resets, each cancelled as soon as its answer's
      // head arrived, its body still coming (a client abandoning a download).
      const n = PREMATURE_RESET_WINDOW;
      let cancelled = 0;
      for (let i = 0; i < n && !session.destroyed; i++) {
        await new Promise<void>((resolve) => {
          const req = session.request({ ':method': 'GET', ':path': `/cancelled/${i}/hold/5000`, ':authority': 'plain.test' });
          req.on('error', () => undefined);
          req.resume();
          req.on('response', () => {
            req.close(NGHTTP2_CANCEL);
            cancelled++;
          });
          req.on('close', () => resolve());
        });
      }
      expect(cancelled).toBe(n);
      expect(goaways).toEqual([]);
      expect(session.destroyed).toBe(false);
      expect((await h2request(session, { authority: 'plain.test', path: '/still-open' })).status).toBe(200);
      const cancelledRecords = records.slice(before).filter((r) => r.path.startsWith('/cancelled/'));
      expect(cancelledRecords.length).toBe(n);
      for (const r of cancelledRecords) {
        expect(r.responseCode).toBe(200);
        expect(r.flagString).toBe('DC');
        expect(r.details).toBe('via_upstream');
      }
    } finally {
      session.close();
    }
  });
});
