import { parseDuration } from '../config/duration.js';
import { locateField } from '../config/load.js';
import type { Problem } from '../config/problems.js';
import type { FieldPath } from '../config/source.js';
import type {
  ConfigObject,
  DestinationRuleSpec,
  GatewaySpec,
  HTTPMatchRequest,
  HTTPRoute,
  Labels,
  StringMatch,
  VirtualServiceSpec,
} from '../config/types.js';
import { selects } from '../registry/labels.js';
import { buildRegistry, resolveHost, type Registry } from '../registry/registry.js';
import { covers, intersect, namespaceAllows, parseGatewayHost } from './hosts.js';
import { compileRe2 } from './regex.js';
import type {
  ClusterConfig,
  CompiledMatch,
  HeaderMatcher,
  ListenerConfig,
  Route,
  RouteTable,
  Snapshot,
  StringMatcher,
  VirtualHost,
  WeightedDestination,
} from './snapshot.js';

export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

export interface CompileOptions {
  /** This gateway's workload labels; a Gateway whose selector does not match is not served. Undefined serves all. */
  labels?: Labels;
  version?: number;
}

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

interface Ctx {
  registry: Registry;
  problems: Problem[];
  clusters: Map<string, ClusterConfig>;
  destinationRules: ConfigObject<DestinationRuleSpec>[];
}

/** Validated objects in, the data plane's immutable Snapshot out. Pure: no sockets, no clocks but `builtAt`. */
export function compile(objects: readonly ConfigObject[], opts: CompileOptions = {}): Snapshot {
  const ctx: Ctx = {
    registry: buildRegistry(objects),
    problems: [],
    clusters: new Map(),
    destinationRules: byCreation(objects.filter((o) => o.kind === 'DestinationRule')) as ConfigObject<DestinationRuleSpec>[],
  };
  const gateways = objects.filter((o) => o.kind === 'Gateway') as ConfigObject<GatewaySpec>[];
  const virtualServices = byCreation(objects.filter((o) => o.kind === 'VirtualService')) as ConfigObject<VirtualServiceSpec>[];
  const gatewayIndex = new Map(gateways.map((g) => [`${g.namespace}/${g.name}`, g]));
  const served = gateways.filter((g) => opts.labels === undefined || selects(g.spec.selector, opts.labels));

  // One listener per Gateway port, shared by every served Gateway with a server on it.
  const ports = new Map<number, { gateways: ConfigObject<GatewaySpec>[] }>();
  for (const gw of served) {
    gw.spec.servers.forEach((server, i) => {
      const protocol = server.port.protocol.toUpperCase();
      if (!HTTP_PROTOCOLS.has(protocol)) {
        warn(ctx, gw, ['servers', i, 'port', 'protocol'], `${protocol} servers are not served yet; port ${server.port.number} is skipped`);
        return;
      }
      const entry = ports.get(server.port.number) ?? { gateways: [] };
      if (!entry.gateways.includes(gw)) entry.gateways.push(gw);
      ports.set(server.port.number, entry);
    });
  }

  checkGatewayReferences(ctx, virtualServices, gatewayIndex);

  const listeners: ListenerConfig[] = [];
  for (const [port, { gateways: gws }] of [...ports].sort((a, b) => a[0] - b[0])) {
    const domains = new Map<string, { vs: ConfigObject<VirtualServiceSpec>; gateway: string }[]>();
    for (const vs of virtualServices) {
      for (const gwRef of boundGateways(vs)) {
        const gw = gws.find((g) => `${g.namespace}/${g.name}` === gwRef);
        if (!gw) continue;
        if (!exportedTo(vs, gw.namespace)) continue;
        for (const server of gw.spec.servers) {
          if (server.port.number !== port || !HTTP_PROTOCOLS.has(server.port.protocol.toUpperCase())) continue;
          for (const rawServerHost of server.hosts) {
            const sh = parseGatewayHost(rawServerHost);
            if (!namespaceAllows(sh, vs.namespace, gw.namespace)) continue;
            for (const vsHost of vs.spec.hosts ?? []) {
              const domain = intersect(vsHost.toLowerCase(), sh.host);
              if (domain === undefined) continue;
              const list = domains.get(domain) ?? [];
              if (!list.some((e) => e.vs === vs)) list.push({ vs, gateway: gwRef });
              domains.set(domain, list);
            }
          }
        }
      }
    }
    const table: RouteTable = { name: `http.${port}`, exact: new Map(), wildcards: [], any: null };
    for (const [domain, bindings] of domains) {
      const routes: Route[] = [];
      for (const { vs, gateway } of bindings) routes.push(...compileHttpRoutes(ctx, vs, gateway, port));
      const vhost: VirtualHost = { domain, routes };
      if (domain === '*') table.any = vhost;
      else if (domain.startsWith('*.')) table.wildcards.push({ suffix: domain.slice(1), vhost });
      else table.exact.set(domain, vhost);
    }
    table.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
    listeners.push({
      name: `gateway:${port}`,
      kind: 'gateway',
      port,
      protocol: 'HTTP',
      gateways: gws.map((g) => `${g.namespace}/${g.name}`),
      routes: table,
    });
  }

  checkServedHosts(ctx, virtualServices, gatewayIndex);

  return { version: opts.version ?? 1, builtAt: new Date(), listeners, clusters: ctx.clusters, problems: ctx.problems };
}

function byCreation<T extends ConfigObject>(list: T[]): T[] {
  // Istio orders same-host rules by creation time, then name.
  return [...list].sort((a, b) => a.createdMs - b.createdMs || (a.namespace + '/' + a.name < b.namespace + '/' + b.name ? -1 : 1));
}

function warn(ctx: Ctx, obj: ConfigObject, field: FieldPath, message: string): void {
  ctx.problems.push({ severity: 'warning', ...locateField(obj, field), object: obj.ref, field: fieldPath(obj, field), message });
}

function fieldPath(obj: ConfigObject, field: FieldPath): string {
  const parts = [...obj.specPath, ...field];
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** `ns/name` of each Gateway a VirtualService names; `mesh` when it names none. */
export function boundGateways(vs: ConfigObject<VirtualServiceSpec>): string[] {
  const list = vs.spec.gateways && vs.spec.gateways.length > 0 ? vs.spec.gateways : ['mesh'];
  return list.map((g) => qualifyGateway(g, vs.namespace));
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

function exportedTo(vs: ConfigObject<VirtualServiceSpec>, namespace: string): boolean {
  const to = vs.spec.exportTo;
  if (!to || to.length === 0) return true;
  return to.some((e) => e === '*' || (e === '.' && vs.namespace === namespace) || e === namespace);
}

function checkGatewayReferences(ctx: Ctx, vss: ConfigObject<VirtualServiceSpec>[], gateways: Map<string, ConfigObject<GatewaySpec>>): void {
  for (const vs of vss) {
    (vs.spec.gateways ?? []).forEach((g, i) => {
      const ref = qualifyGateway(g, vs.namespace);
      if (ref !== 'mesh' && !gateways.has(ref)) {
        warn(ctx, vs, ['gateways', i], `gateway ${ref} does not exist, so these routes are not served on it`);
      }
    });
  }
}

function checkServedHosts(ctx: Ctx, vss: ConfigObject<VirtualServiceSpec>[], gateways: Map<string, ConfigObject<GatewaySpec>>): void {
  for (const vs of vss) {
    for (const ref of boundGateways(vs)) {
      const gw = gateways.get(ref);
      if (!gw) continue;
      const serverHosts = gw.spec.servers.flatMap((s) => s.hosts.map(parseGatewayHost));
      (vs.spec.hosts ?? []).forEach((h, i) => {
        const ok = serverHosts.some((sh) => intersect(h.toLowerCase(), sh.host) !== undefined && namespaceAllows(sh, vs.namespace, gw.namespace));
        if (!ok) {
          warn(ctx, vs, ['hosts', i], `host ${h} is not among the hosts of gateway ${ref} (${serverHosts.map((s) => (s.namespace === '*' ? s.host : `${s.namespace}/${s.host}`)).join(', ')}) for this namespace, so it is not served there`);
        }
      });
    }
  }
}

function compileHttpRoutes(ctx: Ctx, vs: ConfigObject<VirtualServiceSpec>, gateway: string, port: number): Route[] {
  const out: Route[] = [];
  (vs.spec.http ?? []).forEach((http, index) => {
    const route = compileHttpRoute(ctx, vs, http, index, gateway, port);
    if (route) out.push(route);
  });
  return out;
}

function compileHttpRoute(ctx: Ctx, vs: ConfigObject<VirtualServiceSpec>, http: HTTPRoute, index: number, gateway: string, port: number): Route | undefined {
  let matches: CompiledMatch[] | null = null;
  if (http.match && http.match.length > 0) {
    matches = [];
    for (const m of http.match) {
      if (m.gateways && m.gateways.length > 0 && !m.gateways.map((g) => qualifyGateway(g, vs.namespace)).includes(gateway)) continue;
      if (m.port !== undefined && port !== 0 && m.port !== port) continue;
      matches.push(compileMatch(m));
    }
    // Every condition was for another gateway or port: the route does not exist here.
    if (matches.length === 0) return undefined;
  }
  const timeout = http.timeout !== undefined ? parseDuration(http.timeout)! : DEFAULT_ROUTE_TIMEOUT_MS;
  const destinations = compileDestinations(ctx, vs, http, index);
  if (!destinations) return undefined;
  const totalWeight = destinations.reduce((s, d) => s + d.weight, 0);
  return {
    source: vs.ref,
    index,
    name: http.name,
    matches,
    action: { type: 'forward', destinations, totalWeight },
    timeoutMs: timeout,
  };
}

function compileDestinations(ctx: Ctx, vs: ConfigObject<VirtualServiceSpec>, http: HTTPRoute, index: number): WeightedDestination[] | undefined {
  const list = http.route ?? [];
  if (list.length === 0) return undefined;
  const out: WeightedDestination[] = [];
  const explicit = list.some((d) => (d.weight ?? 0) > 0);
  if (list.length > 1) {
    const sum = list.reduce((s, d) => s + (d.weight ?? 0), 0);
    if (sum !== 100) {
      warn(ctx, vs, ['http', index, 'route'], explicit
        ? `weights add up to ${sum}, not 100; traffic is split in proportion to them`
        : 'several destinations without weights; traffic is split evenly between them');
    }
  }
  list.forEach((d, di) => {
    const field: FieldPath = ['http', index, 'route', di, 'destination'];
    const weight = list.length === 1 ? 100 : explicit ? (d.weight ?? 0) : 1;
    const host = resolveHost(ctx.registry, d.destination.host, vs.namespace);
    const cluster = ensureCluster(ctx, vs, field, host, d.destination.port?.number, d.destination.subset);
    out.push({ cluster: cluster.name, host, port: cluster.port, subset: d.destination.subset, weight });
  });
  return out;
}

function ensureCluster(ctx: Ctx, obj: ConfigObject, field: FieldPath, host: string, portNumber: number | undefined, subset: string | undefined): ClusterConfig {
  const svc = ctx.registry.services.get(host);
  let port = portNumber;
  if (port === undefined) {
    if (svc && svc.ports.length === 1) port = svc.ports[0]!.number;
    else if (svc && svc.ports.length > 1) {
      port = svc.ports[0]!.number;
      warn(ctx, obj, [...field, 'port'], `${host} has several ports (${svc.ports.map((p) => p.number).join(', ')}); name one with port.number (using ${port})`);
    } else port = 80;
  }
  const name = `outbound|${port}|${subset ?? ''}|${host}`;
  const existing = ctx.clusters.get(name);
  if (existing) return existing;

  if (!svc) {
    warn(ctx, obj, [...field, 'host'], `${host} is not in the service registry (no Service or ServiceEntry declares it); requests get 503`);
  } else if (!svc.endpoints.has(port)) {
    warn(ctx, obj, [...field, 'port'], `${host} has no port ${port} (its ports: ${svc.ports.map((p) => p.number).join(', ') || 'none'})`);
  }
  let endpoints = svc?.endpoints.get(port) ?? [];
  if (subset !== undefined) {
    const labels = findSubset(ctx, host, subset);
    if (!labels) {
      warn(ctx, obj, [...field, 'subset'], `subset ${subset} is not defined by any DestinationRule for ${host}; requests get 503`);
      endpoints = [];
    } else {
      endpoints = endpoints.filter((e) => selects(labels, e.labels));
    }
  }
  const cluster: ClusterConfig = {
    name,
    host,
    port,
    subset,
    discovery: svc?.discovery ?? 'none',
    known: svc !== undefined,
    endpoints,
    lb: 'ROUND_ROBIN',
  };
  ctx.clusters.set(name, cluster);
  return cluster;
}

/** The DestinationRule that governs a host: an exact host first, then the most specific wildcard. */
export function destinationRuleFor(ctx: { registry: Registry; destinationRules: ConfigObject<DestinationRuleSpec>[] }, host: string): ConfigObject<DestinationRuleSpec> | undefined {
  let best: ConfigObject<DestinationRuleSpec> | undefined;
  let bestLen = -1;
  for (const dr of ctx.destinationRules) {
    const drHost = resolveHost(ctx.registry, dr.spec.host, dr.namespace);
    if (drHost === host) return dr;
    if (covers(drHost, host) && drHost.length > bestLen) {
      best = dr;
      bestLen = drHost.length;
    }
  }
  return best;
}

function findSubset(ctx: Ctx, host: string, subset: string): Labels | undefined {
  const dr = destinationRuleFor(ctx, host);
  const s = dr?.spec.subsets?.find((x) => x.name === subset);
  return s ? (s.labels ?? {}) : undefined;
}

function compileMatch(m: HTTPMatchRequest): CompiledMatch {
  const headers: HeaderMatcher[] = [];
  for (const [name, s] of Object.entries(m.headers ?? {})) headers.push({ name: name.toLowerCase(), m: stringMatcher(s), invert: false });
  for (const [name, s] of Object.entries(m.withoutHeaders ?? {})) headers.push({ name: name.toLowerCase(), m: stringMatcher(s), invert: true });
  const query = Object.entries(m.queryParams ?? {}).map(([name, s]) => ({ name, m: stringMatcher(s) }));
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
