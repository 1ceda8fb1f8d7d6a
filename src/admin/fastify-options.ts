import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

// The admin and status ports declare no JSON schemas, yet fastify loads its default schema
// compilers (ajv, fast-json-stringify) when an instance is made: ~110 ms of every start, for
// nothing. These load them when a schema first needs one, which today is never. (With a
// compiler factory of its own, fastify leaves a headers schema's names as written instead of
// lower-casing them: a route that declares one must write them in lower case.)
// Resolved from fastify itself: they are its dependencies, not ours.
const require = createRequire(createRequire(import.meta.url).resolve('fastify'));

type Factory = (...args: unknown[]) => unknown;
const lazily = (module: string): Factory => {
  let factory: Factory | undefined;
  return (...args) => (factory ??= (require(module) as () => Factory)())(...args);
};

/** Options for the gateway's own HTTP ports (admin, status). */
export const OWN_PORT_OPTIONS: FastifyServerOptions = {
  logger: false,
  schemaController: {
    compilersFactory: {
      buildValidator: lazily('@fastify/ajv-compiler') as never,
      buildSerializer: lazily('@fastify/fast-json-stringify-compiler') as never,
    },
  },
};
