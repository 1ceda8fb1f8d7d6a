import Fastify, { type FastifyInstance } from 'fastify';
import { renderRoutes, snapshotToJSON } from '../compile/describe.js';
import type { Snapshot } from '../compile/snapshot.js';

/** Loopback-only admin: what the gateway is serving right now. */
export function createAdminServer(current: () => Snapshot): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/config_dump', (_req, reply) => {
    reply.type('application/json').send(JSON.stringify(snapshotToJSON(current()), null, 2) + '\n');
  });
  app.get('/routes', (_req, reply) => {
    reply.type('text/plain').send(renderRoutes(current()));
  });
  return app;
}
