import type { ClusterConfig } from '../compile/snapshot.js';
import { ClusterRuntime } from './cluster.js';
import type { UpstreamPools } from './pools.js';
import { memoByObject } from '../config/memo.js';

/** A cluster's definition without its endpoints: what must match for its runtime to be kept. */
function definitionText(c: ClusterConfig): string {
  const { endpoints: _e, policyFrom: _p, tls, ...rest } = c;
  // toJSON hides the PEM; a rotated CA or client certificate is a new definition all the same.
  return JSON.stringify(rest) + (tls?.poolKey ?? '');
}

// A config's texts, made once per (read-only) config object: a reload compares 10,000s of
// clusters, most of them the very objects of the last compile (kept by the compile cache), and
// making both texts for each of them every time was most of a reload of 10,000 clusters.
const definition = memoByObject(definitionText);
const endpointsText = memoByObject((c: ClusterConfig) => JSON.stringify(c.endpoints));

function sameEndpoints(a: ClusterConfig, b: ClusterConfig): boolean {
  return a.endpoints === b.endpoints || endpointsText(a) === endpointsText(b);
}

/**
 * Cluster runtimes across config versions, as Envoy's cluster manager keeps them: a reload that
 * leaves a cluster's definition alone keeps its runtime (outlier ejections, circuit-breaker
 * counts, DNS answers, connection pools); one that only changes its endpoints updates them in
 * place; anything else gets a fresh runtime, and the old one is stopped once the swap is done.
 */
export class ClusterManager {
  private live = new Map<string, ClusterRuntime>();

  constructor(private readonly pools: UpstreamPools) {}

  /** The runtimes for a snapshot's clusters, and those no longer needed (to stop after the swap). */
  sync(configs: ReadonlyMap<string, ClusterConfig>): { runtimes: Map<string, ClusterRuntime>; retired: ClusterRuntime[]; kept: number } {
    const next = new Map<string, ClusterRuntime>();
    const retired: ClusterRuntime[] = [];
    let kept = 0;
    for (const [name, cfg] of configs) {
      const old = this.live.get(name);
      if (old !== undefined && (old.config === cfg || definition(old.config) === definition(cfg))) {
        if (old.config === cfg || sameEndpoints(old.config, cfg)) old.config = cfg;
        else old.updateEndpoints(cfg);
        next.set(name, old);
        kept++;
        continue;
      }
      if (old !== undefined) retired.push(old);
      next.set(name, new ClusterRuntime(cfg, this.pools));
    }
    for (const [name, old] of this.live) if (!configs.has(name)) retired.push(old);
    this.live = next;
    this.dynamicCount = 0;
    return { runtimes: next, retired, kept };
  }

  /**
   * A cluster made for one request's name (the forward proxy's DNS-found hosts), added to the live
   * set the active config reads; the next sync retires it. Null when too many are live already.
   */
  dynamic(cfg: ClusterConfig, limit: number): ClusterRuntime | null {
    const had = this.live.get(cfg.name);
    if (had !== undefined) return had;
    if (this.dynamicCount >= limit) return null;
    const rt = new ClusterRuntime(cfg, this.pools);
    this.live.set(cfg.name, rt);
    this.dynamicCount++;
    return rt;
  }

  private dynamicCount = 0;

  stopAll(): void {
    for (const c of this.live.values()) c.stop();
    this.live.clear();
  }
}
