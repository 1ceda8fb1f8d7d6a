// Istio's admission webhook for DestinationRule: ValidateDestinationRule and what it calls in
// pkg/config/validation/validation.go (traffic policies, connection pools, load balancers,
// outlier detection, port-level settings, tunnel, proxy protocol) and agent/validation.go
// (ValidateTLS, ValidateLocalityLbSetting, ValidateZoneAwareLbSetting). The CRD schema has passed
// already, so field types are right; every field may still be missing.
import {
  isSet,
  asArray,
  asNumber,
  asRecord,
  asString,
  reportSelectorLabelErrors,
  durationMs,
  exportToErrors,
  goQuote,
  isDNS1123Label,
  validateDuration,
  validateFQDN,
  validateIPAddress,
  validateLabel,
  validatePercent,
  validatePort,
  validateWildcardDomain,
  validateWorkloadSelector,
} from './common.js';
import { Findings, type SpecPath, type WebhookContext, type WebhookFinding } from './types.js';

type Obj = Record<string, unknown>;

/** Where a rule reports: Findings, or a filter of it. */
interface Sink {
  error(path: SpecPath, message: string): void;
  warn(path: SpecPath, message: string): void;
}

// Kubernetes topology labels that zone-aware routing already orders by (label.LabelTopology*).
const TOPOLOGY_LABELS = new Set(['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone']);
const CONFIGMAP_CREDENTIAL_PREFIX = 'configmap://';
const MAGLEV_TABLE_SIZE_LIMIT = 5000011;

export function checkDestinationRule(spec: Record<string, unknown>, ctx: WebhookContext): WebhookFinding[] {
  const f = new Findings();
  const hostError = validateWildcardDomain(asString(spec.host));
  if (hostError) f.error(['host'], hostError);
  checkTrafficPolicy(f, ['trafficPolicy'], spec.trafficPolicy, ctx.namespace);
  checkSubsets(f, asArray(spec.subsets), ctx.namespace);
  const selector = asRecord(spec.workloadSelector);
  checkExportTo(f, asArray(spec.exportTo), ctx.namespace, selector !== undefined);
  if (selector !== undefined) checkWorkloadSelector(f, selector);
  return f.list;
}

/** A message field is set when present, even empty (`tls: {}`); null reads as unset. */
/** A repeated field is set when it holds items: Go reads `[]` as a nil list. */
function hasItems(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0;
}

/**
 * Istio joins what it finds under subsets and portLevelSettings with appendErrors, which keeps the
 * errors and drops the warnings; istioctl prints none of those warnings, so meshgate neither.
 */
function errorsOnly(sink: Sink): Sink {
  return { error: (p, m) => sink.error(p, m), warn: () => undefined };
}

function checkDuration(sink: Sink, path: SpecPath, value: unknown): void {
  if (!isSet(value)) return;
  const err = validateDuration(value);
  if (err) sink.error(path, err);
}

// ---------------------------------------------------------------------------------------------
// Subsets, exportTo, workload selector
// ---------------------------------------------------------------------------------------------

function checkSubsets(f: Findings, subsets: readonly unknown[], namespace: string): void {
  const names = new Set<string>();
  subsets.forEach((raw, i) => {
    const subset = asRecord(raw);
    if (subset === undefined) {
      f.error(['subsets', i], 'subset may not be null');
      return;
    }
    const name = asString(subset.name);
    if (names.has(name)) f.error(['subsets', i, 'name'], `duplicate subset names: ${name}`);
    names.add(name);
    checkSubset(errorsOnly(f), ['subsets', i], subset, namespace);
  });
}

function checkSubset(sink: Sink, path: SpecPath, subset: Obj, namespace: string): void {
  const nameError = validateSubsetName(asString(subset.name));
  if (nameError) sink.error([...path, 'name'], nameError);
  checkLabels(sink, [...path, 'labels'], asRecord(subset.labels));
  checkTrafficPolicy(sink, [...path, 'trafficPolicy'], subset.trafficPolicy, namespace);
}

function validateSubsetName(name: string): string | undefined {
  if (name.length === 0) return 'subset name cannot be empty';
  if (!isDNS1123Label(name)) return `subset name is invalid: ${name}`;
  return undefined;
}

/** labels.Instance.Validate, each mistake at its label. */
function checkLabels(sink: Sink, path: SpecPath, labels: Obj | undefined): void {
  for (const [key, value] of Object.entries(labels ?? {})) {
    for (const err of validateLabel(key, asString(value))) sink.error([...path, key], err);
  }
}

function checkExportTo(f: Findings, exportTo: readonly unknown[], namespace: string, hasSelector: boolean): void {
  const entries = exportTo.map(asString);
  for (const { index, message } of exportToErrors(namespace, entries, false, hasSelector)) {
    f.error(index === undefined ? ['exportTo'] : ['exportTo', index], message);
  }
}

function checkWorkloadSelector(f: Findings, selector: Obj): void {
  const matchLabels = asRecord(selector.matchLabels) ?? {};
  reportSelectorLabelErrors(f, ['workloadSelector', 'matchLabels'], matchLabels);
  for (const w of validateWorkloadSelector(matchLabels).warnings) f.warn(['workloadSelector'], w);
}

// ---------------------------------------------------------------------------------------------
// Traffic policy
// ---------------------------------------------------------------------------------------------

const TRAFFIC_POLICY_FIELDS = ['outlierDetection', 'connectionPool', 'loadBalancer', 'tls', 'portLevelSettings', 'tunnel', 'proxyProtocol', 'retryBudget'];
const PORT_TRAFFIC_POLICY_FIELDS = ['outlierDetection', 'connectionPool', 'loadBalancer', 'tls'];

function hasAnyField(policy: Obj, fields: readonly string[]): boolean {
  return fields.some((name) => (name === 'portLevelSettings' ? hasItems(policy[name]) : isSet(policy[name])));
}

function checkTrafficPolicy(sink: Sink, path: SpecPath, raw: unknown, namespace: string): void {
  const policy = asRecord(raw);
  if (policy === undefined) return;
  if (!hasAnyField(policy, TRAFFIC_POLICY_FIELDS)) {
    sink.error(path, 'traffic policy must have at least one field');
    return;
  }
  if (isSet(policy.tunnel) && isSet(policy.proxyProtocol)) {
    sink.error([...path, 'proxyProtocol'], 'tunnel and proxyProtocol must not be set together');
    return;
  }
  checkOutlierDetection(sink, [...path, 'outlierDetection'], asRecord(policy.outlierDetection));
  checkConnectionPool(sink, [...path, 'connectionPool'], asRecord(policy.connectionPool));
  checkLoadBalancer(sink, [...path, 'loadBalancer'], asRecord(policy.loadBalancer), asRecord(policy.outlierDetection));
  checkClientTls(sink, [...path, 'tls'], asRecord(policy.tls), namespace);
  checkPortTrafficPolicies(errorsOnly(sink), [...path, 'portLevelSettings'], asArray(policy.portLevelSettings), namespace);
  checkTunnel(sink, [...path, 'tunnel'], asRecord(policy.tunnel));
  checkProxyProtocol(sink, [...path, 'proxyProtocol'], asRecord(policy.proxyProtocol));
}

function checkPortTrafficPolicies(sink: Sink, path: SpecPath, policies: readonly unknown[], namespace: string): void {
  policies.forEach((raw, i) => {
    const policy = asRecord(raw);
    if (policy === undefined) {
      sink.error([...path, i], 'traffic policy may not be null');
      return;
    }
    if (!isSet(policy.port)) sink.error([...path, i, 'port'], 'portTrafficPolicy must have valid port');
    if (!hasAnyField(policy, PORT_TRAFFIC_POLICY_FIELDS)) {
      sink.error([...path, i], 'port traffic policy must have at least one field');
      return;
    }
    checkOutlierDetection(sink, [...path, i, 'outlierDetection'], asRecord(policy.outlierDetection));
    checkConnectionPool(sink, [...path, i, 'connectionPool'], asRecord(policy.connectionPool));
    checkLoadBalancer(sink, [...path, i, 'loadBalancer'], asRecord(policy.loadBalancer), asRecord(policy.outlierDetection));
    checkClientTls(sink, [...path, i, 'tls'], asRecord(policy.tls), namespace);
  });
}

function checkProxyProtocol(sink: Sink, path: SpecPath, proxyProtocol: Obj | undefined): void {
  if (proxyProtocol === undefined) return;
  const version = proxyProtocol.version;
  // The CRD's enum already limits it to V1 and V2 (Go's 0 and 1).
  if (isSet(version) && version !== 'V1' && version !== 'V2') sink.error([...path, 'version'], `proxy protocol version is invalid: ${String(version)}`);
}

function checkTunnel(sink: Sink, path: SpecPath, tunnel: Obj | undefined): void {
  if (tunnel === undefined) return;
  const protocol = asString(tunnel.protocol);
  if (protocol !== '' && protocol !== 'CONNECT' && protocol !== 'POST') sink.error([...path, 'protocol'], 'tunnel protocol must be "CONNECT" or "POST"');
  const targetHost = asString(tunnel.targetHost);
  const fqdnError = validateFQDN(targetHost);
  const ipError = validateIPAddress(targetHost);
  if (fqdnError && ipError) sink.error([...path, 'targetHost'], `tunnel target host must be valid FQDN or IP address: ${fqdnError}; ${ipError}`);
  const portError = validatePort(asNumber(tunnel.targetPort));
  if (portError) sink.error([...path, 'targetPort'], `tunnel target port is invalid: ${portError}`);
}

// ---------------------------------------------------------------------------------------------
// Outlier detection and connection pool
// ---------------------------------------------------------------------------------------------

function checkOutlierDetection(sink: Sink, path: SpecPath, outlier: Obj | undefined): void {
  if (outlier === undefined) return;
  checkDuration(sink, [...path, 'baseEjectionTime'], outlier.baseEjectionTime);
  if (asNumber(outlier.consecutiveErrors) !== 0) {
    sink.warn([...path, 'consecutiveErrors'], 'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead');
  }
  if (outlier.splitExternalLocalOriginErrors !== true && asNumber(outlier.consecutiveLocalOriginFailures) > 0) {
    sink.error(
      [...path, 'consecutiveLocalOriginFailures'],
      'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false; set splitExternalLocalOriginErrors: true',
    );
  }
  checkDuration(sink, [...path, 'interval'], outlier.interval);
  for (const field of ['maxEjectionPercent', 'minHealthPercent']) {
    const err = validatePercent(asNumber(outlier[field]));
    if (err) sink.error([...path, field], err);
  }
}

function checkNonNegative(sink: Sink, path: SpecPath, settings: Obj, field: string, message: string): void {
  if (asNumber(settings[field]) < 0) sink.error([...path, field], message);
}

/** validateConnectionPool (also a Sidecar's ingress and inbound pools). */
export function checkConnectionPool(sink: Sink, path: SpecPath, pool: Obj | undefined): void {
  if (pool === undefined) return;
  const http = asRecord(pool.http);
  const tcp = asRecord(pool.tcp);
  if (http === undefined && tcp === undefined) {
    sink.error(path, 'connection pool must have at least one field');
    return;
  }
  if (http !== undefined) checkHttpPool(sink, [...path, 'http'], http);
  if (tcp !== undefined) checkTcpPool(sink, [...path, 'tcp'], tcp);
}

function checkHttpPool(sink: Sink, path: SpecPath, http: Obj): void {
  checkNonNegative(sink, path, http, 'http1MaxPendingRequests', 'http1 max pending requests must be non-negative');
  checkNonNegative(sink, path, http, 'http2MaxRequests', 'http2 max requests must be non-negative');
  checkNonNegative(sink, path, http, 'maxRequestsPerConnection', 'max requests per connection must be non-negative');
  checkNonNegative(sink, path, http, 'maxRetries', 'max retries must be non-negative');
  checkDuration(sink, [...path, 'idleTimeout'], http.idleTimeout);
  if (http.h2UpgradePolicy === 'UPGRADE' && http.useClientProtocol === true) {
    sink.error([...path, 'useClientProtocol'], 'use client protocol must not be true when H2UpgradePolicy is UPGRADE');
  }
  checkNonNegative(sink, path, http, 'maxConcurrentStreams', 'max concurrent streams must be non-negative');
  const keepalive = asRecord(http.http2KeepAlive);
  if (keepalive !== undefined) {
    const at = [...path, 'http2KeepAlive'];
    if (!isSet(keepalive.interval)) sink.error([...at, 'interval'], 'http2 keepalive interval is required');
    else checkDuration(sink, [...at, 'interval'], keepalive.interval);
    if (!isSet(keepalive.timeout)) sink.error([...at, 'timeout'], 'http2 keepalive timeout is required');
    else checkDuration(sink, [...at, 'timeout'], keepalive.timeout);
  }
}

function checkTcpPool(sink: Sink, path: SpecPath, tcp: Obj): void {
  checkNonNegative(sink, path, tcp, 'maxConnections', 'max connections must be non-negative');
  checkDuration(sink, [...path, 'connectTimeout'], tcp.connectTimeout);
  checkDuration(sink, [...path, 'maxConnectionDuration'], tcp.maxConnectionDuration);
  // 0s turns the idle timeout off. Go compares whole milliseconds, so anything under 1ms does too.
  const idleMs = durationMs(tcp.idleTimeout);
  if (isSet(tcp.idleTimeout) && (idleMs === undefined || Math.trunc(idleMs) !== 0)) checkDuration(sink, [...path, 'idleTimeout'], tcp.idleTimeout);
  const keepalive = asRecord(tcp.tcpKeepalive);
  if (keepalive !== undefined) {
    checkDuration(sink, [...path, 'tcpKeepalive', 'time'], keepalive.time);
    checkDuration(sink, [...path, 'tcpKeepalive', 'interval'], keepalive.interval);
  }
}

// ---------------------------------------------------------------------------------------------
// Load balancer
// ---------------------------------------------------------------------------------------------

function checkLoadBalancer(sink: Sink, path: SpecPath, lb: Obj | undefined, outlier: Obj | undefined): void {
  if (lb === undefined) return;
  // simple load balancing is always valid
  const consistentHash = asRecord(lb.consistentHash);
  if (consistentHash !== undefined) checkConsistentHash(sink, [...path, 'consistentHash'], consistentHash);
  const locality = asRecord(lb.localityLbSetting);
  const zoneAware = asRecord(lb.zoneAwareLbSetting);
  if (locality !== undefined && zoneAware !== undefined) {
    sink.error([...path, 'zoneAwareLbSetting'], 'only one of localityLbSetting and zoneAwareLbSetting can be set');
  }
  if (locality !== undefined) checkLocalityLbSetting(sink, [...path, 'localityLbSetting'], locality, outlier);
  if (zoneAware !== undefined) checkZoneAwareLbSetting(sink, [...path, 'zoneAwareLbSetting'], zoneAware, outlier);
  const warmup = asRecord(lb.warmup);
  if (warmup !== undefined) checkWarmup(sink, [...path, 'warmup'], warmup);
}

function checkConsistentHash(sink: Sink, path: SpecPath, hash: Obj): void {
  const cookie = asRecord(hash.httpCookie);
  if (cookie !== undefined) checkHttpCookie(sink, [...path, 'httpCookie'], cookie);
  const minimumRingSize = asNumber(hash.minimumRingSize);
  if (minimumRingSize !== 0) {
    sink.warn([...path, 'minimumRingSize'], "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead");
    if (isSet(hash.ringHash) || isSet(hash.maglev)) sink.error([...path, 'minimumRingSize'], 'only one of MinimumRingSize or Maglev/Ringhash can be specified');
  }
  const maglev = asRecord(hash.maglev);
  if (maglev !== undefined) checkMaglev(sink, [...path, 'maglev', 'tableSize'], asNumber(maglev.tableSize));
}

function checkHttpCookie(sink: Sink, path: SpecPath, cookie: Obj): void {
  if (asString(cookie.name) === '') sink.error([...path, 'name'], 'name required for HttpCookie');
  const seen = new Set<string>();
  asArray(cookie.attributes).forEach((raw, i) => {
    const name = asString(asRecord(raw)?.name);
    if (name === '') {
      sink.error([...path, 'attributes', i, 'name'], 'cookie attribute name cannot be empty');
    } else if (seen.has(name)) {
      sink.error([...path, 'attributes', i, 'name'], `duplicate cookie attribute name: ${name}`);
    } else {
      seen.add(name);
    }
  });
}

function checkMaglev(sink: Sink, path: SpecPath, tableSize: number): void {
  if (tableSize === 0) sink.error(path, 'tableSize must be set for maglev');
  if (tableSize >= MAGLEV_TABLE_SIZE_LIMIT) sink.error(path, `tableSize must be less than ${MAGLEV_TABLE_SIZE_LIMIT} for maglev`);
  if (!isPrime(tableSize)) sink.error(path, 'tableSize must be a prime number for maglev; Envoy defaults to 65537');
}

/** Envoy's Primes::isPrime (source/common/common/utility.cc), which Istio copies to match it. */
function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true; // eliminates special-casing 2.
  if (x % 2 === 0) return false; // eliminates even numbers >2.
  const limit = Math.floor(Math.sqrt(x));
  for (let factor = 3; factor <= limit; factor += 2) {
    if (x % factor === 0) return false;
  }
  return true;
}

function checkWarmup(sink: Sink, path: SpecPath, warmup: Obj): void {
  if (!isSet(warmup.duration)) sink.error([...path, 'duration'], 'duration is required');
  else checkDuration(sink, [...path, 'duration'], warmup.duration);
  if (asNumber(warmup.minimumPercent) > 100) sink.error([...path, 'minimumPercent'], 'minimumPercent value should be less than or equal to 100');
  if (isSet(warmup.aggression) && asNumber(warmup.aggression) <= 0) sink.error([...path, 'aggression'], 'aggression should be greater than 0');
}

// ---------------------------------------------------------------------------------------------
// Locality and zone-aware load balancing (agent.ValidateLocalityLbSetting / ...ZoneAware...)
// ---------------------------------------------------------------------------------------------

const FAILOVER_NEEDS_OUTLIER = 'outlier detection policy must be provided for failover';

function checkLocalityLbSetting(sink: Sink, path: SpecPath, lb: Obj, outlier: Obj | undefined): void {
  const distribute = asArray(lb.distribute);
  const failover = asArray(lb.failover);
  const failoverPriority = asArray(lb.failoverPriority).map(asString);
  // Istio stops at the first of the following mistakes.
  if (distribute.length > 0 && failover.length > 0) {
    sink.error(path, "can not simultaneously specify 'distribute' and 'failover'");
    return;
  }
  if (failover.length > 0) {
    const i = failoverPriority.findIndex((l) => TOPOLOGY_LABELS.has(l));
    if (i >= 0) {
      sink.error([...path, 'failoverPriority', i], `can not simultaneously set 'failover' and topology label '${failoverPriority[i]}' in 'failover_priority'`);
      return;
    }
  }
  if (!checkDistribute(sink, [...path, 'distribute'], distribute)) return;
  if ((failover.length > 0 || failoverPriority.length > 0) && outlier === undefined) sink.warn(path, FAILOVER_NEEDS_OUTLIER);
  failover.forEach((raw, i) => {
    const { from, to } = fromTo(raw);
    const at = [...path, 'failover', i];
    if (from === to) sink.error(at, 'locality lb failover settings must specify different regions');
    if (from.includes('/') || to.includes('/')) sink.error(at, 'locality lb failover only specify region');
    if (from.includes('*') || to.includes('*')) sink.error(at, "locality lb failover region should not contain '*' wildcard");
  });
}

/** The weights of each `distribute` entry, then the localities; false when Istio stops there. */
function checkDistribute(sink: Sink, path: SpecPath, distribute: readonly unknown[]): boolean {
  for (let i = 0; i < distribute.length; i++) {
    const to = asRecord(asRecord(distribute[i])?.to) ?? {};
    let total = 0;
    for (const [locality, weight] of Object.entries(to)) {
      const w = asNumber(weight);
      if (w <= 0 || w > 100) {
        sink.error([...path, i, 'to', locality], 'locality weight must be in range [1, 100]');
        return false;
      }
      total += w;
    }
    if (total !== 100) {
      sink.error([...path, i, 'to'], `total locality weight ${total} != 100`);
      return false;
    }
    const overlap = localitiesError(Object.keys(to));
    if (overlap) sink.error([...path, i, 'to', overlap.locality], overlap.message);
  }
  const sources = distribute.map((d) => asString(asRecord(d)?.from));
  const overlap = localitiesError(sources);
  if (overlap) sink.error([...path, overlap.index, 'from'], overlap.message);
  return true;
}

function fromTo(raw: unknown): { from: string; to: string } {
  const o = asRecord(raw);
  return { from: asString(o?.from), to: asString(o?.to) };
}

function checkZoneAwareLbSetting(sink: Sink, path: SpecPath, lb: Obj, outlier: Obj | undefined): void {
  const failover = asArray(lb.failover);
  const failoverPriority = asArray(lb.failoverPriority).map(asString);
  // Envoy already routes by region, zone and subzone in zone-aware mode: listing those labels again
  // would repeat, or fight, its own order.
  failoverPriority.forEach((label, i) => {
    if (TOPOLOGY_LABELS.has(label)) {
      sink.error(
        [...path, 'failoverPriority', i],
        `'failover_priority' for zone aware lb must not use topology label '${label}'; region- and zone-level routing are handled automatically`,
      );
    }
  });
  if ((failover.length > 0 || failoverPriority.length > 0) && outlier === undefined) sink.warn(path, FAILOVER_NEEDS_OUTLIER);
  failover.forEach((raw, i) => {
    const { from, to } = fromTo(raw);
    const at = [...path, 'failover', i];
    if (from === to) sink.error(at, 'zone aware lb failover settings must specify different regions');
    if (from.includes('/') || to.includes('/')) sink.error(at, 'zone aware lb failover only specifies region; zone and subzone failover are handled automatically');
    if (from.includes('*') || to.includes('*')) sink.error(at, "zone aware lb failover region should not contain '*' wildcard");
  });
}

interface LocalityOverlap {
  index: number;
  locality: string;
  message: string;
}

/**
 * agent.validateLocalities: `region[/zone[/subzone]]`, a `*` only as the last part, and no entry
 * that another one (explicitly or by leaving parts out) already covers. Returns the first mistake.
 */
export function localitiesError(localities: readonly string[]): LocalityOverlap | undefined {
  // region -> zone -> subzone; `*` marks a level left open.
  const seen = new Map<string, Map<string, Set<string>>>();
  for (let index = 0; index < localities.length; index++) {
    const locality = localities[index]!;
    const fail = (message: string): LocalityOverlap => ({ index, locality, message });
    const overlap = fail(`locality ${locality} overlap with previous specified ones`);
    const stars = locality.split('*').length - 1;
    if (stars > 1 || (stars === 1 && !locality.endsWith('*'))) {
      return fail(`locality ${locality} wildcard '*' number can not exceed 1 and must be in the end`);
    }
    if (seen.has('*')) return overlap;
    const parts = splitN(locality, '/', 3);
    if (parts.some((p) => p === '')) return fail(`locality ${locality} must not contain empty region/zone/subzone info`);
    const [region = '', zone = '', subzone = ''] = parts;
    const zones = seen.get(region);
    if (parts.length === 1) {
      if (zones !== undefined) return overlap;
      seen.set(region, new Map([['*', new Set(['*'])]]));
    } else if (parts.length === 2) {
      if (zones === undefined) {
        seen.set(region, new Map([[zone, new Set(['*'])]]));
      } else {
        if (zones.has('*') || zones.has(zone)) return overlap;
        zones.set(zone, new Set(['*']));
      }
    } else if (zones === undefined) {
      seen.set(region, new Map([[zone, new Set([subzone])]]));
    } else {
      if (zones.has('*')) return overlap;
      const subzones = zones.get(zone);
      if (subzones === undefined) {
        zones.set(zone, new Set([subzone]));
      } else {
        if (subzones.has('*') || subzones.has(subzone)) return overlap;
        subzones.add(subzone);
      }
    }
  }
  return undefined;
}

/** Go's strings.SplitN: at most n parts, the last one keeping the rest. */
function splitN(s: string, sep: string, n: number): string[] {
  const parts = s.split(sep);
  return parts.length <= n ? parts : [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

// ---------------------------------------------------------------------------------------------
// Client TLS (agent.ValidateTLS)
// ---------------------------------------------------------------------------------------------

function checkClientTls(sink: Sink, path: SpecPath, tls: Obj | undefined, namespace: string): void {
  if (tls === undefined) return;
  const mode = asString(tls.mode) || 'DISABLE';
  const credentialName = asString(tls.credentialName);
  const caCertificates = asString(tls.caCertificates);
  const hasSans = hasItems(tls.subjectAltNames);
  if (credentialName.startsWith(CONFIGMAP_CREDENTIAL_PREFIX)) {
    const err = configMapCredentialError(credentialName, namespace);
    if (err) sink.error([...path, 'credentialName'], err);
  }
  if (tls.insecureSkipVerify === true) {
    // MUTUAL may carry its CA in the credential too, which cannot be told from the client pair.
    if (mode === 'SIMPLE' && (caCertificates !== '' || credentialName !== '' || hasSans)) {
      sink.error([...path, 'insecureSkipVerify'], 'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true');
    }
    if (mode === 'MUTUAL' && (caCertificates !== '' || hasSans)) {
      sink.error([...path, 'insecureSkipVerify'], 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true');
    }
  }
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && credentialName !== '') {
    // The credential brings the certificates: the inline ones would be ignored.
    const inline = ['clientCertificate', 'caCertificates', 'privateKey', 'caCrl'].find((field) => asString(tls[field]) !== '');
    if (inline !== undefined) sink.error([...path, inline], 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set');
    return;
  }
  if (mode === 'MUTUAL') {
    if (asString(tls.clientCertificate) === '') sink.error([...path, 'clientCertificate'], 'client certificate required for mutual tls');
    if (asString(tls.privateKey) === '') sink.error([...path, 'privateKey'], 'private key required for mutual tls');
  }
}

/** credentials.ParseResourceName for `configmap://namespace/name`, which must name this namespace. */
function configMapCredentialError(credentialName: string, namespace: string): string | undefined {
  const [ns = '', name] = credentialName.slice(CONFIGMAP_CREDENTIAL_PREFIX.length).split('/');
  let parseError: string | undefined;
  if (name === undefined) parseError = `invalid resource name ${goQuote(credentialName)}. Expected namespace and name`;
  else if (ns === '') parseError = `invalid resource name ${goQuote(credentialName)}. Expected namespace`;
  else if (name === '') parseError = `invalid resource name ${goQuote(credentialName)}. Expected name`;
  if (parseError) return `invalid configmap:// credentialName: ${parseError}`;
  if (ns !== namespace || namespace === '') return `invalid configmap:// credentialName: namespace must match the configuration namespace ${goQuote(namespace)}`;
  return undefined;
}
