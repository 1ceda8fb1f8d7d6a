import type { Logger } from '../telemetry/log.js';
import { DEFAULT_DOWNSTREAM_TIMEOUTS, type DownstreamTimeouts } from './limits.js';
import { RateLimitedWarning } from '../telemetry/rate-limited.js';
import type { ClusterConfig, FilterChainConfig, ListenerConfig, Route, Snapshot } from '../compile/snapshot.js';
import { isLocalAddress } from '../egress/address-guard.js';
import { forwardPlan } from '../egress/forward-route.js';
import type { ClusterRuntime } from '../upstream/cluster.js';
import type { StreamEndListener, StreamRecord } from './stream-record.js';

/** A Snapshot bound to live cluster runtimes: what a request reads, start to end. */
export class ActiveConfig {
  readonly listeners: Map<string, ListenerConfig>;
  /** Filter chains by `listener/chain`. */
  readonly chains: Map<string, FilterChainConfig>;

  constructor(
    readonly snapshot: Snapshot,
    readonly clusters: ReadonlyMap<string, ClusterRuntime>,
  ) {
    this.listeners = new Map(snapshot.listeners.map((l) => [l.name, l]));
    this.chains = new Map();
    for (const l of snapshot.listeners) for (const c of l.chains) this.chains.set(chainKey(l.name, c.name), c);
  }
}

export function chainKey(listener: string, chain: string): string {
  return `${listener}/${chain}`;
}

/** The data plane's mutable state: the active config (swapped whole on reload), drain, and who hears of finished streams. */
export class DataPlaneState {
  /** Set once the gateway drains: answers close their connections. */
  draining = false;
  /** Client-side timeouts, read when a chain's connection manager is made. */
  timeouts: DownstreamTimeouts = DEFAULT_DOWNSTREAM_TIMEOUTS;
  private listeners: StreamEndListener[] = [];

  /** Local ports of the gateway's own listeners, status and admin servers: never a tunnel's target. */
  readonly ownPorts = new Set<number>();
  /** Forward-proxy refusals by `host:port`, since start: a refusal is never silent. */
  readonly egressRefusals = new Map<string, number>();
  private readonly refusalLog: RateLimitedWarning;

  constructor(
    public active: ActiveConfig,
    log: Logger | null = null,
  ) {
    this.refusalLog = new RateLimitedWarning(log);
  }

  /** Makes a cluster for a forward-proxy request's name; set by the gateway (null: none may be made now). */
  dynamicCluster: (cfg: ClusterConfig) => ClusterRuntime | null = () => null;
  private forwardRoutes = new Map<string, Route | null>();
  private forwardRoutesOf: ActiveConfig | null = null;

  /** The route a forward-proxy request to host:port takes when no VirtualService names it; null: refused. */
  forwardRoute(host: string, port: number): Route | null {
    if (this.forwardRoutesOf !== this.active) {
      this.forwardRoutes = new Map();
      this.forwardRoutesOf = this.active;
    }
    const key = `${host}:${port}`;
    // Dynamic clusters live until the next sync, which also makes a new ActiveConfig: a cached
    // route's cluster is there as long as the cache is.
    const cached = this.forwardRoutes.get(key);
    if (cached !== undefined) return cached;
    const plan = forwardPlan(this.active.snapshot, host, port);
    if (plan !== null && plan.dynamic !== null && this.dynamicCluster(plan.dynamic) === null) return null;
    const route = plan?.route ?? null;
    if (this.forwardRoutes.size < 4096) this.forwardRoutes.set(key, route);
    return route;
  }

  /** The local port each listener is bound to, by listener name. */
  readonly listenerPorts = new Map<string, number>();

  /** An endpoint that is this listener itself: forwarding there would loop for ever. */
  loopsBack(listener: string, address: string, port: number): boolean {
    return this.listenerPorts.get(listener) === port && isLocalAddress(address);
  }

  isOwnPort(port: number): boolean {
    return this.ownPorts.has(port);
  }

  /**
   * Counts a refused egress destination and says why, naming host and port (Istio users cannot
   * tell REGISTRY_ONLY refusals from network faults). At most one line a second.
   */
  egressRefused(authority: string, why: string, client: string): void {
    // Bounded: a client trying random names must not grow this without end.
    const key = this.egressRefusals.has(authority) || this.egressRefusals.size < 1000 ? authority : '(other)';
    this.egressRefusals.set(key, (this.egressRefusals.get(key) ?? 0) + 1);
    this.refusalLog.warn(() => `egress refused: ${authority} from ${client}: ${why}; nothing was connected`);
  }

  onStreamEnd(l: StreamEndListener): () => void {
    this.listeners = [...this.listeners, l];
    return () => {
      this.listeners = this.listeners.filter((x) => x !== l);
    };
  }

  /** The end event: once per stream, with its finished record. A listener that throws is not the request's problem. */
  streamEnded(rec: StreamRecord): void {
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) {
      try {
        ls[i]!(rec);
      } catch {
        // A broken subscriber must not break the data plane.
      }
    }
  }
}
