import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ClusterConfig, HashKey, LbPolicy, OutlierPolicy, PoolLimits } from '../../../src/compile/snapshot.js';
import { DEFAULT_POOL } from '../../../src/compile/policy.js';
import { ClusterRuntime, type LiveEndpoint } from '../../../src/upstream/cluster.js';
import { hash32 } from '../../../src/upstream/hash.js';
import { UpstreamPools } from '../../../src/upstream/pools.js';

// The cluster runtime as Envoy's load balancers, circuit breakers and outlier detector behave.
// Nothing here opens a socket: upstream pools connect on first dispatch, and these tests only
// pick, admit and record. Outlier timing runs on fake timers.

let pools: UpstreamPools;
const runtimes: ClusterRuntime[] = [];

beforeEach(() => {
  pools = new UpstreamPools();
});

afterEach(async () => {
  for (const r of runtimes.splice(0)) r.stop();
  vi.useRealTimers();
  await pools.close();
});

interface Opts {
  n?: number;
  weights?: number[];
  lb?: LbPolicy;
  hash?: HashKey | null;
  pool?: Partial<PoolLimits>;
  outlier?: Partial<OutlierPolicy> | null;
}

function cluster(o: Opts = {}): ClusterRuntime {
  const n = o.weights?.length ?? o.n ?? 3;
  const config: ClusterConfig = {
    name: 'outbound|80||svc.test',
    host: 'svc.test',
    port: 80,
    discovery: 'STATIC',
    known: true,
    protocol: 'http1',
    endpoints: Array.from({ length: n }, (_, i) => ({ address: '127.0.0.1', port: 10001 + i, labels: {}, weight: o.weights?.[i] ?? 1, name: `e${i}` })),
    lb: o.lb ?? 'ROUND_ROBIN',
    hash: o.hash ?? null,
    pool: { ...DEFAULT_POOL, ...o.pool },
    outlier: o.outlier
      ? { consecutive5xx: 5, consecutiveGatewayErrors: 0, intervalMs: 100, baseEjectionMs: 1000, maxEjectionPercent: 100, minHealthPercent: 0, ...o.outlier }
      : null,
    tls: null,
  };
  const r = new ClusterRuntime(config, pools);
  runtimes.push(r);
  return r;
}

const name = (e: LiveEndpoint | null) => e?.name ?? null;
const picks = (c: ClusterRuntime, k: number, hash?: number) => Array.from({ length: k }, () => name(c.pick(hash)));
const ep = (c: ClusterRuntime, n: string) => c.endpoints.find((e) => e.name === n)!;
const healthyNames = (c: ClusterRuntime) => c.healthy.map((e) => e.name).sort();
function fail(c: ClusterRuntime, n: string, times: number, status = 500): void {
  for (let i = 0; i < times; i++) c.record(ep(c, n), status);
}
function tally(list: (string | null)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of list) out[n ?? 'null'] = (out[n ?? 'null'] ?? 0) + 1;
  return out;
}

describe('load balancing', () => {
  it('ROUND_ROBIN visits every endpoint in turn and wraps', () => {
    expect(picks(cluster(), 7)).toEqual(['e0', 'e1', 'e2', 'e0', 'e1', 'e2', 'e0']);
  });

  it('weighted ROUND_ROBIN gives each endpoint its weight in every cycle, interleaved', () => {
    const c = cluster({ weights: [1, 3] });
    for (let cycle = 0; cycle < 10; cycle++) expect(tally(picks(c, 4))).toEqual({ e0: 1, e1: 3 });
    const w = cluster({ weights: [5, 1, 1] });
    const seq = picks(w, 7);
    expect(tally(seq)).toEqual({ e0: 5, e1: 1, e2: 1 });
    // Smooth: the heavy endpoint's picks are spread out, not five in a row.
    expect(seq.join(',')).not.toContain('e0,e0,e0,e0,e0');
  });

  it('LEAST_REQUEST never picks the busiest of several endpoints and prefers idle ones', () => {
    const c = cluster({ lb: 'LEAST_REQUEST' });
    ep(c, 'e0').active = 10;
    ep(c, 'e1').active = 1;
    ep(c, 'e2').active = 0;
    const t = tally(picks(c, 600));
    expect(t.e0).toBeUndefined();
    expect(t.e2!).toBeGreaterThan(t.e1!);
    const two = cluster({ lb: 'LEAST_REQUEST', n: 2 });
    ep(two, 'e0').active = 3;
    expect(tally(picks(two, 50))).toEqual({ e1: 50 });
  });

  it('RANDOM reaches every endpoint and follows weights', () => {
    const t = tally(picks(cluster({ lb: 'RANDOM' }), 600));
    for (const n of ['e0', 'e1', 'e2']) expect(t[n]!).toBeGreaterThan(120);
    const w = tally(picks(cluster({ lb: 'RANDOM', weights: [1, 3] }), 4000));
    expect(w.e1! / 4000).toBeGreaterThan(0.7);
    expect(w.e1! / 4000).toBeLessThan(0.8);
  });

  it('PASSTHROUGH has no balancing: the first endpoint, always', () => {
    expect(tally(picks(cluster({ lb: 'PASSTHROUGH' }), 20))).toEqual({ e0: 20 });
  });

  it('skips endpoints already tried when another one is left', () => {
    const c = cluster();
    const tried = [ep(c, 'e0'), ep(c, 'e1')];
    for (let i = 0; i < 6; i++) expect(name(c.pick(undefined, tried))).toBe('e2');
    // Every endpoint tried: one of them is still better than none.
    expect(c.pick(undefined, c.endpoints)).not.toBeNull();
  });

  it('consistent hash: a key sticks to one endpoint; without a key the cluster policy applies', () => {
    const c = cluster({ hash: { type: 'header', name: 'x-user' }, n: 4 });
    const h = hash32('alice');
    expect(new Set(picks(c, 50, h)).size).toBe(1);
    const owners = new Set(Array.from({ length: 100 }, (_, i) => name(c.pick(hash32(`user-${i}`)))));
    expect(owners.size).toBe(4);
    expect(picks(c, 4)).toEqual(['e0', 'e1', 'e2', 'e3']);
  });

  it('consistent hash avoids a tried endpoint by walking to the next one', () => {
    const c = cluster({ hash: { type: 'sourceIp' } });
    const h = hash32('10.1.2.3');
    const owner = c.pick(h)!;
    const next = c.pick(h, [owner])!;
    expect(next).not.toBe(owner);
    expect(c.pick(h, [owner])).toBe(next);
  });

  it('one endpoint is always picked; none gives null', () => {
    expect(picks(cluster({ n: 1, lb: 'RANDOM' }), 3)).toEqual(['e0', 'e0', 'e0']);
    expect(cluster({ n: 0 }).pick()).toBeNull();
  });
});

describe('circuit breakers (connectionPool)', () => {
  it('maxConnections 1 + maxPendingRequests 1: one goes, one waits, the rest overflow', () => {
    const c = cluster({ pool: { maxConnections: 1, maxPendingRequests: 1 } });
    const started: string[] = [];
    expect(c.admit(() => started.push('a'))).toBe(true);
    expect(c.admit(() => started.push('b'))).toBe('queued');
    expect(c.admit(() => started.push('c'))).toBe(false);
    expect(c.admit(() => started.push('d'))).toBe(false);
    expect(c.active).toBe(1);
    // The finished request hands its slot to the one waiting.
    c.release();
    expect(started).toEqual(['b']);
    expect(c.active).toBe(1);
    c.release();
    expect(c.active).toBe(0);
    expect(c.admit(() => started.push('e'))).toBe(true);
  });

  it('a queued request whose client left is dropped from the queue', () => {
    const c = cluster({ pool: { maxConnections: 1, maxPendingRequests: 2 } });
    const started: string[] = [];
    c.admit(() => started.push('a'));
    const b = () => started.push('b');
    expect(c.admit(b)).toBe('queued');
    expect(c.admit(() => started.push('c'))).toBe('queued');
    c.cancelQueued(b);
    // Room in the queue again.
    expect(c.admit(() => started.push('d'))).toBe('queued');
    c.release();
    expect(started).toEqual(['c']);
  });

  it('without limits (Istio leaves Envoy\'s at 2^32-1) everything is admitted at once', () => {
    const c = cluster();
    for (let i = 0; i < 1000; i++) expect(c.admit(() => undefined)).toBe(true);
    expect(c.active).toBe(1000);
  });

  it('maxConnections without maxPendingRequests queues without bound', () => {
    const c = cluster({ pool: { maxConnections: 2 } });
    expect(c.admit(() => undefined)).toBe(true);
    expect(c.admit(() => undefined)).toBe(true);
    for (let i = 0; i < 100; i++) expect(c.admit(() => undefined)).toBe('queued');
  });

  it('http.maxRetries bounds concurrent retries across the cluster', () => {
    const c = cluster({ pool: { maxRetries: 2 } });
    expect(c.retryAllowed()).toBe(true);
    c.activeRetries = 2;
    expect(c.retryAllowed()).toBe(false);
    const open = cluster();
    open.activeRetries = 10_000;
    expect(open.retryAllowed()).toBe(true);
  });
});

describe('outlier detection', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'Date'] });
  });

  it('does nothing without an outlierDetection policy', () => {
    const c = cluster();
    fail(c, 'e0', 100);
    expect(healthyNames(c)).toEqual(['e0', 'e1', 'e2']);
  });

  it('ejects after consecutive5xxErrors in a row, at once (not at the next sweep)', () => {
    const c = cluster({ outlier: { consecutive5xx: 3 } });
    fail(c, 'e1', 2);
    expect(healthyNames(c)).toEqual(['e0', 'e1', 'e2']);
    fail(c, 'e1', 1);
    expect(healthyNames(c)).toEqual(['e0', 'e2']);
    expect(tally(picks(c, 20))).toEqual({ e0: 10, e2: 10 });
  });

  it('a success in between resets the count', () => {
    const c = cluster({ outlier: { consecutive5xx: 3 } });
    fail(c, 'e0', 2);
    c.record(ep(c, 'e0'), 200);
    fail(c, 'e0', 2);
    c.record(ep(c, 'e0'), 404);
    fail(c, 'e0', 2);
    expect(healthyNames(c)).toEqual(['e0', 'e1', 'e2']);
  });

  it('consecutiveGatewayErrors counts 502/503/504 and local failures; a 500 breaks the run', () => {
    const c = cluster({ outlier: { consecutive5xx: 0, consecutiveGatewayErrors: 3 } });
    fail(c, 'e0', 10, 500);
    expect(healthyNames(c)).toEqual(['e0', 'e1', 'e2']);
    c.record(ep(c, 'e1'), 502);
    c.record(ep(c, 'e1'), 500);
    c.record(ep(c, 'e1'), 503);
    c.record(ep(c, 'e1'), 504);
    expect(healthyNames(c)).toEqual(['e0', 'e1', 'e2']);
    // 0 stands for a connect failure, reset or timeout: Envoy maps those to gateway errors.
    c.record(ep(c, 'e1'), 0);
    expect(healthyNames(c)).toEqual(['e0', 'e2']);
  });

  it('gateway errors count toward consecutive5xxErrors as well', () => {
    const c = cluster({ outlier: { consecutive5xx: 4, consecutiveGatewayErrors: 0 } });
    c.record(ep(c, 'e2'), 500);
    c.record(ep(c, 'e2'), 502);
    c.record(ep(c, 'e2'), 0);
    c.record(ep(c, 'e2'), 504);
    expect(healthyNames(c)).toEqual(['e0', 'e1']);
  });

  it('returns an ejected host at the first sweep after baseEjectionTime', () => {
    const c = cluster({ outlier: { consecutive5xx: 1, intervalMs: 100, baseEjectionMs: 1000 } });
    fail(c, 'e0', 1);
    vi.advanceTimersByTime(950);
    expect(healthyNames(c)).toEqual(['e1', 'e2']);
    vi.advanceTimersByTime(100);
    expect(healthyNames(c)).toEqual(['e0', 'e1', 'e2']);
  });

  it('ejects for baseEjectionTime × number of ejections, and the multiplier decays while healthy', () => {
    const c = cluster({ outlier: { consecutive5xx: 1, intervalMs: 100, baseEjectionMs: 1000 } });
    fail(c, 'e0', 1);
    vi.advanceTimersByTime(1050);
    expect(healthyNames(c)).toContain('e0');
    // Failing again straight away: twice as long.
    fail(c, 'e0', 1);
    vi.advanceTimersByTime(1950);
    expect(healthyNames(c)).not.toContain('e0');
    vi.advanceTimersByTime(100);
    expect(healthyNames(c)).toContain('e0');
    // Then three times.
    fail(c, 'e0', 1);
    vi.advanceTimersByTime(2950);
    expect(healthyNames(c)).not.toContain('e0');
    vi.advanceTimersByTime(100);
    expect(healthyNames(c)).toContain('e0');
    // Healthy for many intervals: back to a single baseEjectionTime.
    vi.advanceTimersByTime(1000);
    fail(c, 'e0', 1);
    vi.advanceTimersByTime(1050);
    expect(healthyNames(c)).toContain('e0');
  });

  it('caps the ejection time at Envoy\'s max_ejection_time (300 s)', () => {
    const c = cluster({ outlier: { consecutive5xx: 1, intervalMs: 10_000, baseEjectionMs: 100_000 } });
    for (const expected of [100_000, 200_000, 300_000, 300_000]) {
      fail(c, 'e0', 1);
      vi.advanceTimersByTime(expected - 5000);
      expect(healthyNames(c)).not.toContain('e0');
      vi.advanceTimersByTime(10_000);
      expect(healthyNames(c)).toContain('e0');
    }
  });

  it('maxEjectionPercent: never more than that share ejected, counting the host about to go', () => {
    const three = cluster({ outlier: { consecutive5xx: 1, maxEjectionPercent: 50 } });
    fail(three, 'e0', 1);
    fail(three, 'e1', 1);
    // 2 of 3 would be 67 %: only e0 is out.
    expect(healthyNames(three)).toEqual(['e1', 'e2']);
    const four = cluster({ n: 4, outlier: { consecutive5xx: 1, maxEjectionPercent: 50 } });
    fail(four, 'e0', 1);
    fail(four, 'e1', 1);
    fail(four, 'e2', 1);
    expect(healthyNames(four)).toEqual(['e2', 'e3']);
  });

  it('maxEjectionPercent still lets one host go when one host is more than the share', () => {
    const c = cluster({ outlier: { consecutive5xx: 1, maxEjectionPercent: 10 } });
    fail(c, 'e0', 1);
    fail(c, 'e1', 1);
    expect(healthyNames(c)).toEqual(['e1', 'e2']);
  });

  it('ejects every host with maxEjectionPercent 100, leaving nothing to pick', () => {
    const c = cluster({ n: 2, outlier: { consecutive5xx: 1 } });
    fail(c, 'e0', 1);
    fail(c, 'e1', 1);
    expect(c.healthy).toEqual([]);
    expect(c.pick()).toBeNull();
  });

  it('minHealthPercent: below it the cluster panics and balances over every host', () => {
    const c = cluster({ outlier: { consecutive5xx: 1, minHealthPercent: 50 } });
    fail(c, 'e0', 1);
    // 2 of 3 healthy (67 %): not in panic.
    expect(healthyNames(c)).toEqual(['e1', 'e2']);
    fail(c, 'e1', 1);
    // 1 of 3 (33 %) is under 50 %: every host is eligible again.
    expect(healthyNames(c)).toEqual(['e0', 'e1', 'e2']);
    expect(tally(picks(c, 30))).toEqual({ e0: 10, e1: 10, e2: 10 });
    const off = cluster({ outlier: { consecutive5xx: 1, minHealthPercent: 0 } });
    fail(off, 'e0', 1);
    fail(off, 'e1', 1);
    expect(healthyNames(off)).toEqual(['e2']);
  });

  it('rebuilds the hash ring around ejections: keys of healthy hosts stay, keys of the ejected host move and come back', () => {
    const c = cluster({ n: 4, hash: { type: 'header', name: 'x-user' }, outlier: { consecutive5xx: 1, intervalMs: 100, baseEjectionMs: 1000 } });
    const keys = Array.from({ length: 200 }, (_, i) => hash32(`user-${i}`));
    const before = keys.map((k) => name(c.pick(k)));
    fail(c, 'e3', 1);
    const during = keys.map((k) => name(c.pick(k)));
    expect(during).not.toContain('e3');
    const kept = before.filter((n, i) => n !== 'e3' && during[i] === n).length;
    expect(kept / before.filter((n) => n !== 'e3').length).toBeGreaterThan(0.75);
    vi.advanceTimersByTime(1100);
    expect(keys.map((k) => name(c.pick(k)))).toEqual(before);
  });
});
