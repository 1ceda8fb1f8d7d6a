import { lookup } from 'node:dns/promises';
import { forbiddenAddress } from '../egress/address-guard.js';
import type { ClusterConfig } from '../compile/snapshot.js';
import type { Endpoint } from '../registry/registry.js';
import type { UpstreamClient, UpstreamSettings } from './client.js';
import { HashRing } from './hash.js';
import type { UpstreamPools } from './pools.js';

export interface LiveEndpoint {
  address: string;
  port: number;
  name?: string;
  weight: number;
  /** `address:port`, for the stream record and logs. */
  hostPort: string;
  client: UpstreamClient;
  /** An HTTP/1.1 client for WebSocket upgrades when the cluster speaks HTTP/2; taken on first use. */
  upgradeClient: UpstreamClient | null;
  /** Requests in flight to this endpoint (LEAST_REQUEST reads it). */
  active: number;
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
  /** 0 when serving; otherwise the time (ms) it may come back. */
  ejectedUntil: number;
  ejections: number;
  /** Smooth weighted round robin state. */
  current: number;
}

// Mirrored copies in flight per cluster, at most: a slow shadow service must not pile them up.
const MAX_MIRRORS_IN_FLIGHT = 256;

// Envoy's STRICT_DNS clusters re-resolve every 5 s by default.
const DNS_REFRESH_MS = 5000;
// Envoy's default outlier_detection.max_ejection_time.
const MAX_EJECTION_MS = 300_000;

export type PickOutcome = LiveEndpoint | null;

/**
 * A cluster as the data plane runs it: live endpoints, balancer, circuit breakers and outlier
 * detection. Policy-free clusters (the common case) take the shortest path through `pick`.
 */
export class ClusterRuntime {
  config: ClusterConfig;
  /** Every endpoint, ejected or not. */
  endpoints: LiveEndpoint[] = [];
  /** The endpoints balancing picks from (all of them when none is ejected, or in panic). */
  healthy: LiveEndpoint[] = [];
  /** Requests holding a connection slot (maxConnections), and those waiting for one. */
  active = 0;
  activeRetries = 0;
  /** Connections the TCP proxy holds to this cluster. */
  tcpConnections = 0;
  private mirrorsInFlight = 0;
  private readonly pending: (() => void)[] = [];
  private next = 0;
  private weighted = false;
  private ring: HashRing<LiveEndpoint> | null = null;
  private fixed: LiveEndpoint[] = [];
  private dnsTargets: Endpoint[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private firstResolution: Promise<void> | null = null;
  private resolving = false;
  private readonly settings: UpstreamSettings;
  private dnsTimer: NodeJS.Timeout | null = null;
  /** Why the address guard left a DNS-found external host without endpoints, or null. */
  guardRefusal: string | null = null;
  private stopped = false;

  constructor(config: ClusterConfig, private readonly pools: UpstreamPools) {
    this.config = config;
    const p = config.pool;
    this.settings = {
      protocol: config.protocol,
      maxConnections: p.maxConnections,
      connectTimeoutMs: p.connectTimeoutMs,
      idleTimeoutMs: p.idleTimeoutMs,
      maxRequestsPerConnection: p.maxRequestsPerConnection,
      maxConcurrentStreams: p.maxConcurrentStreams,
      tls: config.tls,
    };
    this.applyEndpoints(config.endpoints);
    if (config.outlier) {
      const t = setInterval(() => this.sweep(), config.outlier.intervalMs);
      t.unref();
      this.timers.push(t);
    }
  }

  /**
   * Takes a new snapshot's definition of this cluster when only its endpoints differ (what
   * Envoy's EDS does): endpoints that stay keep their connections, ejections and counters.
   */
  updateEndpoints(config: ClusterConfig): void {
    this.config = config;
    this.applyEndpoints(config.endpoints);
  }

  private applyEndpoints(list: readonly Endpoint[]): void {
    const previous = this.endpoints;
    const fixed: LiveEndpoint[] = [];
    const dns: Endpoint[] = [];
    for (const e of list) {
      if (e.resolve) dns.push(e);
      else fixed.push(previous.find((x) => x.address === e.address && x.port === e.port && x.name === e.name && x.weight === Math.max(1, e.weight)) ?? this.live(e.address, e.port, e.weight, e.name));
    }
    const sameDns = dns.length === this.dnsTargets.length && dns.every((d, i) => d.address === this.dnsTargets[i]!.address && d.port === this.dnsTargets[i]!.port && d.weight === this.dnsTargets[i]!.weight);
    // Addresses DNS gave for names still listed are kept until the next lookup replaces them.
    const resolved = sameDns ? previous.filter((e) => !this.fixed.includes(e)) : [];
    const next = [...fixed, ...resolved];
    for (const e of previous) if (!next.includes(e)) this.releaseEndpoint(e);
    this.fixed = fixed;
    this.dnsTargets = dns;
    this.setEndpoints(next);
    if (dns.length > 0 && !sameDns) {
      this.firstResolution = this.resolve();
      if (this.dnsTimer === null) {
        this.dnsTimer = setInterval(() => void this.resolve(), DNS_REFRESH_MS);
        this.dnsTimer.unref();
      }
    } else if (dns.length === 0 && this.dnsTimer !== null) {
      clearInterval(this.dnsTimer);
      this.dnsTimer = null;
    }
  }

  private releaseEndpoint(e: LiveEndpoint): void {
    this.pools.release(e.client);
    if (e.upgradeClient !== null) this.pools.release(e.upgradeClient);
    e.upgradeClient = null;
  }

  /** The client for an HTTP/1.1 Upgrade to this endpoint (WebSocket has no HTTP/2 upstream here). */
  upgradeClientOf(e: LiveEndpoint): UpstreamClient {
    if (e.client.protocol === 'http1') return e.client;
    e.upgradeClient ??= this.pools.acquire(e.address, e.port, { ...this.settings, protocol: 'http1' });
    return e.upgradeClient;
  }

  /** Pending until DNS-named endpoints have been looked up once; null after that (and for clusters without any). */
  get firstLookup(): Promise<void> | null {
    return this.firstResolution;
  }

  /**
   * An endpoint for one attempt: by hash when the cluster hashes and a key is given, else by
   * the cluster's policy. `avoid` holds endpoints already tried, skipped when another exists.
   */
  pick(hashKey?: number, avoid?: readonly LiveEndpoint[]): PickOutcome {
    const eps = this.healthy;
    const n = eps.length;
    if (n === 0) return null;
    if (n === 1) return eps[0]!;
    const ok = avoid && avoid.length > 0 && avoid.length < n ? (e: LiveEndpoint) => !avoid.includes(e) : undefined;
    if (this.ring !== null && hashKey !== undefined) return this.ring.pick(hashKey, ok);
    for (let tries = 0; tries < n; tries++) {
      const e = this.pickOnce(eps, n);
      if (!ok || ok(e)) return e;
    }
    // The balancer kept landing on tried endpoints: take the first untried one rather than retry a tried host.
    return (ok && eps.find(ok)) || eps[0]!;
  }

  private pickOnce(eps: LiveEndpoint[], n: number): LiveEndpoint {
    switch (this.config.lb) {
      case 'RANDOM':
        return this.weighted ? this.weightedRandom(eps) : eps[Math.floor(Math.random() * n)]!;
      case 'LEAST_REQUEST': {
        // Envoy's default: the better of two random choices.
        const a = eps[Math.floor(Math.random() * n)]!;
        let b = eps[Math.floor(Math.random() * n)]!;
        if (b === a) b = eps[(eps.indexOf(a) + 1) % n]!;
        return a.active / a.weight <= b.active / b.weight ? a : b;
      }
      case 'PASSTHROUGH':
        return eps[0]!;
      default: {
        if (this.weighted) return this.smoothWeighted(eps);
        const i = this.next;
        this.next = i + 1 >= n ? 0 : i + 1;
        return eps[i < n ? i : 0]!;
      }
    }
  }

  private smoothWeighted(eps: LiveEndpoint[]): LiveEndpoint {
    let total = 0;
    let best = eps[0]!;
    for (const e of eps) {
      e.current += e.weight;
      total += e.weight;
      if (e.current > best.current) best = e;
    }
    best.current -= total;
    return best;
  }

  private weightedRandom(eps: LiveEndpoint[]): LiveEndpoint {
    let total = 0;
    for (const e of eps) total += e.weight;
    let r = Math.random() * total;
    for (const e of eps) {
      r -= e.weight;
      if (r < 0) return e;
    }
    return eps[eps.length - 1]!;
  }

  // --- circuit breakers (connectionPool) -----------------------------------------------

  /**
   * Take a connection slot: true to go now; a queued start when the pool is full but requests
   * may wait; false on overflow (503 with x-envoy-overloaded).
   */
  admit(start: () => void): boolean | 'queued' {
    const pool = this.config.pool;
    // http2MaxRequests: requests in flight, whatever the protocol; over it is an overflow at once.
    if (pool.maxRequests > 0 && this.active >= pool.maxRequests) return false;
    // HTTP/1.1 carries one request per connection, so maxConnections bounds requests too, and
    // the ones over it wait (http1MaxPendingRequests). HTTP/2 multiplexes: its client bounds connections.
    const max = this.config.protocol === 'http1' ? pool.maxConnections : 0;
    if (max === 0 || this.active < max) {
      this.active++;
      return true;
    }
    const maxPending = this.config.pool.maxPendingRequests;
    if (maxPending > 0 && this.pending.length >= maxPending) return false;
    this.pending.push(start);
    return 'queued';
  }

  /** Give a slot back; the oldest waiting request takes it. */
  release(): void {
    const next = this.pending.shift();
    if (next !== undefined) next();
    else this.active--;
  }

  /** A TCP-proxied connection takes a maxConnections slot, or is refused (Envoy's tcp_proxy has no queue). */
  admitConnection(): boolean {
    const max = this.config.pool.maxConnections;
    if (max > 0 && this.tcpConnections >= max) return false;
    this.tcpConnections++;
    return true;
  }

  releaseConnection(): void {
    this.tcpConnections--;
  }

  /** Drop a queued start (its client went away). */
  cancelQueued(start: () => void): void {
    const i = this.pending.indexOf(start);
    if (i >= 0) this.pending.splice(i, 1);
  }

  /** A slot for a mirrored copy, taken only when free now (mirrors never queue). */
  admitMirror(): boolean {
    if (this.mirrorsInFlight >= MAX_MIRRORS_IN_FLIGHT) return false;
    const max = this.slotLimit();
    if (max > 0 && this.active >= max) return false;
    this.active++;
    this.mirrorsInFlight++;
    return true;
  }

  releaseMirror(): void {
    this.mirrorsInFlight--;
    this.release();
  }

  private slotLimit(): number {
    const pool = this.config.pool;
    const conn = this.config.protocol === 'http1' ? pool.maxConnections : 0;
    if (conn === 0) return pool.maxRequests;
    return pool.maxRequests === 0 ? conn : Math.min(conn, pool.maxRequests);
  }

  /** Whether one more retry fits under connectionPool.http.maxRetries. */
  retryAllowed(): boolean {
    const max = this.config.pool.maxRetries;
    return max === 0 || this.activeRetries < max;
  }

  // --- outlier detection -----------------------------------------------------------------

  /** Record an attempt's outcome: an HTTP status, or 0 for a local failure (connect, reset, timeout). */
  record(e: LiveEndpoint, status: number): void {
    const od = this.config.outlier;
    if (od === null) return;
    if (status !== 0 && status < 500) {
      e.consecutive5xx = 0;
      e.consecutiveGatewayErrors = 0;
      return;
    }
    e.consecutive5xx++;
    if (status === 0 || status === 502 || status === 503 || status === 504) e.consecutiveGatewayErrors++;
    else e.consecutiveGatewayErrors = 0;
    const trip = (od.consecutive5xx > 0 && e.consecutive5xx >= od.consecutive5xx) || (od.consecutiveGatewayErrors > 0 && e.consecutiveGatewayErrors >= od.consecutiveGatewayErrors);
    if (trip && e.ejectedUntil === 0) this.eject(e);
  }

  private eject(e: LiveEndpoint): void {
    const od = this.config.outlier!;
    const ejected = this.endpoints.filter((x) => x.ejectedUntil !== 0).length;
    // One ejection is always allowed, whatever maxEjectionPercent says; beyond it, Envoy checks
    // the share ejected *after* this one (envoyproxy/envoy#26877: 50 % of 3 hosts is 1, not 2).
    if (ejected > 0 && ((ejected + 1) * 100) / this.endpoints.length > od.maxEjectionPercent) return;
    // Envoy's max_ejection_time (Istio leaves the default: 300 s, or baseEjectionTime if longer)
    // caps the ejection time and stops the multiplier growing past it.
    const maxMs = Math.max(MAX_EJECTION_MS, od.baseEjectionMs);
    if (e.ejections * od.baseEjectionMs < maxMs + od.baseEjectionMs) e.ejections++;
    e.ejectedUntil = Date.now() + Math.min(od.baseEjectionMs * e.ejections, maxMs);
    e.consecutive5xx = 0;
    e.consecutiveGatewayErrors = 0;
    this.refreshHealthy();
  }

  private sweep(): void {
    const now = Date.now();
    let changed = false;
    for (const e of this.endpoints) {
      if (e.ejectedUntil !== 0 && e.ejectedUntil <= now) {
        e.ejectedUntil = 0;
        changed = true;
      } else if (e.ejectedUntil === 0 && e.ejections > 0) {
        // A host that stays healthy earns its ejection multiplier back, one interval at a time.
        e.ejections--;
      }
    }
    if (changed) this.refreshHealthy();
  }

  private refreshHealthy(): void {
    const all = this.endpoints;
    const ok = all.filter((e) => e.ejectedUntil === 0);
    const od = this.config.outlier;
    // Below minHealthPercent the cluster is in panic: balance over every endpoint.
    const panic = od !== null && od.minHealthPercent > 0 && (ok.length * 100) / Math.max(1, all.length) < od.minHealthPercent;
    this.healthy = panic ? all : ok;
    this.ring = this.config.hash ? new HashRing(this.healthy, (e) => `${e.address}:${e.port}`, (e) => e.weight) : null;
  }

  private setEndpoints(list: LiveEndpoint[]): void {
    this.endpoints = list;
    this.weighted = list.some((e) => e.weight !== list[0]!.weight);
    this.refreshHealthy();
  }

  /** Stops timers and gives the cluster's pools back; requests in flight finish on them. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    if (this.dnsTimer !== null) clearInterval(this.dnsTimer);
    this.dnsTimer = null;
    for (const e of this.endpoints) this.releaseEndpoint(e);
    this.endpoints = [];
  }

  private live(address: string, port: number, weight: number, name?: string): LiveEndpoint {
    return {
      address,
      port,
      name,
      weight: weight > 0 ? weight : 1,
      hostPort: address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`,
      client: this.pools.acquire(address, port, this.settings),
      upgradeClient: null,
      active: 0,
      consecutive5xx: 0,
      consecutiveGatewayErrors: 0,
      ejectedUntil: 0,
      ejections: 0,
      current: 0,
    };
  }

  /**
   * Looks up every DNS-named endpoint. A name whose lookup fails keeps the addresses it had, as
   * Envoy keeps the last resolved hosts; a refresh still running when the next is due is not
   * doubled.
   */
  private async resolve(): Promise<void> {
    if (this.resolving) return;
    this.resolving = true;
    try {
      const previous = this.endpoints;
      const next: LiveEndpoint[] = [...this.fixed];
      for (const t of this.dnsTargets) {
        // IPv4 first, as Istio configures Envoy (V4_ONLY unless the cluster is dual-stack).
        let addrs = await lookup(t.address, { all: true, family: 4 }).catch(() => null);
        if (addrs === null || addrs.length === 0) addrs = await lookup(t.address, { all: true }).catch(() => null);
        if (addrs === null) {
          next.push(...previous.filter((e) => e.name === t.address && e.port === t.port));
          continue;
        }
        const guard = this.config.addressGuard;
        if (guard !== undefined) {
          const refused = addrs.map((a) => forbiddenAddress(a.address, guard)).filter((r): r is string => r !== null);
          addrs = addrs.filter((a) => forbiddenAddress(a.address, guard) === null);
          this.guardRefusal = addrs.length === 0 && refused.length > 0 ? `${t.address} resolves to ${refused[0]}; only a ServiceEntry that names that address itself allows it` : null;
        }
        for (const a of addrs) {
          const known = previous.find((e) => e.address === a.address && e.port === t.port && e.name === t.address);
          next.push(known ?? this.live(a.address, t.port, t.weight, t.address));
        }
      }
      if (this.stopped) {
        // Stopped while looking up: give back what this lookup took.
        for (const e of next) if (!previous.includes(e) && !this.fixed.includes(e)) this.releaseEndpoint(e);
        return;
      }
      for (const e of previous) if (!next.includes(e) && !this.endpoints.includes(e)) this.releaseEndpoint(e);
      this.setEndpoints(next);
    } finally {
      this.resolving = false;
      this.firstResolution = null;
    }
  }
}
