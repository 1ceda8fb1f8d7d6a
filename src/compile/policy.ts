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
  const proxyNs = ctx.proxyNamespace;
  if (proxyNs === undefined) return mostSpecific(ctx, ctx.destinationRules, host);
  const svcNs = ctx.registry.services.get(host)?.namespace;
  const local = (dr: ConfigObject<DestinationRuleSpec>) => isNamespacePrivate(dr.spec.exportTo, dr.namespace);
  const exported = (ns: string) => (dr: ConfigObject<DestinationRuleSpec>) =>
    dr.namespace === ns && !local(dr) && isExportedTo(dr.spec.exportTo, dr.namespace, proxyNs);
  const steps: ((dr: ConfigObject<DestinationRuleSpec>) => boolean)[] = [
    proxyNs !== ROOT_NAMESPACE
      ? (dr) => dr.namespace === proxyNs && isExportedTo(dr.spec.exportTo, dr.namespace, dr.namespace)
      : (dr) => dr.namespace === ROOT_NAMESPACE && local(dr),
  ];
  if (svcNs !== undefined) steps.push(exported(svcNs));
  steps.push(exported(ROOT_NAMESPACE));
  for (const step of steps) {
    const hit = mostSpecific(ctx, ctx.destinationRules.filter(step), host);
    if (hit) return hit;
  }
  return undefined;
}

function mostSpecific(ctx: DrLookup, rules: readonly ConfigObject<DestinationRuleSpec>[], host: string): ConfigObject<DestinationRuleSpec> | undefined {
  let best: ConfigObject<DestinationRuleSpec> | undefined;
  let bestLen = -1;
  for (const dr of rules) {
    const drHost = resolveHost(ctx.registry, dr.spec.host, dr.namespace);
    if (drHost === host) return dr;
    if (covers(drHost, host) && drHost.length > bestLen) {
      best = dr;
      bestLen = drHost.length;
    }
  }
  return best;
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
