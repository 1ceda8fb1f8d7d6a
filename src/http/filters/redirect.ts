import type { Redirect } from '../../compile/snapshot.js';
import type { ActiveStream } from '../active-stream.js';
import { STOP, type FilterStatus, type HttpFilter } from './filter.js';

const DEFAULT_PORT: Record<string, number> = { http: 80, https: 443 };

function splitHostPort(authority: string): [string, string | undefined] {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.indexOf(']', colon) >= 0) return [authority, undefined];
  return [authority.slice(0, colon), authority.slice(colon + 1)];
}

/**
 * The Location of a VirtualService redirect, as Istio configures Envoy's RedirectAction and Envoy
 * builds it: path_redirect keeps the query unless it has its own; a port (fixed, or the Gateway
 * port for FROM_REQUEST_PORT) is dropped by Istio when it is the target scheme's default;
 * FROM_PROTOCOL_DEFAULT sets no port. `authority` replaces the whole Host. Otherwise the Host
 * keeps its port, unless a port is set, or the scheme changes and it was the old scheme's default.
 */
export function redirectLocation(r: Redirect, scheme: string, authority: string, path: string, rawQuery: string, requestPort: number): string {
  const toScheme = r.scheme ?? scheme;
  let port = r.port === 'request' ? requestPort : typeof r.port === 'number' ? r.port : undefined;
  if (port !== undefined && port === DEFAULT_PORT[toScheme]) port = undefined;
  let host = r.authority ?? authority;
  if (r.authority === undefined) {
    const [name, own] = splitHostPort(authority);
    if (own !== undefined && (port !== undefined || (toScheme !== scheme && Number(own) === DEFAULT_PORT[scheme]))) host = name;
  }
  let target = r.uri ?? path;
  if (!target.includes('?') && rawQuery !== '') target = `${target}?${rawQuery}`;
  if (target[0] !== '/') target = `/${target}`;
  return `${toScheme}://${host}${port !== undefined ? `:${port}` : ''}${target}`;
}

/** A VirtualService `redirect`: the gateway answers with a Location, as Envoy's RedirectAction. */
export class RedirectFilter implements HttpFilter {
  readonly name = 'redirect';

  constructor(private readonly r: Redirect) {}

  onRequest(s: ActiveStream): FilterStatus {
    const location = redirectLocation(this.r, s.scheme, s.authority, s.path, s.rawQuery, s.port);
    s.localReply(this.r.code, '', 'direct_response', 0, ['location', location]);
    return STOP;
  }
}
