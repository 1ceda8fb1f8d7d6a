import type { HeaderMap } from '../http/downstream.js';
import { splitTarget } from '../http/path.js';
import { findVirtualHost, matchString, parseQuery, type RequestView } from '../http/route-lookup.js';
import { selectChain } from '../listener/filter-chain.js';
import { describeAction, describeMatch, describeRouteMatch } from './describe.js';
import type { ConfigObject, VirtualServiceSpec } from '../config/types.js';
import { boundGateways } from './gateway-listener.js';
import { covers, normalizeAuthority } from './hosts.js';
import type { CompiledMatch, HttpChainConfig, RouteTable, Snapshot, StringMatcher } from './snapshot.js';

export interface ExplainRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** SNI the client sends (https URLs; default: the URL's host). */
  sni?: string;
  /** The Gateway port the request arrives on (default: the URL's port, else 80 or 443). */
  listener?: number;
}

/** VirtualServices in the config that name this host, and the gateways they are bound to: why they are not here. */
function boundElsewhere(objects: readonly ConfigObject[] | undefined, host: string): string[] {
  if (objects === undefined) return [];
  return (objects.filter((o) => o.kind === 'VirtualService') as ConfigObject<VirtualServiceSpec>[])
    .filter((vs) => (vs.spec.hosts ?? []).some((h) => covers(h.toLowerCase(), host)))
    .map((vs) => `hint      VirtualService ${vs.namespace}/${vs.name} names ${host} but is bound to ${boundGateways(vs).join(', ')}`);
}

export interface Explanation {
  routed: boolean;
  /** One line per step, in words. */
  lines: string[];
}

function why(label: string, m: StringMatcher | null, value: string | undefined): string | null {
  if (m === null || matchString(m, value)) return null;
  const kind = ['exact', 'prefix', 'regex', 'present'][m.kind]!;
  return `${label} ${value === undefined ? '(absent)' : JSON.stringify(value)} is not ${kind === 'present' ? 'present' : `${kind} ${JSON.stringify(m.value)}`}`;
}

/** The first condition of a match entry the request fails, or null when it meets them all. */
function whyNot(m: CompiledMatch, v: RequestView): string | null {
  const header = (name: string) => {
    const x = v.headers[name];
    return Array.isArray(x) ? x.join(',') : x;
  };
  const reasons = [
    why('uri', m.uri, v.path),
    why('method', m.method, v.method),
    m.port !== 0 && m.port !== v.port ? `port ${v.port} is not ${m.port}` : null,
    why('authority', m.authority, v.authority),
    why('scheme', m.scheme, v.scheme),
    ...m.headers.map((h) => (matchString(h.m, header(h.name)) === h.invert ? (h.invert ? `header ${h.name} is present (withoutHeaders)` : why(`header ${h.name}`, h.m, header(h.name))) : null)),
    ...m.query.map((q) => why(`query ${q.name}`, q.m, (v.query ??= parseQuery(v.rawQuery)).get(q.name))),
  ];
  return reasons.find((r) => r !== null) ?? null;
}

function hostsOf(t: RouteTable): string[] {
  return [...t.exact.keys(), ...t.wildcards.map((w) => w.vhost.domain), ...(t.any ? ['*'] : [])];
}

/**
 * Walks the compiled config the way a request does (listener, filter chain, virtual host, route)
 * and says where it goes, or the step at which it falls out and why, with what was there instead.
 */
export function explain(snap: Snapshot, req: ExplainRequest, objects?: readonly ConfigObject[]): Explanation {
  const lines: string[] = [];
  const fail = (line: string, answer: string): Explanation => {
    lines.push(line, `not routed: ${answer}`);
    return { routed: false, lines };
  };
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return fail(`url       ${JSON.stringify(req.url)} is not an absolute http:// or https:// URL`, 'nothing to route');
  }
  const https = url.protocol === 'https:';
  const method = (req.method ?? 'GET').toUpperCase();
  const gatewayPort = req.listener ?? (url.port !== '' ? Number(url.port) : https ? 443 : 80);
  const host = normalizeAuthority(url.host.toLowerCase());
  lines.push(`request   ${method} ${url.href} on gateway port ${gatewayPort}${https ? `, SNI ${req.sni ?? host}` : ''}`);

  const listener = snap.listeners.find((l) => l.kind === 'gateway' && l.port === gatewayPort);
  if (listener === undefined) {
    const ports = snap.listeners.filter((l) => l.kind === 'gateway').map((l) => l.port);
    return fail(`listener  no Gateway server listens on port ${gatewayPort} (served ports: ${ports.join(', ') || 'none'})`, 'connection refused');
  }
  const sni = https ? (req.sni ?? host) : null;
  const chain = selectChain(listener.chains, { transport: https ? 'tls' : 'raw', serverName: sni });
  if (chain === null) {
    const tls = listener.chains.filter((c) => c.match.transport === 'tls').map((c) => c.match.serverNames.join(', ') || '*');
    if (!https && tls.length > 0) return fail(`listener  ${listener.name} takes only TLS (servers for ${tls.join('; ')}): use https://`, 'connection closed');
    if (https && tls.length === 0) return fail(`listener  ${listener.name} has no TLS server: use http://`, 'TLS handshake fails');
    return fail(`listener  ${listener.name}: no server takes SNI ${sni}; this port serves ${tls.join('; ')}`, 'TLS handshake refused (the log names the SNI)');
  }
  lines.push(`listener  ${listener.name}, filter chain ${chain.name} (${chain.servers.join(', ') || 'mesh'})${chain.tls ? `, TLS ${chain.tls.mode} from ${chain.tls.source}` : ''}`);
  if (chain.type === 'tcp') {
    const r = chain.routes[0];
    if (r === undefined) return fail('route     a TCP/TLS chain with no tls/tcp route bound', 'connection closed');
    lines.push(`route     ${r.source}: bytes go to ${r.destinations.map((d) => `${d.host}:${d.port}`).join(', ')}`);
    return { routed: true, lines };
  }
  return explainHttp(snap, chain, req, url, method, host, https, lines, fail, objects);
}

function explainHttp(
  snap: Snapshot,
  chain: HttpChainConfig,
  req: ExplainRequest,
  url: URL,
  method: string,
  host: string,
  https: boolean,
  lines: string[],
  fail: (line: string, answer: string) => Explanation,
  objects: readonly ConfigObject[] | undefined,
): Explanation {
  const vhost = findVirtualHost(chain.routes, host);
  if (vhost === null) {
    const elsewhere = snap.listeners.filter((l) => l.chains.some((c) => c !== chain && c.type === 'http' && findVirtualHost(c.routes, host) !== null)).map((l) => l.name);
    const hint = elsewhere.length > 0 ? `; ${host} is served on ${elsewhere.join(', ')}` : '';
    lines.push(`host      no VirtualService bound to ${chain.servers.join(', ') || 'this listener'} takes ${host} (hosts here: ${hostsOf(chain.routes).join(', ') || 'none'})${hint}`, ...boundElsewhere(objects, host));
    lines.push('not routed: 404 (NR route_not_found)');
    return { routed: false, lines };
  }
  lines.push(`host      ${host} → virtual host ${vhost.domain}`);
  if (vhost.requireTls === true && !https) {
    lines.push(`redirect  the server has tls.httpsRedirect: 301 to https://${url.host}${url.pathname}${url.search}`);
    return { routed: true, lines };
  }
  const target = splitTarget(url.pathname + url.search);
  const headers: HeaderMap = { host: url.host };
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  const view: RequestView = { method, headers, path: target?.path ?? url.pathname, rawQuery: target?.rawQuery ?? '', query: null, scheme: https ? 'https' : 'http', port: chain.port, authority: url.host, matched: null };
  for (const r of vhost.routes) {
    const name = `${r.source} http[${r.index}]${r.name ? ` (${r.name})` : ''}`;
    if (r.matches === null) {
      lines.push(`route     ${name}, match any: taken`, `goes to   ${describeAction(r, snap)}, timeout ${r.timeoutMs === 0 ? 'none' : `${r.timeoutMs / 1000}s`}`);
      return { routed: true, lines };
    }
    const misses: string[] = [];
    for (const m of r.matches) {
      const miss = whyNot(m, view);
      if (miss === null) {
        lines.push(`route     ${name}, match ${describeMatch(m)}: taken`, `goes to   ${describeAction(r, snap)}, timeout ${r.timeoutMs === 0 ? 'none' : `${r.timeoutMs / 1000}s`}`);
        return { routed: true, lines };
      }
      misses.push(miss);
    }
    lines.push(`route     ${name}, match ${describeRouteMatch(r)}: not taken, ${misses.join('; ')}`);
  }
  return fail('route     no route of the virtual host matches', '404 (NR route_not_found)');
}
