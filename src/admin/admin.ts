import Fastify, { type FastifyInstance } from 'fastify';
import { OWN_PORT_OPTIONS } from './fastify-options.js';
import { renderRoutes, snapshotToJSON } from '../compile/describe.js';
import type { Snapshot } from '../compile/snapshot.js';
import { explain } from '../compile/explain.js';

/** Loopback-only admin: what the gateway is serving right now. */
export interface AdminSources {
  snapshot: () => Snapshot;
  /** Asked of the workers when there are several, hence possibly a promise. */
  egressRefusals?: () => ReadonlyMap<string, number> | Promise<ReadonlyMap<string, number>>;
  /** Each cluster as describeCluster shows it. */
  clusters?: () => unknown[] | Promise<unknown[]>;
  ready?: () => boolean;
}

export function createAdminServer(src: AdminSources): FastifyInstance {
  const current = src.snapshot;
  const egressRefusals = src.egressRefusals ?? (() => new Map<string, number>());
  const app = Fastify(OWN_PORT_OPTIONS);
  app.get('/config_dump', (_req, reply) => {
    reply.type('application/json').send(JSON.stringify(snapshotToJSON(current()), null, 2) + '\n');
  });
  app.get('/routes', (_req, reply) => {
    reply.type('text/plain').send(renderRoutes(current()));
  });
  // Envoy's admin /ready: LIVE while serving, 503 while starting or draining.
  app.get('/ready', (_req, reply) => {
    const ok = src.ready?.() ?? true;
    reply.code(ok ? 200 : 503).type('text/plain').send(ok ? 'LIVE\n' : 'DRAINING\n');
  });
  // `meshgate explain` on the live config: where a request would go, or why it would not.
  app.get('/explain', (req, reply) => {
    const q = req.query as Record<string, string | string[] | undefined>;
    const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
    const url = one(q.url);
    if (url === undefined) return reply.code(400).type('text/plain').send('give the request as ?url=http://host/path (and &method=, &header=name=value, &sni=, &listener=)\n');
    const headers: Record<string, string> = {};
    for (const h of ([] as string[]).concat(q.header ?? [])) {
      const eq = h.indexOf('=');
      if (eq > 0) headers[h.slice(0, eq)] = h.slice(eq + 1);
    }
    const listener = one(q.listener);
    const e = explain(current(), { url, method: one(q.method), headers, sni: one(q.sni), listener: listener !== undefined && /^\d+$/.test(listener) ? Number(listener) : undefined });
    reply.type('text/plain').send(e.lines.join('\n') + '\n');
  });
  // Each cluster's endpoints as balancing sees them now: health, ejections, requests in flight.
  app.get('/clusters', async (_req, reply) => {
    const list = (await src.clusters?.()) ?? [];
    return reply.type('application/json').send(JSON.stringify(list, null, 2) + '\n');
  });
  // What the forward proxy allows and what it refused since start, by host:port.
  app.get('/egress', async (_req, reply) => {
    const refused = await egressRefusals();
    const e = current().egress;
    const hosts = [...e.exact.values(), ...e.wildcards.map((w) => w.target)].map((t) => ({ host: t.host, ports: [...t.ports.keys()], from: t.ref }));
    reply.type('application/json').send(JSON.stringify({ mode: e.mode, policyFrom: e.source, hosts, refused: Object.fromEntries(refused) }, null, 2) + '\n');
  });
  return app;
}
