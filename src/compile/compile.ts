import { groupByKind, ofKind } from '../config/by-kind.js';
import type { FieldPath } from '../config/source.js';
import { derivedOf } from '../config/derived.js';
import type { ConfigObject, DestinationRuleSpec, GatewaySpec, Labels, VirtualServiceSpec } from '../config/types.js';
import { selects } from '../registry/labels.js';
import { buildRegistry, CLUSTER_DOMAIN, resolveHost, type RegistryService } from '../registry/registry.js';
import { warn, type CompileContext } from './context.js';
import { covers, intersect, isWildcard, namespaceAllows, parseGatewayHost } from './hosts.js';
import { destinationRuleFor } from './policy.js';
import type { CompileCache } from './compile-cache.js';
import { byCreation } from './creation-order.js';
import { ROOT_NAMESPACE } from '../config/visibility.js';
import { declaredAddresses, egressPolicy, sidecarReach } from './egress.js';
import { addVirtualHost, boundGateways, finishWildcards, gatewayListener, gatewayPorts, lowerHosts, newTable, putVirtualHost, type TlsInputs } from './gateway-listener.js';
import { directRoute, ensureCluster, hasDelegates, keptRoutes, virtualHostOf } from './routes.js';
import { forgetCompiledPatterns } from './regex.js';
import type { EgressPolicy, HttpChainConfig, ListenerConfig, Route, Snapshot } from './snapshot.js';

const NO_EGRESS: EgressPolicy = { mode: 'REGISTRY_ONLY', exact: new Map(), wildcards: [], leftOut: new Map(), source: 'no forward proxy served' };

export { DEFAULT_ROUTE_TIMEOUT_MS, qualifyGateway } from './routes.js';
export { destinationRuleFor } from './policy.js';
export { boundGateways } from './gateway-listener.js';

export interface CompileOptions {
  /** This gateway's workload labels; a Gateway whose selector does not match is not served. Undefined serves all. */
  labels?: Labels;
  version?: number;
  /** Build the `mesh` listener's table; short host names on it resolve in this namespace. */
  meshNamespace?: string;
  /** Certificates for terminating servers; without them every such server is reported and left out. */
  tls?: TlsInputs;
  /**
   * The namespace this gateway's proxy runs in: exportTo of Services, ServiceEntries and
   * DestinationRules is judged against it. Default: the namespace the served Gateways share,
   * else the mesh listener's, else istio-system.
   */
  proxyNamespace?: string;
  /** Routes kept from the previous compile with this cache, reused where nothing they depend on changed. */
  cache?: CompileCache;
  /**
   * Only the problems are wanted (validate): every HTTP route is resolved as for serving, so it
   * reports the same, but no route object is built; the snapshot's route tables are then empty.
   */
  problemsOnly?: boolean;
}

function defaultProxyNamespace(served: readonly ConfigObject[], opts: CompileOptions): string {
  if (opts.proxyNamespace !== undefined) return opts.proxyNamespace;
  const namespaces = new Set(served.map((g) => g.namespace));
  if (namespaces.size === 1) return [...namespaces][0]!;
  return opts.meshNamespace ?? ROOT_NAMESPACE;
}

// Numbers each compile (CompileContext.compileStamp).
let compiles = 0;

/**
 * Validated objects in, the data plane's immutable Snapshot out. No sockets, no clock but
 * `builtAt`; its virtual hosts build their route objects on first use, against this compile.
 */
export function compile(objects: readonly ConfigObject[], opts: CompileOptions = {}): Snapshot {
  const kinds = groupByKind(objects);
  const vsList = ofKind<VirtualServiceSpec>(kinds, 'VirtualService');
  const virtualServices = opts.cache !== undefined ? opts.cache.inCreationOrder(vsList) : byCreation(vsList);
  const gateways = ofKind<GatewaySpec>(kinds, 'Gateway') as ConfigObject<GatewaySpec>[];
  const served = gateways.filter((g) => opts.labels === undefined || selects(g.spec.selector, opts.labels));
  const proxyNamespace = defaultProxyNamespace(served, opts);
  opts.cache?.begin(kinds, JSON.stringify([opts.labels ?? null, opts.meshNamespace ?? null, proxyNamespace]), opts.tls?.credentials);
  const ctx: CompileContext = {
    registry: buildRegistry(objects, proxyNamespace, kinds),
    proxyNamespace,
    problems: [],
    clusters: new Map(),
    destinationRules: byCreation(ofKind<DestinationRuleSpec>(kinds, 'DestinationRule')),
    virtualServices,
    reported: new Set(),
    compileStamp: ++compiles,
    credentials: opts.tls?.credentials,
    declaredAddresses: declaredAddresses(objects, kinds),
    cache: opts.cache,
    // With a cache the snapshot is served: routes built at once (a root with delegates) would
    // be left empty.
    problemsOnly: opts.problemsOnly === true && opts.cache === undefined,
  };
  const gatewayIndex = new Map(gateways.map((g) => [`${g.namespace}/${g.name}`, g]));
  // Delegates are compiled inside their root's routes, never on their own.
  const delegating = virtualServices.filter(hasDelegates);
  ctx.anyDelegates = delegating.length > 0;
  const delegates = new Set(delegating.flatMap((vs) => (vs.spec.http ?? []).filter((h) => h.delegate).map((h) => `${h.delegate!.namespace ?? vs.namespace}/${h.delegate!.name}`)));
  const roots = delegates.size === 0 ? virtualServices : virtualServices.filter((vs) => !delegates.has(`${vs.namespace}/${vs.name}`));

  const listeners: ListenerConfig[] = [];
  for (const [port, refs] of gatewayPorts(ctx, served)) listeners.push(gatewayListener(ctx, roots, port, refs, opts.tls, opts.labels));
  if (opts.meshNamespace !== undefined) listeners.push(meshListener(ctx, roots, opts.meshNamespace, sidecarReach(objects, opts.meshNamespace).allows));

  // Rules no listener serves here (mesh-bound without --mesh-listen, unselected gateways) are
  // still config: check their destinations too, without adding their clusters.
  for (const vs of roots) if (vs.derived?.compiledIn !== ctx.compileStamp) keptRoutes({ ...ctx, clusters: new Map(), problemsOnly: true }, vs, { gateway: 'mesh', port: 0 });

  // Built only where something proxies forward: it makes a cluster for every registry port.
  const proxies = listeners.some((l) => l.chains.some((c) => c.type === 'http' && c.forwardProxy));
  const egress = proxies ? egressPolicy(ctx, objects, opts.meshNamespace ?? 'istio-system') : NO_EGRESS;

  checkGatewayBindings(ctx, roots, gatewayIndex, opts.cache !== undefined ? { owner: opts.cache, token: opts.cache.gatewaysToken(gateways) } : undefined);
  checkDestinationRules(ctx);
  // In file order, so an operator reads them top to bottom alongside the YAML.
  ctx.problems.sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
  // Routes not built yet keep this context; the record of what was reported is needed no more
  // (a route built later reports into a record of its own), a key per warning.
  ctx.reported.clear();
  forgetCompiledPatterns();
  // Where each object came from is for /config_dump: listed when first asked for, not on every
  // reload (30,000 entries).
  let sources: Snapshot['sources'] | undefined;
  return {
    version: opts.version ?? 1,
    builtAt: new Date(),
    listeners,
    clusters: ctx.clusters,
    problems: ctx.problems,
    egress,
    get sources() {
      return (sources ??= objects.map((o) => (derivedOf(o).source ??= { object: o.ref, file: o.source.file, line: o.source.locate(o.docPath).line })));
    },
  };
}

/**
 * The `mesh` listener: VirtualServices bound to `mesh` (or to no gateway), by service host,
 * plus a plain route to every registry service no such VirtualService covers, as sidecars have.
 */
function meshListener(ctx: CompileContext, roots: ConfigObject<VirtualServiceSpec>[], namespace: string, reachable: (svc: RegistryService) => boolean): ListenerConfig {
  const domains = new Map<string, ConfigObject<VirtualServiceSpec>[]>();
  for (const vs of roots) {
    // A rule with only tls/tcp routes (Istio's egress-gateway task binds those to mesh too)
    // takes nothing from HTTP: the host keeps its default route.
    if (!boundGateways(vs).includes('mesh') || (vs.spec.http ?? []).length === 0) continue;
    for (const h of vs.spec.hosts ?? []) {
      const host = resolveHost(ctx.registry, h, vs.namespace);
      const list = domains.get(host) ?? [];
      if (!list.includes(vs)) list.push(vs);
      domains.set(host, list);
    }
  }
  const table = newTable('mesh');
  for (const [domain, vss] of domains) {
    putVirtualHost(table, virtualHostOf(domain, vss.map((vs) => keptRoutes(ctx, vs, { gateway: 'mesh', port: 0 })), false, portsOf(ctx, domain)));
  }
  // A host without `*` covers only itself (a map lookup): only wildcards are tried one by one.
  // Trying every host against every service was 10,000 x 10,000 for a mesh of 10,000 of each.
  const wildcards = [...domains.keys()].filter(isWildcard);
  for (const svc of ctx.registry.services.values()) {
    if (svc.hostname.includes('*') || domains.has(svc.hostname) || wildcards.some((p) => covers(p, svc.hostname)) || !reachable(svc)) continue;
    addVirtualHost(table, svc.hostname, [defaultRoute(ctx, svc.hostname)], { ports: svc.ports.map((p) => p.number) });
  }
  // Sidecars answer to a service's short names too; so does the mesh listener, for its namespace.
  for (const [domain, vhost] of [...table.exact]) {
    for (const alias of shortNames(domain, namespace)) if (!table.exact.has(alias)) table.exact.set(alias, vhost);
  }
  finishWildcards(table);
  const chain: HttpChainConfig = { type: 'http', name: 'mesh', listenerKind: 'mesh', port: 0, match: { transport: 'raw', serverNames: [] }, servers: [], routes: table, tls: null, forwardProxy: true };
  return { name: 'mesh', kind: 'mesh', port: 0, gateways: ['mesh'], servers: [], chains: [chain] };
}

function portsOf(ctx: CompileContext, host: string): number[] | undefined {
  return ctx.registry.services.get(host)?.ports.map((p) => p.number);
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
  const cluster = clusterByPort.get(first) ?? ensureCluster(ctx, host, first, undefined, scope).name;
  return directRoute(`${svc.ref} (no VirtualService)`, { cluster, host, port: first, clusterByPort });
}

const NO_FINDINGS: readonly { field: FieldPath; message: string }[] = Object.freeze([]);

/**
 * Each VirtualService against the Gateways it names: the ones that do not exist, and its hosts
 * none of their servers accepts. What a VirtualService got is kept on it while the Gateways say
 * the same (`token`, from the compile cache): a reload does not check 30,000 of them again.
 */
function checkGatewayBindings(ctx: CompileContext, vss: ConfigObject<VirtualServiceSpec>[], gateways: Map<string, ConfigObject<GatewaySpec>>, keep: { owner: object; token: number } | undefined): void {
  const hostsOf = new Map<ConfigObject<GatewaySpec>, ReturnType<typeof parseGatewayHost>[]>();
  // Nearly every VirtualService has nothing to report: those share one record.
  const none = keep !== undefined ? { owner: keep.owner, token: keep.token, list: NO_FINDINGS } : undefined;
  for (const vs of vss) {
    const derived = derivedOf(vs);
    const kept = derived.gatewayFindings;
    let findings = keep !== undefined && kept !== undefined && kept.owner === keep.owner && kept.token === keep.token ? kept.list : undefined;
    if (findings === undefined) {
      findings = gatewayFindings(vs, gateways, hostsOf);
      if (keep !== undefined) derived.gatewayFindings = findings === NO_FINDINGS ? none : { owner: keep.owner, token: keep.token, list: findings };
    }
    for (const f of findings) warn(ctx, vs, f.field, f.message);
  }
}

function gatewayFindings(vs: ConfigObject<VirtualServiceSpec>, gateways: Map<string, ConfigObject<GatewaySpec>>, hostsOf: Map<ConfigObject<GatewaySpec>, ReturnType<typeof parseGatewayHost>[]>): readonly { field: FieldPath; message: string }[] {
  let out: { field: FieldPath; message: string }[] | undefined;
  // Plain loops over the names boundGateways keeps: this runs for every VirtualService at start.
  const bound = boundGateways(vs);
  const named = vs.spec.gateways;
  if (named != null && named.length > 0) {
    // boundGateways qualified these very names, one for one.
    for (let i = 0; i < bound.length; i++) {
      const ref = bound[i]!;
      if (ref !== 'mesh' && !gateways.has(ref)) (out ??= []).push({ field: ['gateways', i], message: `gateway ${ref} does not exist, so these routes are not served on it` });
    }
  }
  for (const ref of bound) {
    const gw = gateways.get(ref);
    if (!gw) continue;
    let serverHosts = hostsOf.get(gw);
    if (!serverHosts) hostsOf.set(gw, (serverHosts = gw.spec.servers.flatMap((s) => s.hosts.map(parseGatewayHost))));
    const lower = lowerHosts(vs);
    const hosts = vs.spec.hosts ?? [];
    for (let i = 0; i < hosts.length; i++) {
      const h = hosts[i]!;
      let ok = false;
      for (const sh of serverHosts) {
        if (intersect(lower[i]!, sh.host) !== undefined && namespaceAllows(sh, vs.namespace, gw.namespace)) {
          ok = true;
          break;
        }
      }
      if (!ok) {
        (out ??= []).push({
          field: ['hosts', i],
          message: `host ${h} is not among the hosts of gateway ${ref} (${serverHosts.map((s) => (s.namespace === '*' ? s.host : `${s.namespace}/${s.host}`)).join(', ')}) for this namespace, so it is not served there`,
        });
      }
    }
  }
  return out ?? NO_FINDINGS;
}

function checkDestinationRules(ctx: CompileContext): void {
  for (const dr of ctx.destinationRules) {
    const host = resolveHost(ctx.registry, dr.spec.host, dr.namespace);
    const known = host.includes('*') ? [...ctx.registry.services.keys()].some((h) => covers(host, h)) : ctx.registry.services.has(host);
    const hiddenBy = ctx.registry.hidden.get(host);
    if (!known && hiddenBy !== undefined) warn(ctx, dr, ['host'], `${host} is declared by ${hiddenBy}, which is not exported to namespace ${ctx.proxyNamespace} where this gateway runs, so this rule applies to nothing`);
    else if (!known) warn(ctx, dr, ['host'], `${host} is not in the service registry (no Service or ServiceEntry declares it), so this rule applies to nothing`);
    else if (host.includes('*')) continue;
    else {
      const chosen = destinationRuleFor(ctx, host);
      if (chosen === undefined) {
        const svcNs = ctx.registry.services.get(host)!.namespace;
        warn(ctx, dr, ['exportTo'], `this rule does not apply to this gateway (namespace ${ctx.proxyNamespace}): Istio takes a gateway's DestinationRules from its own namespace, or exported to it from the service's namespace (${svcNs}) or ${ROOT_NAMESPACE}`);
      } else if (chosen !== dr) warn(ctx, dr, ['host'], `another DestinationRule for ${host} takes precedence (${chosen.ref}); this one is ignored`);
    }
  }
}
