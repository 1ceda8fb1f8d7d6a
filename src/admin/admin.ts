import Fastify, { type FastifyInstance } from 'fastify';
import { renderRoutes, snapshotToJSON } from '../compile/describe.js';
import type { Snapshot } from '../compile/snapshot.js';
import type { ClusterRuntime } from '../upstream/cluster.js';
import { describeCluster } from './clusters.js';

/** Loopback-only admin: what the gateway is serving right now. */
export interface AdminSources {
  snapshot: () => Snapshot;
  egressRefusals?: () => ReadonlyMap<string, number>;
  clusters?: () => ReadonlyMap<string, ClusterRuntime>;
}

export function createAdminServer(src: AdminSources): FastifyInstance {
  const current = src.snapshot;
  const egressRefusals = src.egressRefusals ?? (() => new Map<string, number>());
  const app = Fastify({ logger: false });
  app.get('/config_dump', (_req, reply) => {
    reply.type('application/json').send(JSON.stringify(snapshotToJSON(current()), null, 2) + '\n');
  });
  app.get('/routes', (_req, reply) => {
    reply.type('text/plain').send(renderRoutes(current()));
  });
  // Each cluster's endpoints as balancing sees them now: health, ejections, requests in flight.
  app.get('/clusters', (_req, reply) => {
    const list = [...(src.clusters?.() ?? new Map<string, ClusterRuntime>()).values()].map((c) => describeCluster(c));
    reply.type('application/json').send(JSON.stringify(list, null, 2) + '\n');
  });
  // What the forward proxy allows and what it refused since start, by host:port.
  app.get('/egress', (_req, reply) => {
    const e = current().egress;
    const hosts = [...e.exact.values(), ...e.wildcards.map((w) => w.target)].map((t) => ({ host: t.host, ports: [...t.ports.keys()], from: t.ref }));
    reply.type('application/json').send(JSON.stringify({ mode: e.mode, policyFrom: e.source, hosts, refused: Object.fromEntries(egressRefusals()) }, null, 2) + '\n');
  });
  return app;
}
