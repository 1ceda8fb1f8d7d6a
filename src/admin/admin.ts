import Fastify, { type FastifyInstance } from 'fastify';
import { renderRoutes, snapshotToJSON } from '../compile/describe.js';
import type { Snapshot } from '../compile/snapshot.js';

/** Loopback-only admin: what the gateway is serving right now. */
export function createAdminServer(current: () => Snapshot, egressRefusals: () => ReadonlyMap<string, number> = () => new Map()): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/config_dump', (_req, reply) => {
    reply.type('application/json').send(JSON.stringify(snapshotToJSON(current()), null, 2) + '\n');
  });
  app.get('/routes', (_req, reply) => {
    reply.type('text/plain').send(renderRoutes(current()));
  });
  // What the forward proxy allows and what it refused since start, by host:port.
  app.get('/egress', (_req, reply) => {
    const e = current().egress;
    const hosts = [...e.exact.values(), ...e.wildcards.map((w) => w.target)].map((t) => ({ host: t.host, ports: [...t.ports.keys()], from: t.ref }));
    reply.type('application/json').send(JSON.stringify({ mode: e.mode, policyFrom: e.source, hosts, refused: Object.fromEntries(egressRefusals()) }, null, 2) + '\n');
  });
  return app;
}
