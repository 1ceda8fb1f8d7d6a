import type { ClusterRuntime } from '../upstream/cluster.js';

/** What `/clusters` shows of one cluster: its endpoints as balancing sees them now. */
export function describeCluster(c: ClusterRuntime, now = Date.now()): unknown {
  const healthy = new Set(c.healthy);
  return {
    name: c.config.name,
    discovery: c.config.discovery,
    protocol: c.config.protocol,
    tls: c.config.tls === null ? null : c.config.tls.mode,
    requestsActive: c.active,
    tcpConnections: c.tcpConnections,
    ...(c.guardRefusal !== null ? { refused: c.guardRefusal } : {}),
    endpoints: c.endpoints.map((e) => ({
      address: e.hostPort,
      ...(e.name !== undefined ? { name: e.name } : {}),
      weight: e.weight,
      health: e.ejectedUntil !== 0 ? 'ejected' : healthy.has(e) ? 'healthy' : 'unhealthy',
      ...(e.ejectedUntil !== 0 ? { ejectedForMs: Math.max(0, e.ejectedUntil - now), ejections: e.ejections } : {}),
      requestsActive: e.active,
      consecutive5xx: e.consecutive5xx,
      consecutiveGatewayErrors: e.consecutiveGatewayErrors,
    })),
  };
}
