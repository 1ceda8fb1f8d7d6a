import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DataPlaneState } from '../../src/http/state.js';
import { GATEWAY_ANY_HOST, startGateway, staticService, type TestGateway, virtualServiceYaml } from '../helpers/gateway.js';
import { startUpstream, type Upstream, type UpstreamOptions } from '../helpers/upstream.js';

// Cluster state survives reloads, as Envoy's cluster manager keeps a cluster whose definition a
// config push leaves alone: outlier ejections, circuit-breaker counts, DNS answers and warm
// connections. A reload that changes the cluster starts it afresh.

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups = [];
});

const HOST = 'app.example.com';

function destinationRule(trafficPolicy: object): string {
  return JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'backend', namespace: 'default' }, spec: { host: 'backend.test', trafficPolicy } });
}

async function up(name: string, handler?: UpstreamOptions['handler']): Promise<Upstream> {
  const u = await startUpstream({ name, handler });
  cleanups.push(() => u.close());
  return u;
}

async function gateway(files: Record<string, string>): Promise<TestGateway> {
  const gw = await startGateway(files);
  cleanups.push(() => gw.stop());
  return gw;
}

/** Rewrites one config file of a running test gateway and reloads it. */
async function reloadWith(gw: TestGateway, file: string, text: string): Promise<void> {
  await writeFile(path.join(gw.dir, file), text);
  expect(await gw.gateway.reload()).toBe(true);
}

const clusterOf = (gw: TestGateway) => (gw.gateway as unknown as { state: DataPlaneState }).state.active.clusters.get('outbound|80||backend.test')!;

const routes = (extra: object[] = []) => virtualServiceYaml('app', [HOST], [...extra, { route: [{ destination: { host: 'backend.test' } }] }]);

describe('a reload that leaves a cluster alone keeps its state', () => {
  it('an ejected endpoint stays ejected', async () => {
    const good = await up('good');
    const bad = await up('bad', (_req, res) => res.writeHead(500).end());
    const gw = await gateway({
      'gateway.yaml': GATEWAY_ANY_HOST,
      'backend.yaml': staticService('backend.test', [good.port, bad.port]),
      'dr.yaml': destinationRule({ outlierDetection: { consecutive5xxErrors: 1, interval: '60s', baseEjectionTime: '60s', maxEjectionPercent: 100 } }),
      'vs.yaml': routes(),
    });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await gw.get(HOST)).status);
    expect(statuses).toContain(500);
    expect(statuses.slice(-2)).toEqual([200, 200]);
    const before = clusterOf(gw);

    // An unrelated edit: a new route for another path.
    await reloadWith(gw, 'vs.yaml', routes([{ match: [{ uri: { prefix: '/other' } }], directResponse: { status: 204 } }]));
    expect(clusterOf(gw)).toBe(before);
    const seenBefore = bad.seen.length;
    for (let i = 0; i < 10; i++) expect((await gw.get(HOST)).status).toBe(200);
    expect(bad.seen.length).toBe(seenBefore);
  });

  it('requests in flight still count against maxConnections after the swap', async () => {
    let inFlight = 0;
    let most = 0;
    const slow = await up('slow', (_req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end('done');
      }, 300);
    });
    const gw = await gateway({
      'gateway.yaml': GATEWAY_ANY_HOST,
      'backend.yaml': staticService('backend.test', [slow.port]),
      'dr.yaml': destinationRule({ connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } } }),
      'vs.yaml': routes(),
    });
    const first = gw.get(HOST);
    await expect.poll(() => inFlight).toBe(1);
    await reloadWith(gw, 'vs.yaml', routes([{ match: [{ uri: { prefix: '/other' } }], directResponse: { status: 204 } }]));
    const [a, b, c] = await Promise.all([first, gw.get(HOST), gw.get(HOST)]);
    // The first holds the one connection, the second waits for it, the third overflows.
    expect([a.status, b.status, c.status].sort()).toEqual([200, 200, 503]);
    expect(c.headers['x-envoy-overloaded'] ?? b.headers['x-envoy-overloaded']).toBe('true');
    expect(most).toBe(1);
  });

  it('connections to the upstream stay warm', async () => {
    const ports = new Set<number>();
    const backend = await up('backend', (req, res) => {
      ports.add(req.socket.remotePort!);
      res.end('ok');
    });
    const gw = await gateway({ 'gateway.yaml': GATEWAY_ANY_HOST, 'backend.yaml': staticService('backend.test', [backend.port]), 'vs.yaml': routes() });
    await gw.get(HOST);
    await reloadWith(gw, 'vs.yaml', routes([{ match: [{ uri: { prefix: '/other' } }], directResponse: { status: 204 } }]));
    await gw.get(HOST);
    expect(ports.size).toBe(1);
  });

  it('a DNS-named endpoint keeps its answers (no lookup to wait for after the reload)', async () => {
    const backend = await up('backend');
    const entry = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: [backend.test]
  # MESH_INTERNAL: an external name resolving to loopback is refused (the egress address guard).
  location: MESH_INTERNAL
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: localhost, ports: {http: ${backend.port}}}]
`;
    const gw = await gateway({ 'gateway.yaml': GATEWAY_ANY_HOST, 'backend.yaml': entry, 'vs.yaml': routes() });
    expect((await gw.get(HOST)).status).toBe(200);
    const before = clusterOf(gw);
    expect(before.firstLookup).toBeNull();
    await reloadWith(gw, 'vs.yaml', routes([{ match: [{ uri: { prefix: '/other' } }], directResponse: { status: 204 } }]));
    expect(clusterOf(gw)).toBe(before);
    expect(clusterOf(gw).firstLookup).toBeNull();
    expect(clusterOf(gw).healthy.length).toBeGreaterThan(0);
  });
});

describe('a reload that changes a cluster', () => {
  it('new endpoints only: the cluster is updated in place and a surviving endpoint keeps its ejection', async () => {
    const good = await up('good');
    const bad = await up('bad', (_req, res) => res.writeHead(500).end());
    const third = await up('third');
    const dr = destinationRule({ outlierDetection: { consecutive5xxErrors: 1, interval: '60s', baseEjectionTime: '60s', maxEjectionPercent: 100 } });
    const gw = await gateway({ 'gateway.yaml': GATEWAY_ANY_HOST, 'backend.yaml': staticService('backend.test', [good.port, bad.port]), 'dr.yaml': dr, 'vs.yaml': routes() });
    for (let i = 0; i < 4; i++) await gw.get(HOST);
    const before = clusterOf(gw);
    expect(before.healthy.map((e) => e.port)).toEqual([good.port]);

    await reloadWith(gw, 'backend.yaml', staticService('backend.test', [good.port, bad.port, third.port]));
    expect(clusterOf(gw)).toBe(before);
    expect(clusterOf(gw).healthy.map((e) => e.port).sort()).toEqual([good.port, third.port].sort());
    const seenBefore = bad.seen.length;
    for (let i = 0; i < 6; i++) expect((await gw.get(HOST)).status).toBe(200);
    expect(bad.seen.length).toBe(seenBefore);
    expect(third.seen.length).toBeGreaterThan(0);
  });

  it('a changed policy starts the cluster afresh', async () => {
    const good = await up('good');
    const bad = await up('bad', (_req, res) => res.writeHead(500).end());
    const outlier = { consecutive5xxErrors: 1, interval: '60s', baseEjectionTime: '60s', maxEjectionPercent: 100 };
    const gw = await gateway({
      'gateway.yaml': GATEWAY_ANY_HOST,
      'backend.yaml': staticService('backend.test', [good.port, bad.port]),
      'dr.yaml': destinationRule({ outlierDetection: outlier }),
      'vs.yaml': routes(),
    });
    for (let i = 0; i < 4; i++) await gw.get(HOST);
    const before = clusterOf(gw);
    expect(before.healthy).toHaveLength(1);
    await reloadWith(gw, 'dr.yaml', destinationRule({ outlierDetection: outlier, loadBalancer: { simple: 'RANDOM' } }));
    expect(clusterOf(gw)).not.toBe(before);
    expect(clusterOf(gw).healthy).toHaveLength(2);
  });
});
