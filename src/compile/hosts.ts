// Host rules shared by Gateway servers, VirtualServices and the router: exact names, `*.suffix`
// wildcards (at least one label before the suffix), partial ones (`*-api.example.com`, as
// Envoy's domain match and Istio's VirtualService hosts allow) and `*`.

const STAR = 42;

export function isWildcard(host: string): boolean {
  return host.startsWith('*');
}

/** Whether `pattern` (exact, `*suffix` or `*`) covers the concrete or wildcard `host`. */
export function covers(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern === host) return true;
  if (pattern.charCodeAt(0) === STAR) {
    // `*suffix`: compared in place, as this runs for every VirtualService host on every compile.
    const n = pattern.length - 1;
    const off = host.length - n;
    if (off <= 0 || (host.charCodeAt(0) === STAR && off <= 1)) return false;
    for (let i = 0; i < n; i++) if (host.charCodeAt(off + i) !== pattern.charCodeAt(1 + i)) return false;
    return true;
  }
  return false;
}

/** The hosts both patterns accept, written as the more specific of the two, or undefined. */
export function intersect(a: string, b: string): string | undefined {
  if (covers(a, b)) return b;
  if (covers(b, a)) return a;
  return undefined;
}

export interface GatewayHost {
  /** `*` (any), `.` (the Gateway's own), `~` (none) or a namespace name. */
  namespace: string;
  host: string;
}

export function parseGatewayHost(raw: string): GatewayHost {
  const slash = raw.indexOf('/');
  if (slash < 0) return { namespace: '*', host: raw.toLowerCase() };
  return { namespace: raw.slice(0, slash), host: raw.slice(slash + 1).toLowerCase() };
}

/** Whether a VirtualService in `vsNamespace` may bind to this server host of a Gateway in `gwNamespace`. */
export function namespaceAllows(h: GatewayHost, vsNamespace: string, gwNamespace: string): boolean {
  if (h.namespace === '*') return true;
  if (h.namespace === '~') return false;
  if (h.namespace === '.') return vsNamespace === gwNamespace;
  return h.namespace === vsNamespace;
}

/** The Host header as routing sees it: lower case, without `:port`. */
export function normalizeAuthority(authority: string): string {
  let end = authority.length;
  const colon = authority.lastIndexOf(':');
  if (colon >= 0 && authority.indexOf(']', colon) < 0 && (authority[0] !== '[' || authority[colon - 1] === ']')) end = colon;
  let host = end === authority.length ? authority : authority.slice(0, end);
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host.toLowerCase();
}
