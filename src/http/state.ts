import type { FilterChainConfig, ListenerConfig, Snapshot } from '../compile/snapshot.js';
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
  private listeners: StreamEndListener[] = [];

  constructor(public active: ActiveConfig) {}

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
