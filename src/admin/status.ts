import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { OWN_PORT_OPTIONS } from './fastify-options.js';

export interface StatusSource {
  ready(): boolean;
  /** Prometheus text exposition: Istio's standard metrics and the gateway's own. */
  metrics(): string | Promise<string>;
}

/** The status port Kubernetes probes and load balancers read: /healthz/ready. */
export function createStatusServer(src: StatusSource): FastifyInstance {
  const app = Fastify(OWN_PORT_OPTIONS);
  app.get('/healthz/ready', (_req, reply) => {
    if (src.ready()) reply.code(200).type('text/plain').send('');
    else reply.code(503).type('text/plain').send('not ready\n');
  });
  const metrics = async (_req: FastifyRequest, reply: FastifyReply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(await src.metrics());
  // Istio's gateways answer Prometheus here; /metrics is what most scrapers ask by default.
  app.get('/stats/prometheus', metrics);
  app.get('/metrics', metrics);
  return app;
}
