import { lookup } from 'node:dns/promises';
import type { ClusterConfig } from '../compile/snapshot.js';
import type { Endpoint } from '../registry/registry.js';
import type { Upstream, UpstreamPools } from './upstream.js';

export interface LiveEndpoint {
  address: string;
  port: number;
  name?: string;
  upstream: Upstream;
}

// Envoy's STRICT_DNS clusters re-resolve every 5 s by default.
const DNS_REFRESH_MS = 5000;

/**
 * A cluster as the data plane runs it: its live endpoints and its balancer state.
 * Endpoints given as DNS names are resolved in the background and swapped in whole.
 */
export class ClusterRuntime {
  readonly config: ClusterConfig;
  endpoints: LiveEndpoint[] = [];
  private next = 0;
  private readonly fixed: LiveEndpoint[];
  private readonly dnsTargets: Endpoint[];
  private timer: NodeJS.Timeout | null = null;
  private firstResolution: Promise<void> | null = null;

  constructor(config: ClusterConfig, private readonly pools: UpstreamPools) {
    this.config = config;
    this.fixed = [];
    this.dnsTargets = [];
    for (const e of config.endpoints) {
      if (e.resolve) this.dnsTargets.push(e);
      else this.fixed.push(this.live(e.address, e.port, e.name));
    }
    this.endpoints = this.fixed;
    if (this.dnsTargets.length > 0) {
      this.firstResolution = this.resolve();
      this.timer = setInterval(() => void this.resolve(), DNS_REFRESH_MS);
      this.timer.unref();
    }
  }

  /** Pending until DNS-named endpoints have been looked up once; null after that (and for clusters without any). */
  get firstLookup(): Promise<void> | null {
    return this.firstResolution;
  }

  /** Round robin over the live endpoints; null when there is none. */
  pick(): LiveEndpoint | null {
    const eps = this.endpoints;
    const n = eps.length;
    if (n === 0) return null;
    const i = this.next;
    this.next = i + 1 >= n ? 0 : i + 1;
    return eps[i < n ? i : 0]!;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private live(address: string, port: number, name?: string): LiveEndpoint {
    return { address, port, name, upstream: this.pools.get(address, port) };
  }

  private async resolve(): Promise<void> {
    const resolved: LiveEndpoint[] = [];
    for (const t of this.dnsTargets) {
      // IPv4 first, as Istio configures Envoy (V4_ONLY unless the cluster is dual-stack).
      let addrs = await lookup(t.address, { all: true, family: 4 }).catch(() => []);
      if (addrs.length === 0) addrs = await lookup(t.address, { all: true }).catch(() => []);
      for (const a of addrs) resolved.push(this.live(a.address, t.port, t.address));
    }
    this.endpoints = [...this.fixed, ...resolved];
    this.firstResolution = null;
  }
}
