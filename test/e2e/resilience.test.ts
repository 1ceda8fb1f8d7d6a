import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Route } from '../../src/compile/snapshot.js';
import { REPLAY_LIMIT } from '../../src/http/router/body.js';
import { httpRoutes } from '../helpers/compile.js';
import { startGateway, staticService, type TestGateway } from '../helpers/gateway.js';
import { request, type Answer } from '../helpers/http.js';
import { startUpstream, type Upstream, deadPort } from '../helpers/upstream.js';

// Timeouts, retries and fault injection through real sockets, as Istio documents them
// (HTTPRoute.timeout, HTTPRetry, HTTPFaultInjection) and Envoy's router behaves: retry
// conditions of x-envoy-retry-on, per_try_timeout, previous_hosts, x-envoy-attempt-count.

const HOST = 'app.example.com';
const BACKEND = 'backend.test';

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;

/** Things to close after each test. */
let open: { close(): Promise<void> }[] = [];

afterEach(async () => {
  const list = open;
  open = [];
  await Promise.all(list.map((o) => o.close().catch(() => undefined)));
});

/**
 * A gateway serving HOST with the given `http` routes of one VirtualService; BACKEND's
 * endpoints are the given local ports. Extra YAML documents (DestinationRules) may be added.
 */
async function gatewayFor(httpRoutes: object[], ports: number[], extra: Record<string, string> = {}): Promise<TestGateway> {
  const vs = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'app', namespace: 'default' },
    spec: { hosts: [HOST], gateways: ['gw'], http: httpRoutes },
  };
  const gw = await startGateway({
    'gateway.yaml': GATEWAY,
    'backend.yaml': staticService(BACKEND, ports),
    'vs.yaml': JSON.stringify(vs),
    ...extra,
  });
  open.push({ close: () => gw.stop() });
  return gw;
}

const toBackend = [{ destination: { host: BACKEND, port: { number: 80 } } }];

/** The compiled routes of HOST on the gateway's port 80. */
function compiledRoutes(gw: TestGateway): Route[] {
  const listener = gw.gateway.snapshot.listeners.find((l) => l.name === 'gateway:80');
  const table = listener ? httpRoutes(listener) : null;
  const vhost = table?.exact.get(HOST) ?? table?.any ?? null;
  if (!vhost) throw new Error(`no virtual host for ${HOST}`);
  return vhost.routes;
}

/** What one upstream call does, by the order it arrives in; the last step repeats. */
type Step = number | 'reset' | { delay: number; status?: number };

interface Scripted extends Upstream {
  /** Bytes and sha256 of the request body of each call, in order. */
  bodies: { bytes: number; sha: string }[];
}

/**
 * An upstream that reads each request body completely, then follows `steps`: answer a status
 * (body `NAME call N status S`), destroy the connection, or answer after a delay.
 */
async function scripted(name: string, steps: Step[]): Promise<Scripted> {
  let calls = 0;
  const bodies: Scripted['bodies'] = [];
  const up = await startUpstream({
    name,
    handler: (req, res) => {
      const n = ++calls;
      const step = steps[Math.min(n, steps.length) - 1]!;
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
      });
      req.on('end', () => {
        bodies.push({ bytes, sha: hash.digest('hex') });
        if (step === 'reset') {
          req.socket.destroy();
          return;
        }
        const status = typeof step === 'number' ? step : (step.status ?? 200);
        const reply = () => {
          if (res.destroyed) return;
          const body = `${name} call ${n} status ${status}`;
          res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-upstream': name });
          res.end(body);
        };
        if (typeof step === 'object') setTimeout(reply, step.delay);
        else reply();
      });
    },
  });
  open.push(up);
  return Object.assign(up, { bodies });
}

/** An upstream that sends its headers and `head,` at once, and `tail` (ending the body) after `ms`. */
async function trickle(name: string, ms: number): Promise<Upstream> {
  const up = await startUpstream({
    name,
    handler: (req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('head,');
        setTimeout(() => {
          if (!res.destroyed) res.end('tail');
        }, ms);
      });
    },
  });
  open.push(up);
  return up;
}

/** A GET that reports what arrived even when the connection closes before the body is complete. */
function partial(port: number, host: string): Promise<{ r: { status: number; body: string; complete: boolean }; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('error', () => undefined);
      res.on('close', () => resolve({ r: { status: res.statusCode ?? 0, body, complete: res.complete }, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
  });
}

async function timed(p: Promise<Answer>): Promise<{ a: Answer; ms: number }> {
  const t0 = performance.now();
  const a = await p;
  return { a, ms: performance.now() - t0 };
}

const attemptCounts = (up: Upstream) => up.seen.map((s) => s.headers['x-envoy-attempt-count']);

const TIMEOUT_BODY = 'upstream request timeout';
const RESET_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection termination';
const CONNECT_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection failure';

describe('route timeout', () => {
  it('answers 504 `upstream request timeout` when the upstream is slower than the route timeout', async () => {
    const up = await scripted('slow', [{ delay: 3000 }]);
    const gw = await gatewayFor([{ route: toBackend, timeout: '250ms' }], [up.port]);
    const { a, ms } = await timed(gw.get(HOST, '/'));
    expect(a.status).toBe(504);
    expect(a.body).toBe(TIMEOUT_BODY);
    expect(a.headers.server).toBe('istio-envoy');
    expect(ms).toBeGreaterThanOrEqual(245);
    expect(up.seen).toHaveLength(1);
  });

  it('lets an answer within the route timeout through', async () => {
    const up = await scripted('ok', [{ delay: 50 }]);
    const gw = await gatewayFor([{ route: toBackend, timeout: '5s' }], [up.port]);
    const a = await gw.get(HOST, '/');
    expect(a.status).toBe(200);
    expect(a.body).toBe('ok call 1 status 200');
  });

  it('compiles an unset timeout as the 15 s default, and a duration as written (0s is refused by the loader, as Istio refuses it)', async () => {
    const up = await scripted('ok', [{ delay: 300 }]);
    const gw = await gatewayFor(
      [
        { match: [{ uri: { prefix: '/short' } }], route: toBackend, timeout: '1.5s' },
        { route: toBackend },
      ],
      [up.port],
    );
    expect(compiledRoutes(gw).map((r) => r.timeoutMs)).toEqual([1500, 15_000]);
    // Within the timeout, a slow answer arrives.
    const a = await gw.get(HOST, '/short');
    expect(a.status).toBe(200);
    expect(a.body).toBe('ok call 1 status 200');
  });

  it('cuts off a response whose body is still streaming when the route timeout fires (it spans the whole response)', async () => {
    const up = await trickle('stalls', 5000);
    const gw = await gatewayFor([{ route: toBackend, timeout: '300ms' }], [up.port]);
    const { r, ms } = await partial(gw.port(), HOST);
    expect(r.status).toBe(200);
    expect(r.body).toBe('head,');
    expect(r.complete).toBe(false);
    expect(ms).toBeGreaterThanOrEqual(295);
  });

  it('does not apply perTryTimeout once the response has started downstream (the route timeout still bounds it)', async () => {
    const up = await trickle('slow-body', 400);
    const gw = await gatewayFor([{ route: toBackend, timeout: '5s', retries: { attempts: 2, perTryTimeout: '150ms', retryOn: '5xx' } }], [up.port]);
    const { r } = await partial(gw.port(), HOST);
    expect(r).toEqual({ status: 200, body: 'head,tail', complete: true });
    expect(up.seen).toHaveLength(1);
  });

  it('does not count an injected fault delay against the route timeout (the router starts its timer after the fault filter)', async () => {
    const up = await scripted('ok', [200]);
    const gw = await gatewayFor(
      [{ route: toBackend, timeout: '200ms', fault: { delay: { fixedDelay: '400ms', percentage: { value: 100 } } } }],
      [up.port],
    );
    const { a, ms } = await timed(gw.get(HOST, '/'));
    expect(a.status).toBe(200);
    expect(a.body).toBe('ok call 1 status 200');
    expect(ms).toBeGreaterThanOrEqual(395);
  });
});

describe('no retries unless the route sets them', () => {
  it('sends a request that gets 503 upstream exactly once', async () => {
    const up = await scripted('failing', [503]);
    const gw = await gatewayFor([{ route: toBackend }], [up.port]);
    const a = await gw.get(HOST, '/');
    expect(a.status).toBe(503);
    expect(a.body).toBe('failing call 1 status 503');
    expect(up.seen).toHaveLength(1);
    expect(attemptCounts(up)).toEqual(['1']);
  });

  it('sends a request whose connection is reset exactly once, and answers 503 with the reset reason', async () => {
    const up = await scripted('resetting', ['reset']);
    const gw = await gatewayFor([{ route: toBackend }], [up.port]);
    const a = await gw.get(HOST, '/');
    expect(a.status).toBe(503);
    expect(a.body).toBe(RESET_BODY);
    expect(up.seen).toHaveLength(1);
  });

  it('does not retry a connection failure: the request that picked the dead endpoint gets 503', async () => {
    const live = await scripted('live', [200]);
    const gw = await gatewayFor([{ route: toBackend }], [await deadPort(), live.port]);
    const answers: Answer[] = [];
    for (let i = 0; i < 4; i++) answers.push(await gw.get(HOST, '/'));
    const failed = answers.filter((a) => a.status === 503);
    expect(failed.length).toBeGreaterThan(0);
    for (const a of failed) expect(a.body.startsWith(CONNECT_BODY)).toBe(true);
    expect(live.seen).toHaveLength(4 - failed.length);
  });

  it('treats `attempts: 0` as retries disabled', async () => {
    const up = await scripted('failing', [503]);
    const gw = await gatewayFor([{ route: toBackend, retries: { attempts: 0 } }], [up.port]);
    const a = await gw.get(HOST, '/');
    expect(a.status).toBe(503);
    expect(up.seen).toHaveLength(1);
  });
});

describe('retries', () => {
  it('makes at most 1 + attempts tries and then returns the last upstream answer, status and body', async () => {
    const up = await scripted('failing', [503]);
    const gw = await gatewayFor([{ route: toBackend, retries: { attempts: 2, retryOn: '5xx' } }], [up.port]);
    const a = await gw.get(HOST, '/');
    expect(a.status).toBe(503);
    expect(a.body).toBe('failing call 3 status 503');
    expect(a.headers['x-upstream']).toBe('failing');
    expect(up.seen).toHaveLength(3);
  });

  it('stamps x-envoy-attempt-count 1, 2, 3 on successive tries, replacing one the client sent', async () => {
    const up = await scripted('flaky', [503, 503, 200]);
    const gw = await gatewayFor([{ route: toBackend, retries: { attempts: 4, retryOn: '5xx' } }], [up.port]);
    const a = await gw.get(HOST, { path: '/', headers: { 'x-envoy-attempt-count': '7' } });
    expect(a.status).toBe(200);
    expect(a.body).toBe('flaky call 3 status 200');
    expect(attemptCounts(up)).toEqual(['1', '2', '3']);
    // Every try of one request carries the same request id.
    expect(new Set(up.seen.map((s) => s.headers['x-request-id'])).size).toBe(1);
  });

  // [retryOn, upstream status, retried?] — Envoy's x-envoy-retry-on conditions, and Istio's bare status codes.
  const statusCases: [string | undefined, number, boolean][] = [
    ['5xx', 500, true],
    ['5xx', 503, true],
    ['5xx', 404, false],
    ['gateway-error', 502, true],
    ['gateway-error', 503, true],
    ['gateway-error', 504, true],
    ['gateway-error', 500, false],
    ['retriable-4xx', 409, true],
    ['retriable-4xx', 404, false],
    ['retriable-4xx', 503, false],
    ['503,504', 504, true],
    ['503,504', 503, true],
    ['503,504', 502, false],
    ['retriable-status-codes,418', 418, true],
    ['retriable-status-codes,418', 503, false],
    ['connect-failure', 503, false],
    ['reset', 503, false],
    // Only `attempts` set: Istio's default connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes (503).
    [undefined, 503, true],
    [undefined, 502, false],
    [undefined, 500, false],
  ];
  it.each(statusCases)('retryOn %s, upstream answers %i: retried %s', async (retryOn, status, retried) => {
    const up = await scripted('svc', [status, 200]);
    const retries = retryOn === undefined ? { attempts: 1 } : { attempts: 1, retryOn };
    const gw = await gatewayFor([{ route: toBackend, retries }], [up.port]);
    const a = await gw.get(HOST, '/');
    if (retried) {
      expect(a.status).toBe(200);
      expect(a.body).toBe('svc call 2 status 200');
      expect(attemptCounts(up)).toEqual(['1', '2']);
    } else {
      expect(a.status).toBe(status);
      expect(a.body).toBe(`svc call 1 status ${status}`);
      expect(up.seen).toHaveLength(1);
    }
  });

  // [retryOn, retried?] for an upstream that closes the connection without answering.
  const resetCases: [string | undefined, boolean][] = [
    ['reset', true],
    ['5xx', true],
    ['gateway-error', true],
    ['connect-failure', false],
    ['retriable-4xx', false],
    [undefined, false],
  ];
  it.each(resetCases)('retryOn %s, upstream resets the connection: retried %s', async (retryOn, retried) => {
    const up = await scripted('svc', ['reset', 200]);
    const retries = retryOn === undefined ? { attempts: 1 } : { attempts: 1, retryOn };
    const gw = await gatewayFor([{ route: toBackend, retries }], [up.port]);
    const a = await gw.get(HOST, '/');
    if (retried) {
      expect(a.status).toBe(200);
      expect(a.body).toBe('svc call 2 status 200');
      expect(up.seen).toHaveLength(2);
    } else {
      expect(a.status).toBe(503);
      expect(a.body).toBe(RESET_BODY);
      expect(up.seen).toHaveLength(1);
    }
  });

  it.each([['connect-failure'], ['reset'], ['5xx'], [undefined]])('retryOn %s retries a refused connection on the other endpoint', async (retryOn) => {
    const live = await scripted('live', [200]);
    const retries = retryOn === undefined ? { attempts: 1 } : { attempts: 1, retryOn };
    const gw = await gatewayFor([{ route: toBackend, retries }], [await deadPort(), live.port]);
    for (let i = 0; i < 4; i++) {
      const a = await gw.get(HOST, '/');
      expect(a.status).toBe(200);
      expect(a.body).toMatch(/^live call \d status 200$/);
    }
    expect(live.seen).toHaveLength(4);
  });

  it('sends the retry to an endpoint not tried yet (3 replicas, the first one failing)', async () => {
    const bad = await scripted('bad', [503]);
    const good = [await scripted('good-1', [200]), await scripted('good-2', [200])];
    // Random balancing, so only the previous-hosts rule keeps a retry off the failing replica.
    const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: backend, namespace: default}
spec:
  host: ${BACKEND}
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
`;
    const gw = await gatewayFor([{ route: toBackend, retries: { attempts: 1, retryOn: '503' } }], [bad.port, good[0]!.port, good[1]!.port], { 'dr.yaml': dr });
    for (let i = 0; i < 30; i++) {
      const a = await gw.get(HOST, '/');
      expect(a.status).toBe(200);
      expect(a.headers['x-upstream']).toMatch(/^good-/);
    }
    expect(bad.seen.length).toBeGreaterThan(0);
    // The failing replica only ever saw first tries.
    expect(new Set(attemptCounts(bad))).toEqual(new Set(['1']));
    const retriesOnGood = good.flatMap((g) => attemptCounts(g)).filter((c) => c === '2');
    expect(retriesOnGood).toHaveLength(bad.seen.length);
  });

  it('spreads the tries of one request over distinct endpoints (2 of 3 replicas failing, attempts 2)', async () => {
    const ups = [await scripted('bad-0', [503]), await scripted('bad-1', [503]), await scripted('good', [200])];
    const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: backend, namespace: default}
spec:
  host: ${BACKEND}
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
`;
    const gw = await gatewayFor([{ route: toBackend, retries: { attempts: 2, retryOn: 'gateway-error' } }], ups.map((u) => u.port), { 'dr.yaml': dr });
    for (let i = 0; i < 20; i++) {
      const a = await gw.get(HOST, '/');
      expect(a.status).toBe(200);
      expect(a.headers['x-upstream']).toBe('good');
    }
    const byRequest = new Map<string, string[]>();
    for (const u of ups) for (const s of u.seen) byRequest.set(s.headers['x-request-id'] as string, [...(byRequest.get(s.headers['x-request-id'] as string) ?? []), u.name]);
    expect(byRequest.size).toBe(20);
    for (const names of byRequest.values()) expect(new Set(names).size).toBe(names.length);
  });

  it('abandons a slow try after perTryTimeout and answers from the retry', async () => {
    const up = await scripted('svc', [{ delay: 5000 }, 200]);
    const gw = await gatewayFor([{ route: toBackend, timeout: '10s', retries: { attempts: 2, perTryTimeout: '200ms', retryOn: 'gateway-error' } }], [up.port]);
    const { a, ms } = await timed(gw.get(HOST, '/'));
    expect(a.status).toBe(200);
    expect(a.body).toBe('svc call 2 status 200');
    expect(attemptCounts(up)).toEqual(['1', '2']);
    expect(ms).toBeGreaterThanOrEqual(195);
  });

  it('answers 504 once every try has hit perTryTimeout and the retries are used up', async () => {
    const up = await scripted('svc', [{ delay: 5000 }]);
    const gw = await gatewayFor([{ route: toBackend, timeout: '10s', retries: { attempts: 2, perTryTimeout: '150ms', retryOn: '5xx' } }], [up.port]);
    const { a, ms } = await timed(gw.get(HOST, '/'));
    expect(a.status).toBe(504);
    expect(a.body).toBe(TIMEOUT_BODY);
    expect(attemptCounts(up)).toEqual(['1', '2', '3']);
    expect(ms).toBeGreaterThanOrEqual(445);
  });

  it('answers 504 when the route timeout fires before the tries are used up', async () => {
    const up = await scripted('svc', [{ delay: 5000 }]);
    const gw = await gatewayFor([{ route: toBackend, timeout: '500ms', retries: { attempts: 5, perTryTimeout: '300ms', retryOn: 'reset' } }], [up.port]);
    const { a, ms } = await timed(gw.get(HOST, '/'));
    expect(a.status).toBe(504);
    expect(a.body).toBe(TIMEOUT_BODY);
    expect(ms).toBeGreaterThanOrEqual(495);
    expect(up.seen.length).toBeGreaterThanOrEqual(1);
    expect(up.seen.length).toBeLessThan(6);
  });

  it('does not retry a per-try timeout under the default retryOn (it names no timeout condition)', async () => {
    const up = await scripted('svc', [{ delay: 5000 }, 200]);
    const gw = await gatewayFor([{ route: toBackend, timeout: '10s', retries: { attempts: 2, perTryTimeout: '150ms' } }], [up.port]);
    const a = await gw.get(HOST, '/');
    expect(a.status).toBe(504);
    expect(a.body).toBe(TIMEOUT_BODY);
    expect(up.seen).toHaveLength(1);
  });

  it('replays a request body within the buffer limit on retry: the successful try receives all of it', async () => {
    const up = await scripted('svc', [503, 200]);
    const gw = await gatewayFor([{ route: toBackend, retries: { attempts: 1, retryOn: '503' } }], [up.port]);
    const body = Buffer.alloc(512 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) & 0xff;
    const sha = createHash('sha256').update(body).digest('hex');
    const a = await request({ port: gw.port(), method: 'POST', headers: { host: HOST, 'content-type': 'application/octet-stream' }, body });
    expect(a.status).toBe(200);
    expect(a.body).toBe('svc call 2 status 200');
    expect(up.bodies).toEqual([
      { bytes: body.length, sha },
      { bytes: body.length, sha },
    ]);
  });

  it('replays a chunked request body on retry too', async () => {
    const up = await scripted('svc', ['reset', 200]);
    const gw = await gatewayFor([{ route: toBackend, retries: { attempts: 1, retryOn: 'reset' } }], [up.port]);
    const parts = ['first part,', 'second part,', 'last part'];
    const a = await new Promise<Answer>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gw.port(), method: 'PUT', path: '/', headers: { host: HOST }, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      for (const p of parts) req.write(p);
      req.end();
    });
    expect(a.status).toBe(200);
    const expected = Buffer.from(parts.join(''));
    expect(up.bodies[1]).toEqual({ bytes: expected.length, sha: createHash('sha256').update(expected).digest('hex') });
  });

  it('does not retry a request whose body is larger than the buffer limit', async () => {
    const up = await scripted('svc', [503, 200]);
    const gw = await gatewayFor([{ route: toBackend, retries: { attempts: 2, retryOn: '5xx' } }], [up.port]);
    const body = Buffer.alloc(REPLAY_LIMIT + 64 * 1024, 0x62);
    const a = await request({ port: gw.port(), method: 'POST', headers: { host: HOST }, body });
    expect(a.status).toBe(503);
    expect(a.body).toBe('svc call 1 status 503');
    expect(up.seen).toHaveLength(1);
    // The body still reached the upstream whole, streamed.
    expect(up.bodies[0]!.bytes).toBe(body.length);
  });
});

describe('fault injection', () => {
  it('aborts with the configured status and body `fault filter abort`, never contacting the upstream', async () => {
    const up = await scripted('svc', [200]);
    const gw = await gatewayFor([{ route: toBackend, fault: { abort: { httpStatus: 418, percentage: { value: 100 } } } }], [up.port]);
    for (let i = 0; i < 3; i++) {
      const a = await gw.get(HOST, '/');
      expect(a.status).toBe(418);
      expect(a.body).toBe('fault filter abort');
      expect(a.headers.server).toBe('istio-envoy');
    }
    expect(up.seen).toHaveLength(0);
  });

  it('aborts about half the requests at 50 %', async () => {
    const up = await scripted('svc', [200]);
    const gw = await gatewayFor([{ route: toBackend, fault: { abort: { httpStatus: 503, percentage: { value: 50 } } } }], [up.port]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    open.push({ close: async () => agent.destroy() });
    const N = 400;
    const answers: Answer[] = [];
    for (let i = 0; i < N; i += 20) {
      answers.push(...(await Promise.all(Array.from({ length: 20 }, () => request({ port: gw.port(), headers: { host: HOST }, agent })))));
    }
    const aborted = answers.filter((a) => a.status === 503 && a.body === 'fault filter abort').length;
    const passed = answers.filter((a) => a.status === 200 && a.body.startsWith('svc call')).length;
    expect(aborted + passed).toBe(N);
    // Binomial(400, 0.5): mean 200, standard deviation 10; these bounds are six deviations wide.
    expect(aborted).toBeGreaterThanOrEqual(140);
    expect(aborted).toBeLessThanOrEqual(260);
    expect(up.seen).toHaveLength(passed);
  });

  it('delays every request at 100 % by fixedDelay', async () => {
    const up = await scripted('svc', [200]);
    const gw = await gatewayFor([{ route: toBackend, fault: { delay: { fixedDelay: '300ms', percentage: { value: 100 } } } }], [up.port]);
    for (let i = 0; i < 2; i++) {
      const { a, ms } = await timed(gw.get(HOST, '/'));
      expect(a.status).toBe(200);
      expect(ms).toBeGreaterThanOrEqual(295);
    }
    expect(up.seen).toHaveLength(2);
  });

  it('accepts the deprecated integer `percent` for a delay', async () => {
    const up = await scripted('svc', [200]);
    const gw = await gatewayFor([{ route: toBackend, fault: { delay: { fixedDelay: '250ms', percent: 100 } } }], [up.port]);
    const { a, ms } = await timed(gw.get(HOST, '/'));
    expect(a.status).toBe(200);
    expect(ms).toBeGreaterThanOrEqual(245);
  });

  it('does not delay at 0 %', async () => {
    const up = await scripted('svc', [200]);
    const gw = await gatewayFor([{ route: toBackend, fault: { delay: { fixedDelay: '20s', percentage: { value: 0 } } } }], [up.port]);
    for (let i = 0; i < 5; i++) {
      const { a, ms } = await timed(gw.get(HOST, '/'));
      expect(a.status).toBe(200);
      // A 20 s delay would have held the answer back at least that long.
      expect(ms).toBeLessThan(20_000);
    }
    expect(up.seen).toHaveLength(5);
  });

  it('neither delays nor aborts when percentage is left unspecified (Istio: "no request will be delayed/aborted")', async () => {
    const up = await scripted('svc', [200]);
    const gw = await gatewayFor([{ route: toBackend, fault: { delay: { fixedDelay: '20s' }, abort: { httpStatus: 500 } } }], [up.port]);
    const { a, ms } = await timed(gw.get(HOST, '/'));
    expect(a.status).toBe(200);
    expect(a.body).toBe('svc call 1 status 200');
    expect(ms).toBeLessThan(20_000);
  });

  it('delays, then aborts, when both are configured', async () => {
    const up = await scripted('svc', [200]);
    const gw = await gatewayFor(
      [{ route: toBackend, fault: { delay: { fixedDelay: '250ms', percentage: { value: 100 } }, abort: { httpStatus: 503, percentage: { value: 100 } } } }],
      [up.port],
    );
    const { a, ms } = await timed(gw.get(HOST, '/'));
    expect(a.status).toBe(503);
    expect(a.body).toBe('fault filter abort');
    expect(ms).toBeGreaterThanOrEqual(245);
    expect(up.seen).toHaveLength(0);
  });

  it('injects the fault only on the route the match selects (end-user: jason)', async () => {
    const up = await scripted('ratings', [200]);
    const gw = await gatewayFor(
      [
        { match: [{ headers: { 'end-user': { exact: 'jason' } } }], fault: { abort: { httpStatus: 500, percentage: { value: 100 } } }, route: toBackend },
        { route: toBackend },
      ],
      [up.port],
    );
    const jason = await gw.get(HOST, { path: '/ratings/0', headers: { 'end-user': 'jason' } });
    expect(jason.status).toBe(500);
    expect(jason.body).toBe('fault filter abort');
    const other = await gw.get(HOST, { path: '/ratings/0', headers: { 'end-user': 'alice' } });
    expect(other.status).toBe(200);
    const anonymous = await gw.get(HOST, '/ratings/0');
    expect(anonymous.status).toBe(200);
    expect(up.seen).toHaveLength(2);
    expect(up.seen.map((s) => s.headers['end-user'])).toEqual(['alice', undefined]);
  });

  it('does not retry a fault abort, even on a route with retries', async () => {
    const up = await scripted('svc', [200]);
    const gw = await gatewayFor(
      [{ route: toBackend, retries: { attempts: 3, retryOn: '5xx' }, fault: { abort: { httpStatus: 503, percentage: { value: 100 } } } }],
      [up.port],
    );
    const a = await gw.get(HOST, '/');
    expect(a.status).toBe(503);
    expect(a.body).toBe('fault filter abort');
    expect(up.seen).toHaveLength(0);
  });
});
