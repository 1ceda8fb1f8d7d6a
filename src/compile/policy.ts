import { parseDuration } from '../config/duration.js';
import type { ClientTLSSettings, ConfigObject, DestinationRuleSpec, Labels, TrafficPolicy } from '../config/types.js';
import { resolveHost, type Registry } from '../registry/registry.js';
import { isExportedTo, isNamespacePrivate, ROOT_NAMESPACE } from '../config/visibility.js';
import { covers } from './hosts.js';
import { wire } from './wire.js';
import type { HashKey, LbPolicy, OutlierPolicy, PoolLimits } from './snapshot.js';

type DrLookup = { registry: Registry; destinationRules: ConfigObject<DestinationRuleSpec>[]; proxyNamespace?: string };

/**
 * The DestinationRule that governs a host for this proxy, found as Istio finds it
 * (PushContext.destinationRule): the proxy's own namespace first, then rules exported to it from
 * the service's namespace, then from the root namespace. Rules elsewhere do not apply. Within a
 * namespace an exact host wins over the most specific wildcard; same hosts go by creation time.
 */
export function destinationRuleFor(ctx: DrLookup, host: string): ConfigObject<DestinationRuleSpec> | undefined {
  const index = indexOf(ctx);
  if (ctx.proxyNamespace === undefined) return index.own.find(host);
  const svcNs = ctx.registry.services.get(host)?.namespace;
  return index.own.find(host) ?? (svcNs !== undefined ? index.exportedFrom.get(svcNs)?.find(host) : undefined) ?? index.exportedFrom.get(ROOT_NAMESPACE)?.find(host);
}

type Rule = ConfigObject<DestinationRuleSpec>;

/** Rules of one lookup step: exact hosts in a map, wildcards longest first (ties in creation order). */
class RuleSet {
  private readonly exact = new Map<string, Rule>();
  private readonly wildcards: { host: string; rule: Rule }[] = [];

  add(host: string, rule: Rule): void {
    if (host.includes('*')) this.wildcards.push({ host, rule });
    else if (!this.exact.has(host)) this.exact.set(host, rule);
  }

  done(): this {
    this.wildcards.sort((a, b) => b.host.length - a.host.length);
    return this;
  }

  find(host: string): Rule | undefined {
    const hit = this.exact.get(host);
    if (hit) return hit;
    for (const w of this.wildcards) if (covers(w.host, host)) return w.rule;
    return undefined;
  }
}

interface RuleIndex {
  /** The first step: the proxy namespace's own rules (every rule, when there is no proxy namespace). */
  own: RuleSet;
  /** Rules exported to the proxy, by the namespace they are in. */
  exportedFrom: Map<string, RuleSet>;
}

// Built once per compile (per rule list), so a lookup does not scan every rule.
const indexes = new WeakMap<readonly Rule[], Map<string, RuleIndex>>();

function indexOf(ctx: DrLookup): RuleIndex {
  let byProxy = indexes.get(ctx.destinationRules);
  if (!byProxy) indexes.set(ctx.destinationRules, (byProxy = new Map()));
  const key = ctx.proxyNamespace ?? '';
  let index = byProxy.get(key);
  if (!index) byProxy.set(key, (index = buildIndex(ctx)));
  return index;
}

function buildIndex(ctx: DrLookup): RuleIndex {
  const proxyNs = ctx.proxyNamespace;
  const own = new RuleSet();
  const exportedFrom = new Map<string, RuleSet>();
  for (const dr of ctx.destinationRules) {
    const host = resolveHost(ctx.registry, dr.spec.host, dr.namespace);
    if (proxyNs === undefined) {
      own.add(host, dr);
      continue;
    }
    const local = isNamespacePrivate(dr.spec.exportTo, dr.namespace);
    const first = proxyNs !== ROOT_NAMESPACE ? dr.namespace === proxyNs && isExportedTo(dr.spec.exportTo, dr.namespace, dr.namespace) : dr.namespace === ROOT_NAMESPACE && local;
    if (first) own.add(host, dr);
    if (!local && isExportedTo(dr.spec.exportTo, dr.namespace, proxyNs)) {
      let set = exportedFrom.get(dr.namespace);
      if (!set) exportedFrom.set(dr.namespace, (set = new RuleSet()));
      set.add(host, dr);
    }
  }
  own.done();
  for (const set of exportedFrom.values()) set.done();
  return { own, exportedFrom };
}

type PortPolicy = Omit<TrafficPolicy, 'portLevelSettings'>;

/**
 * A traffic policy as it applies to this port. Istio: port-level settings override the
 * destination-level ones wholesale, "default values will be applied to fields omitted in
 * port-level traffic policies" (nothing is inherited).
 */
function forPort(tp: TrafficPolicy | undefined, port: number): PortPolicy {
  if (!tp) return {};
  const { portLevelSettings, ...base } = tp;
  const pl = hasPortLevel(tp, port);
  if (!pl) return base;
  const { port: _p, ...over } = pl;
  return over;
}

function hasPortLevel(tp: TrafficPolicy | undefined, port: number) {
  return tp?.portLevelSettings?.find((p) => p.port?.number === port);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

export interface ClusterPolicy {
  lb: LbPolicy;
  hash: HashKey | null;
  pool: PoolLimits;
  outlier: OutlierPolicy | null;
  subsetLabels?: Labels;
  subsetDefined: boolean;
  /** connectionPool.http.h2UpgradePolicy UPGRADE: speak HTTP/2 to an HTTP port. */
  h2Upgrade: boolean;
  /** The `tls` block that applies (port, subset and rule merged as for the other settings). */
  tls?: ClientTLSSettings;
  policyFrom?: string;
}

const ms = (d: string | undefined, dflt: number) => (d === undefined ? dflt : parseDuration(d) ?? dflt);

// Istio leaves Envoy's circuit breakers effectively unlimited unless a DestinationRule says
// otherwise; 0 stands for "no limit" here.
export const DEFAULT_POOL: PoolLimits = {
  maxConnections: 0,
  maxRequests: 0,
  maxConcurrentStreams: 0,
  maxPendingRequests: 0,
  maxRequestsPerConnection: 0,
  maxRetries: 0,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
};

/** Load balancing, pool limits and outlier detection for one cluster, as Istio merges them: rule, port, subset, subset port. */
export function clusterPolicy(dr: ConfigObject<DestinationRuleSpec> | undefined, port: number, subset: string | undefined): ClusterPolicy {
  let tp = forPort(dr?.spec.trafficPolicy, port);
  let subsetDefined = subset === undefined;
  let subsetLabels: Labels | undefined;
  if (subset !== undefined && dr) {
    const s = dr.spec.subsets?.find((x) => x.name === subset);
    if (s) {
      subsetDefined = true;
      subsetLabels = s.labels ?? {};
      // Subset fields override the rule's one by one; a subset port-level entry replaces them all.
      tp = hasPortLevel(s.trafficPolicy, port) ? forPort(s.trafficPolicy, port) : { ...tp, ...definedOnly(forPort(s.trafficPolicy, port)) };
    }
  }
  const lbSettings = tp.loadBalancer;
  let lb: LbPolicy = 'ROUND_ROBIN';
  let hash: HashKey | null = null;
  const simple = lbSettings?.simple;
  if (simple === 'LEAST_REQUEST' || simple === 'LEAST_CONN') lb = 'LEAST_REQUEST';
  else if (simple === 'RANDOM') lb = 'RANDOM';
  else if (simple === 'PASSTHROUGH') lb = 'PASSTHROUGH';
  const ch = lbSettings?.consistentHash;
  if (ch) {
    if (ch.httpHeaderName) hash = { type: 'header', name: ch.httpHeaderName.toLowerCase() };
    else if (ch.httpCookie) {
      const ttl = ch.httpCookie.ttl !== undefined ? parseDuration(ch.httpCookie.ttl) : undefined;
      hash = { type: 'cookie', name: ch.httpCookie.name, path: ch.httpCookie.path === undefined ? undefined : wire(ch.httpCookie.path), ttlSeconds: ttl === undefined ? undefined : Math.floor(ttl / 1000) };
    } else if (ch.useSourceIp) hash = { type: 'sourceIp' };
    else if (ch.httpQueryParameterName) hash = { type: 'query', name: ch.httpQueryParameterName };
  }
  const cp = tp.connectionPool;
  const pool: PoolLimits = {
    maxConnections: cp?.tcp?.maxConnections ?? 0,
    maxRequests: cp?.http?.http2MaxRequests ?? 0,
    maxConcurrentStreams: cp?.http?.maxConcurrentStreams ?? 0,
    maxPendingRequests: cp?.http?.http1MaxPendingRequests ?? 0,
    maxRequestsPerConnection: cp?.http?.maxRequestsPerConnection ?? 0,
    maxRetries: cp?.http?.maxRetries ?? 0,
    connectTimeoutMs: ms(cp?.tcp?.connectTimeout, DEFAULT_POOL.connectTimeoutMs),
    idleTimeoutMs: ms(cp?.http?.idleTimeout, DEFAULT_POOL.idleTimeoutMs),
  };
  const od = tp.outlierDetection;
  const outlier: OutlierPolicy | null = od
    ? {
        // Envoy's defaults, which Istio keeps: 5 consecutive 5xx, gateway errors off, 10 s sweeps,
        // 30 s base ejection; Istio's own: at most 10 % ejected, panic threshold 0 %.
        consecutive5xx: od.consecutive5xxErrors ?? 5,
        consecutiveGatewayErrors: od.consecutiveGatewayErrors ?? od.consecutiveErrors ?? 0,
        intervalMs: ms(od.interval, 10_000),
        baseEjectionMs: ms(od.baseEjectionTime, 30_000),
        // 0 is proto3's unset for this int32, so Istio keeps its 10 %.
        maxEjectionPercent: od.maxEjectionPercent || 10,
        minHealthPercent: od.minHealthPercent ?? 0,
      }
    : null;
  return { lb, hash, pool, outlier, subsetLabels, subsetDefined, h2Upgrade: cp?.http?.h2UpgradePolicy === 'UPGRADE', tls: tp.tls, policyFrom: dr?.ref };
}
