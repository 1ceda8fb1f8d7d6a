import type { CorsConfig } from '../../compile/snapshot.js';
import type { ActiveStream } from '../active-stream.js';
import { removeHeader } from '../header-ops.js';
import { matchString } from '../route-lookup.js';
import { CONTINUE, STOP, type FilterStatus, type HttpFilter } from './filter.js';

// Envoy's CORS filter, as Istio configures it from corsPolicy: preflights from allowed origins
// are answered by the gateway; actual requests get the allow headers added to the response;
// disallowed origins get no CORS headers at all.

export function originAllowed(c: CorsConfig, origin: string): boolean {
  if (c.anyOrigin) return true;
  // Envoy also lets any origin through a matcher that accepts the literal "*" (allowOrigins: [{exact: '*'}]).
  for (const m of c.origins) if (matchString(m, origin) || matchString(m, '*')) return true;
  return false;
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

/** Headers added to the answer to an actual request from an allowed origin. */
export function responseCorsHeaders(c: CorsConfig, origin: string): string[] {
  const h = ['access-control-allow-origin', origin];
  if (c.allowCredentials) h.push('access-control-allow-credentials', 'true');
  if (c.exposeHeaders) h.push('access-control-expose-headers', c.exposeHeaders);
  return h;
}

export class CorsFilter implements HttpFilter {
  readonly name = 'cors';

  constructor(private readonly c: CorsConfig) {}

  onRequest(s: ActiveStream): FilterStatus {
    const origin = s.headers.origin;
    if (typeof origin !== 'string') return CONTINUE;
    const allowed = originAllowed(this.c, origin);
    if (s.method === 'OPTIONS' && s.headers['access-control-request-method'] !== undefined) {
      if (allowed) {
        s.localReply(200, '', 'cors_response', 0, preflightHeaders(this.c, origin));
        return STOP;
      }
      if (this.c.unmatchedPreflights === 'ignore') {
        s.localReply(200, '', 'cors_response', 0);
        return STOP;
      }
    } else if (allowed) {
      s.corsHeaders = responseCorsHeaders(this.c, origin);
    }
    return CONTINUE;
  }

  onResponseHeaders(s: ActiveStream, _status: number, headers: string[]): void {
    const extra = s.corsHeaders;
    if (extra === null) return;
    // They replace whatever the upstream sent (Envoy's setInline).
    for (let i = 0; i < extra.length; i += 2) {
      removeHeader(headers, extra[i]!);
      headers.push(extra[i]!, extra[i + 1]!);
    }
  }
}
