import type { CompiledMatch, Route, RouteTable, StringMatcher, VirtualHost } from '../compile/snapshot.js';
import type { HeaderMap } from './downstream.js';

/** Exact host first, then the longest `*suffix`, then `*` (Envoy's virtual host order). */
export function findVirtualHost(table: RouteTable, host: string): VirtualHost | null {
  const exact = table.exact.get(host);
  if (exact !== undefined) return exact;
  if (table.wildcardIndex !== undefined) return table.wildcardIndex.find(host) ?? table.any;
  const wc = table.wildcards;
  for (let i = 0; i < wc.length; i++) {
    const w = wc[i]!;
    if (host.length > w.suffix.length && host.endsWith(w.suffix)) return w.vhost;
  }
  return table.any;
}

/** What the router needs from a request, computed once. */
export interface RequestView {
  method: string;
  headers: HeaderMap;
  path: string;
  /** Raw query string without `?`, or '' */
  rawQuery: string;
  /** Parsed lazily, only when a route matches on query parameters. */
  query: Map<string, string> | null;
  scheme: string;
  /** The port the request was addressed to: the Gateway port, or the mesh target port. */
  port: number;
  /** The authority routing uses: an absolute-form target's, else the Host header. */
  authority: string;
  /** The match entry that selected the route (rewrite needs it); null when the route has none. */
  matched: CompiledMatch | null;
}

export function matchString(m: StringMatcher, value: string | undefined): boolean {
  if (value === undefined) return false;
  switch (m.kind) {
    case 0:
      return (m.ci ? value.toLowerCase() : value) === m.value;
    case 1:
      return (m.ci ? value.toLowerCase() : value).startsWith(m.value);
    case 2:
      return m.re!.test(value);
    default:
      return true;
  }
}

function headerValue(headers: HeaderMap, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

export function matches(m: CompiledMatch, view: RequestView): boolean {
  if (m.uri !== null && !matchString(m.uri, view.path)) return false;
  if (m.method !== null && !matchString(m.method, view.method)) return false;
  if (m.port !== 0 && m.port !== view.port) return false;
  if (m.authority !== null && !matchString(m.authority, view.authority)) return false;
  if (m.scheme !== null && !matchString(m.scheme, view.scheme)) return false;
  const hs = m.headers;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!;
    if (matchString(h.m, headerValue(view.headers, h.name)) === h.invert) return false;
  }
  const qs = m.query;
  if (qs.length > 0) {
    if (view.query === null) view.query = parseQuery(view.rawQuery);
    for (let i = 0; i < qs.length; i++) {
      const q = qs[i]!;
      if (!matchString(q.m, view.query.get(q.name))) return false;
    }
  }
  return true;
}

/**
 * Query parameters as Envoy matches them: raw, not percent-decoded, the first value of a
 * repeated name winning.
 */
export function parseQuery(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  if (raw === '') return out;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    if (!out.has(name)) out.set(name, eq < 0 ? '' : part.slice(eq + 1));
  }
  return out;
}

/** The first route whose conditions hold (any one of its `match` entries), or null. */
export function findRoute(vhost: VirtualHost, view: RequestView): Route | null {
  const routes = vhost.routes;
  for (let i = 0; i < routes.length; i++) {
    const r = routes[i]!;
    const ms = r.matches;
    if (ms === null) {
      view.matched = null;
      return r;
    }
    for (let j = 0; j < ms.length; j++) {
      if (matches(ms[j]!, view)) {
        view.matched = ms[j]!;
        return r;
      }
    }
  }
  return null;
}
