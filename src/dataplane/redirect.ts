import type { Redirect, Rewrite, CompiledMatch } from '../compile/snapshot.js';

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

/**
 * The path sent upstream after `rewrite.uri` (Envoy's prefix_rewrite): a prefix match has its
 * prefix replaced; an exact or regex match has the whole path replaced; a route matched without
 * a URI condition has its leading "/" replaced.
 */
export function rewritePath(rw: Rewrite, matched: CompiledMatch | null, path: string): string {
  if (rw.regex) {
    rw.regex.re.lastIndex = 0;
    return path.replace(rw.regex.re, rw.regex.substitution);
  }
  if (rw.uri === undefined) return path;
  const uri = matched?.uri ?? null;
  if (uri === null) return rw.uri + path.slice(1);
  if (uri.kind === 1) return rw.uri + path.slice(uri.value.length);
  return rw.uri;
}
