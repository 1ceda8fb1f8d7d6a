import Fastify, { type FastifyInstance } from 'fastify';

export interface StatusSource {
  ready(): boolean;
}

/** The status port Kubernetes probes and load balancers read: /healthz/ready. */
export function createStatusServer(src: StatusSource): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz/ready', (_req, reply) => {
    if (src.ready()) reply.code(200).type('text/plain').send('');
    else reply.code(503).type('text/plain').send('not ready\n');
  });
  return app;
}
