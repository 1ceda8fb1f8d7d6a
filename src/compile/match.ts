import type { HTTPMatchRequest, StringMatch } from '../config/types.js';
import { compileRe2 } from './regex.js';
import type { CompiledMatch, HeaderMatcher, StringMatcher } from './snapshot.js';

/** A StringMatch as the router runs it. Regexes were checked when the config was validated. */
export function stringMatcher(s: StringMatch, ci = false): StringMatcher {
  if (s.regex !== undefined) {
    const r = compileRe2(s.regex, ci);
    if (!r.ok) throw new Error(`regex ${JSON.stringify(s.regex)} passed validation but does not compile: ${r.error}`);
    return { kind: 2, value: s.regex, re: r.re, ci };
  }
  if (s.exact !== undefined) return { kind: 0, value: ci ? s.exact.toLowerCase() : s.exact, re: null, ci };
  if (s.prefix !== undefined) return { kind: 1, value: ci ? s.prefix.toLowerCase() : s.prefix, re: null, ci };
  return { kind: 3, value: '', re: null, ci };
}

// Most conditions test neither headers nor the query: they share these (a config has 100,000s).
const NO_HEADERS = Object.freeze([]) as unknown as HeaderMatcher[];
const NO_QUERY = Object.freeze([]) as unknown as CompiledMatch['query'];

export function compileMatch(m: HTTPMatchRequest): CompiledMatch {
  // A field written with nothing under it (`headers:`) is null, which the checks let through.
  const headers: HeaderMatcher[] = m.headers == null && m.withoutHeaders == null ? NO_HEADERS : [];
  if (m.headers != null) for (const [name, s] of Object.entries(m.headers)) headers.push({ name: name.toLowerCase(), m: stringMatcher(s), invert: false });
  if (m.withoutHeaders != null) for (const [name, s] of Object.entries(m.withoutHeaders)) headers.push({ name: name.toLowerCase(), m: stringMatcher(s), invert: true });
  const query = m.queryParams == null ? NO_QUERY : Object.entries(m.queryParams).map(([name, s]) => ({ name, m: stringMatcher(s) }));
  return {
    name: m.name,
    uri: m.uri ? stringMatcher(m.uri, m.ignoreUriCase === true) : null,
    method: m.method ? stringMatcher(m.method) : null,
    authority: m.authority ? stringMatcher(m.authority) : null,
    scheme: m.scheme ? stringMatcher(m.scheme) : null,
    headers,
    query,
    port: m.port ?? 0,
  };
}

/**
 * Whether compileMatch compiles a regular expression for this condition: a step of building a
 * route that can fail (a pattern the checks let through that does not compile; CORS origins are
 * the other), so compile runs it at once where routes are otherwise built later.
 */
export function hasRegex(m: HTTPMatchRequest): boolean {
  if (m.uri?.regex !== undefined || m.method?.regex !== undefined || m.authority?.regex !== undefined || m.scheme?.regex !== undefined) return true;
  return anyRegex(m.headers) || anyRegex(m.withoutHeaders) || anyRegex(m.queryParams);
}

function anyRegex(group: Record<string, StringMatch> | null | undefined): boolean {
  if (group == null) return false;
  for (const k in group) if (group[k]?.regex !== undefined) return true;
  return false;
}

const sameMatch = (a: StringMatch | undefined, b: StringMatch | undefined) =>
  a === undefined || b === undefined || (a.exact === b.exact && a.prefix === b.prefix && a.regex === b.regex);

function mergeMaps(a: Record<string, StringMatch> | undefined, b: Record<string, StringMatch> | undefined): Record<string, StringMatch> | undefined | null {
  if (!a) return b;
  if (!b) return a;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (out[k] !== undefined && !sameMatch(out[k], v)) return null;
    out[k] = v;
  }
  return out;
}

/** The delegate's URI condition, when it lies within the root's; null when they cannot both hold. */
function mergeUri(root: StringMatch | undefined, del: StringMatch | undefined): StringMatch | undefined | null {
  if (!root) return del;
  if (!del) return root;
  if (root.prefix !== undefined) {
    if (del.prefix !== undefined) return del.prefix.startsWith(root.prefix) ? del : null;
    if (del.exact !== undefined) return del.exact.startsWith(root.prefix) ? del : null;
    return null;
  }
  if (root.exact !== undefined) {
    if (del.exact !== undefined) return del.exact === root.exact ? del : null;
    if (del.prefix !== undefined) return root.exact.startsWith(del.prefix) ? root : null;
    return null;
  }
  return root.regex === del.regex ? root : null;
}

/**
 * Istio's delegation: each delegate condition is narrowed by the root route's condition.
 * A pair that cannot hold together (disjoint URIs, different values for one header) is dropped;
 * null when nothing is left, or when some delegate condition fits no root condition at all.
 */
export function mergeDelegateMatches(root: HTTPMatchRequest[] | undefined, del: HTTPMatchRequest[] | undefined): HTTPMatchRequest[] | undefined | null {
  if (!root || root.length === 0) return del;
  if (!del || del.length === 0) return root;
  const out: HTTPMatchRequest[] = [];
  // As Istio: every delegate condition must fit at least one root condition, else the whole
  // delegate route conflicts and is dropped.
  for (const d of del) {
    const before = out.length;
    for (const r of root) {
      const uri = mergeUri(r.uri, d.uri);
      const headers = mergeMaps(r.headers, d.headers);
      const queryParams = mergeMaps(r.queryParams, d.queryParams);
      const withoutHeaders = mergeMaps(r.withoutHeaders, d.withoutHeaders);
      if (uri === null || headers === null || queryParams === null || withoutHeaders === null) continue;
      if (!sameMatch(r.method, d.method) || !sameMatch(r.scheme, d.scheme) || !sameMatch(r.authority, d.authority)) continue;
      if (r.port !== undefined && d.port !== undefined && r.port !== d.port) continue;
      out.push({
        name: [r.name, d.name].filter(Boolean).join('-') || undefined,
        uri,
        method: d.method ?? r.method,
        scheme: d.scheme ?? r.scheme,
        authority: d.authority ?? r.authority,
        headers,
        queryParams,
        withoutHeaders,
        port: d.port ?? r.port,
        ignoreUriCase: r.ignoreUriCase === true || d.ignoreUriCase === true ? true : undefined,
        gateways: r.gateways,
      });
    }
    if (out.length === before) return null;
  }
  return out.length > 0 ? out : null;
}
