import type { IncomingMessage } from 'node:http';
import type { CorsConfig } from '../compile/snapshot.js';
import { matchString } from './router.js';

// Envoy's CORS filter, as Istio configures it from corsPolicy: preflights from allowed origins
// are answered by the gateway; actual requests get the allow headers added to the response;
// disallowed origins get no CORS headers at all.

export function originAllowed(c: CorsConfig, origin: string): boolean {
  if (c.anyOrigin) return true;
  // Envoy also lets any origin through a matcher that accepts the literal "*" (allowOrigins: [{exact: '*'}]).
  for (const m of c.origins) if (matchString(m, origin) || matchString(m, '*')) return true;
  return false;
}

export function isPreflight(req: IncomingMessage): boolean {
  return req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
}

/** Headers of the gateway's own answer to an allowed preflight. */
export function preflightHeaders(c: CorsConfig, origin: string): string[] {
  const h = ['access-control-allow-origin', origin];
  if (c.allowMethods) h.push('access-control-allow-methods', c.allowMethods);
  if (c.allowHeaders) h.push('access-control-allow-headers', c.allowHeaders);
  if (c.maxAge) h.push('access-control-max-age', c.maxAge);
  if (c.allowCredentials) h.push('access-control-allow-credentials', 'true');
  return h;
}

/** Headers added to the upstream's answer to an actual request from an allowed origin. */
export function responseCorsHeaders(c: CorsConfig, origin: string): string[] {
  const h = ['access-control-allow-origin', origin];
  if (c.allowCredentials) h.push('access-control-allow-credentials', 'true');
  if (c.exposeHeaders) h.push('access-control-expose-headers', c.exposeHeaders);
  return h;
}
