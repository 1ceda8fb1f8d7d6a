import http from 'node:http';
import net from 'node:net';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, writeConfigDir, type TestGateway } from '../helpers/gateway.js';
import type { Answer } from '../helpers/http.js';
import { runCli } from '../helpers/process.js';
import { startReplicas, startUpstream, type Upstream, deadPort } from '../helpers/upstream.js';

// DestinationRule behaviour end to end: the real gateway in this process, real upstream
// servers on loopback, every request through a socket. Istio's documentation
// (networking/v1alpha3/destination_rule.proto) says what each field means; Envoy's load
// balancers, circuit breakers and outlier detection say what the client sees.

type Doc = Record<string, unknown>;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const yaml = (docs: Doc[]) => docs.map((d) => JSON.stringify(d)).join('\n---\n') + '\n';
const slug = (s: string) => s.replace(/[^a-z0-9]/g, '-');
const who = (a: Answer) => a.headers['x-upstream'] as string | undefined;

function tally(names: (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n ?? '?'] = (out[n ?? '?'] ?? 0) + 1;
  return out;
}

const GATEWAY: Doc = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { name: 'gw', namespace: 'default' },
  spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] },
};

interface Ep {
  port: number;
  labels?: Record<string, string>;
  weight?: number;
}

/** A STATIC ServiceEntry on loopback; `ports` are the service ports, each endpoint's `port` the first one's target. */
function serviceEntry(host: string, eps: Ep[], extra: { altPorts?: number[] } = {}): Doc {
  const ports = [{ number: 80, name: 'http', protocol: 'HTTP' }];
  if (extra.altPorts) ports.push({ number: 81, name: 'http-alt', protocol: 'HTTP' });
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: slug(host), namespace: 'default' },
    spec: {
      hosts: [host],
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      ports,
      endpoints: eps.map((e, i) => ({
        address: '127.0.0.1',
        ports: extra.altPorts ? { http: e.port, 'http-alt': extra.altPorts[i] } : { http: e.port },
        ...(e.labels ? { labels: e.labels } : {}),
        ...(e.weight !== undefined ? { weight: e.weight } : {}),
      })),
    },
  };
}

function virtualService(host: string, http: unknown[]): Doc {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: slug(host), namespace: 'default' },
    spec: { hosts: [host], gateways: ['gw'], http },
  };
}

/** A VirtualService sending everything for `host` to the service of the same name. */
const straight = (host: string) => virtualService(host, [{ route: [{ destination: { host } }] }]);

function destinationRule(host: string, spec: Doc, name = slug(host)): Doc {
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default' }, spec: { host, ...spec } };
}

/** An upstream that always answers `status`, naming itself in x-upstream. */
function failing(name: string, status: number | (() => number)): Promise<Upstream> {
  return startUpstream({
    name,
    handler: (_req, res) => {
      const code = typeof status === 'number' ? status : status();
      res.writeHead(code, { 'x-upstream': name, 'content-type': 'text/plain', 'content-length': '4' });
      res.end('fail');
    },
  });
}

/** One request from a chosen loopback source address (127.0.0.0/8 is all local on Linux). */
function requestFrom(port: number, host: string, localAddress: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host }, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function sequential(gw: TestGateway, host: string, n: number, opts: { path?: string; headers?: Record<string, string> } = {}): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < n; i++) out.push(await gw.get(host, opts));
  return out;
}

const OVERFLOW = 'upstream connect error or disconnect/reset before headers. reset reason: overflow';

// ---------------------------------------------------------------------------------------

describe('DestinationRule subsets', () => {
  let gw: TestGateway;
  let rs: Upstream[];
  let we: Upstream[];
  let alt: Upstream[];

  beforeAll(async () => {
    rs = await startReplicas(4, 'sub');
    we = await startReplicas(3, 'we');
    alt = await startReplicas(6, 'port');
    const v = (version: string) => ({ version });
    const docs: Doc[] = [
      GATEWAY,
      // Endpoints labelled in the ServiceEntry itself.
      serviceEntry('subsets.test', [
        { port: rs[0]!.port, labels: v('v1') },
        { port: rs[1]!.port, labels: v('v1') },
        { port: rs[2]!.port, labels: v('v2') },
        { port: rs[3]!.port, labels: v('v2') },
      ]),
      destinationRule('subsets.test', {
        trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } },
        subsets: [
          { name: 'v1', labels: v('v1') },
          { name: 'v2', labels: v('v2'), trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
          { name: 'v3', labels: v('v3') },
        ],
      }),
      virtualService('subsets.test', [
        { match: [{ uri: { prefix: '/v1' } }], route: [{ destination: { host: 'subsets.test', subset: 'v1' } }] },
        { match: [{ uri: { prefix: '/v2' } }], route: [{ destination: { host: 'subsets.test', subset: 'v2' } }] },
        { match: [{ uri: { prefix: '/v3' } }], route: [{ destination: { host: 'subsets.test', subset: 'v3' } }] },
        { match: [{ uri: { prefix: '/ghost' } }], route: [{ destination: { host: 'subsets.test', subset: 'ghost' } }] },
        { route: [{ destination: { host: 'subsets.test' } }] },
      ]),
      // Endpoints from WorkloadEntries that a Kubernetes Service selects.
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'reviews', namespace: 'default' },
        spec: { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080, targetPort: 9080 }] },
      },
      ...we.map((u, i) => ({
        apiVersion: 'networking.istio.io/v1',
        kind: 'WorkloadEntry',
        metadata: { name: `reviews-${i}`, namespace: 'default' },
        spec: { address: '127.0.0.1', ports: { http: u.port }, labels: { app: 'reviews', version: i === 0 ? 'v1' : 'v2' } },
      })),
      // A WorkloadEntry the Service's selector does not pick.
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'WorkloadEntry',
        metadata: { name: 'ratings-0', namespace: 'default' },
        spec: { address: '127.0.0.1', ports: { http: rs[0]!.port }, labels: { app: 'ratings', version: 'v2' } },
      },
      destinationRule('reviews', { subsets: [{ name: 'v1', labels: v('v1') }, { name: 'v2', labels: v('v2') }] }),
      virtualService('reviews.test', [
        { match: [{ uri: { prefix: '/v1' } }], route: [{ destination: { host: 'reviews', port: { number: 9080 }, subset: 'v1' } }] },
        { route: [{ destination: { host: 'reviews', port: { number: 9080 }, subset: 'v2' } }] },
      ]),
      // Two ports: port 81 has its own settings, which replace (not extend) the rule-level ones.
      serviceEntry('ports.test', alt.slice(0, 3).map((u) => ({ port: u.port })), { altPorts: alt.slice(3).map((u) => u.port) }),
      destinationRule('ports.test', {
        trafficPolicy: {
          loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } },
          connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } },
          portLevelSettings: [{ port: { number: 81 }, loadBalancer: { simple: 'ROUND_ROBIN' } }],
        },
      }),
      virtualService('ports.test', [
        { match: [{ uri: { prefix: '/b' } }], route: [{ destination: { host: 'ports.test', port: { number: 81 } } }] },
        { route: [{ destination: { host: 'ports.test', port: { number: 80 } } }] },
      ]),
    ];
    gw = await startGateway({ 'config.yaml': yaml(docs) }, { gatewayPorts: [80] });
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([...(rs ?? []), ...(we ?? []), ...(alt ?? [])].map((u) => u.close()));
  });

  it('sends a subset only to the ServiceEntry endpoints carrying its labels', async () => {
    const users = Array.from({ length: 24 }, (_, i) => `user-${i}`);
    const v1 = await Promise.all(users.map((u) => gw.get('subsets.test', { path: '/v1', headers: { 'x-user': u } })));
    const v2 = await Promise.all(users.map((u) => gw.get('subsets.test', { path: '/v2', headers: { 'x-user': u } })));
    const all = await sequential(gw, 'subsets.test', 8);
    expect([...v1, ...v2, ...all].every((a) => a.status === 200)).toBe(true);
    expect(Object.keys(tally(v1.map(who))).sort()).toEqual(['sub-0', 'sub-1']);
    expect(Object.keys(tally(v2.map(who))).sort()).toEqual(['sub-2', 'sub-3']);
    // Without a subset the route balances over every endpoint of the host.
    expect(Object.keys(tally(all.map(who))).sort()).toEqual(['sub-0', 'sub-1', 'sub-2', 'sub-3']);
  });

  it('selects subsets among WorkloadEntries picked by a Kubernetes Service selector', async () => {
    const v2 = await sequential(gw, 'reviews.test', 10);
    const v1 = await sequential(gw, 'reviews.test', 4, { path: '/v1' });
    expect([...v1, ...v2].every((a) => a.status === 200)).toBe(true);
    // v2 is two WorkloadEntries, in strict rotation; the ratings entry (not selected by the Service) never answers.
    const names = v2.map(who);
    expect(names.slice(0, 2).sort()).toEqual(['we-1', 'we-2']);
    names.forEach((n, i) => expect(n).toBe(names[i % 2]));
    expect(tally(v1.map(who))).toEqual({ 'we-0': 4 });
  });

  it('lets a subset trafficPolicy override the rule-level one (v1 inherits the hash, v2 round robins)', async () => {
    const v1 = await sequential(gw, 'subsets.test', 20, { path: '/v1', headers: { 'x-user': 'alice' } });
    const v2 = await sequential(gw, 'subsets.test', 20, { path: '/v2', headers: { 'x-user': 'alice' } });
    expect(Object.keys(tally(v1.map(who)))).toHaveLength(1);
    const names = v2.map(who);
    expect(tally(names)).toEqual({ 'sub-2': 10, 'sub-3': 10 });
    for (let i = 1; i < names.length; i++) expect(names[i]).not.toBe(names[i - 1]);
  });

  it('answers 503 for a subset with no matching endpoint and for a subset no rule defines', async () => {
    const empty = await gw.get('subsets.test', '/v3');
    expect(empty.status).toBe(503);
    expect(empty.body).toBe('no healthy upstream');
    const ghost = await gw.get('subsets.test', '/ghost');
    expect(ghost.status).toBe(503);
    // Envoy has no cluster for an undefined subset: 503 with an empty body, as for an unknown host.
    expect(ghost.body).toBe('');
    expect(rs.every((u) => !u.seen.some((s) => s.url.startsWith('/v3') || s.url.startsWith('/ghost')))).toBe(true);
  });

  it('applies portLevelSettings to their port only: port 81 round robins, port 80 keeps the rule-level hash', async () => {
    const p80 = await sequential(gw, 'ports.test', 12, { headers: { 'x-user': 'bob' } });
    const p81 = await sequential(gw, 'ports.test', 12, { path: '/b', headers: { 'x-user': 'bob' } });
    expect([...p80, ...p81].every((a) => a.status === 200)).toBe(true);
    expect(Object.keys(tally(p80.map(who)))).toHaveLength(1);
    expect(['port-0', 'port-1', 'port-2']).toContain(who(p80[0]!));
    const names = p81.map(who);
    expect(tally(names)).toEqual({ 'port-3': 4, 'port-4': 4, 'port-5': 4 });
    names.forEach((n, i) => expect(n).toBe(names[i % 3]));
  });

  it('does not inherit rule-level settings a port-level policy omits (its connectionPool falls back to defaults)', async () => {
    // Istio: "Traffic settings specified at the destination-level will not be inherited when
    // overridden by port-level settings, i.e. default values will be applied".
    const p80 = await Promise.all(Array.from({ length: 5 }, () => gw.get('ports.test', '/delay/300')));
    const p81 = await Promise.all(Array.from({ length: 5 }, () => gw.get('ports.test', '/b/delay/300')));
    expect(p80.filter((a) => a.status === 200)).toHaveLength(2);
    expect(p80.filter((a) => a.status === 503 && a.headers['x-envoy-overloaded'] === 'true')).toHaveLength(3);
    expect(p81.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
  });
});

// ---------------------------------------------------------------------------------------

describe('DestinationRule loadBalancer', () => {
  let gw: TestGateway;
  let rs: Upstream[];
  let lr: Upstream[];
  let w: Upstream[];

  beforeAll(async () => {
    rs = await startReplicas(3, 'lb');
    w = await startReplicas(2, 'w');
    const slow = await startUpstream({
      name: 'lr-slow',
      handler: (_req, res) => {
        setTimeout(() => {
          res.writeHead(200, { 'x-upstream': 'lr-slow', 'content-length': '4' });
          res.end('slow');
        }, 1000);
      },
    });
    lr = [slow, ...(await startReplicas(2, 'lr-fast'))];
    const three = rs.map((u) => ({ port: u.port }));
    const docs: Doc[] = [
      GATEWAY,
      serviceEntry('default-lb.test', three),
      straight('default-lb.test'),
      serviceEntry('rr.test', three),
      straight('rr.test'),
      destinationRule('rr.test', { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }),
      serviceEntry('lr.test', lr.map((u) => ({ port: u.port }))),
      straight('lr.test'),
      destinationRule('lr.test', { trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }),
      serviceEntry('random.test', three),
      straight('random.test'),
      destinationRule('random.test', { trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }),
      serviceEntry('passthrough.test', three),
      straight('passthrough.test'),
      destinationRule('passthrough.test', { trafficPolicy: { loadBalancer: { simple: 'PASSTHROUGH' } } }),
      serviceEntry('weighted.test', [
        { port: w[0]!.port, weight: 1 },
        { port: w[1]!.port, weight: 3 },
      ]),
      straight('weighted.test'),
    ];
    gw = await startGateway({ 'config.yaml': yaml(docs) }, { gatewayPorts: [80] });
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([...(rs ?? []), ...(lr ?? []), ...(w ?? [])].map((u) => u.close()));
  });

  it('round robins in exact rotation by default (meshgate default; Istio 1.14+ would use LEAST_REQUEST)', async () => {
    for (const host of ['default-lb.test', 'rr.test']) {
      const names = (await sequential(gw, host, 12)).map(who);
      expect(new Set(names.slice(0, 3)).size).toBe(3);
      names.forEach((n, i) => expect(n).toBe(names[i % 3]));
    }
  });

  it('LEAST_REQUEST: with one replica slow, most concurrent requests avoid it', async () => {
    const pending: Promise<Answer>[] = [];
    for (let i = 0; i < 60; i++) {
      pending.push(gw.get('lr.test'));
      await sleep(5);
    }
    const answers = await Promise.all(pending);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const t = tally(answers.map(who));
    // Round robin would send it 20; the least-request balancer sees its requests pile up.
    expect(t['lr-slow'] ?? 0).toBeLessThan(8);
    expect((t['lr-fast-0'] ?? 0) + (t['lr-fast-1'] ?? 0)).toBeGreaterThan(52);
  });

  it('RANDOM: every endpoint gets traffic, not in strict rotation', async () => {
    const names = (await sequential(gw, 'random.test', 90)).map(who);
    const t = tally(names);
    expect(Object.keys(t).sort()).toEqual(['lb-0', 'lb-1', 'lb-2']);
    // Round robin never picks the same endpoint twice in a row over three; random does, often.
    expect(names.some((n, i) => i > 0 && n === names[i - 1])).toBe(true);
  });

  it('PASSTHROUGH: no original destination at a gateway, so meshgate forwards to the first endpoint without balancing', async () => {
    const answers = await sequential(gw, 'passthrough.test', 9);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(tally(answers.map(who))).toEqual({ 'lb-0': 9 });
  });

  it('splits by ServiceEntry endpoint weight (1 vs 3) under round robin', async () => {
    const t = tally((await sequential(gw, 'weighted.test', 40)).map(who));
    expect(t['w-0']! + t['w-1']!).toBe(40);
    expect(t['w-0']).toBeGreaterThanOrEqual(8);
    expect(t['w-0']).toBeLessThanOrEqual(12);
  });
});

// ---------------------------------------------------------------------------------------

describe('DestinationRule consistentHash', () => {
  let gw: TestGateway;
  let rs: Upstream[];

  beforeAll(async () => {
    rs = await startReplicas(4, 'ch');
    const eps = rs.map((u) => ({ port: u.port }));
    const hashed = (host: string, consistentHash: Doc) => [serviceEntry(host, eps), straight(host), destinationRule(host, { trafficPolicy: { loadBalancer: { consistentHash } } })];
    const docs: Doc[] = [
      GATEWAY,
      ...hashed('header.test', { httpHeaderName: 'X-User' }),
      ...hashed('cookie.test', { httpCookie: { name: 'sticky', path: '/', ttl: '60s' } }),
      ...hashed('session.test', { httpCookie: { name: 'sess', path: '/app', ttl: '0s' } }),
      ...hashed('nottl.test', { httpCookie: { name: 'given' } }),
      ...hashed('source.test', { useSourceIp: true }),
      ...hashed('query.test', { httpQueryParameterName: 'user' }),
    ];
    gw = await startGateway({ 'config.yaml': yaml(docs) }, { gatewayPorts: [80] });
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all((rs ?? []).map((u) => u.close()));
  });

  it('httpHeaderName: the same header value reaches the same replica 100 times; different values spread', async () => {
    const same = await sequential(gw, 'header.test', 100, { headers: { 'x-user': 'alice' } });
    expect(same.every((a) => a.status === 200)).toBe(true);
    expect(Object.keys(tally(same.map(who)))).toHaveLength(1);
    const users = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    const first = await Promise.all(users.map((u) => gw.get('header.test', { headers: { 'x-user': u } })));
    const again = await Promise.all(users.map((u) => gw.get('header.test', { headers: { 'x-user': u } })));
    expect(again.map(who)).toEqual(first.map(who));
    expect(new Set(first.map(who)).size).toBeGreaterThanOrEqual(2);
  });

  it('httpCookie with ttl: the first answer sets the cookie (Max-Age, Path); replaying it sticks for 100 requests', async () => {
    const first = await gw.get('cookie.test');
    expect(first.status).toBe(200);
    const setCookie = first.headers['set-cookie'];
    expect(setCookie).toHaveLength(1);
    const cookie = setCookie![0]!;
    expect(cookie).toMatch(/^sticky="?[^";]+"?;/);
    expect(cookie).toContain('Max-Age=60');
    expect(cookie).toMatch(/; Path=\/(;|$)/);
    const pair = cookie.split(';')[0]!;
    const replays = await sequential(gw, 'cookie.test', 100, { headers: { cookie: `other=1; ${pair}` } });
    expect(replays.every((a) => a.status === 200)).toBe(true);
    expect(tally(replays.map(who))).toEqual({ [who(first)!]: 100 });
    // A client that already has the cookie is not handed a new one.
    expect(replays.every((a) => a.headers['set-cookie'] === undefined)).toBe(true);
    // Fresh clients get fresh cookies, which spread over the replicas.
    const fresh = await sequential(gw, 'cookie.test', 30);
    const values = new Set(fresh.map((a) => a.headers['set-cookie']![0]!.split(';')[0]));
    expect(values.size).toBe(30);
    expect(new Set(fresh.map(who)).size).toBeGreaterThanOrEqual(2);
  });

  it('httpCookie with ttl 0s makes a session cookie (no Max-Age); without ttl no cookie is made, a sent one still sticks', async () => {
    const first = await gw.get('session.test', '/app/x');
    const cookie = first.headers['set-cookie']![0]!;
    expect(cookie).toMatch(/^sess=/);
    expect(cookie).not.toContain('Max-Age');
    expect(cookie).toContain('Path=/app');
    const replays = await sequential(gw, 'session.test', 20, { path: '/app/y', headers: { cookie: cookie.split(';')[0]! } });
    expect(tally(replays.map(who))).toEqual({ [who(first)!]: 20 });
    const plain = await sequential(gw, 'nottl.test', 4);
    expect(plain.every((a) => a.status === 200 && a.headers['set-cookie'] === undefined)).toBe(true);
    const given = await sequential(gw, 'nottl.test', 20, { headers: { cookie: 'given=abc123' } });
    expect(Object.keys(tally(given.map(who)))).toHaveLength(1);
  });

  it('useSourceIp: one client address sticks to one replica; other addresses spread', async () => {
    const same = await sequential(gw, 'source.test', 100);
    expect(Object.keys(tally(same.map(who)))).toHaveLength(1);
    const addrs = Array.from({ length: 30 }, (_, i) => `127.0.0.${i + 2}`);
    const first = await Promise.all(addrs.map((a) => requestFrom(gw.port(), 'source.test', a)));
    const again = await Promise.all(addrs.map((a) => requestFrom(gw.port(), 'source.test', a)));
    expect(first.every((a) => a.status === 200)).toBe(true);
    expect(again.map(who)).toEqual(first.map(who));
    expect(new Set(first.map(who)).size).toBeGreaterThanOrEqual(2);
  });

  it('httpQueryParameterName: the same parameter value sticks; different values spread', async () => {
    const same = await sequential(gw, 'query.test', 100, { path: '/items?page=1&user=carol' });
    expect(same.every((a) => a.status === 200)).toBe(true);
    expect(Object.keys(tally(same.map(who)))).toHaveLength(1);
    const users = Array.from({ length: 30 }, (_, i) => `u${i}`);
    const first = await Promise.all(users.map((u) => gw.get('query.test', `/items?user=${u}`)));
    const again = await Promise.all(users.map((u) => gw.get('query.test', `/other?x=1&user=${u}`)));
    expect(again.map(who)).toEqual(first.map(who));
    expect(new Set(first.map(who)).size).toBeGreaterThanOrEqual(2);
  });
});

// ---------------------------------------------------------------------------------------

describe('DestinationRule connectionPool', () => {
  let gw: TestGateway;
  let limited: Upstream;
  let open: Upstream;
  let perConn: Upstream;
  let keepAlive: Upstream;
  let perConn2: Upstream;
  let ct: Upstream;
  const connections = new Map<Upstream, number>();

  beforeAll(async () => {
    [limited, open, perConn, keepAlive, perConn2, ct] = await Promise.all(['limited', 'open', 'per-conn', 'keep-alive', 'per-conn2', 'ct'].map((name) => startUpstream({ name })));
    for (const u of [perConn, keepAlive, perConn2]) {
      connections.set(u, 0);
      u.server.on('connection', () => connections.set(u, connections.get(u)! + 1));
    }
    const docs: Doc[] = [
      GATEWAY,
      serviceEntry('limited.test', [{ port: limited.port }]),
      straight('limited.test'),
      destinationRule('limited.test', { trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } } } }),
      serviceEntry('open.test', [{ port: open.port }]),
      straight('open.test'),
      serviceEntry('per-conn.test', [{ port: perConn.port }]),
      straight('per-conn.test'),
      destinationRule('per-conn.test', { trafficPolicy: { connectionPool: { http: { maxRequestsPerConnection: 1 } } } }),
      serviceEntry('keep-alive.test', [{ port: keepAlive.port }]),
      straight('keep-alive.test'),
      serviceEntry('per-conn2.test', [{ port: perConn2.port }]),
      straight('per-conn2.test'),
      destinationRule('per-conn2.test', { trafficPolicy: { connectionPool: { http: { maxRequestsPerConnection: 2 } } } }),
      serviceEntry('ct.test', [{ port: ct.port }]),
      straight('ct.test'),
      destinationRule('ct.test', { trafficPolicy: { connectionPool: { tcp: { connectTimeout: '250ms' } } } }),
    ];
    gw = await startGateway({ 'config.yaml': yaml(docs) }, { gatewayPorts: [80] });
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([limited, open, perConn, keepAlive, perConn2, ct].filter(Boolean).map((u) => u.close()));
  });

  it('tcp.maxConnections 1 + http1MaxPendingRequests 1: concurrent slow requests beyond them get 503 overflow', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => gw.get('limited.test', '/delay/400')));
    const ok = answers.filter((a) => a.status === 200);
    const over = answers.filter((a) => a.status === 503);
    // One request on the connection, one waiting for it; the rest overflow at once.
    expect(ok).toHaveLength(2);
    expect(over).toHaveLength(4);
    for (const a of over) {
      expect(a.headers['x-envoy-overloaded']).toBe('true');
      expect(a.body.startsWith(OVERFLOW)).toBe(true);
      expect(a.headers.server).toBe('istio-envoy');
    }
    // Overflowed requests never reach the upstream.
    expect(limited.seen).toHaveLength(2);
    // Once the slow ones are done, the pool admits again.
    expect((await gw.get('limited.test')).status).toBe(200);
  });

  it('without connectionPool limits every concurrent request succeeds', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, () => gw.get('open.test', '/delay/400')));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(answers.every((a) => a.headers['x-envoy-overloaded'] === undefined)).toBe(true);
  });

  it('http.maxRequestsPerConnection 1 opens a new upstream connection per request (and keep-alive reuses one otherwise)', async () => {
    const a = await sequential(gw, 'per-conn.test', 5);
    const b = await sequential(gw, 'keep-alive.test', 5);
    expect([...a, ...b].every((x) => x.status === 200)).toBe(true);
    expect(connections.get(perConn)).toBe(5);
    expect(connections.get(keepAlive)).toBe(1);
  });

  it('http.maxRequestsPerConnection 2 carries exactly two requests per upstream connection', async () => {
    const a = await sequential(gw, 'per-conn2.test', 6);
    expect(a.every((x) => x.status === 200)).toBe(true);
    expect(connections.get(perConn2)).toBe(3);
  });

  it('accepts tcp.connectTimeout and uses it for the cluster', async () => {
    const a = await gw.get('ct.test');
    expect(a.status).toBe(200);
    expect(who(a)).toBe('ct');
    expect(gw.gateway.snapshot.clusters.get('outbound|80||ct.test')?.pool.connectTimeoutMs).toBe(250);
    expect(gw.gateway.snapshot.problems.filter((p) => p.severity !== 'info')).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------

describe('DestinationRule outlierDetection', () => {
  let gw: TestGateway;
  const ups: Upstream[] = [];
  const u: Record<string, Upstream> = {};
  let dead: number;

  const od = (host: string, outlierDetection: Doc) => destinationRule(host, { trafficPolicy: { outlierDetection } });

  beforeAll(async () => {
    const add = (x: Upstream) => {
      ups.push(x);
      u[x.name] = x;
      return x;
    };
    for (const x of await startReplicas(2, 'c5-ok')) add(x);
    add(await failing('c5-bad', 500));
    for (const x of await startReplicas(1, 'gw-ok')) add(x);
    add(await failing('gw-500', 500));
    let n = 0;
    add(await failing('gw-bad', () => [502, 503, 504][n++ % 3]!));
    for (const x of await startReplicas(1, 'cf-ok')) add(x);
    for (const x of await startReplicas(1, 'mp-ok')) add(x);
    add(await failing('mp-bad-a', 500));
    add(await failing('mp-bad-b', 500));
    for (const x of await startReplicas(1, 'one-ok')) add(x);
    add(await failing('one-bad-a', 500));
    add(await failing('one-bad-b', 500));
    for (const x of await startReplicas(1, 'panic-ok')) add(x);
    add(await failing('panic-bad-a', 500));
    add(await failing('panic-bad-b', 500));
    add(await failing('all-bad-a', 500));
    add(await failing('all-bad-b', 500));
    dead = await deadPort();
    const se = (host: string, names: string[]) => serviceEntry(host, names.map((x) => ({ port: u[x]!.port })));
    const docs: Doc[] = [
      GATEWAY,
      se('c5.test', ['c5-ok-0', 'c5-ok-1', 'c5-bad']),
      straight('c5.test'),
      od('c5.test', { consecutive5xxErrors: 3, interval: '50ms', baseEjectionTime: '400ms', maxEjectionPercent: 100 }),
      se('gwerr.test', ['gw-ok-0', 'gw-500', 'gw-bad']),
      straight('gwerr.test'),
      od('gwerr.test', { consecutive5xxErrors: 0, consecutiveGatewayErrors: 3, interval: '1s', baseEjectionTime: '60s', maxEjectionPercent: 100 }),
      serviceEntry('connfail.test', [{ port: u['cf-ok-0']!.port }, { port: dead }]),
      straight('connfail.test'),
      od('connfail.test', { consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, interval: '1s', baseEjectionTime: '60s', maxEjectionPercent: 100 }),
      se('maxpct.test', ['mp-ok-0', 'mp-bad-a', 'mp-bad-b']),
      straight('maxpct.test'),
      od('maxpct.test', { consecutive5xxErrors: 2, interval: '1s', baseEjectionTime: '60s', maxEjectionPercent: 50 }),
      se('one.test', ['one-ok-0', 'one-bad-a', 'one-bad-b']),
      straight('one.test'),
      // maxEjectionPercent left at Istio's 10 %: a third of the hosts is more, yet one may go.
      od('one.test', { consecutive5xxErrors: 2, interval: '1s', baseEjectionTime: '60s' }),
      se('panic.test', ['panic-ok-0', 'panic-bad-a', 'panic-bad-b']),
      straight('panic.test'),
      od('panic.test', { consecutive5xxErrors: 2, interval: '1s', baseEjectionTime: '60s', maxEjectionPercent: 100, minHealthPercent: 50 }),
      se('allbad.test', ['all-bad-a', 'all-bad-b']),
      straight('allbad.test'),
      od('allbad.test', { consecutive5xxErrors: 2, interval: '1s', baseEjectionTime: '60s', maxEjectionPercent: 100 }),
    ];
    gw = await startGateway({ 'config.yaml': yaml(docs) }, { gatewayPorts: [80] });
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all(ups.map((x) => x.close()));
  });

  /** Sends requests one at a time until `bad` has seen `count` requests; returns the time of the last answer. */
  async function until(host: string, bad: Upstream, count: number, limitMs = 5000): Promise<number> {
    const deadline = Date.now() + limitMs;
    while (bad.seen.length < count) {
      if (Date.now() > deadline) throw new Error(`${bad.name} saw ${bad.seen.length} requests, waited for ${count}`);
      const a = await gw.get(host);
      expect([200, 500]).toContain(a.status);
      if (bad.seen.length < count) await sleep(2);
    }
    return Date.now();
  }

  it('consecutive5xxErrors: ejects after N failures, brings the host back after baseEjectionTime, and ejects longer the second time', async () => {
    const bad = u['c5-bad']!;
    // Round robin over three: the bad replica's third 500 comes within nine requests.
    const first = await sequential(gw, 'c5.test', 9);
    expect(first.filter((a) => a.status === 500)).toHaveLength(3);
    expect(bad.seen).toHaveLength(3);
    const ejected1 = Date.now();
    // Ejected: no more traffic to it, every answer is a 200 from the healthy pair.
    const during = await sequential(gw, 'c5.test', 20);
    expect(during.every((a) => a.status === 200)).toBe(true);
    expect(bad.seen).toHaveLength(3);
    // Back after baseEjectionTime (400 ms × 1)...
    const back1 = await until('c5.test', bad, 4);
    // ...and still failing: the second ejection follows three more 500s.
    const ejected2 = await until('c5.test', bad, 6);
    const back2 = await until('c5.test', bad, 7);
    const d1 = back1 - ejected1;
    const d2 = back2 - ejected2;
    expect(d1).toBeGreaterThanOrEqual(380);
    // baseEjectionTime × number of ejections: at least 800 ms the second time.
    expect(d2).toBeGreaterThanOrEqual(780);
    expect(d2).toBeGreaterThan(d1 + 200);
  });

  it('consecutiveGatewayErrors counts 502, 503 and 504 but not 500', async () => {
    const answers = await sequential(gw, 'gwerr.test', 30);
    // The gateway-error replica answered 502, 503, 504 once each and was ejected.
    expect(u['gw-bad']!.seen).toHaveLength(3);
    expect(answers.filter((a) => who(a) === 'gw-bad').map((a) => a.status).sort()).toEqual([502, 503, 504]);
    // A 500 is a 5xx but not a gateway error; with consecutive5xxErrors 0 that replica stays in.
    expect(u['gw-500']!.seen.length).toBeGreaterThanOrEqual(12);
    expect(answers.slice(-10).some((a) => who(a) === 'gw-500')).toBe(true);
  });

  it('consecutiveGatewayErrors counts connect failures', async () => {
    const answers = await sequential(gw, 'connfail.test', 12);
    const failed = answers.filter((a) => a.status !== 200);
    expect(failed).toHaveLength(2);
    for (const a of failed) {
      expect(a.status).toBe(503);
      expect(a.body.startsWith('upstream connect error or disconnect/reset before headers. reset reason: connection failure')).toBe(true);
    }
    expect(answers.slice(-8).every((a) => a.status === 200 && who(a) === 'cf-ok-0')).toBe(true);
  });

  it('maxEjectionPercent caps ejections: 50 % of three hosts lets one failing host go, not two', async () => {
    await sequential(gw, 'maxpct.test', 12);
    const seenA = u['mp-bad-a']!.seen.length;
    const seenB = u['mp-bad-b']!.seen.length;
    const later = await sequential(gw, 'maxpct.test', 20);
    const t = tally(later.map(who));
    // Exactly one failing host is out (2 failures, then nothing); the other keeps getting its share.
    const out = [u['mp-bad-a']!, u['mp-bad-b']!].filter((x) => (t[x.name] ?? 0) === 0);
    expect(out).toHaveLength(1);
    expect(out[0]!.seen).toHaveLength(2);
    const stays = out[0] === u['mp-bad-a'] ? u['mp-bad-b']! : u['mp-bad-a']!;
    expect(stays.seen.length).toBeGreaterThan((stays === u['mp-bad-a'] ? seenA : seenB) + 5);
    expect(t['mp-ok-0']).toBe(10);
  });

  it('maxEjectionPercent below one host still lets one host be ejected', async () => {
    await sequential(gw, 'one.test', 12);
    const later = await sequential(gw, 'one.test', 20);
    const t = tally(later.map(who));
    const ejected = ['one-bad-a', 'one-bad-b'].filter((n) => (t[n] ?? 0) === 0);
    expect(ejected).toHaveLength(1);
    expect(u[ejected[0]!]!.seen).toHaveLength(2);
  });

  it('minHealthPercent: below it the cluster panics and balances over every host, ejected or not', async () => {
    // Both failing hosts get ejected (maxEjectionPercent 100); 1 healthy of 3 is under 50 %.
    await sequential(gw, 'panic.test', 12);
    expect(u['panic-bad-a']!.seen.length).toBeGreaterThanOrEqual(2);
    expect(u['panic-bad-b']!.seen.length).toBeGreaterThanOrEqual(2);
    const later = await sequential(gw, 'panic.test', 30);
    expect(tally(later.map(who))).toEqual({ 'panic-ok-0': 10, 'panic-bad-a': 10, 'panic-bad-b': 10 });
  });

  it('with every host ejected (maxEjectionPercent 100) the gateway answers 503 no healthy upstream', async () => {
    const first = await sequential(gw, 'allbad.test', 4);
    expect(first.map((a) => a.status)).toEqual([500, 500, 500, 500]);
    const later = await sequential(gw, 'allbad.test', 5);
    for (const a of later) {
      expect(a.status).toBe(503);
      expect(a.body).toBe('no healthy upstream');
    }
    expect(u['all-bad-a']!.seen.length + u['all-bad-b']!.seen.length).toBe(4);
  });
});

// ---------------------------------------------------------------------------------------

describe('meshgate validate: DestinationRule cross-object warnings', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await writeConfigDir({
      'gateway.yaml': yaml([GATEWAY]),
      'known.yaml': yaml([
        serviceEntry('known.test', [{ port: 8081, labels: { version: 'v1' } }]),
        destinationRule('known.test', { subsets: [{ name: 'v1', labels: { version: 'v1' } }] }),
        virtualService('known.test', [{ route: [{ destination: { host: 'known.test', subset: 'ghost' } }] }]),
      ]),
      'orphan.yaml': yaml([destinationRule('nowhere.test', { trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }, 'orphan')]),
    });
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('warns about a subset no DestinationRule defines and a rule for a host not in the registry, and still exits 0', async () => {
    const r = await runCli(['validate', '-c', dir]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const subset = lines.find((l) => l.includes('VirtualService default/known-test'));
    expect(subset).toBeDefined();
    expect(subset).toContain('known.yaml:');
    expect(subset).toContain('warning:');
    expect(subset).toContain('spec.http[0].route[0].destination.subset');
    expect(subset).toMatch(/subset ghost is not defined/);
    const orphan = lines.find((l) => l.includes('DestinationRule default/orphan'));
    expect(orphan).toBeDefined();
    expect(orphan).toContain('orphan.yaml:');
    expect(orphan).toContain('warning:');
    expect(orphan).toContain('spec.host');
    expect(orphan).toContain('nowhere.test is not in the service registry');
    expect(r.stdout).toMatch(/valid: .*2 warning\(s\)/);
  });
});

describe('connectionPool: idle upstream connections and retries outstanding', () => {
  let idle: Upstream;
  let steady: Upstream;
  let down: Upstream;
  let gw: TestGateway;
  const connections = new Map<Upstream, number>();

  beforeAll(async () => {
    [idle, steady] = await Promise.all(['idle', 'steady'].map((name) => startUpstream({ name })));
    down = await startUpstream({
      name: 'down',
      handler: (_req, res) => {
        setTimeout(() => {
          res.writeHead(503, { 'x-upstream': 'down', 'content-length': '4' });
          res.end('down');
        }, 300);
      },
    });
    for (const u of [idle, steady]) {
      connections.set(u, 0);
      u.server.on('connection', () => connections.set(u, connections.get(u)! + 1));
    }
    const docs: Doc[] = [
      GATEWAY,
      serviceEntry('idle.test', [{ port: idle.port }]),
      straight('idle.test'),
      destinationRule('idle.test', { trafficPolicy: { connectionPool: { http: { idleTimeout: '200ms' } } } }),
      serviceEntry('steady.test', [{ port: steady.port }]),
      straight('steady.test'),
      serviceEntry('down.test', [{ port: down.port }]),
      virtualService('down.test', [{ route: [{ destination: { host: 'down.test' } }], retries: { attempts: 3, retryOn: '5xx' } }]),
      destinationRule('down.test', { trafficPolicy: { connectionPool: { http: { maxRetries: 1 } } } }),
    ];
    gw = await startGateway({ 'config.yaml': yaml(docs) }, { gatewayPorts: [80] });
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([idle, steady, down].map((u) => u?.close()));
  });

  it('http.idleTimeout closes an upstream connection left idle longer; without it the connection is reused', async () => {
    for (const host of ['idle.test', 'steady.test']) {
      expect((await gw.get(host)).status).toBe(200);
    }
    await new Promise((r) => setTimeout(r, 700));
    for (const host of ['idle.test', 'steady.test']) {
      expect((await gw.get(host)).status).toBe(200);
    }
    expect(connections.get(idle)).toBe(2);
    expect(connections.get(steady)).toBe(1);
  });

  it('http.maxRetries 1: while one request is retrying, another failing request is not retried', async () => {
    // A fails at ~300 ms and holds the one retry slot through its three retries (~1.2 s);
    // B, started 150 ms later, fails meanwhile and answers after its single try.
    const a = gw.get('down.test', '/a');
    await new Promise((r) => setTimeout(r, 150));
    const b = gw.get('down.test', '/b');
    const [ra, rb] = await Promise.all([a, b]);
    expect([ra.status, rb.status]).toEqual([503, 503]);
    expect(down.seen.filter((s) => s.url === '/a')).toHaveLength(4);
    expect(down.seen.filter((s) => s.url === '/b')).toHaveLength(1);
  });
});
