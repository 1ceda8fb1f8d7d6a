import { memoByObject } from '../config/memo.js';
import { isExportedTo } from '../config/visibility.js';
import type { RouteScope } from './routes.js';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { ConfigObject, GatewaySpec, Labels, ServerSpec, VirtualServiceSpec } from '../config/types.js';
import { derivedOf } from '../config/derived.js';
import { selects } from '../registry/labels.js';
import { resolveHost } from '../registry/registry.js';
import { credentialKey, isMaterial, type CredentialLookup } from '../tls/credentials.js';
import { buildServerTls, type ServerTlsConfig } from '../tls/server-tls.js';
import { isolatedError, warn, type CompileContext } from './context.js';
import { intersect, namespaceAllows, parseGatewayHost, type GatewayHost } from './hosts.js';
import { ensureCluster, keptRoutes, KeptVirtualHost, qualifyGateway, replayKept, scopeKey, virtualHostOf } from './routes.js';
import { LayeredHostMap } from './host-map.js';
import { SUFFIX_INDEX_MIN, SuffixIndex } from './suffix-index.js';
import type { FilterChainConfig, GatewayServer, HttpChainConfig, ListenerConfig, Route, RouteTable, Subnets, TcpDestination, TcpMatch, TcpRoute, VirtualHost } from './snapshot.js';

export const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);
const TLS_PROTOCOLS = new Set(['HTTPS', 'TLS']);

/** One Gateway `servers[i]` a listener serves. */
export interface ServerRef {
  gw: ConfigObject<GatewaySpec>;
  server: ServerSpec;
  index: number;
  /** `ns/name servers[i]`. */
  ref: string;
  /** HTTP, HTTPS, TLS or TCP (HTTP2, GRPC and GRPC-WEB count as HTTP). */
  kind: 'HTTP' | 'HTTPS' | 'TLS' | 'TCP';
}

/** TLS material and the previous config's contexts, for terminating servers. */
export interface TlsInputs {
  credentials: CredentialLookup;
  /** Chains of the config being replaced, by name: a server whose credential broke keeps its certificate. */
  previous: ReadonlyMap<string, ServerTlsConfig>;
  now: number;
}

function serverKind(protocol: string): ServerRef['kind'] | null {
  const p = protocol.toUpperCase();
  if (HTTP_PROTOCOLS.has(p)) return 'HTTP';
  if (TLS_PROTOCOLS.has(p) || p === 'TCP') return p as ServerRef['kind'];
  // Istio proxies these as opaque TCP at a gateway (protocol.IsTCP), without their own filters.
  if (p === 'MONGO' || p === 'MYSQL' || p === 'REDIS') return 'TCP';
  return null;
}

/** The served servers by port. A port takes either plain text (HTTP, or TCP) or TLS servers, as Istio's listeners do. */
export function gatewayPorts(ctx: CompileContext, served: ConfigObject<GatewaySpec>[]): [number, ServerRef[]][] {
  const ports = new Map<number, ServerRef[]>();
  for (const gw of served) {
    gw.spec.servers.forEach((server, index) => {
      const kind = serverKind(server.port.protocol);
      const field = ['servers', index, 'port', 'protocol'];
      if (kind === null) {
        warn(ctx, gw, field, `${server.port.protocol.toUpperCase()} servers are not served; port ${server.port.number} is skipped`);
        return;
      }
      const mode = String(server.tls?.mode ?? (kind === 'HTTPS' ? 'SIMPLE' : ''));
      if ((kind === 'HTTPS' || kind === 'TLS') && (mode === 'ISTIO_MUTUAL' || (mode === 'AUTO_PASSTHROUGH' && kind === 'HTTPS'))) {
        warn(ctx, gw, ['servers', index, 'tls', 'mode'], `tls.mode ${mode} needs the mesh's own workload certificates, which a standalone gateway does not have; this server is skipped`);
        return;
      }
      if (kind === 'TLS' && mode === 'AUTO_PASSTHROUGH') {
        warn(ctx, gw, ['servers', index, 'tls', 'mode'], 'tls.mode AUTO_PASSTHROUGH routes by mesh-internal SNI names (outbound_.PORT_._.HOST) of multi-cluster east-west traffic, which this gateway does not serve; this server is skipped');
        return;
      }
      const list = ports.get(server.port.number) ?? [];
      const tlsPort = kind === 'HTTPS' || kind === 'TLS';
      const clash = list.find((r) => (r.kind === 'HTTPS' || r.kind === 'TLS') !== tlsPort || (!tlsPort && r.kind !== kind));
      if (clash) {
        warn(ctx, gw, field, `port ${server.port.number} is already served as ${clash.kind} by ${clash.ref}; a port carries either plain HTTP, plain TCP or TLS servers, so this ${kind} server is skipped`);
        return;
      }
      list.push({ gw, server, index, ref: `${gw.namespace}/${gw.name} servers[${index}]`, kind });
      ports.set(server.port.number, list);
    });
  }
  return [...ports].sort((a, b) => a[0] - b[0]);
}


/** `ns/name` of each Gateway a VirtualService names; `mesh` when it names none. */
export function boundGateways(vs: ConfigObject<VirtualServiceSpec>): readonly string[] {
  const derived = derivedOf(vs);
  if (derived.gateways === undefined) {
    const names = vs.spec.gateways;
    if (names == null || names.length === 0) derived.gateways = MESH_ONLY;
    else if (names.length === 1) derived.gateways = oneGateway(names[0]!, vs.namespace);
    else derived.gateways = names.map((g) => qualifyGateway(g, vs.namespace));
  }
  return derived.gateways;
}

const MESH_ONLY: readonly string[] = Object.freeze(['mesh']);

/**
 * Nearly every VirtualService names one Gateway, and thousands name the same one: they share one
 * list and one name, by namespace and the name as written. The same string object makes the
 * lookups and comparisons by it that follow a pointer compare, not one of 30,000 new strings.
 */
const oneGatewayLists = new Map<string, Map<string, readonly string[]>>();
let oneGatewayCount = 0;

function oneGateway(ref: string, namespace: string): readonly string[] {
  const list = oneGatewayLists.get(namespace)?.get(ref);
  if (list !== undefined) return list;
  // Kept across compiles; a config that keeps renaming Gateways starts over now and then.
  if (++oneGatewayCount > 4096) {
    oneGatewayLists.clear();
    oneGatewayCount = 1;
  }
  let byRef = oneGatewayLists.get(namespace);
  if (byRef === undefined) oneGatewayLists.set(namespace, (byRef = new Map()));
  const made = Object.freeze([qualifyGateway(ref, namespace)]);
  byRef.set(ref, made);
  return made;
}

/** A VirtualService's hosts in lower case. */
export function lowerHosts(vs: ConfigObject<VirtualServiceSpec>): readonly string[] {
  const derived = derivedOf(vs);
  return (derived.lowerHosts ??= lowered(vs.spec.hosts ?? NO_HOSTS));
}

const NO_HOSTS: readonly string[] = Object.freeze([]);

/** The hosts in lower case: the list itself when they are already (nearly always), not a copy per VirtualService. */
function lowered(hosts: readonly string[]): readonly string[] {
  for (let i = 0; i < hosts.length; i++) {
    const h = hosts[i]!;
    if (h.toLowerCase() !== h) return hosts.map((x) => x.toLowerCase());
  }
  return hosts;
}

export function exportedTo(vs: ConfigObject<VirtualServiceSpec>, namespace: string): boolean {
  return isExportedTo(vs.spec.exportTo, vs.namespace, namespace);
}

/** A route table while it is built: its exact hosts are a plain map to add to. */
export interface TableBuilder extends RouteTable {
  exact: Map<string, VirtualHost>;
}

export function newTable(name: string): TableBuilder {
  return { name, exact: new Map(), wildcards: [], any: null };
}

/** Once every host is in: wildcards longest first, and indexed when there are many. */
export function finishWildcards(table: TableBuilder): void {
  table.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  if (table.wildcards.length >= SUFFIX_INDEX_MIN) table.wildcardIndex = new SuffixIndex(table.wildcards.map((w) => ({ suffix: w.suffix, value: w.vhost })));
}

export function addVirtualHost(table: TableBuilder, domain: string, routes: Route[], extra?: Partial<VirtualHost>): void {
  putVirtualHost(table, extra === undefined ? { domain, routes } : { domain, routes, ...extra });
}

export function putVirtualHost(table: TableBuilder, vhost: VirtualHost): void {
  const domain = vhost.domain;
  if (domain === '*') table.any = vhost;
  else if (domain.startsWith('*')) table.wildcards.push({ suffix: domain.slice(1), vhost });
  else table.exact.set(domain, vhost);
}

/**
 * The virtual host of a domain only one VirtualService has: its routes built on first use where
 * kept. virtualHostOf for one part, written out: through it (a list per host), compile at 30,000
 * took 25-60 ms longer (medians, 8 interleaved runs).
 */
function oneVirtualService(ctx: CompileContext, domain: string, vs: ConfigObject<VirtualServiceSpec>, scope: RouteScope, redirect: boolean): VirtualHost {
  const kept = keptRoutes(ctx, vs, scope);
  if (!Array.isArray(kept)) return new KeptVirtualHost(domain, kept, redirect ? true : undefined, undefined);
  return redirect ? { domain, routes: kept, requireTls: true } : { domain, routes: kept };
}

/** The virtual host of a domain several VirtualServices share: their routes in order. */
function sharedVirtualHost(ctx: CompileContext, domain: string, found: readonly Binding[], scope: RouteScope | undefined): VirtualHost {
  return virtualHostOf(domain, found.map((b) => keptRoutes(ctx, b.vs, scope ?? b.scope)), found.some((b) => b.redirect));
}

const NO_DOMAINS: readonly string[] = [];

/**
 * The domains a VirtualService has on a server: its hosts that the server's accept, each as the
 * narrower of the two. Kept on the object for the last server asked about (most configs have
 * one), keyed by what decides it: the server's Gateway and hosts.
 */
function domainsOn(vs: ConfigObject<VirtualServiceSpec>, s: ServerRef, key: string, gwRef: string, serverHosts: readonly GatewayHost[]): readonly string[] {
  const derived = derivedOf(vs);
  const memo = derived.domains;
  if (memo !== undefined && memo.key === key) return memo.list;
  let list: string[] | undefined;
  if (boundGateways(vs).includes(gwRef) && exportedTo(vs, s.gw.namespace)) {
    const hosts = lowerHosts(vs);
    for (const sh of serverHosts) {
      if (!namespaceAllows(sh, vs.namespace, s.gw.namespace)) continue;
      for (const vsHost of hosts) {
        const domain = intersect(vsHost, sh.host);
        if (domain !== undefined) (list ??= []).push(domain);
      }
    }
  }
  const result = list ?? NO_DOMAINS;
  derived.domains = { key, list: result };
  return result;
}

/** How to ask domainsOn about one server. */
function serverQuery(s: ServerRef): { key: string; gwRef: string; serverHosts: GatewayHost[] } {
  const gwRef = `${s.gw.namespace}/${s.gw.name}`;
  return { key: `${gwRef}\n${s.server.hosts.join('\n')}`, gwRef, serverHosts: s.server.hosts.map(parseGatewayHost) };
}

const NO_ROOTS: readonly ConfigObject<VirtualServiceSpec>[] = Object.freeze([]);

/**
 * The roots that name the Gateway `gwRef`, in the roots' order, from an index made once per list
 * of roots: a port with 1,000 Gateways' servers asked every one of 30,000 VirtualServices about
 * each server (30 million questions, 4.4 s); only those that name a server's Gateway can bind to it.
 */
function rootsNaming(roots: readonly ConfigObject<VirtualServiceSpec>[], gwRef: string): readonly ConfigObject<VirtualServiceSpec>[] {
  return rootsByGateway(roots).get(gwRef) ?? NO_ROOTS;
}

const rootsByGateway = memoByObject((roots: readonly ConfigObject<VirtualServiceSpec>[]) => {
  const index = new Map<string, ConfigObject<VirtualServiceSpec>[]>();
  for (const vs of roots) {
    for (const g of boundGateways(vs)) {
      const list = index.get(g);
      if (list === undefined) index.set(g, [vs]);
      else if (list[list.length - 1] !== vs) list.push(vs);
    }
  }
  return index;
});

/** The VirtualServices bound to a server, with the host each one has there (the narrower of the two). */
function bindings(roots: ConfigObject<VirtualServiceSpec>[], s: ServerRef): { vs: ConfigObject<VirtualServiceSpec>; domain: string }[] {
  const q = serverQuery(s);
  const out: { vs: ConfigObject<VirtualServiceSpec>; domain: string }[] = [];
  for (const vs of rootsNaming(roots, q.gwRef)) {
    for (const domain of domainsOn(vs, s, q.key, q.gwRef, q.serverHosts)) out.push({ vs, domain });
  }
  return out;
}

type Binding = { vs: ConfigObject<VirtualServiceSpec>; scope: RouteScope; redirect: boolean };

/** What a one-server route table was built from, to patch it on the next compile. */
interface HttpTableMemo {
  key: string;
  scope: RouteScope;
  roots: readonly ConfigObject<VirtualServiceSpec>[];
  /** A domain is nearly always one VirtualService's: a list only where several share one. */
  domains: Map<string, Binding | Binding[]>;
  /** How many domains are lists (shared by several VirtualServices). */
  shared: number;
  table: RouteTable;
}

/** The route table of some HTTP servers of one port: one per plain-text port (Istio's `http.80`), one per HTTPS server. */
function httpTable(ctx: CompileContext, roots: ConfigObject<VirtualServiceSpec>[], name: string, port: number, servers: ServerRef[]): RouteTable {
  const s0 = servers.length === 1 ? servers[0]! : undefined;
  const memoKey = s0 !== undefined && ctx.cache !== undefined && ctx.anyDelegates !== true ? `${serverQuery(s0).key}\n${s0.kind}\n${redirectOf(s0)}\n${port}` : undefined;
  if (memoKey !== undefined) {
    const memo = ctx.cache!.tableMemo<HttpTableMemo>(name);
    const patched = memo !== undefined && memo.key === memoKey ? patchHttpTable(ctx, roots, s0!, memo) : undefined;
    if (patched !== undefined) return patched;
  }
  const domains = new Map<string, Binding | Binding[]>();
  // One scope object per Gateway: compiled routes are kept per scope (compile-cache.ts).
  const scopes = new Map<string, RouteScope>();
  for (const s of servers) {
    const redirect = redirectOf(s);
    const gateway = `${s.gw.namespace}/${s.gw.name}`;
    let scope = scopes.get(gateway);
    if (!scope) scopes.set(gateway, (scope = { gateway, port }));
    const q = serverQuery(s);
    for (const vs of rootsNaming(roots, q.gwRef)) {
      for (const domain of domainsOn(vs, s, q.key, q.gwRef, q.serverHosts)) {
        const found = domains.get(domain);
        if (found === undefined) {
          domains.set(domain, { vs, scope, redirect });
          continue;
        }
        const list = Array.isArray(found) ? found : [found];
        if (list !== found) domains.set(domain, list);
        const seen = list.find((e) => e.vs === vs);
        if (seen) seen.redirect ||= redirect;
        else list.push({ vs, scope, redirect });
      }
    }
  }
  const table = newTable(name);
  for (const [domain, found] of domains) {
    if (!Array.isArray(found)) {
      putVirtualHost(table, oneVirtualService(ctx, domain, found.vs, found.scope, found.redirect));
      continue;
    }
    putVirtualHost(table, sharedVirtualHost(ctx, domain, found, undefined));
  }
  finishWildcards(table);
  if (memoKey !== undefined) {
    let shared = 0;
    for (const found of domains.values()) if (Array.isArray(found)) shared++;
    ctx.cache!.setTableMemo(name, { key: memoKey, scope: scopes.values().next().value!, roots, domains, shared, table } satisfies HttpTableMemo);
  }
  return table;
}

function redirectOf(s: ServerRef): boolean {
  return s.kind === 'HTTP' && s.server.tls?.httpsRedirect === true;
}

/** Largest share of the VirtualServices that may have changed for a patch to be worth it. */
const PATCH_SHARE = 8;

/**
 * The last table of this server, changed only where VirtualServices came or went (a file that
 * changed gives new objects for all it holds): a reload of one file among 300 does not rebuild a
 * table of 30,000 hosts. Undefined when the patch could not give exactly what a full build
 * gives, in the same order (of hosts, and of the clusters routes name): the new VirtualServices
 * must be the newest (an edited file's are, its modification time being their creation time),
 * and a host that changed may neither be a wildcard nor also belong to one that did not. The
 * full build runs then.
 */
function patchHttpTable(ctx: CompileContext, roots: readonly ConfigObject<VirtualServiceSpec>[], s: ServerRef, memo: HttpTableMemo): RouteTable | undefined {
  const q = serverQuery(s);
  const domainsOf = (vs: ConfigObject<VirtualServiceSpec>) => domainsOn(vs, s, q.key, q.gwRef, q.serverHosts);
  // Few passes over the 30,000: the first reload runs them before the JIT has compiled them.
  const stamp = ctx.cache!.nextStamp();
  for (const vs of roots) derivedOf(vs).mark = stamp;
  const removed: ConfigObject<VirtualServiceSpec>[] = [];
  let keptCount = 0;
  for (const vs of memo.roots) {
    const d = vs.derived;
    if (d !== undefined && d.mark === stamp) {
      d.mark = -stamp;
      keptCount++;
    } else removed.push(vs);
  }
  // Added ones still carry +stamp: they must be the tail of the creation order, which they are
  // when the kept ones are exactly the ones before it.
  let firstAdded = roots.length;
  while (firstAdded > 0 && roots[firstAdded - 1]!.derived!.mark === stamp) firstAdded--;
  if (keptCount !== firstAdded) return undefined;
  if (removed.length + roots.length - firstAdded > Math.max(256, roots.length / PATCH_SHARE)) return undefined;
  const kept = (b: Binding) => b.vs.derived!.mark === -stamp;
  const domains = memo.domains;
  // Every check first; the memo's map changes only once the patch is sure to go ahead.
  const gone = new Set<string>();
  for (const vs of removed) {
    for (const d of domainsOf(vs)) {
      if (d.charCodeAt(0) === STAR) return undefined;
      const found = domains.get(d);
      if (found === undefined || gone.has(d)) continue;
      if (Array.isArray(found) ? found.some(kept) : kept(found)) return undefined;
      gone.add(d);
    }
  }
  const redirect = redirectOf(s);
  const fresh = new Map<string, Binding | Binding[]>();
  for (let i = firstAdded; i < roots.length; i++) {
    const vs = roots[i]!;
    for (const d of domainsOf(vs)) {
      if (d.charCodeAt(0) === STAR) return undefined;
      // Still bound and not by a VirtualService that went: by one that stays.
      if (!gone.has(d) && domains.has(d)) return undefined;
      const found = fresh.get(d);
      if (found === undefined) fresh.set(d, { vs, scope: memo.scope, redirect });
      else {
        const list = Array.isArray(found) ? found : [found];
        if (!list.some((b) => b.vs === vs)) fresh.set(d, [...list, { vs, scope: memo.scope, redirect }]);
      }
    }
  }
  let shared = memo.shared;
  for (const d of gone) {
    if (Array.isArray(domains.get(d))) shared--;
    domains.delete(d);
  }
  for (const [d, b] of fresh) {
    if (Array.isArray(b)) shared++;
    domains.set(d, b);
  }
  try {
    // What did not change keeps its routes, but still names its clusters and reports its
    // warnings, in the order the full build would: each host where it is first met. When no
    // host is shared, that is each VirtualService with a host here, in order (compiling one
    // again for its next host adds nothing): no lookup of 30,000 hosts.
    const cache = ctx.cache!;
    const key = scopeKey(memo.scope);
    let hits = 0;
    for (let i = 0; i < firstAdded; i++) {
      const vs = roots[i]!;
      if (shared === 0) {
        // keptRoutes' path for a hit, written out: the first reload runs this 30,000 times in
        // V8's interpreter, where every call and check costs.
        const d = vs.derived!;
        const dm = d.domains;
        if (dm !== undefined && dm.key === q.key ? dm.list.length === 0 : domainsOf(vs).length === 0) continue;
        const hit = cache.peek(vs, key);
        if (hit === undefined) {
          keptRoutes(ctx, vs, memo.scope);
          continue;
        }
        d.compiledIn = ctx.compileStamp;
        replayKept(ctx, hit);
        hits++;
        continue;
      }
      for (const d of domainsOf(vs)) {
        const found = domains.get(d)!;
        if (!Array.isArray(found)) keptRoutes(ctx, vs, memo.scope);
        else if (found[0]!.vs === vs) for (const b of found) keptRoutes(ctx, b.vs, memo.scope);
      }
    }
    cache.countHits(hits);
    const added = new Map<string, VirtualHost>();
    for (const [d, found] of fresh) {
      if (!Array.isArray(found)) {
        added.set(d, oneVirtualService(ctx, d, found.vs, memo.scope, redirect));
        continue;
      }
      added.set(d, sharedVirtualHost(ctx, d, found, memo.scope));
    }
    // The hosts that went stay in the layers under the new table's: built now (few per reload),
    // they hold their routes, not the compile that made them.
    for (const d of gone) {
      const old = memo.table.exact.get(d);
      if (old instanceof KeptVirtualHost) old.settle();
    }
    const table: RouteTable = { name: memo.table.name, exact: LayeredHostMap.of(memo.table.exact, gone, added), wildcards: memo.table.wildcards, wildcardIndex: memo.table.wildcardIndex, any: memo.table.any };
    ctx.cache!.tablesPatched.push(table.name);
    ctx.cache!.setTableMemo(table.name, { key: memo.key, scope: memo.scope, roots, domains, shared, table } satisfies HttpTableMemo);
    return table;
  } catch (e) {
    ctx.cache!.setTableMemo(memo.table.name, undefined);
    throw e;
  }
}

const STAR = 42;

/** SNI names a TLS server's chain matches: its hosts without namespaces; `*` means any name, and clients without SNI. */
function serverNames(s: ServerRef): string[] {
  const hosts = s.server.hosts.map((h) => parseGatewayHost(h).host);
  return hosts.includes('*') ? [] : [...new Set(hosts)];
}

/** Istio's name for a TLS server's route table and chain: `https.443.NAME.GATEWAY.NAMESPACE`. */
function tlsChainName(prefix: string, s: ServerRef): string {
  return `${prefix}.${s.server.port.number}.${s.server.port.name ?? s.index}.${s.gw.name}.${s.gw.namespace}`;
}

function terminatingTls(ctx: CompileContext, s: ServerRef, chainName: string, inputs: TlsInputs | undefined): ServerTlsConfig | null {
  const spec = (s.server.tls ?? {}) as Record<string, unknown>;
  const hosts = s.server.hosts.map((h) => parseGatewayHost(h).host);
  const base = ['servers', s.index, 'tls'];
  const key = credentialKey(s.gw.namespace, spec);
  if (key === null) {
    isolatedError(ctx, s.gw, base, `tls.mode ${String(spec.mode ?? 'SIMPLE')} needs a certificate: set credentialName (or serverCertificate and privateKey); ${s.ref} is not served`);
    return null;
  }
  const previous = inputs?.previous.get(chainName);
  const keepOld = (why: string, field: string) => {
    if (previous) {
      warn(ctx, s.gw, [...base, field], `${why}; ${s.ref} keeps serving the certificate it had (${previous.source}, valid until ${previous.notAfter})`);
      return previous;
    }
    isolatedError(ctx, s.gw, [...base, field], `${why}; ${s.ref} is not served (every other server is)`);
    return null;
  };
  const material = inputs?.credentials.get(key);
  if (!isMaterial(material)) return keepOld(material?.error ?? 'its certificate was not loaded', key.startsWith('files:') ? 'serverCertificate' : 'credentialName');
  const built = buildServerTls(spec, material, hosts, inputs?.now);
  for (const w of built.warnings) warn(ctx, s.gw, [...base, w.field], w.message);
  if (built.config === null) {
    const e = built.errors[0]!;
    return keepOld(e.message, e.field);
  }
  return built.config;
}

function tcpDestinations(ctx: CompileContext, vs: ConfigObject<VirtualServiceSpec>, field: (string | number)[], route: unknown, port: number, gateway: string): { destinations: TcpDestination[]; totalWeight: number } {
  const list = (Array.isArray(route) ? route : []) as { destination: { host: string; subset?: string; port?: { number?: number } }; weight?: number }[];
  const explicit = list.some((d) => d.weight !== undefined);
  const destinations = list.map((d, i) => {
    const host = resolveHost(ctx.registry, d.destination.host, vs.namespace);
    const c = ensureCluster(ctx, host, d.destination.port?.number, d.destination.subset, { gateway, port }, { obj: vs, field: [...field, i, 'destination'] });
    return { cluster: c.name, host, port: c.port, weight: list.length === 1 ? 100 : explicit ? (d.weight ?? 0) : 1 };
  });
  return { destinations, totalWeight: destinations.reduce((n, d) => n + d.weight, 0) };
}

type L4Match = { sniHosts?: string[]; port?: number; gateways?: string[]; destinationSubnets?: string[]; sourceSubnet?: string; sourceLabels?: Record<string, string> };

/** CIDRs (or bare addresses) as a BlockList; null with the first entry that is not one. */
function subnets(cidrs: string[]): { subnets: Subnets } | { bad: string } {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr = '', bits] = c.trim().split('/');
    const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : null;
    const prefix = bits === undefined ? (family === 'ipv4' ? 32 : 128) : /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (family === null || prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128)) return { bad: c };
    list.addSubnet(addr, prefix, family);
  }
  return { subnets: { cidrs, list } };
}

/**
 * The compiled form of a route's applicable matches. `sourceLabels` select the workload the
 * traffic comes from, which at a gateway is the gateway itself (as in Istio): a match whose labels
 * this gateway's --labels do not carry is dropped; without --labels every Gateway is served, so
 * it is kept. Null when no match is left.
 */
function l4Matches(ctx: CompileContext, vs: ConfigObject<VirtualServiceSpec>, field: (string | number)[], matches: L4Match[], labels: Labels | undefined): TcpMatch[] | null {
  const out: TcpMatch[] = [];
  matches.forEach((m, i) => {
    if (m.sourceLabels && labels !== undefined && !selects(m.sourceLabels, labels)) return;
    const sub = (cidrs: string[] | undefined, name: string): Subnets | null | undefined => {
      if (cidrs === undefined || cidrs.length === 0) return null;
      const r = subnets(cidrs);
      if ('bad' in r) {
        warn(ctx, vs, [...field, i, name], `"${r.bad}" is not an IP address or CIDR block; this match never applies`);
        return undefined;
      }
      return r.subnets;
    };
    const destinationSubnets = sub(m.destinationSubnets, 'destinationSubnets');
    const sourceSubnets = sub(m.sourceSubnet === undefined ? undefined : [m.sourceSubnet], 'sourceSubnet');
    if (destinationSubnets === undefined || sourceSubnets === undefined) return;
    const sni = (m.sniHosts ?? []).map((h) => h.toLowerCase());
    out.push({ sniHosts: sni.length > 0 ? sni : null, destinationSubnets, sourceSubnets });
  });
  return out.length > 0 ? out : null;
}

/** A route's matches that apply on this gateway port; null when none does. */
function applicable(matches: L4Match[] | undefined, vs: ConfigObject<VirtualServiceSpec>, gateway: string, port: number): L4Match[] | null {
  if (!matches || matches.length === 0) return [{}];
  const ok = matches.filter((m) => (m.port === undefined || m.port === port) && (!m.gateways || m.gateways.map((g) => qualifyGateway(g, vs.namespace)).includes(gateway)));
  return ok.length > 0 ? ok : null;
}

/** VirtualService `tls` routes (passthrough, by SNI) or `tcp` routes (plain TCP, or after terminating TLS) for one server. */
function tcpRoutes(ctx: CompileContext, roots: ConfigObject<VirtualServiceSpec>[], s: ServerRef, which: 'tls' | 'tcp', labels: Labels | undefined): TcpRoute[] {
  const gateway = `${s.gw.namespace}/${s.gw.name}`;
  const port = s.server.port.number;
  const out: TcpRoute[] = [];
  const seen = new Set<ConfigObject<VirtualServiceSpec>>();
  for (const { vs } of bindings(roots, s)) {
    if (seen.has(vs)) continue;
    seen.add(vs);
    derivedOf(vs).compiledIn = ctx.compileStamp;
    const list = ((which === 'tls' ? vs.spec.tls : vs.spec.tcp) ?? []) as { match?: L4Match[]; route?: unknown }[];
    list.forEach((r, i) => {
      const applying = applicable(r.match, vs, gateway, port);
      if (applying === null) return;
      const compiled = l4Matches(ctx, vs, [which, i, 'match'], applying, labels);
      if (compiled === null) return;
      // A match with no condition left takes every connection.
      const matches = compiled.some((m) => m.sniHosts === null && m.destinationSubnets === null && m.sourceSubnets === null) ? null : compiled;
      const sni = [...new Set(compiled.flatMap((m) => m.sniHosts ?? []))];
      const { destinations, totalWeight } = tcpDestinations(ctx, vs, [which, i, 'route'], r.route, port, gateway);
      out.push({ source: `VirtualService ${vs.namespace}/${vs.name} ${which}[${i}]`, sniHosts: matches !== null && sni.length > 0 ? sni : null, matches, destinations, totalWeight });
    });
  }
  return out;
}

/** Istio's egress gateway is the Gateway that selects `istio: egressgateway`. */
export function isEgressGateway(s: { gw: ConfigObject<GatewaySpec> }): boolean {
  return s.gw.spec.selector?.istio === 'egressgateway';
}

function chainBase(name: string, port: number, transport: 'raw' | 'tls', names: string[], servers: ServerRef[]) {
  return { name, listenerKind: 'gateway' as const, port, match: { transport, serverNames: names }, servers: servers.map((s) => s.ref) };
}

/** One listener per Gateway port: a plain-text chain, or a chain per TLS server chosen by SNI. */
export function gatewayListener(ctx: CompileContext, roots: ConfigObject<VirtualServiceSpec>[], port: number, refs: ServerRef[], tlsInputs?: TlsInputs, labels?: Labels): ListenerConfig {
  const chains: FilterChainConfig[] = [];
  const plainHttp = refs.filter((r) => r.kind === 'HTTP');
  // Istio serves every plain-text HTTP server of a port from one route table, `http.80`.
  if (plainHttp.length > 0) {
    // One route table serves every plain-text server of the port, so the forward proxy is on only
    // when every one of them is an egress gateway's: an ingress server must never become one.
    const egress = plainHttp.filter(isEgressGateway);
    if (egress.length > 0 && egress.length < plainHttp.length) {
      const s = egress[0]!;
      warn(ctx, s.gw, ['servers', s.index, 'port', 'number'], `port ${port} also carries ingress servers (${plainHttp.filter((r) => !isEgressGateway(r)).map((r) => r.ref).join(', ')}); the forward proxy (CONNECT, requests to undeclared hosts) is off on this port: give the egress gateway a port of its own`);
    }
    const chain: HttpChainConfig = { type: 'http', ...chainBase(`http.${port}`, port, 'raw', [], plainHttp), routes: httpTable(ctx, roots, `http.${port}`, port, plainHttp), tls: null, forwardProxy: egress.length === plainHttp.length };
    chains.push(chain);
  }
  const tcp = refs.filter((r) => r.kind === 'TCP');
  if (tcp.length > 0) {
    chains.push({ type: 'tcp', ...chainBase(`tcp.${port}`, port, 'raw', [], tcp), routes: tcp.flatMap((s) => tcpRoutes(ctx, roots, s, 'tcp', labels)), tls: null });
  }
  for (const s of refs) {
    if (s.kind !== 'HTTPS' && s.kind !== 'TLS') continue;
    const mode = String(s.server.tls?.mode ?? 'SIMPLE');
    const names = serverNames(s);
    const clash = chains.find((c) => c.match.transport === 'tls' && c.match.serverNames.join(',') === names.join(','));
    if (clash) {
      warn(ctx, s.gw, ['servers', s.index, 'hosts'], `the same hosts (${names.join(', ') || '*'}) are already served on port ${port} by ${clash.servers.join(', ')}; the first server wins, this one is skipped`);
      continue;
    }
    if (mode === 'PASSTHROUGH') {
      if (s.kind === 'HTTPS') {
        warn(ctx, s.gw, ['servers', s.index, 'tls', 'mode'], 'PASSTHROUGH belongs to protocol TLS (HTTPS servers terminate); served as TLS passthrough, routed by VirtualService tls routes');
      }
      chains.push({ type: 'tcp', ...chainBase(tlsChainName('passthrough', s), port, 'tls', names, [s]), routes: tcpRoutes(ctx, roots, s, 'tls', labels), tls: null });
      continue;
    }
    const name = tlsChainName(s.kind === 'HTTPS' ? 'https' : 'tls', s);
    const tls = terminatingTls(ctx, s, name, tlsInputs);
    if (tls === null) continue;
    if (s.kind === 'HTTPS') {
      chains.push({ type: 'http', ...chainBase(name, port, 'tls', names, [s]), routes: httpTable(ctx, roots, name, port, [s]), tls, forwardProxy: isEgressGateway(s) });
    } else {
      chains.push({ type: 'tcp', ...chainBase(name, port, 'tls', names, [s]), routes: tcpRoutes(ctx, roots, s, 'tcp', labels), tls });
    }
  }
  const servers: GatewayServer[] = refs.map((r) => ({
    gateway: `${r.gw.namespace}/${r.gw.name}`,
    index: r.index,
    name: r.server.name,
    port,
    protocol: r.server.port.protocol.toUpperCase(),
    hosts: r.server.hosts,
  }));
  const gateways = [...new Set(refs.map((r) => `${r.gw.namespace}/${r.gw.name}`))];
  return { name: `gateway:${port}`, kind: 'gateway', port, gateways, servers, chains };
}
