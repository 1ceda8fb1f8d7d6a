import type { ConfigObject, DestinationRuleSpec, GatewaySpec, Labels, VirtualServiceSpec } from '../config/types.js';
import { selects } from '../registry/labels.js';
import { buildRegistry, CLUSTER_DOMAIN, resolveHost } from '../registry/registry.js';
import { warn, type CompileContext } from './context.js';
import { covers, intersect, namespaceAllows, parseGatewayHost } from './hosts.js';
import { destinationRuleFor } from './policy.js';
import { compileHttpRoutes, DEFAULT_ROUTE_TIMEOUT_MS, ensureCluster, qualifyGateway, withFilters } from './routes.js';
import type { GatewayServer, HttpChainConfig, ListenerConfig, Route, RouteTable, Snapshot, VirtualHost, WeightedDestination } from './snapshot.js';

export { DEFAULT_ROUTE_TIMEOUT_MS, qualifyGateway } from './routes.js';
export { destinationRuleFor } from './policy.js';

export interface CompileOptions {
  /** This gateway's workload labels; a Gateway whose selector does not match is not served. Undefined serves all. */
  labels?: Labels;
  version?: number;
  /** Build the `mesh` listener's table; short host names on it resolve in this namespace. */
  meshNamespace?: string;
}

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

/** Validated objects in, the data plane's immutable Snapshot out. Pure: no sockets, no clock but `builtAt`. */
export function compile(objects: readonly ConfigObject[], opts: CompileOptions = {}): Snapshot {
  const virtualServices = byCreation(objects.filter((o) => o.kind === 'VirtualService')) as ConfigObject<VirtualServiceSpec>[];
  const ctx: CompileContext = {
    registry: buildRegistry(objects),
    problems: [],
    clusters: new Map(),
    destinationRules: byCreation(objects.filter((o) => o.kind === 'DestinationRule')) as ConfigObject<DestinationRuleSpec>[],
    virtualServices,
    reported: new Set(),
    compiled: new Set(),
  };
  const gateways = objects.filter((o) => o.kind === 'Gateway') as ConfigObject<GatewaySpec>[];
  const gatewayIndex = new Map(gateways.map((g) => [`${g.namespace}/${g.name}`, g]));
  const served = gateways.filter((g) => opts.labels === undefined || selects(g.spec.selector, opts.labels));
  // Delegates are compiled inside their root's routes, never on their own.
  const delegates = new Set(virtualServices.flatMap((vs) => (vs.spec.http ?? []).filter((h) => h.delegate).map((h) => `${h.delegate!.namespace ?? vs.namespace}/${h.delegate!.name}`)));
  const roots = virtualServices.filter((vs) => !delegates.has(`${vs.namespace}/${vs.name}`));

  const listeners: ListenerConfig[] = [];
  for (const [port, gws] of gatewayPorts(ctx, served)) listeners.push(gatewayListener(ctx, roots, port, gws));
  if (opts.meshNamespace !== undefined) listeners.push(meshListener(ctx, roots, opts.meshNamespace));

  // Rules no listener serves here (mesh-bound without --mesh-listen, unselected gateways) are
  // still config: check their destinations too, without adding their clusters.
  for (const vs of roots) if (!ctx.compiled.has(vs)) compileHttpRoutes({ ...ctx, clusters: new Map() }, vs, { gateway: 'mesh', port: 0 });

  checkGatewayReferences(ctx, roots, gatewayIndex);
  checkServedHosts(ctx, roots, gatewayIndex);
  checkDestinationRules(ctx);
  // In file order, so an operator reads them top to bottom alongside the YAML.
  ctx.problems.sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
  return { version: opts.version ?? 1, builtAt: new Date(), listeners, clusters: ctx.clusters, problems: ctx.problems };
}

function byCreation<T extends ConfigObject>(list: T[]): T[] {
  // Istio orders same-host rules by creation time, then name.
  return [...list].sort((a, b) => a.createdMs - b.createdMs || (a.namespace + '/' + a.name < b.namespace + '/' + b.name ? -1 : 1));
}

/** One listener per Gateway port, shared by every served Gateway with an HTTP server on it. */
function gatewayPorts(ctx: CompileContext, served: ConfigObject<GatewaySpec>[]): [number, ConfigObject<GatewaySpec>[]][] {
  const ports = new Map<number, ConfigObject<GatewaySpec>[]>();
  for (const gw of served) {
    gw.spec.servers.forEach((server, i) => {
      const protocol = server.port.protocol.toUpperCase();
      if (!HTTP_PROTOCOLS.has(protocol)) {
        warn(ctx, gw, ['servers', i, 'port', 'protocol'], `${protocol} servers are not served yet; port ${server.port.number} is skipped`);
        return;
      }
      const list = ports.get(server.port.number) ?? [];
      if (!list.includes(gw)) list.push(gw);
      ports.set(server.port.number, list);
    });
  }
  return [...ports].sort((a, b) => a[0] - b[0]);
}

/** `ns/name` of each Gateway a VirtualService names; `mesh` when it names none. */
export function boundGateways(vs: ConfigObject<VirtualServiceSpec>): string[] {
  const list = vs.spec.gateways && vs.spec.gateways.length > 0 ? vs.spec.gateways : ['mesh'];
  return list.map((g) => qualifyGateway(g, vs.namespace));
}

function exportedTo(vs: ConfigObject<VirtualServiceSpec>, namespace: string): boolean {
  const to = vs.spec.exportTo;
  if (!to || to.length === 0) return true;
  return to.some((e) => e === '*' || (e === '.' && vs.namespace === namespace) || e === namespace);
}

function newTable(name: string): RouteTable {
  return { name, exact: new Map(), wildcards: [], any: null };
}

function addVirtualHost(table: RouteTable, domain: string, routes: Route[], ports?: number[]): void {
  const vhost: VirtualHost = ports ? { domain, routes, ports } : { domain, routes };
  if (domain === '*') table.any = vhost;
  else if (domain.startsWith('*.')) table.wildcards.push({ suffix: domain.slice(1), vhost });
  else table.exact.set(domain, vhost);
}

function gatewayListener(ctx: CompileContext, roots: ConfigObject<VirtualServiceSpec>[], port: number, gws: ConfigObject<GatewaySpec>[]): ListenerConfig {
  const domains = new Map<string, { vs: ConfigObject<VirtualServiceSpec>; gateway: string }[]>();
  for (const vs of roots) {
    for (const gwRef of boundGateways(vs)) {
      const gw = gws.find((g) => `${g.namespace}/${g.name}` === gwRef);
      if (!gw || !exportedTo(vs, gw.namespace)) continue;
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
  const table = newTable(`http.${port}`);
  for (const [domain, bindings] of domains) {
    addVirtualHost(table, domain, bindings.flatMap(({ vs, gateway }) => compileHttpRoutes(ctx, vs, { gateway, port })));
  }
  table.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  const servers: GatewayServer[] = [];
  for (const gw of gws) {
    gw.spec.servers.forEach((server, index) => {
      if (server.port.number !== port || !HTTP_PROTOCOLS.has(server.port.protocol.toUpperCase())) return;
      servers.push({ gateway: `${gw.namespace}/${gw.name}`, index, name: server.name, port, protocol: server.port.protocol.toUpperCase(), hosts: server.hosts });
    });
  }
  // Istio serves every plain-text HTTP server of a port from one route table, `http.PORT`.
  const chain: HttpChainConfig = {
    type: 'http',
    name: table.name,
    listenerKind: 'gateway',
    port,
    match: { transport: 'raw', serverNames: [] },
    servers: servers.map((sv) => `${sv.gateway} servers[${sv.index}]`),
    routes: table,
  };
  return { name: `gateway:${port}`, kind: 'gateway', port, gateways: gws.map((g) => `${g.namespace}/${g.name}`), servers, chains: [chain] };
}

/**
 * The `mesh` listener: VirtualServices bound to `mesh` (or to no gateway), by service host,
 * plus a plain route to every registry service no such VirtualService covers, as sidecars have.
 */
function meshListener(ctx: CompileContext, roots: ConfigObject<VirtualServiceSpec>[], namespace: string): ListenerConfig {
  const domains = new Map<string, ConfigObject<VirtualServiceSpec>[]>();
  for (const vs of roots) {
    if (!boundGateways(vs).includes('mesh')) continue;
    for (const h of vs.spec.hosts ?? []) {
      const host = resolveHost(ctx.registry, h, vs.namespace);
      const list = domains.get(host) ?? [];
      if (!list.includes(vs)) list.push(vs);
      domains.set(host, list);
    }
  }
  const table = newTable('mesh');
  for (const [domain, vss] of domains) {
    const routes = vss.flatMap((vs) => compileHttpRoutes(ctx, vs, { gateway: 'mesh', port: 0 }));
    addVirtualHost(table, domain, routes, ctx.registry.services.get(domain)?.ports.map((p) => p.number));
  }
  const patterns = [...domains.keys()];
  for (const svc of ctx.registry.services.values()) {
    if (svc.hostname.includes('*') || patterns.some((p) => covers(p, svc.hostname))) continue;
    addVirtualHost(table, svc.hostname, [defaultRoute(ctx, svc.hostname)], svc.ports.map((p) => p.number));
  }
  // Sidecars answer to a service's short names too; so does the mesh listener, for its namespace.
  for (const [domain, vhost] of [...table.exact]) {
    for (const alias of shortNames(domain, namespace)) if (!table.exact.has(alias)) table.exact.set(alias, vhost);
  }
  table.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  const chain: HttpChainConfig = { type: 'http', name: 'mesh', listenerKind: 'mesh', port: 0, match: { transport: 'raw', serverNames: [] }, servers: [], routes: table };
  return { name: 'mesh', kind: 'mesh', port: 0, gateways: ['mesh'], servers: [], chains: [chain] };
}

function shortNames(fqdn: string, namespace: string): string[] {
  const suffix = `.${CLUSTER_DOMAIN}`;
  if (!fqdn.endsWith(suffix)) return [];
  const [name, ns] = fqdn.slice(0, -suffix.length).split('.');
  if (!name || !ns) return [];
  const out = [`${name}.${ns}.svc`, `${name}.${ns}`];
  if (ns === namespace) out.push(name);
  return out;
}

function defaultRoute(ctx: CompileContext, host: string): Route {
  const svc = ctx.registry.services.get(host)!;
  const scope = { gateway: 'mesh', port: 0 };
  const clusterByPort = new Map(svc.ports.map((p) => [p.number, ensureCluster(ctx, host, p.number, undefined, scope).name]));
  const first = svc.ports[0]?.number ?? 80;
  const dest: WeightedDestination = {
    cluster: clusterByPort.get(first) ?? ensureCluster(ctx, host, first, undefined, scope).name,
    host,
    port: first,
    weight: 100,
    clusterByPort,
    requestHeaders: null,
    responseHeaders: null,
  };
  return withFilters({
    source: `${svc.ref} (no VirtualService)`,
    index: 0,
    matches: null,
    action: { type: 'forward', destinations: [dest], totalWeight: 100 },
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

function checkGatewayReferences(ctx: CompileContext, vss: ConfigObject<VirtualServiceSpec>[], gateways: Map<string, ConfigObject<GatewaySpec>>): void {
  for (const vs of vss) {
    (vs.spec.gateways ?? []).forEach((g, i) => {
      const ref = qualifyGateway(g, vs.namespace);
      if (ref !== 'mesh' && !gateways.has(ref)) warn(ctx, vs, ['gateways', i], `gateway ${ref} does not exist, so these routes are not served on it`);
    });
  }
}

function checkServedHosts(ctx: CompileContext, vss: ConfigObject<VirtualServiceSpec>[], gateways: Map<string, ConfigObject<GatewaySpec>>): void {
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

function checkDestinationRules(ctx: CompileContext): void {
  for (const dr of ctx.destinationRules) {
    const host = resolveHost(ctx.registry, dr.spec.host, dr.namespace);
    const known = host.includes('*') ? [...ctx.registry.services.keys()].some((h) => covers(host, h)) : ctx.registry.services.has(host);
    if (!known) warn(ctx, dr, ['host'], `${host} is not in the service registry (no Service or ServiceEntry declares it), so this rule applies to nothing`);
    else if (destinationRuleFor(ctx, host) !== dr && !host.includes('*')) warn(ctx, dr, ['host'], `another DestinationRule for ${host} takes precedence; this one is ignored`);
  }
}
