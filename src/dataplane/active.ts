import type { ListenerConfig, Snapshot } from '../compile/snapshot.js';
import { ClusterRuntime } from './cluster.js';
import type { UpstreamPools } from './upstream.js';

/** A Snapshot bound to live resources (pools, balancer state): what a request reads, start to end. */
export class ActiveConfig {
  readonly snapshot: Snapshot;
  readonly listeners: Map<string, ListenerConfig>;
  readonly clusters: Map<string, ClusterRuntime>;

  constructor(snapshot: Snapshot, pools: UpstreamPools) {
    this.snapshot = snapshot;
    this.listeners = new Map(snapshot.listeners.map((l) => [l.name, l]));
    this.clusters = new Map();
    for (const [name, c] of snapshot.clusters) this.clusters.set(name, new ClusterRuntime(c, pools));
  }

  stop(): void {
    for (const c of this.clusters.values()) c.stop();
  }
}

/** The one mutable reference of the data plane: swapped whole on reload. */
export interface DataPlaneState {
  active: ActiveConfig;
  /** Set once the gateway drains: answers close their connections. */
  draining: boolean;
}
