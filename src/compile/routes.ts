import { parseDuration } from '../config/duration.js';
import { buildFilters } from '../http/filters/chain.js';
import { grpcCode } from '../config/grpc-status.js';
import type { FieldPath } from '../config/source.js';
import type { Problem } from '../config/problems.js';
import { derivedOf } from '../config/derived.js';
import { memoByObject } from '../config/memo.js';
import type { ClientTLSSettings, ConfigObject, Destination, DestinationRuleSpec, HTTPMatchRequest, HTTPRetry, HTTPRoute, HTTPRouteDestination, HeaderOperations, Percent, VirtualServiceSpec } from '../config/types.js';
import { buildUpstreamTls, upstreamCredentialKey, type UpstreamTls } from '../tls/upstream-tls.js';
import { selects } from '../registry/labels.js';
import { resolveHost, type RegistryService } from '../registry/registry.js';
import { warn, type CompileContext } from './context.js';
import { compileMatch, hasRegex, mergeDelegateMatches, stringMatcher } from './match.js';
import { clusterPolicy, destinationRuleFor } from './policy.js';
import { isExportedTo } from '../config/visibility.js';
import { compileRe2Search } from './regex.js';
import { wire } from './wire.js';
import type { RouteMemoEntry } from './compile-cache.js';
import type {
  ClusterConfig,
  CompiledMatch,
  CorsConfig,
  FaultPolicy,
  HeaderOps,
  MirrorPolicy,
  Redirect,
  RetryPolicy,
  Rewrite,
  Route,
  RouteAction,
  VirtualHost,
  WeightedDestination,
} from './snapshot.js';

export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

/** Where routes are compiled for: a Gateway (`ns/name`) on one port, or `mesh` (port 0: any). */
export interface RouteScope {
  gateway: string;
  port: number;
  /** `gateway|port`, made once per scope object: the compile cache's key. */
  key?: string;
}

/** The compile cache's key of a scope, made once per scope object. */
export function scopeKey(scope: RouteScope): string {
  return (scope.key ??= `${scope.gateway}|${scope.port}`);
}

/** Kept routes in a compile: the clusters they name, where not named yet, and the warnings they raised, once. */
export function replayKept(ctx: CompileContext, hit: RouteMemoEntry): void {
  for (const c of hit.clusters) if (!ctx.clusters.has(c.name)) ctx.clusters.set(c.name, c);
  for (let i = 0; i < hit.problems.length; i++) {
    const k = hit.reportedKeys[i]!;
    if (ctx.reported.has(k)) continue;
    ctx.reported.add(k);
    ctx.problems.push(hit.problems[i]!);
  }
  // The entry's routes, if still to be built, are built against the latest compile.
  if (hit.routes === undefined) hit.ctx = ctx;
}

export function qualifyGateway(ref: string, namespace: string): string {
  if (ref === 'mesh') return 'mesh';
  if (ref.includes('/')) return ref;
  if (ref.includes('.')) {
    // The older `name.namespace.svc.cluster.local` spelling.
    const [name, ns] = ref.split('.');
    return `${ns}/${name}`;
  }
  return `${namespace}/${ref}`;
}

/**
 * A VirtualService's routes for one scope. With a compile cache, its entry: the clusters the
 * routes name are made and their warnings reported now, as the full build would, but the routes
 * are built on first use (routesOf): a start with 30,000 VirtualServices is ready sooner, and
 * smaller, by the 120,000 routes no request has asked for yet. Without a cache (explain and
 * routes at the command line) and for roots with delegates, the routes themselves (none under
 * problemsOnly).
 */
export function keptRoutes(ctx: CompileContext, vs: ConfigObject<VirtualServiceSpec>, scope: RouteScope): RouteMemoEntry | Route[] {
  derivedOf(vs).compiledIn = ctx.compileStamp;
  // A root's routes depend on its delegates too: those are compiled afresh every time.
  const cache = ctx.cache;
  if (cache === undefined || ctx.clustersNamed !== undefined || hasDelegates(vs)) return compileHttpRoutesAfresh(ctx, vs, scope);
  const key = scopeKey(scope);
  const hit = cache.get(vs, key);
  if (hit) {
    replayKept(ctx, hit);
    return hit;
  }
  const problemsBefore = ctx.problems.length;
  const problemsOnly = ctx.problemsOnly;
  ctx.clustersNamed = new Set();
  ctx.reportedLog = [];
  ctx.problemsOnly = true;
  try {
    compileHttpRoutesAfresh(ctx, vs, scope);
    const clusters = clusterList(ctx, ctx.clustersNamed);
    // Nearly every VirtualService reports nothing: those share one empty list of each.
    const quiet = ctx.problems.length === problemsBefore;
    const entry: RouteMemoEntry = { routes: undefined, clusters, problems: quiet ? NO_PROBLEMS : ctx.problems.slice(problemsBefore), reportedKeys: quiet ? NO_KEYS : ctx.reportedLog, vs, scope, ctx };
    cache.set(vs, key, entry);
    return entry;
  } finally {
    ctx.clustersNamed = undefined;
    ctx.reportedLog = undefined;
    ctx.problemsOnly = problemsOnly;
  }
}

/** The clusters named, as a list; nearly every VirtualService names one, and shares its list. */
function clusterList(ctx: CompileContext, named: Set<string>): ClusterConfig[] {
  if (named.size !== 1) return [...named].map((name) => ctx.clusters.get(name)!);
  const cluster = ctx.clusters.get(named.values().next().value!)!;
  const lists = (ctx.oneClusterLists ??= new Map());
  let list = lists.get(cluster);
  if (list === undefined) lists.set(cluster, (list = Object.freeze([cluster]) as ClusterConfig[]));
  return list;
}

/**
 * The routes of a kept entry, built the first time they are asked for. The compile it was last
 * given out by has already named their clusters and reported their warnings: the build runs on
 * a copy of that compile's context with a problem list and a record of what was reported of its
 * own, thrown away (there is nothing in them: the same calls reported it all once already).
 */
export function routesOf(entry: RouteMemoEntry): Route[] {
  if (entry.routes !== undefined) return entry.routes;
  const ctx: CompileContext = { ...entry.ctx!, problems: [], reported: new Set(), clustersNamed: undefined, reportedLog: undefined, problemsOnly: false };
  entry.routes = compileHttpRoutesAfresh(ctx, entry.vs, entry.scope);
  // Built, the entry needs its compile no more: an entry left behind in a patched table's
  // layers (its VirtualService gone) would otherwise keep that whole compile alive.
  entry.ctx = undefined;
  return entry.routes;
}

/** What a virtual host's routes are made of: kept entries (built on first use), or routes built already. */
export type RoutePart = RouteMemoEntry | Route[];

/**
 * A virtual host whose routes are built when first asked for (routesOf): those of one
 * VirtualService (nearly every host), or of several in order where they share the host.
 */
export class KeptVirtualHost implements VirtualHost {
  readonly #from: RouteMemoEntry | readonly RoutePart[];
  #joined: Route[] | undefined;

  constructor(
    readonly domain: string,
    from: RouteMemoEntry | readonly RoutePart[],
    readonly requireTls: true | undefined,
    readonly ports: number[] | undefined,
  ) {
    this.#from = from;
  }

  get routes(): Route[] {
    const from = this.#from;
    if (!isPartList(from)) return from.routes ?? routesOf(from);
    return (this.#joined ??= from.flatMap((p) => (Array.isArray(p) ? p : routesOf(p))));
  }

  /** Builds the routes now, so that nothing here needs the compile any more (a host a patched table dropped). */
  settle(): void {
    void this.routes;
  }

  /** What a virtual host built at once is (/config_dump). */
  toJSON(): VirtualHost {
    const out: VirtualHost = { domain: this.domain, routes: this.routes };
    if (this.requireTls === true) out.requireTls = true;
    if (this.ports !== undefined) out.ports = this.ports;
    return out;
  }
}

function isPartList(from: RouteMemoEntry | readonly RoutePart[]): from is readonly RoutePart[] {
  return Array.isArray(from);
}

/**
 * The virtual host of `domain` from its VirtualServices' kept routes, in order: built on first
 * use where any is kept, else a plain one of the routes.
 */
export function virtualHostOf(domain: string, parts: readonly RoutePart[], requireTls: boolean, ports?: number[]): VirtualHost {
  const tls = requireTls ? (true as const) : undefined;
  if (parts.some((p) => !Array.isArray(p))) return new KeptVirtualHost(domain, parts.length === 1 ? (parts[0] as RouteMemoEntry) : parts, tls, ports);
  const routes = parts.length === 1 ? (parts[0] as Route[]) : (parts as Route[][]).flat();
  const vhost: VirtualHost = { domain, routes };
  if (tls) vhost.requireTls = true;
  if (ports !== undefined) vhost.ports = ports;
  return vhost;
}

/** Whether a VirtualService hands any of its HTTP routes to a delegate. */
export function hasDelegates(vs: ConfigObject<VirtualServiceSpec>): boolean {
  const derived = derivedOf(vs);
  return (derived.delegates ??= (vs.spec.http ?? []).some((h) => Boolean(h.delegate)));
}

const NO_ROUTES: Route[] = Object.freeze([]) as unknown as Route[];
const NO_PROBLEMS: Problem[] = Object.freeze([]) as unknown as Problem[];
const NO_KEYS: string[] = Object.freeze([]) as unknown as string[];

function compileHttpRoutesAfresh(ctx: CompileContext, vs: ConfigObject<VirtualServiceSpec>, scope: RouteScope): Route[] {
  const http = vs.spec.http;
  // `http:` written with nothing under it is null: the checks let that through, as the API server does.
  if (http == null || http.length === 0) return NO_ROUTES;
  const out: Route[] = [];
  for (let index = 0; index < http.length; index++) {
    const h = http[index]!;
    if (h.delegate) {
      out.push(...compileDelegate(ctx, vs, h, index, scope));
      continue;
    }
    const route = compileRoute(ctx, vs, h, index, scope, h.match);
    if (route) out.push(route);
  }
  // Kept for as long as the config is (a list grown by push has room for 17).
  return out.slice();
}

function compileDelegate(ctx: CompileContext, root: ConfigObject<VirtualServiceSpec>, http: HTTPRoute, index: number, scope: RouteScope): Route[] {
  const ns = http.delegate!.namespace ?? root.namespace;
  const del = virtualServiceNamed(ctx, ns, http.delegate!.name);
  if (!del) {
    warn(ctx, root, ['http', index, 'delegate'], `delegate VirtualService ${ns}/${http.delegate!.name} does not exist; this route is skipped`);
    return [];
  }
  if (del.spec.hosts && del.spec.hosts.length > 0) {
    warn(ctx, del, ['hosts'], 'a delegate VirtualService must not set hosts; they are ignored when it is used as a delegate');
  }
  if (!isExportedTo(del.spec.exportTo, del.namespace, root.namespace)) {
    warn(ctx, root, ['http', index, 'delegate'], `delegate VirtualService ${ns}/${del.name} is not exported to namespace ${root.namespace}; this route is skipped`);
    return [];
  }
  const out: Route[] = [];
  (del.spec.http ?? []).forEach((dh, di) => {
    if (dh.delegate) {
      warn(ctx, del, ['http', di, 'delegate'], 'a delegate cannot delegate again; this route is skipped');
      return;
    }
    // Istio merges first (a delegate route any of whose conditions conflicts with the root is
    // dropped whole), then keeps the merged conditions meant for this gateway and port.
    const merged = mergeDelegateMatches(http.match, dh.match);
    if (merged === null) return;
    const scoped = filterScope(merged, root.namespace, scope);
    if (scoped === null) return;
    const route = compileRoute(ctx, del, inheritFromRoot(http, dh), di, scope, scoped, true);
    if (route) out.push(route);
  });
  return out;
}

/** Istio's mergeHTTPRoute: a delegate route takes what the root route sets and it does not. */
/** The first VirtualService of that namespace and name, from a map made once per list (not a search per delegate). */
function virtualServiceNamed(ctx: CompileContext, namespace: string, name: string): ConfigObject<VirtualServiceSpec> | undefined {
  return virtualServicesByName(ctx.virtualServices).get(`${namespace}/${name}`);
}

const virtualServicesByName = memoByObject((list: readonly ConfigObject<VirtualServiceSpec>[]) => {
  const map = new Map<string, ConfigObject<VirtualServiceSpec>>();
  for (const v of list) {
    const key = `${v.namespace}/${v.name}`;
    if (!map.has(key)) map.set(key, v);
  }
  return map;
});

function inheritFromRoot(root: HTTPRoute, dh: HTTPRoute): HTTPRoute {
  return {
    ...dh,
    rewrite: dh.rewrite ?? root.rewrite,
    timeout: dh.timeout ?? root.timeout,
    retries: dh.retries ?? root.retries,
    fault: dh.fault ?? root.fault,
    mirror: dh.mirror ?? root.mirror,
    mirrorPercent: dh.mirrorPercent ?? root.mirrorPercent,
    mirrorPercentage: dh.mirrorPercentage ?? root.mirrorPercentage,
    mirrors: dh.mirrors ?? root.mirrors,
    corsPolicy: dh.corsPolicy ?? root.corsPolicy,
    headers: dh.headers ?? root.headers,
  };
}

/** Drops conditions meant for other gateways or ports; null when none is left for this scope. */
function filterScope(match: HTTPMatchRequest[] | undefined, namespace: string, scope: RouteScope): HTTPMatchRequest[] | undefined | null {
  if (!match || match.length === 0) return match;
  // Nearly every condition applies everywhere: then the list itself, not a copy. (Loops, not
  // every/filter with a closure: V8 would allocate this function's context on each of 100,000s
  // of calls.)
  let all = true;
  for (const m of match) {
    if (!appliesInScope(m, namespace, scope)) {
      all = false;
      break;
    }
  }
  if (all) return match;
  const kept: HTTPMatchRequest[] = [];
  for (const m of match) if (appliesInScope(m, namespace, scope)) kept.push(m);
  return kept.length > 0 ? kept : null;
}

function appliesInScope(m: HTTPMatchRequest, namespace: string, scope: RouteScope): boolean {
  if (m.gateways && m.gateways.length > 0 && !m.gateways.map((g) => qualifyGateway(g, namespace)).includes(scope.gateway)) return false;
  if (m.port !== undefined && scope.port !== 0 && m.port !== scope.port) return false;
  return true;
}

function compileRoute(
  ctx: CompileContext,
  vs: ConfigObject<VirtualServiceSpec>,
  http: HTTPRoute,
  index: number,
  scope: RouteScope,
  rawMatches: HTTPMatchRequest[] | undefined,
  prefiltered = false,
): Route | undefined {
  const scoped = prefiltered ? rawMatches : filterScope(rawMatches, vs.namespace, scope);
  if (scoped === null) return undefined;
  if (ctx.problemsOnly === true) {
    // What reports problems (and names clusters), in the order the full build runs it; and
    // what could fail in the build, so that it fails here, not on a request.
    checkBuildable(http, scoped);
    if (compileAction(ctx, vs, http, index, scope)) compileMirrors(ctx, vs, http, index);
    return undefined;
  }
  const matches: CompiledMatch[] | null = scoped && scoped.length > 0 ? scoped.map(compileMatch) : null;
  const action = compileAction(ctx, vs, http, index, scope);
  if (!action) return undefined;
  return withFilters({
    source: vs.ref,
    index,
    name: http.name,
    matches,
    action,
    timeoutMs: http.timeout !== undefined ? parseDuration(http.timeout)! : DEFAULT_ROUTE_TIMEOUT_MS,
    rewrite: compileRewrite(http),
    requestHeaders: headerOps(http.headers?.request),
    responseHeaders: headerOps(http.headers?.response),
    retry: compileRetry(http),
    fault: compileFault(http),
    cors: compileCors(http),
    mirrors: compileMirrors(ctx, vs, http, index),
  });
}

/**
 * The steps of building a route that can throw (a regular expression the checks let through but
 * that does not compile: a gap between them and compile), run where routes are built later.
 */
function checkBuildable(http: HTTPRoute, scoped: HTTPMatchRequest[] | undefined): void {
  if (scoped) for (const m of scoped) if (hasRegex(m)) compileMatch(m);
  if (http.corsPolicy) compileCors(http);
}

/**
 * A route no VirtualService wrote: every request to one destination, with the default timeout
 * and nothing else (the mesh listener's registry hosts, the forward proxy's declared ones).
 */
export function directRoute(source: string, dest: DestinationTarget): Route {
  return withFilters({
    source,
    index: 0,
    matches: null,
    action: { type: 'forward', totalWeight: 100, destinations: [weightedDestination(dest, 100, null, null)] },
    timeoutMs: DEFAULT_ROUTE_TIMEOUT_MS,
    rewrite: null,
    requestHeaders: null,
    responseHeaders: null,
    retry: null,
    fault: null,
    cors: null,
    mirrors: null,
  });
}

/** Finishes a compiled route: its label, and its filter chain, built once here. */
export function withFilters(f: Omit<Route, 'label' | 'filters'>): Route {
  // One literal, every field in one order: an object spread here goes through V8's slow clone
  // once its call sites vary, and then each route gets a hidden class of its own (~1 KB each,
  // and megamorphic property reads on the request path).
  const route: Route = {
    source: f.source,
    index: f.index,
    name: f.name,
    label: f.name ?? `${f.source} http[${f.index}]`,
    matches: f.matches,
    action: f.action,
    timeoutMs: f.timeoutMs,
    rewrite: f.rewrite,
    requestHeaders: f.requestHeaders,
    responseHeaders: f.responseHeaders,
    retry: f.retry,
    fault: f.fault,
    cors: f.cors,
    mirrors: f.mirrors,
    filters: [],
  };
  route.filters = buildFilters(route);
  return route;
}

function compileAction(ctx: CompileContext, vs: ConfigObject<VirtualServiceSpec>, http: HTTPRoute, index: number, scope: RouteScope): RouteAction | undefined {
  if (http.redirect) {
    const r = http.redirect;
    const redirect: Redirect = { code: r.redirectCode ?? 301 };
    if (r.uri !== undefined) redirect.uri = wire(r.uri);
    if (r.authority !== undefined) redirect.authority = wire(r.authority);
    if (r.scheme !== undefined) redirect.scheme = r.scheme;
    if (r.port !== undefined) redirect.port = r.port;
    else if (r.derivePort === 'FROM_REQUEST_PORT') redirect.port = 'request';
    else if (r.derivePort === 'FROM_PROTOCOL_DEFAULT') redirect.port = 'default';
    return { type: 'redirect', redirect };
  }
  if (http.directResponse) {
    const b = http.directResponse.body;
    const body = b?.string !== undefined ? Buffer.from(b.string) : b?.bytes !== undefined ? Buffer.from(b.bytes, 'base64') : null;
    return { type: 'direct', status: http.directResponse.status, body };
  }
  const list = http.route ?? [];
  if (list.length === 0) return undefined;
  // Validation refused several destinations whose weights add up to 0 (Istio's webhook does).
  if (list.length > 1) {
    const sum = list.reduce((s, d) => s + (d.weight ?? 0), 0);
    if (sum !== 100) warn(ctx, vs, ['http', index, 'route'], `weights add up to ${sum}, not 100; traffic is split in proportion to them`);
  }
  if (list.length === 1 && list[0]!.headers === undefined) {
    // The usual route: all of it to one destination, no header edits. Routes to the same one
    // share one action (read only, as every action): 3 objects fewer for each of 100,000s.
    const target = destinationClusters(ctx, vs, destinationPath(index, 0), list[0]!.destination, scope);
    if (target.clusterByPort === undefined) {
      // The cluster's name says all the rest: outbound|port|subset|host.
      let action = ctx.plainForwards?.get(target.cluster);
      if (action === undefined) {
        action = { type: 'forward', destinations: [weightedDestination(target, 100, null, null)], totalWeight: 100 };
        (ctx.plainForwards ??= new Map()).set(target.cluster, action);
      }
      return action;
    }
    return { type: 'forward', destinations: [weightedDestination(target, 100, null, null)], totalWeight: 100 };
  }
  return splitForward(ctx, vs, list, index, scope);
}

/**
 * Several destinations, or header edits on one. Apart from compileAction: this closure would
 * have made V8 allocate compileAction's context for each of 100,000s of routes.
 */
function splitForward(ctx: CompileContext, vs: ConfigObject<VirtualServiceSpec>, list: HTTPRouteDestination[], index: number, scope: RouteScope): RouteAction {
  const destinations: WeightedDestination[] = list.map((d, di) => {
    const weight = list.length === 1 ? 100 : (d.weight ?? 0);
    return weightedDestination(destinationClusters(ctx, vs, destinationPath(index, di), d.destination, scope), weight, headerOps(d.headers?.request), headerOps(d.headers?.response));
  });
  return { type: 'forward', destinations, totalWeight: destinations.reduce((s, d) => s + d.weight, 0) };
}

type DestinationTarget = Omit<WeightedDestination, 'weight' | 'requestHeaders' | 'responseHeaders'>;

/** One shape for every destination (see withFilters for why not a spread). */
function weightedDestination(t: DestinationTarget, weight: number, requestHeaders: HeaderOps | null, responseHeaders: HeaderOps | null): WeightedDestination {
  return { cluster: t.cluster, host: t.host, port: t.port, subset: t.subset, weight, clusterByPort: t.clusterByPort, requestHeaders, responseHeaders };
}

// `http[i].route[j].destination`, the same list for every VirtualService (read only): made once
// rather than for each of 100,000s of routes, for the rare warning that names it.
const destinationPaths: FieldPath[][] = [];

function destinationPath(index: number, di: number): FieldPath {
  const row = (destinationPaths[index] ??= []);
  return (row[di] ??= Object.freeze(['http', index, 'route', di, 'destination']));
}

function destinationClusters(ctx: CompileContext, vs: ConfigObject, field: FieldPath, d: Destination, scope: RouteScope) {
  const host = resolveHost(ctx.registry, d.host, vs.namespace);
  const svc = ctx.registry.services.get(host);
  const cluster = clusterFor(ctx, host, d.port?.number, d.subset, scope, vs, field);
  // On the mesh listener a destination without a port follows the port the call was made to.
  const clusterByPort = scope.port === 0 && d.port?.number === undefined && svc && svc.ports.length > 1 ? clustersByPort(ctx, vs, field, d, scope, host, svc) : undefined;
  return { cluster: cluster.name, host, port: cluster.port, subset: d.subset, clusterByPort };
}

/** A cluster for each of the service's ports (apart from destinationClusters for the reason splitForward is). */
function clustersByPort(ctx: CompileContext, vs: ConfigObject, field: FieldPath, d: Destination, scope: RouteScope, host: string, svc: RegistryService): Map<number, string> {
  return new Map(svc.ports.map((p) => [p.number, ensureCluster(ctx, host, p.number, d.subset, scope, { obj: vs, field }).name]));
}

/** The object and field a cluster's problems are reported against; none for clusters no rule names. */
export interface Blame {
  obj: ConfigObject;
  field: FieldPath;
}

/** A cluster's warning, on the field that named it; none for a cluster no rule names. */
function blameWarn(ctx: CompileContext, obj: ConfigObject | undefined, field: FieldPath | undefined, sub: string, message: string): void {
  if (obj !== undefined && field !== undefined) warn(ctx, obj, [...field, sub], message);
}

export function ensureCluster(ctx: CompileContext, host: string, portNumber: number | undefined, subset: string | undefined, scope: RouteScope, blame?: Blame): ClusterConfig {
  return clusterFor(ctx, host, portNumber, subset, scope, blame?.obj, blame?.field);
}

/** ensureCluster, with its blame as two arguments: no object made for each of 100,000s of routes. */
function clusterFor(
  ctx: CompileContext,
  host: string,
  portNumber: number | undefined,
  subset: string | undefined,
  scope: RouteScope,
  obj: ConfigObject | undefined,
  field: FieldPath | undefined,
): ClusterConfig {
  const svc = ctx.registry.services.get(host);
  let port = portNumber;
  if (port === undefined) {
    if (svc && svc.ports.length === 1) port = svc.ports[0]!.number;
    else if (svc && svc.ports.length > 1) {
      port = svc.ports[0]!.number;
      if (scope.port !== 0) blameWarn(ctx, obj, field, 'port', `${host} has several ports (${svc.ports.map((p) => p.number).join(', ')}); name one with port.number (using ${port})`);
    } else port = scope.port !== 0 ? scope.port : 80;
  }
  const known = knownCluster(ctx, host, port, subset);
  if (known !== undefined) {
    ctx.clustersNamed?.add(known.name);
    return known;
  }
  const name = `outbound|${port}|${subset ?? ''}|${host}`;
  ctx.clustersNamed?.add(name);
  const cluster = ctx.clusters.get(name) ?? newCluster(ctx, name, host, port, subset, svc, obj, field);
  const byHost = clustersByHost(ctx.clusters);
  const list = byHost.get(host);
  if (list === undefined) byHost.set(host, [cluster]);
  // A subset written '' names the cluster of no subset: found by its name, and not listed twice.
  else if (!list.includes(cluster)) list.push(cluster);
  return cluster;
}

/**
 * The clusters of a compile's cluster map by host, found without making their names
 * (`outbound|port|subset|host`, five strings joined and then hashed, for each of 100,000s of
 * routes naming a few hundred clusters). Kept per map: compile.ts's pass for VirtualServices no
 * listener took compiles into a map of its own. Filled as clusterFor adds clusters.
 */
const clustersByHost = memoByObject((_clusters: Map<string, ClusterConfig>) => new Map<string, ClusterConfig[]>());

function knownCluster(ctx: CompileContext, host: string, port: number, subset: string | undefined): ClusterConfig | undefined {
  const list = clustersByHost(ctx.clusters).get(host);
  if (list === undefined) return undefined;
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (c.port === port && c.subset === subset) return c;
  }
  return undefined;
}

/**
 * A cluster not named before. Apart from ensureCluster, which 100,000s of routes call for a few
 * hundred clusters: the closures here would have made V8 allocate a context on each of those calls.
 */
function newCluster(
  ctx: CompileContext,
  name: string,
  host: string,
  port: number,
  subset: string | undefined,
  svc: RegistryService | undefined,
  obj: ConfigObject | undefined,
  field: FieldPath | undefined,
): ClusterConfig {
  const hiddenBy = svc ? undefined : ctx.registry.hidden.get(host);
  if (hiddenBy !== undefined) {
    blameWarn(ctx, obj, field, 'host', `${host} is declared by ${hiddenBy}, which is not exported to namespace ${ctx.proxyNamespace} where this gateway runs; requests get 503`);
  } else if (!svc) {
    blameWarn(ctx, obj, field, 'host', `${host} is not in the service registry (no Service or ServiceEntry declares it); requests get 503`);
  } else if (!svc.endpoints.has(port)) {
    blameWarn(ctx, obj, field, 'port', `${host} has no port ${port} (its ports: ${svc.ports.map((p) => p.number).join(', ') || 'none'})`);
  }
  const dr = destinationRuleFor(ctx, host);
  const policy = clusterPolicy(dr, port, subset);
  let endpoints = svc?.endpoints.get(port) ?? [];
  if (subset !== undefined) {
    if (!policy.subsetDefined) {
      blameWarn(ctx, obj, field, 'subset', `subset ${subset} is not defined by any DestinationRule for ${host}; requests get 503`);
      endpoints = [];
    } else {
      endpoints = endpoints.filter((e) => selects(policy.subsetLabels, e.labels));
    }
  }
  const upstreamTls = clusterTls(ctx, dr, policy.tls, host);
  if (upstreamTls === undefined) endpoints = [];
  const cluster: ClusterConfig = {
    name,
    host,
    port,
    subset,
    discovery: svc?.discovery ?? 'none',
    // Envoy has no cluster for an undefined subset: it answers 503 with no body, like an unknown host.
    known: svc !== undefined && policy.subsetDefined,
    protocol: policy.h2Upgrade || isH2Port(svc?.ports.find((p) => p.number === port)?.protocol) ? 'http2' : 'http1',
    endpoints,
    lb: policy.lb,
    hash: policy.hash,
    pool: policy.pool,
    outlier: policy.outlier,
    policyFrom: policy.policyFrom,
    tls: upstreamTls ?? null,
    addressGuard: svc?.external === true && svc.discovery === 'DNS' ? (ctx.declaredAddresses?.get(svc.ref) ?? new Set()) : undefined,
  };
  ctx.clusters.set(name, cluster);
  return cluster;
}

/**
 * The cluster's upstream TLS, null for plain text, undefined when the rule's TLS cannot be used:
 * reported on the rule, and the cluster gets no endpoints (503), rather than plain text to a
 * port that expects TLS.
 */
function clusterTls(ctx: CompileContext, dr: ConfigObject<DestinationRuleSpec> | undefined, t: ClientTLSSettings | undefined, host: string): UpstreamTls | null | undefined {
  if (t === undefined || dr === undefined) return null;
  if (t.mode === 'ISTIO_MUTUAL') {
    warn(ctx, dr, ['trafficPolicy', 'tls', 'mode'], 'ISTIO_MUTUAL needs the mesh\'s workload certificates, which this gateway does not have; requests go out in plain text');
    return null;
  }
  const key = upstreamCredentialKey(dr.namespace, t);
  const built = buildUpstreamTls(t, host, key === null ? undefined : ctx.credentials?.get(key), ctx.registry.services.get(host)?.subjectAltNames);
  if (built.error !== undefined) {
    warn(ctx, dr, ['trafficPolicy', 'tls'], `${built.error}; requests to ${host} get 503 until it is fixed`);
    return undefined;
  }
  return built.tls;
}

/** Ports Istio talks HTTP/2 to: GRPC and HTTP2 (GRPC-WEB is HTTP/1.1). */
function isH2Port(protocol: string | undefined): boolean {
  return protocol === 'GRPC' || protocol === 'HTTP2';
}

const isAuthority = (name: string) => name === 'host' || name === ':authority';

function headerOps(h: HeaderOperations | undefined): HeaderOps | null {
  if (!h) return null;
  // Routes write the same few edits (a header set to one value, one removed) over and over: they
  // share one (read only) set of edits, found by the text of what they write.
  const key = headerOpsKey(h);
  const seen = sharedPieces.get(key);
  if (seen !== undefined) return seen === NO_EDITS ? null : (seen as HeaderOps);
  const set = headerPairs(h.set);
  const add = headerPairs(h.add);
  let remove: string[] = NO_NAMES;
  if (h.remove != null) {
    for (const k of h.remove) {
      const name = k.toLowerCase();
      if (!isAuthority(name)) (remove === NO_NAMES ? (remove = []) : remove).push(name);
    }
  }
  if (set.length === 0 && add.length === 0 && remove.length === 0) {
    shared(key, NO_EDITS);
    return null;
  }
  return shared(key, { set, add, remove });
}

/** Edits that come to nothing (only Host set, which is a rewrite): kept as such. */
const NO_EDITS = Object.freeze({});

/** What the edits write, as one text: NUL cannot be in a header name or value (the checks refuse it). */
function headerOpsKey(h: HeaderOperations): string {
  let key = 'headers';
  if (h.set != null) for (const n in h.set) key += `\0s\0${n}\0${keyPart(h.set[n])}`;
  if (h.add != null) for (const n in h.add) key += `\0a\0${n}\0${keyPart(h.add[n])}`;
  if (h.remove != null) for (const n of h.remove) key += `\0r\0${keyPart(n)}`;
  return key;
}

/**
 * A field's value in a shared piece's key: absent, null (a field written with nothing under it,
 * which the checks let through) and text each their own, so that no two different fields share.
 */
function keyPart(v: unknown): string {
  return v === undefined ? '\u0001' : v === null ? '\u0002' : typeof v === 'string' ? v : `\u0003${String(v)}`;
}

// Shared by every edit list with nothing in it (read only).
const NO_PAIRS: [string, string][] = Object.freeze([]) as unknown as [string, string][];
const NO_NAMES: string[] = Object.freeze([]) as unknown as string[];

/** A set or add map as [lower-case name, value] pairs. */
function headerPairs(map: Record<string, string> | undefined): [string, string][] {
  if (map == null) return NO_PAIRS;
  let out = NO_PAIRS;
  for (const k in map) {
    const name = k.toLowerCase();
    // Istio turns a set/add of Host into an authority rewrite (see authorityFrom) and never removes it.
    if (!isAuthority(name)) (out === NO_PAIRS ? (out = []) : out).push([name, wire(map[k]!)]);
  }
  return out;
}

/** The Host a route's request header edits ask for, which Istio applies as an authority rewrite. */
function authorityFrom(h: HeaderOperations | null | undefined): string | undefined {
  // `request:` written with nothing under it is null.
  if (h == null) return undefined;
  return authorityIn(h.set) ?? authorityIn(h.add);
}

function authorityIn(map: Record<string, string> | undefined): string | undefined {
  if (map == null) return undefined;
  for (const k in map) if (isAuthority(k.toLowerCase())) return wire(map[k]!);
  return undefined;
}

function compileRewrite(http: HTTPRoute): Rewrite | null {
  // Most routes rewrite nothing: no objects made for them.
  if (http.rewrite == null && http.headers?.request == null) return null;
  const r = http.rewrite ?? {};
  const out: Rewrite = {};
  const headerAuthority = authorityFrom(http.headers?.request);
  if (headerAuthority !== undefined) out.authority = headerAuthority;
  if (r.uri !== undefined && r.uri !== '') out.uri = wire(r.uri);
  if (r.uriRegexRewrite) {
    const re = compileRe2Search(r.uriRegexRewrite.match);
    // RE2 writes groups as \1; JavaScript's replace wants $1.
    if (re.ok) out.regex = { re: re.re, substitution: wire(r.uriRegexRewrite.rewrite ?? '').replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1') };
  }
  if (r.authority !== undefined && r.authority !== '') out.authority = wire(r.authority);
  if (out.regex !== undefined) return out;
  if (out.uri === undefined && out.authority === undefined) return null;
  // Routes repeat the same few rewrites: they share one (read only).
  return shared(`rewrite\0${out.uri ?? '\u0001'}\0${out.authority ?? '\u0001'}`, out);
}

/**
 * One compiled piece (read only, as a snapshot is) for each text that says what it is: routes
 * write the same few rewrites, retry policies and header edits over and over, and 100,000s of
 * copies were most of what such routes kept. At most SHARED_KEPT are remembered.
 */
const sharedPieces = new Map<string, object>();
const SHARED_KEPT = 8192;

function shared<T extends object>(key: string, made: T): T {
  const seen = sharedPieces.get(key);
  if (seen !== undefined) return seen as T;
  if (sharedPieces.size >= SHARED_KEPT) sharedPieces.clear();
  sharedPieces.set(key, made);
  return made;
}

const percentOf = (p: Percent | undefined, legacy: number | undefined): number => (p?.value !== undefined ? p.value : legacy !== undefined ? legacy : 100);

// Istio's retry conditions when `retries` is set without `retryOn`.
const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

// Envoy's gRPC retry conditions, read from grpc-status.
const GRPC_RETRY_ON: Record<string, number> = { cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 };

/**
 * The retries compiled last and their policy: routes one after another write the same retries,
 * and comparing four fields is cheaper than making and hashing their key.
 */
let lastRetries: { written: HTTPRetry; policy: RetryPolicy } | undefined;

function compileRetry(http: HTTPRoute): RetryPolicy | null {
  const r = http.retries;
  if (!r || !r.attempts) return null;
  const last = lastRetries;
  if (last !== undefined) {
    const w = last.written;
    // === tells null from undefined, as keyPart does.
    if (w.attempts === r.attempts && w.perTryTimeout === r.perTryTimeout && w.retryOn === r.retryOn && w.backoff === r.backoff) return last.policy;
  }
  const policy = sharedRetry(r, r.attempts);
  lastRetries = { written: r, policy };
  return policy;
}

function sharedRetry(r: HTTPRetry, attempts: number): RetryPolicy {
  const key = `retry\0${keyPart(r.attempts)}\0${keyPart(r.perTryTimeout)}\0${keyPart(r.retryOn)}\0${keyPart(r.backoff)}`;
  const seen = sharedPieces.get(key);
  if (seen !== undefined) return seen as RetryPolicy;
  // Istio keeps its default codes (503) only with its default retryOn; a retryOn that is set
  // brings its own bare codes, so `retriable-status-codes` alone retries no status.
  const on = r.retryOn !== undefined && r.retryOn.trim() !== '' ? retryOnOf(r.retryOn) : { ...retryOnOf(DEFAULT_RETRY_ON), statusCodes: [503] };
  const policy: RetryPolicy = {
    retries: attempts,
    perTryTimeoutMs: r.perTryTimeout !== undefined ? parseDuration(r.perTryTimeout)! : 0,
    on5xx: on.on5xx,
    onGatewayError: on.onGatewayError,
    onReset: on.onReset,
    onConnectFailure: on.onConnectFailure,
    onRefusedStream: on.onRefusedStream,
    onRetriable4xx: on.onRetriable4xx,
    statusCodes: on.statusCodes,
    grpcCodes: on.grpcCodes,
    backoffBaseMs: r.backoff !== undefined ? parseDuration(r.backoff)! : 25,
  };
  return shared(key, policy);
}

type RetryOn = Pick<RetryPolicy, 'on5xx' | 'onGatewayError' | 'onReset' | 'onConnectFailure' | 'onRefusedStream' | 'onRetriable4xx' | 'statusCodes' | 'grpcCodes'>;

/** What a retryOn text retries (read only when a new retry policy is compiled: policies are shared). */
function retryOnOf(text: string): RetryOn {
  const on = text.split(',').map((s) => s.trim()).filter(Boolean);
  return {
    on5xx: on.includes('5xx'),
    onGatewayError: on.includes('gateway-error'),
    onReset: on.includes('reset') || on.includes('reset-before-request'),
    onConnectFailure: on.includes('connect-failure'),
    onRefusedStream: on.includes('refused-stream'),
    onRetriable4xx: on.includes('retriable-4xx'),
    statusCodes: on.filter((c) => /^\d{3}$/.test(c)).map(Number),
    grpcCodes: on.map((c) => GRPC_RETRY_ON[c]).filter((c): c is number => c !== undefined),
  };
}

function compileFault(http: HTTPRoute): FaultPolicy | null {
  const f = http.fault;
  if (!f) return null;
  const delayMs = f.delay?.fixedDelay !== undefined ? parseDuration(f.delay.fixedDelay) ?? 0 : 0;
  const grpc = f.abort?.grpcStatus !== undefined ? grpcCode(f.abort.grpcStatus) : null;
  const policy: FaultPolicy = {
    delayMs,
    // Istio: a delay or abort without a percentage applies to no request.
    delayPercent: f.delay?.fixedDelay !== undefined ? percentOf(f.delay.percentage, f.delay.percent ?? 0) : 0,
    abortStatus: f.abort?.httpStatus ?? 0,
    abortPercent: f.abort?.httpStatus !== undefined || grpc !== null ? percentOf(f.abort!.percentage, 0) : 0,
  };
  if (grpc !== null) policy.abortGrpcStatus = grpc;
  return policy;
}

function compileCors(http: HTTPRoute): CorsConfig | null {
  const c = http.corsPolicy;
  if (!c) return null;
  // Istio reads the deprecated allowOrigin only when allowOrigins is not set.
  const legacy = c.allowOrigins !== undefined && c.allowOrigins.length > 0 ? [] : (c.allowOrigin ?? []);
  const maxAge = c.maxAge !== undefined ? parseDuration(c.maxAge) : undefined;
  return {
    origins: [...(c.allowOrigins ?? []).map((m) => stringMatcher(m)), ...legacy.filter((o) => o !== '*').map((o) => stringMatcher({ exact: o }))],
    anyOrigin: legacy.includes('*'),
    allowMethods: wire((c.allowMethods ?? []).join(',')),
    allowHeaders: wire((c.allowHeaders ?? []).join(',')),
    exposeHeaders: wire((c.exposeHeaders ?? []).join(',')),
    maxAge: maxAge !== undefined ? String(Math.floor(maxAge / 1000)) : '',
    allowCredentials: c.allowCredentials === true,
    unmatchedPreflights: c.unmatchedPreflights === 'IGNORE' ? 'ignore' : 'forward',
  };
}

function compileMirrors(ctx: CompileContext, vs: ConfigObject<VirtualServiceSpec>, http: HTTPRoute, index: number): MirrorPolicy[] | null {
  const out: MirrorPolicy[] = [];
  const scope: RouteScope = { gateway: '', port: 0 };
  if (http.mirror) {
    const host = resolveHost(ctx.registry, http.mirror.host, vs.namespace);
    const c = ensureCluster(ctx, host, http.mirror.port?.number, http.mirror.subset, scope, { obj: vs, field: ['http', index, 'mirror'] });
    out.push({ cluster: c.name, host, percent: percentOf(http.mirrorPercentage, http.mirrorPercent) });
  }
  (http.mirrors ?? []).forEach((m, mi) => {
    const host = resolveHost(ctx.registry, m.destination.host, vs.namespace);
    const c = ensureCluster(ctx, host, m.destination.port?.number, m.destination.subset, scope, { obj: vs, field: ['http', index, 'mirrors', mi, 'destination'] });
    out.push({ cluster: c.name, host, percent: percentOf(m.percentage, undefined) });
  });
  return out.length > 0 ? out : null;
}
