import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { sample, workloadEntry } from '../helpers/samples.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Istio's Bookinfo tasks, with the published YAML unchanged. WorkloadEntries carrying the
// Deployments' app/version labels stand in for the pods; the Services select them by label.
const PODS = [
  ['productpage-v1', 'productpage', 'v1'],
  ['details-v1', 'details', 'v1'],
  ['reviews-v1', 'reviews', 'v1'],
  ['reviews-v2', 'reviews', 'v2'],
  ['reviews-v3', 'reviews', 'v3'],
  ['ratings-v1', 'ratings', 'v1'],
] as const;

let pods: Map<string, Upstream>;

beforeAll(async () => {
  pods = new Map();
  for (const [name] of PODS) pods.set(name, await startUpstream({ name }));
});

afterAll(async () => {
  await Promise.all([...pods.values()].map((u) => u.close()));
});

function bookinfo(...networking: string[]): Record<string, string> {
  const files: Record<string, string> = {
    'bookinfo.yaml': sample('bookinfo/platform/kube/bookinfo.yaml'),
    'pods.yaml': PODS.map(([name, app, version]) => workloadEntry(name, { app, version }, pods.get(name)!.port)).join(''),
  };
  for (const n of networking) files[n] = sample(`bookinfo/networking/${n}`);
  return files;
}

async function withGateway(files: Record<string, string>, fn: (gw: TestGateway) => Promise<void>): Promise<void> {
  const gw = await startGateway(files, { meshListen: { host: '127.0.0.1', port: 0 } });
  try {
    await fn(gw);
  } finally {
    await gw.stop();
  }
}

/** A call from one Bookinfo service to another, sent to the mesh listener as a sidecar would. */
function meshCall(gw: TestGateway, host: string, path: string, headers: Record<string, string> = {}) {
  return request({ port: gw.gateway.addressOf(0).port, path, headers: { host, ...headers } });
}

async function tally(n: number, call: () => Promise<{ status: number; headers: Record<string, unknown> }>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const a = await call();
    expect(a.status).toBe(200);
    const who = String(a.headers['x-upstream']);
    out[who] = (out[who] ?? 0) + 1;
  }
  return out;
}

/** Within five standard deviations of n·p: fails on a wrong split, not on chance. */
function expectShare(count: number | undefined, n: number, p: number): void {
  const sd = Math.sqrt(n * p * (1 - p));
  expect(count ?? 0).toBeGreaterThanOrEqual(n * p - 5 * sd);
  expect(count ?? 0).toBeLessThanOrEqual(n * p + 5 * sd);
}

describe('bookinfo ingress: bookinfo-gateway.yaml', () => {
  it('routes the five matches to productpage and nothing else', async () => {
    await withGateway(bookinfo('bookinfo-gateway.yaml', 'destination-rule-all.yaml', 'virtual-service-all-v1.yaml'), async (gw) => {
      for (const path of ['/productpage', '/static/style.css', '/login', '/logout', '/api/v1/products/1']) {
        const a = await gw.get('bookinfo.example.com', path, 8080);
        expect(a.status, path).toBe(200);
        expect(a.headers['x-upstream'], path).toBe('productpage-v1');
      }
      for (const path of ['/', '/productpage/extra', '/loginx', '/reviews/0']) {
        const a = await gw.get('bookinfo.example.com', path, 8080);
        expect(a.status, path).toBe(404);
      }
    });
  });

  it('does not apply mesh-bound VirtualServices at the gateway, nor gateway-bound ones on the mesh', async () => {
    await withGateway(bookinfo('bookinfo-gateway.yaml', 'destination-rule-all.yaml', 'virtual-service-reviews-test-v2.yaml'), async (gw) => {
      // reviews is a mesh VirtualService: the ingress gateway (hosts "*") has no route for it.
      expect((await gw.get('reviews', '/reviews/0', 8080)).status).toBe(404);
      // bookinfo (gateway-bound, hosts "*") does not catch mesh calls to productpage's paths on other hosts.
      const a = await meshCall(gw, 'details:9080', '/productpage');
      expect(a.headers['x-upstream']).toBe('details-v1');
    });
  });
});

describe('bookinfo request routing through the mesh listener', () => {
  it('virtual-service-all-v1: reviews v1 for everyone', async () => {
    await withGateway(bookinfo('destination-rule-all.yaml', 'virtual-service-all-v1.yaml'), async (gw) => {
      expect(await tally(30, () => meshCall(gw, 'reviews:9080', '/reviews/0'))).toEqual({ 'reviews-v1': 30 });
      expect(await tally(10, () => meshCall(gw, 'reviews:9080', '/reviews/0', { 'end-user': 'jason' }))).toEqual({ 'reviews-v1': 10 });
      expect(await tally(5, () => meshCall(gw, 'ratings:9080', '/ratings/0'))).toEqual({ 'ratings-v1': 5 });
    });
  });

  it('virtual-service-reviews-test-v2: v2 for end-user jason, v1 for everyone else', async () => {
    await withGateway(bookinfo('destination-rule-all.yaml', 'virtual-service-reviews-test-v2.yaml'), async (gw) => {
      expect(await tally(20, () => meshCall(gw, 'reviews:9080', '/reviews/0', { 'end-user': 'jason' }))).toEqual({ 'reviews-v2': 20 });
      expect(await tally(20, () => meshCall(gw, 'reviews:9080', '/reviews/0', { 'end-user': 'alice' }))).toEqual({ 'reviews-v1': 20 });
      expect(await tally(20, () => meshCall(gw, 'reviews:9080', '/reviews/0'))).toEqual({ 'reviews-v1': 20 });
    });
  });

  it('accepts HTTP_PROXY absolute-form calls and the service\'s other names', async () => {
    await withGateway(bookinfo('destination-rule-all.yaml', 'virtual-service-reviews-test-v2.yaml'), async (gw) => {
      const port = gw.gateway.addressOf(0).port;
      const abs = await request({ port, path: 'http://reviews:9080/reviews/0', headers: { host: 'reviews:9080', 'end-user': 'jason' } });
      expect(abs.headers['x-upstream']).toBe('reviews-v2');
      for (const host of ['reviews.default:9080', 'reviews.default.svc:9080', 'reviews.default.svc.cluster.local:9080']) {
        const a = await meshCall(gw, host, '/reviews/0', { 'end-user': 'jason' });
        expect(a.headers['x-upstream'], host).toBe('reviews-v2');
      }
    });
  });

  it('routes a registry service without a VirtualService round robin over its endpoints', async () => {
    await withGateway(bookinfo('destination-rule-all.yaml'), async (gw) => {
      const names = [];
      for (let i = 0; i < 6; i++) names.push((await meshCall(gw, 'reviews:9080', '/reviews/0')).headers['x-upstream']);
      expect(names).toEqual(['reviews-v1', 'reviews-v2', 'reviews-v3', 'reviews-v1', 'reviews-v2', 'reviews-v3']);
    });
  });

  it('refuses a host outside the registry with 502 and forwards nothing', async () => {
    await withGateway(bookinfo('destination-rule-all.yaml'), async (gw) => {
      const before = [...pods.values()].reduce((s, u) => s + u.seen.length, 0);
      const a = await meshCall(gw, 'www.example.org', '/');
      expect(a.status).toBe(502);
      const abs = await request({ port: gw.gateway.addressOf(0).port, path: 'http://evil.example.net/x', headers: { host: 'evil.example.net' } });
      expect(abs.status).toBe(502);
      expect([...pods.values()].reduce((s, u) => s + u.seen.length, 0)).toBe(before);
    });
  });
});

describe('bookinfo traffic shifting through the mesh listener', () => {
  const N = 1000;
  it('virtual-service-reviews-50-v3: 50/50 between v1 and v3', async () => {
    await withGateway(bookinfo('destination-rule-all.yaml', 'virtual-service-reviews-50-v3.yaml'), async (gw) => {
      const t = await tally(N, () => meshCall(gw, 'reviews:9080', '/reviews/0'));
      expect(Object.keys(t).sort()).toEqual(['reviews-v1', 'reviews-v3']);
      expectShare(t['reviews-v3'], N, 0.5);
    });
  });

  it('virtual-service-reviews-80-20: 80/20 between v1 and v2', async () => {
    await withGateway(bookinfo('destination-rule-all.yaml', 'virtual-service-reviews-80-20.yaml'), async (gw) => {
      const t = await tally(N, () => meshCall(gw, 'reviews:9080', '/reviews/0'));
      expect(Object.keys(t).sort()).toEqual(['reviews-v1', 'reviews-v2']);
      expectShare(t['reviews-v2'], N, 0.2);
    });
  });

  it('virtual-service-reviews-90-10: 90/10 between v1 and v2', async () => {
    await withGateway(bookinfo('destination-rule-all.yaml', 'virtual-service-reviews-90-10.yaml'), async (gw) => {
      const t = await tally(N, () => meshCall(gw, 'reviews:9080', '/reviews/0'));
      expect(Object.keys(t).sort()).toEqual(['reviews-v1', 'reviews-v2']);
      expectShare(t['reviews-v2'], N, 0.1);
    });
  });
});

describe('bookinfo fault injection through the mesh listener', () => {
  it('virtual-service-ratings-test-abort: 500 fault filter abort for jason only, never reaching ratings', async () => {
    await withGateway(bookinfo('destination-rule-all.yaml', 'virtual-service-ratings-test-abort.yaml'), async (gw) => {
      const ratings = pods.get('ratings-v1')!;
      const seen = ratings.seen.length;
      const a = await meshCall(gw, 'ratings:9080', '/ratings/0', { 'end-user': 'jason' });
      expect(a.status).toBe(500);
      expect(a.body).toBe('fault filter abort');
      expect(ratings.seen.length).toBe(seen);
      const b = await meshCall(gw, 'ratings:9080', '/ratings/0', { 'end-user': 'alice' });
      expect(b.status).toBe(200);
      expect(b.headers['x-upstream']).toBe('ratings-v1');
    });
  });

  it('virtual-service-ratings-test-delay: 7 s delay for jason only', async () => {
    await withGateway(bookinfo('destination-rule-all.yaml', 'virtual-service-ratings-test-delay.yaml'), async (gw) => {
      const t0 = Date.now();
      const other = await meshCall(gw, 'ratings:9080', '/ratings/0', { 'end-user': 'alice' });
      const otherMs = Date.now() - t0;
      expect(other.status).toBe(200);
      expect(otherMs).toBeLessThan(7000);
      const t1 = Date.now();
      const jason = await meshCall(gw, 'ratings:9080', '/ratings/0', { 'end-user': 'jason' });
      expect(jason.status).toBe(200);
      expect(jason.headers['x-upstream']).toBe('ratings-v1');
      expect(Date.now() - t1).toBeGreaterThanOrEqual(7000);
    });
  }, 20_000);
});
