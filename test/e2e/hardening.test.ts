import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DataPlaneState } from '../../src/http/state.js';
import type { ClusterRuntime } from '../../src/upstream/cluster.js';
import { startGateway, staticService, writeConfigDir, type TestGateway, GATEWAY_ANY_HOST, virtualServiceYaml } from '../helpers/gateway.js';
import { echo, rawRequest, request, type Answer, type RequestOptions } from '../helpers/http.js';
import { startServe } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Regression tests for the defects a review found (hostile regex paths, duplicate Host,
// absolute-form targets, unbounded mirrors, queue and per-try timeouts, hop-by-hop abuse, path
// tricks, CONNECT, upstream framing errors, undeclared mesh ports, DNS failures), each through
// real sockets against the gateway as it runs.

// DNS lookups of names under .dns.test are answered here (a name cannot be made to stop
// resolving through the real resolver without editing system files); every other name goes to
// the real node:dns/promises.
const dns = vi.hoisted(() => ({ answer: new Map<string, 'ok' | 'fail' | 'hang'>(), calls: 0, hanging: 0 }));
vi.mock('node:dns/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:dns/promises')>();
  const lookup = (async (host: string, opts?: unknown) => {
    const mode = dns.answer.get(host);
    if (mode === undefined) return (real.lookup as (h: string, o?: unknown) => Promise<unknown>)(host, opts);
    dns.calls++;
    if (mode === 'fail') throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', hostname: host });
    if (mode === 'hang') {
      dns.hanging++;
      return new Promise(() => undefined);
    }
    return [{ address: '127.0.0.1', family: 4 }];
  }) as typeof real.lookup;
  const realDefault = (real as unknown as { default?: object }).default;
  return { ...real, lookup, default: { ...realDefault, lookup } };
});

const GATEWAY = GATEWAY_ANY_HOST;

const virtualService = virtualServiceYaml;

function destinationRule(host: string, trafficPolicy: object): string {
  return JSON.stringify({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: host.replace(/[^a-z0-9]/g, '-'), namespace: 'default' },
    spec: { host, trafficPolicy },
  });
}

const to = (host: string) => [{ destination: { host } }];

/** Things to close after each test. */
let open: { close(): Promise<void> }[] = [];

afterEach(async () => {
  const list = open.reverse();
  open = [];
  // Bounded, so a gateway that cannot finish (the defects these tests catch) fails the test, not the hook.
  for (const o of list) await Promise.race([o.close().catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
});

async function upstream(name: string, handler?: http.RequestListener): Promise<Upstream> {
  const u = await startUpstream({ name, handler });
  open.push(u);
  return u;
}

async function gateway(files: Record<string, string>, extra: Parameters<typeof startGateway>[1] = {}): Promise<TestGateway> {
  const gw = await startGateway({ 'gateway.yaml': GATEWAY, ...files }, extra);
  open.push({ close: () => gw.stop() });
  return gw;
}

/** A raw HTTP/1.1 exchange: the status line, the head (lower-cased) and the body. */
function parse(raw: string): { statusLine: string; head: string; body: string } {
  const i = raw.indexOf('\r\n\r\n');
  const head = i < 0 ? raw : raw.slice(0, i);
  return { statusLine: head.split('\r\n')[0] ?? '', head: head.toLowerCase(), body: i < 0 ? '' : raw.slice(i + 4) };
}

/** Resolves when `cond` holds, or after `ms` (the caller asserts). */
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

/** `request`, failing (instead of waiting for the test timeout) when no answer comes within `ms`. */
function requestWithin(ms: number, opts: RequestOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer to ${opts.path} within ${ms} ms`)), ms);
    request(opts).then(
      (a) => {
        clearTimeout(t);
        resolve(a);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

describe('regular expressions run in linear time (RE2 semantics), so a hostile path or header cannot stall the gateway', () => {
  // Served by the real process: with a backtracking engine the match would block the event loop
  // of whatever runs the gateway, and here that is not the test's own.
  it('answers 404 at once for a path or header value that makes a backtracking engine run for minutes', async () => {
    const api = await upstream('api');
    const dir = await writeConfigDir({
      'gateway.yaml': GATEWAY,
      'api.yaml': staticService('api.svc', [api.port]),
      'vs.yaml': virtualService('api', ['*'], [
        { match: [{ uri: { regex: '/api/([a-z0-9]+-?)+/v1' } }], route: to('api.svc') },
        { match: [{ uri: { regex: '/ci/([a-z0-9]+-?)+/v1' }, ignoreUriCase: true }], route: to('api.svc') },
        { match: [{ headers: { 'x-token': { regex: '([a-z0-9]+-?)+' } } }], route: to('api.svc') },
      ]),
    });
    const gw = await startServe(['-c', dir, '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
    open.push({
      close: async () => {
        gw.child.kill('SIGKILL');
        await rm(dir, { recursive: true, force: true });
      },
    });
    const port = gw.ports.get(80)!;
    const get = (path: string, headers: Record<string, string> = {}) => requestWithin(8000, { port, path, headers: { host: 'x', ...headers } });

    // The routes do match what they should.
    expect((await get('/api/abc-def/v1')).status).toBe(200);
    expect((await get('/CI/Abc-DEF/v1')).status).toBe(200);
    expect((await get('/other', { 'x-token': 'abc-def1' })).status).toBe(200);
    expect(api.seen.map((s) => s.url)).toEqual(['/api/abc-def/v1', '/CI/Abc-DEF/v1', '/other']);

    const hostile = 'a'.repeat(60) + '!';
    expect((await get(`/api/${hostile}`)).status).toBe(404);
    expect((await get(`/CI/${hostile.toUpperCase()}`)).status).toBe(404);
    expect((await get('/other', { 'x-token': hostile })).status).toBe(404);
    // And the gateway still serves.
    expect((await get('/api/ok/v1')).status).toBe(200);
    expect(api.seen).toHaveLength(4);
  });
});

describe('Host and the request target', () => {
  it('a request with two Host headers is a 400; nothing reaches the upstream and nothing is ejected', async () => {
    const app = await upstream('app');
    const gw = await gateway({
      'app.yaml': staticService('app.svc', [app.port]),
      'dr.yaml': destinationRule('app.svc', { outlierDetection: { consecutive5xxErrors: 1, interval: '1s', baseEjectionTime: '60s', maxEjectionPercent: 100 } }),
      'vs.yaml': virtualService('app', ['*'], [{ route: to('app.svc') }]),
    });
    for (let i = 0; i < 4; i++) {
      const out = parse(await rawRequest(gw.port(), 'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\nConnection: close\r\n\r\n'));
      expect(out.statusLine).toBe('HTTP/1.1 400 Bad Request');
    }
    expect(app.seen).toEqual([]);
    // Had the refusals counted as upstream failures, the only endpoint would be ejected now.
    const a = await gw.get('x', '/after');
    expect(a.status).toBe(200);
    expect(echo(a).name).toBe('app');
  });

  describe('absolute-form targets', () => {
    let pub: Upstream;
    let adm: Upstream;
    let gw: TestGateway;

    async function setUp(): Promise<void> {
      pub = await upstream('public');
      adm = await upstream('admin');
      gw = await gateway({
        'public.yaml': staticService('public.svc', [pub.port]),
        'admin.yaml': staticService('admin.svc', [adm.port]),
        'vs-public.yaml': virtualService('pub', ['public.example.com'], [
          { match: [{ uri: { prefix: '/auth' }, authority: { exact: 'admin.example.com' } }], route: to('admin.svc') },
          { match: [{ uri: { prefix: '/auth' }, authority: { exact: 'public.example.com' } }], route: to('public.svc') },
          { route: to('public.svc') },
        ]),
        'vs-admin.yaml': virtualService('adm', ['admin.example.com'], [{ route: to('admin.svc') }]),
        'vs-any.yaml': virtualService('any', ['*'], [{ route: to('admin.svc') }]),
      });
    }

    it("are routed by the URL's authority, which the upstream receives as Host", async () => {
      await setUp();
      const out = parse(await rawRequest(gw.port(), 'GET http://public.example.com/x HTTP/1.1\r\nHost: admin.example.com\r\nConnection: close\r\n\r\n'));
      expect(out.statusLine).toBe('HTTP/1.1 200 OK');
      expect(adm.seen).toEqual([]);
      expect(pub.seen.map((s) => [s.url, s.headers.host])).toEqual([['/x', 'public.example.com']]);
    });

    it("authority match conditions see the URL's authority, not the Host header", async () => {
      await setUp();
      const out = parse(await rawRequest(gw.port(), 'GET http://public.example.com/auth HTTP/1.1\r\nHost: admin.example.com\r\nConnection: close\r\n\r\n'));
      expect(out.statusLine).toBe('HTTP/1.1 200 OK');
      expect(adm.seen).toEqual([]);
      expect(pub.seen.map((s) => [s.url, s.headers.host])).toEqual([['/auth', 'public.example.com']]);
    });

    it('with userinfo (http://reviews:9080@example.com/) are a 400', async () => {
      await setUp();
      const out = parse(await rawRequest(gw.port(), 'GET http://reviews:9080@example.com/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n'));
      expect(out.statusLine).toBe('HTTP/1.1 400 Bad Request');
      expect(pub.seen).toEqual([]);
      expect(adm.seen).toEqual([]);
    });
  });
});

describe('mirrors', () => {
  it('never queue: copies to a shadow with no free connection are dropped, and main answers are unaffected', async () => {
    const main = await upstream('main');
    let openNow = 0;
    let maxOpen = 0;
    const held: http.IncomingMessage[] = [];
    const shadow = await upstream('shadow', (req, res) => {
      // Never answers.
      openNow++;
      maxOpen = Math.max(maxOpen, openNow);
      held.push(req);
      res.on('close', () => openNow--);
    });
    const gw = await gateway({
      'main.yaml': staticService('main.svc', [main.port]),
      'shadow.yaml': staticService('shadow.svc', [shadow.port]),
      'dr.yaml': destinationRule('shadow.svc', { connectionPool: { tcp: { maxConnections: 1 } } }),
      'vs.yaml': virtualService('app', ['*'], [{ mirror: { host: 'shadow.svc' }, route: to('main.svc') }]),
    });
    const body = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 20; i++) {
      const a = await gw.get('x', { method: 'POST', path: `/m/${i}`, body, headers: { 'content-length': String(body.length) } });
      expect(a.status).toBe(200);
      expect(echo(a)).toMatchObject({ name: 'main', bodyBytes: body.length });
    }
    await until(() => shadow.seen.length > 0);
    expect(shadow.seen.map((s) => s.url)).toEqual(['/m/0']);

    // The shadow drops its one connection: a queued copy would be sent now; none may be.
    for (const r of held) r.socket.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const a = await gw.get('x', { method: 'POST', path: '/after', body, headers: { 'content-length': String(body.length) } });
    expect(a.status).toBe(200);
    await until(() => shadow.seen.length > 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(shadow.seen.map((s) => s.url)).toEqual(['/m/0', '/after']);
    expect(maxOpen).toBe(1);
  });

  it('with retries, a 3 MiB chunked body reaches both the main service and the shadow whole', async () => {
    const got = new Map<string, { bytes: number; sha: string }>();
    const hashing = (name: string): http.RequestListener => (req, res) => {
      const h = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
        h.update(c);
      });
      req.on('end', () => {
        got.set(name, { bytes, sha: h.digest('hex') });
        res.end(name);
      });
    };
    const main = await upstream('main', hashing('main'));
    const shadow = await upstream('shadow', hashing('shadow'));
    const gw = await gateway({
      'main.yaml': staticService('main.svc', [main.port]),
      'shadow.yaml': staticService('shadow.svc', [shadow.port]),
      'vs.yaml': virtualService('app', ['*'], [{ retries: { attempts: 2 }, mirror: { host: 'shadow.svc' }, route: to('main.svc') }]),
    });
    const body = randomBytes(3 * 1024 * 1024);
    const want = { bytes: body.length, sha: createHash('sha256').update(body).digest('hex') };
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = http.request({ port: gw.port(), host: '127.0.0.1', method: 'POST', path: '/upload', headers: { host: 'x', 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
      });
      req.on('error', reject);
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
      req.end();
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('main');
    await until(() => got.has('shadow'), 3000);
    expect(got.get('main')).toEqual(want);
    expect(got.get('shadow')).toEqual(want);
  });
});

describe('timeouts', () => {
  it('a request waiting for a connection (maxConnections 1) gets 504 at the route timeout instead of waiting its turn', async () => {
    const app = await upstream('app');
    const gw = await gateway({
      'app.yaml': staticService('app.svc', [app.port]),
      'dr.yaml': destinationRule('app.svc', { connectionPool: { tcp: { maxConnections: 1 } } }),
      'vs.yaml': virtualService('app', ['*'], [{ timeout: '1s', route: to('app.svc') }]),
    });
    // Each call takes 900 ms upstream, one at a time: only the first fits in the 1 s timeout.
    const answers = await Promise.all([1, 2, 3, 4, 5].map((i) => gw.get('x', `/delay/900?n=${i}`)));
    for (const a of answers) expect([200, 504]).toContain(a.status);
    const timedOut = answers.filter((a) => a.status === 504);
    expect(timedOut.length).toBeGreaterThanOrEqual(3);
    for (const a of timedOut) expect(a.body).toBe('upstream request timeout');
  });

  it('a per-try timeout also ends a try that is still connecting, and the retry goes to the healthy endpoint', async () => {
    // An endpoint that never completes a TCP handshake: a listener whose process never accepts,
    // with its accept queue already full, so further SYNs go unanswered.
    const hole = spawn(
      process.execPath,
      ['-e', `const s=require('node:net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{process.stdout.write(s.address().port+'\\n');Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0);});`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const fill: net.Socket[] = [];
    open.push({
      close: async () => {
        for (const s of fill) s.destroy();
        await killed(hole);
      },
    });
    const holePort = await new Promise<number>((resolve, reject) => {
      hole.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      hole.once('exit', (code) => reject(new Error(`black hole exited with ${code}`)));
    });
    for (let i = 0; i < 4; i++) {
      const s = net.connect(holePort, '127.0.0.1');
      s.on('error', () => undefined);
      fill.push(s);
    }
    await until(() => fill.filter((s) => !s.connecting).length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    const probe = net.connect(holePort, '127.0.0.1');
    probe.on('error', () => undefined);
    fill.push(probe);
    await new Promise((r) => setTimeout(r, 300));
    expect(probe.connecting).toBe(true);

    const good = await upstream('good');
    const gw = await gateway({
      'app.yaml': staticService('app.svc', [holePort, good.port]),
      'dr.yaml': destinationRule('app.svc', { loadBalancer: { simple: 'ROUND_ROBIN' } }),
      'vs.yaml': virtualService('app', ['*'], [
        { timeout: '4s', retries: { attempts: 2, perTryTimeout: '500ms', retryOn: '5xx,connect-failure' }, route: to('app.svc') },
      ]),
    });
    // Round robin: each of these is tried on the black hole first.
    for (const path of ['/one', '/two']) {
      const a = await gw.get('x', path);
      expect(a.status).toBe(200);
      expect(echo(a).name).toBe('good');
    }
    expect(good.seen.map((s) => s.url)).toEqual(['/one', '/two']);
  });
});

function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('hop-by-hop and Envoy-internal request headers', () => {
  it('Connection cannot strip Host or x-request-id; x-envoy-* control headers and XFCC from the client never reach the upstream', async () => {
    const app = await upstream('app');
    const gw = await gateway({
      'app.yaml': staticService('app.svc', [app.port]),
      'vs.yaml': virtualService('app', ['*'], [{ route: to('app.svc') }]),
    });
    let out = parse(await rawRequest(gw.port(), 'GET /h1 HTTP/1.1\r\nHost: public.example.com\r\nConnection: keep-alive, host\r\n\r\n', 200));
    expect(out.statusLine).toBe('HTTP/1.1 200 OK');
    expect(app.seen.at(-1)!.headers.host).toBe('public.example.com');

    out = parse(await rawRequest(gw.port(), 'GET /h2 HTTP/1.1\r\nHost: x\r\nConnection: x-request-id\r\nx-request-id: client-chosen-id\r\n\r\n', 200));
    expect(out.statusLine).toBe('HTTP/1.1 200 OK');
    expect(app.seen.at(-1)!.headers['x-request-id']).toBe('client-chosen-id');

    out = parse(
      await rawRequest(
        gw.port(),
        'GET /h3 HTTP/1.1\r\nHost: x\r\nx-envoy-retry-on: 5xx\r\nx-envoy-upstream-rq-timeout-ms: 1\r\nx-envoy-internal: true\r\n' +
          'x-forwarded-client-cert: By=spiffe://cluster.local/ns/default/sa/admin;URI=spiffe://cluster.local/ns/x/sa/y\r\nx-kept: yes\r\nConnection: close\r\n\r\n',
      ),
    );
    expect(out.statusLine).toBe('HTTP/1.1 200 OK');
    const seen = app.seen.at(-1)!;
    expect(seen.url).toBe('/h3');
    expect(seen.headers['x-kept']).toBe('yes');
    for (const h of ['x-envoy-retry-on', 'x-envoy-upstream-rq-timeout-ms', 'x-envoy-internal', 'x-forwarded-client-cert']) expect(seen.headers[h]).toBeUndefined();
  });
});

describe('paths', () => {
  it('backslashes count as slashes before dot segments are resolved, and a fragment is not forwarded', async () => {
    const pub = await upstream('public');
    const adm = await upstream('admin');
    const gw = await gateway({
      'public.yaml': staticService('public.svc', [pub.port]),
      'admin.yaml': staticService('admin.svc', [adm.port]),
      'vs.yaml': virtualService('app', ['*'], [
        { match: [{ uri: { prefix: '/public' } }], route: to('public.svc') },
        { match: [{ uri: { prefix: '/admin' } }], route: to('admin.svc') },
      ]),
    });
    let out = parse(await rawRequest(gw.port(), 'GET /public\\..\\admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(out.statusLine).toBe('HTTP/1.1 200 OK');
    expect(pub.seen).toEqual([]);
    expect(adm.seen.map((s) => s.url)).toEqual(['/admin']);

    out = parse(await rawRequest(gw.port(), 'GET /public/x#frag HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(out.statusLine).toBe('HTTP/1.1 200 OK');
    expect(pub.seen.map((s) => s.url)).toEqual(['/public/x']);
  });
});

describe('CONNECT and upstream framing errors', () => {
  it('CONNECT on an ordinary gateway port is refused with 403, and the gateway keeps serving', async () => {
    const app = await upstream('app');
    const gw = await gateway({
      'app.yaml': staticService('app.svc', [app.port]),
      'vs.yaml': virtualService('app', ['*'], [{ route: to('app.svc') }]),
    });
    const out = parse(await rawRequest(gw.port(), 'CONNECT app.svc:80 HTTP/1.1\r\nHost: app.svc:80\r\n\r\n'));
    expect(out.statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(out.head).toContain('\r\nserver: istio-envoy');
    expect(app.seen).toEqual([]);
    const a = await gw.get('x', '/after');
    expect(a.status).toBe(200);
    expect(echo(a).name).toBe('app');
  });

  it('an upstream answer with broken framing (Content-Length with Transfer-Encoding, two Content-Lengths) is a 503 protocol error', async () => {
    const answers: Record<string, string> = {
      '/clte': 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      '/dupcl': 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 5\r\n\r\nhello',
    };
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', (d: Buffer) => s.write(answers[d.toString('latin1').split(' ')[1]!] ?? 'HTTP/1.1 500 x\r\ncontent-length: 0\r\n\r\n'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    open.push({
      close: () =>
        new Promise<void>((r) => {
          server.close(() => r());
        }),
    });
    const gw = await gateway({
      'bad.yaml': staticService('bad.svc', [(server.address() as AddressInfo).port]),
      'vs.yaml': virtualService('app', ['*'], [{ route: to('bad.svc') }]),
    });
    for (const path of Object.keys(answers)) {
      const a = await gw.get('x', path);
      expect(a.status, path).toBe(503);
      expect(a.body, path).toContain('reset reason: protocol error');
    }
  });
});

describe('mesh listener', () => {
  it('a port the service does not declare is refused with 502 and nothing is forwarded', async () => {
    const reviews = await upstream('reviews');
    const gw = await startGateway(
      {
        'reviews.yaml': `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  ports: [{port: 9080, name: http}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: default}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{port: ${reviews.port}, name: http}]
`,
      },
      { meshListen: { host: '127.0.0.1', port: 0 } },
    );
    open.push({ close: () => gw.stop() });
    const call = (host: string, path: string) => request({ port: gw.gateway.addressOf(0).port, path, headers: { host } });
    const bad = await call('reviews:1234', '/undeclared');
    expect(bad.status).toBe(502);
    expect(reviews.seen).toEqual([]);
    const good = await call('reviews:9080', '/declared');
    expect(good.status).toBe(200);
    expect(reviews.seen.map((s) => s.url)).toEqual(['/declared']);
  });
});

describe('DNS resolution', () => {
  // A name that stops resolving cannot be arranged with the real resolver here, so lookups of
  // *.dns.test are answered by the vi.mock at the top of this file; the requests are real.
  it('a ServiceEntry (resolution DNS) whose name stops resolving keeps serving its last addresses; refreshes do not pile up', async () => {
    const api = await upstream('api');
    dns.answer.set('api-backend.dns.test', 'ok');
    const gw = await gateway({
      'se.yaml': `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.dns.test]
  # MESH_INTERNAL: an external name resolving to loopback is refused (the egress address guard).
  location: MESH_INTERNAL
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: api-backend.dns.test, ports: {http: ${api.port}}}]
`,
      'vs.yaml': virtualService('app', ['*'], [{ route: to('api.dns.test') }]),
    });
    const first = await gw.get('x', '/before');
    expect(first.status).toBe(200);
    expect(echo(first).name).toBe('api');

    const state = (gw.gateway as unknown as { state: DataPlaneState }).state;
    const cluster = [...state.active.clusters.values()].find((c) => c.config.host === 'api.dns.test');
    expect(cluster).toBeDefined();
    // The periodic refresh (every 5 s), run now.
    const refresh = () => (cluster as unknown as { resolve(): Promise<void> }).resolve();

    dns.answer.set('api-backend.dns.test', 'fail');
    const calls = dns.calls;
    await refresh();
    expect(dns.calls).toBeGreaterThan(calls);
    expect((cluster as ClusterRuntime).healthy.map((e) => e.address)).toEqual(['127.0.0.1']);
    const after = await gw.get('x', '/after-failure');
    expect(after.status).toBe(200);
    expect(echo(after).name).toBe('api');

    // A lookup that never returns: later ticks do not start more of them.
    dns.answer.set('api-backend.dns.test', 'hang');
    for (let i = 0; i < 5; i++) void refresh();
    await new Promise((r) => setTimeout(r, 50));
    expect(dns.hanging).toBe(1);
    expect((await gw.get('x', '/while-hanging')).status).toBe(200);
  });
});
