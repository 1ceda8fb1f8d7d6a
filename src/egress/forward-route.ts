import { directRoute } from '../compile/routes.js';
import { egressTarget } from '../compile/egress.js';
import { DEFAULT_POOL } from '../compile/policy.js';
import type { ClusterConfig, Route, Snapshot } from '../compile/snapshot.js';

const NOTHING_DECLARED: ReadonlySet<string> = new Set();

/** How many names the forward proxy keeps a cluster for at once (ALLOW_ANY must not grow without end). */
export const MAX_DYNAMIC_CLUSTERS = 1024;

export interface ForwardPlan {
  route: Route;
  /** A cluster the compiled snapshot does not have: the requested name, found by DNS (Envoy's dynamic forward proxy). */
  dynamic: ClusterConfig | null;
}

/**
 * The route for a forward-proxy request to a host no VirtualService names: to the declaring
 * ServiceEntry's cluster when it has endpoints, else to the requested name resolved by DNS
 * (a wildcard entry, or anything under ALLOW_ANY), through the address guard. Null: refused.
 */
export function forwardPlan(snapshot: Snapshot, host: string, port: number): ForwardPlan | null {
  const egress = snapshot.egress;
  const decision = egressTarget(egress, host, port);
  if (decision === null && egress.mode === 'REGISTRY_ONLY') return null;
  const name = decision?.cluster ?? `outbound|${port}||${host}`;
  const dynamic: ClusterConfig | null =
    decision?.cluster != null
      ? null
      : {
          name,
          host,
          port,
          discovery: 'DNS',
          known: true,
          protocol: 'http1',
          endpoints: [{ address: host, port, labels: {}, weight: 1, resolve: true }],
          lb: 'ROUND_ROBIN',
          hash: null,
          pool: DEFAULT_POOL,
          outlier: null,
          tls: null,
          addressGuard: decision?.target.declared ?? NOTHING_DECLARED,
        };
  const route = directRoute(`${decision?.target.ref ?? `ALLOW_ANY (${egress.source})`} (forward proxy)`, { cluster: name, host, port, clusterByPort: undefined });
  return { route, dynamic };
}
