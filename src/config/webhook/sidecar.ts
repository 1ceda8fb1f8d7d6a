// Istio's webhook rules for Sidecar (pkg/config/validation/validation.go: ValidateSidecar,
// validateSidecarIngressPortAndBind, validateSidecarEgressPortBindAndCaptureMode,
// validateSidecarOutboundTrafficPolicy, and the validateConnectionPool / validateDestination
// parts it reuses).
import {
  reportSelectorLabelErrors,
  asArray,
  asBoolean,
  asNumber,
  asRecord,
  asString,
  goQuote,
  isDNS1123Label,
  isHTTPProtocol,
  isTLSProtocol,
  namespaceSlashWildcardHostnameErrors,
  UNIX_ADDRESS_PREFIX,
  validateFQDN,
  validateIPAddress,
  validatePort,
  validatePortName,
  validateProtocol,
  validateUnixAddress,
  validateWildcardDomain,
  validateWorkloadSelector,
} from './common.js';
import { checkConnectionPool } from './destinationrule.js';
import { checkServerTLSOptions, serverTLSMode } from './gateway.js';
import { Findings, type SpecPath, type WebhookContext, type WebhookFinding } from './types.js';

// defaultEndpoint hosts: the loopback or any-address of either family.
const DEFAULT_ENDPOINT_HOSTS = new Set(['127.0.0.1', '0.0.0.0', '::1', '::']);
const GO_ATOI = /^[+-]?\d+$/;

/** Reports a message once per path: Istio runs overlapping checks whose messages coincide. */
function errorOnce(out: Findings, path: SpecPath, message: string): void {
  const key = JSON.stringify(path);
  if (out.list.some((f) => f.severity === 'error' && f.message === message && JSON.stringify(f.path) === key)) return;
  out.error(path, message);
}


// ---------------------------------------------------------------------------------------------
// Go's net.SplitHostPort and strconv.Atoi, for defaultEndpoint
// ---------------------------------------------------------------------------------------------

type HostPort = { host: string; port: string } | { error: string };

function splitHostPort(hostport: string): HostPort {
  const fail = (why: string): HostPort => ({ error: `address ${hostport}: ${why}` });
  const lastColon = hostport.lastIndexOf(':');
  if (lastColon < 0) return fail('missing port in address');
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return fail("missing ']' in address");
    if (end + 1 === hostport.length) return fail('missing port in address');
    if (end + 1 !== lastColon) return fail(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address');
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, lastColon);
    if (host.includes(':')) return fail('too many colons in address');
  }
  if (hostport.slice(j).includes('[')) return fail("unexpected '[' in address");
  if (hostport.slice(k).includes(']')) return fail("unexpected ']' in address");
  return { host, port: hostport.slice(lastColon + 1) };
}

/** strconv.Atoi: the number, or Go's error text. */
function goAtoi(text: string): number | string {
  if (!GO_ATOI.test(text)) return `strconv.Atoi: parsing ${goQuote(text)}: invalid syntax`;
  const n = BigInt(text);
  if (n > 9_223_372_036_854_775_807n || n < -9_223_372_036_854_775_808n) return `strconv.Atoi: parsing ${goQuote(text)}: value out of range`;
  return Number(n);
}

// ---------------------------------------------------------------------------------------------
// Workload selector
// ---------------------------------------------------------------------------------------------

/** ValidateAlphaWorkloadSelector; true when it found an error (Istio then stops checking). */
function checkWorkloadSelector(spec: Record<string, unknown>, out: Findings): boolean {
  const selector = asRecord(spec.workloadSelector);
  if (!selector) return false;
  const labels = asRecord(selector.labels) ?? {};
  if (reportSelectorLabelErrors(out, ['workloadSelector', 'labels'], labels)) return true;
  // Most likely a mistake, but a warning keeps old configs working.
  for (const warning of validateWorkloadSelector(labels).warnings) {
    out.warn(['workloadSelector'], `sidecar: ${warning}, will be applied to all services in namespace`);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Ingress listeners
// ---------------------------------------------------------------------------------------------

/** validateSidecarIngressPortAndBind */
function checkIngressPortAndBind(port: Record<string, unknown>, bind: string, path: SpecPath, out: Findings): void {
  const name = asString(port.name);
  // The port name is optional.
  if (name !== '') out.errorIf([...path, 'port', 'name'], validatePortName(name));
  out.errorIf([...path, 'port', 'protocol'], validateProtocol(asString(port.protocol)));
  out.errorIf([...path, 'port', 'number'], validatePort(asNumber(port.number)));
  if (bind !== '') out.errorIf([...path, 'bind'], validateIPAddress(bind));
}

/** defaultEndpoint: 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port>, :<port> or unix://path. */
function checkDefaultEndpoint(endpoint: string, path: SpecPath, out: Findings): void {
  if (endpoint.startsWith(UNIX_ADDRESS_PREFIX)) {
    out.errorIf(path, validateUnixAddress(endpoint.slice(UNIX_ADDRESS_PREFIX.length)));
    return;
  }
  const split = splitHostPort(endpoint);
  if ('error' in split) {
    // Istio goes on to report the empty port as not a number as well; the split error says it all.
    out.error(path, split.error);
    return;
  }
  if (split.host !== '' && !DEFAULT_ENDPOINT_HOSTS.has(split.host)) {
    out.error(path, 'sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset');
  }
  const port = goAtoi(split.port);
  if (typeof port === 'string') out.error(path, `sidecar: defaultEndpoint port (${split.port}) is not a number: ${port}`);
  else out.errorIf(path, validatePort(port));
}

/** Sidecar ingress TLS: a subset of the Gateway server's settings. */
function checkIngressTLS(tls: Record<string, unknown>, port: Record<string, unknown>, path: SpecPath, out: Findings): void {
  if (asArray(tls.subjectAltNames).length > 0) out.error([...path, 'subjectAltNames'], 'sidecar: subjectAltNames is not supported in ingress tls');
  if (asBoolean(tls.httpsRedirect)) out.error([...path, 'httpsRedirect'], 'sidecar: httpsRedirect is not supported');
  if (asString(tls.credentialName)) out.error([...path, 'credentialName'], 'sidecar: credentialName is not currently supported');
  if (asArray(tls.credentialNames).length > 0) out.error([...path, 'credentialNames'], 'sidecar: credentialNames is not currently supported');
  if (asArray(tls.tlsCertificates).length > 0) out.error([...path, 'tlsCertificates'], 'sidecar: tls_certificates is not currently supported');
  const mode = serverTLSMode(tls);
  if (mode === 'ISTIO_MUTUAL' || mode === 'AUTO_PASSTHROUGH') {
    out.error([...path, 'mode'], `configuration is invalid: cannot set mode to ${mode} in sidecar ingress tls`);
  }
  if (!isTLSProtocol(asString(port.protocol))) out.error(path, 'server cannot have TLS settings for non HTTPS/TLS ports');
  checkServerTLSOptions(tls, path, out);
}

function checkIngressConnectionPool(pool: Record<string, unknown>, port: Record<string, unknown>, path: SpecPath, out: Findings): void {
  checkConnectionPool(out, path, pool);
  const protocol = asString(port.protocol);
  if (asRecord(pool.http) && !isHTTPProtocol(protocol)) {
    out.warn(
      [...path, 'http'],
      `sidecar: HTTP connection pool settings are configured for port ${asNumber(port.number)} (${goQuote(asString(port.name))}) but its protocol is not HTTP (${protocol}); only TCP settings will apply`,
    );
  }
}

function checkIngress(ingress: readonly unknown[], out: Findings): void {
  const ports = new Set<number>();
  ingress.forEach((raw, i) => {
    const path: SpecPath = ['ingress', i];
    const listener = asRecord(raw);
    if (!listener) return out.error(path, 'sidecar: ingress may not be null');
    const port = asRecord(listener.port);
    if (!port) return out.error([...path, 'port'], 'sidecar: port is required for ingress listeners');
    if (asNumber(port.targetPort) > 0) out.error([...path, 'port', 'targetPort'], 'targetPort has no impact on Sidecars');
    checkIngressPortAndBind(port, asString(listener.bind), path, out);
    const number = asNumber(port.number);
    if (ports.has(number)) out.error([...path, 'port', 'number'], 'sidecar: ports on IP bound listeners must be unique');
    ports.add(number);
    const defaultEndpoint = asString(listener.defaultEndpoint);
    if (defaultEndpoint !== '') checkDefaultEndpoint(defaultEndpoint, [...path, 'defaultEndpoint'], out);
    const tls = asRecord(listener.tls);
    if (tls) checkIngressTLS(tls, port, [...path, 'tls'], out);
    const pool = asRecord(listener.connectionPool);
    if (pool) checkIngressConnectionPool(pool, port, [...path, 'connectionPool'], out);
  });
}

// ---------------------------------------------------------------------------------------------
// Egress listeners
// ---------------------------------------------------------------------------------------------

/** validateSidecarEgressPortBindAndCaptureMode: port 0 means a Unix domain socket listener. */
function checkEgressPortBindAndCaptureMode(port: Record<string, unknown>, bind: string, captureMode: string, path: SpecPath, out: Findings): void {
  const name = asString(port.name);
  if (name !== '') out.errorIf([...path, 'port', 'name'], validatePortName(name));
  out.errorIf([...path, 'port', 'protocol'], validateProtocol(asString(port.protocol)));
  const number = asNumber(port.number);
  if (number !== 0) {
    out.errorIf([...path, 'port', 'number'], validatePort(number));
    if (bind !== '') out.errorIf([...path, 'bind'], validateIPAddress(bind));
    return;
  }
  if (!bind.startsWith(UNIX_ADDRESS_PREFIX)) {
    out.error([...path, 'bind'], 'sidecar: ports with 0 value must have a unix domain socket bind address');
  } else {
    out.errorIf([...path, 'bind'], validateUnixAddress(bind.slice(UNIX_ADDRESS_PREFIX.length)));
  }
  if (captureMode !== 'DEFAULT' && captureMode !== 'NONE') {
    out.error([...path, 'captureMode'], 'sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners');
  }
}

/**
 * Egress hosts: each `namespace/dnsName`; warns when one repeats what an earlier one (or a
 * `ns/*` of the same namespace) already selects, and when `*\/*` sits beside other hosts.
 */
function checkEgressHosts(hosts: readonly unknown[], namespace: string, path: SpecPath, out: Findings): void {
  if (hosts.length === 0) {
    out.error([...path, 'hosts'], 'sidecar: egress listener must contain at least one host');
    return;
  }
  const selected = new Map<string, Set<string>>();
  hosts.forEach((raw, j) => {
    const host = asString(raw);
    const at: SpecPath = [...path, 'hosts', j];
    const slash = host.indexOf('/');
    if (slash >= 0 && !host.startsWith('~')) {
      const ns = host.slice(0, slash) === '.' ? namespace : host.slice(0, slash);
      const name = host.slice(slash + 1);
      const names = selected.get(ns) ?? new Set<string>();
      selected.set(ns, names);
      const duplicate = name !== '*' ? names.has(name) || names.has('*') : names.size !== 0;
      if (duplicate) out.warn(at, `duplicated egress host: ${host}`);
      names.add(name);
    }
    for (const message of namespaceSlashWildcardHostnameErrors(host, false, false)) out.error(at, message);
  });
  if (selected.get('*')?.has('*') && selected.size !== 1) {
    out.warn([...path, 'hosts'], '`*/*` host select all resources, no other hosts can be added');
  }
}

function checkEgress(egress: readonly unknown[], namespace: string, out: Findings): void {
  const ports = new Set<number>();
  const sockets = new Set<string>();
  let catchAllFound = false;
  egress.forEach((raw, i) => {
    const path: SpecPath = ['egress', i];
    const listener = asRecord(raw);
    if (!listener) return out.error(path, 'egress listener may not be null');
    const port = asRecord(listener.port);
    if (!port) {
      // One catch-all listener without a port, and it comes last.
      if (catchAllFound) return out.error(path, 'sidecar: egress can have only one listener with empty port');
      if (i === egress.length - 1) catchAllFound = true;
      else out.error(path, 'sidecar: the egress listener with empty port should be the last listener in the list');
    } else {
      if (asNumber(port.targetPort) > 0) out.error([...path, 'port', 'targetPort'], 'targetPort has no impact on Sidecars');
      const bind = asString(listener.bind);
      checkEgressPortBindAndCaptureMode(port, bind, asString(listener.captureMode) || 'DEFAULT', path, out);
      const number = asNumber(port.number);
      if (number === 0) {
        if (sockets.has(bind)) out.error([...path, 'bind'], 'sidecar: unix domain socket values for listeners must be unique');
        sockets.add(bind);
      } else {
        if (ports.has(number)) out.error([...path, 'port', 'number'], 'sidecar: ports on IP bound listeners must be unique');
        ports.add(number);
      }
    }
    checkEgressHosts(asArray(listener.hosts), namespace, path, out);
  });
}

// ---------------------------------------------------------------------------------------------
// Outbound traffic policy
// ---------------------------------------------------------------------------------------------

/** validateDestination, for the egress proxy. */
function checkEgressProxyDestination(proxy: Record<string, unknown>, path: SpecPath, out: Findings): void {
  const host = asString(proxy.host);
  out.errorIf([...path, 'host'], validateFQDN(host));
  if (host === '*') errorOnce(out, [...path, 'host'], `invalid destination host ${host}`);
  else {
    const invalid = validateWildcardDomain(host);
    if (invalid) errorOnce(out, [...path, 'host'], invalid);
  }
  const subset = asString(proxy.subset);
  if (subset !== '' && !isDNS1123Label(subset)) out.error([...path, 'subset'], `subset name is invalid: ${subset}`);
  const port = asRecord(proxy.port);
  if (port) out.errorIf([...path, 'port', 'number'], validatePort(asNumber(port.number)));
}

/** validateSidecarOutboundTrafficPolicy */
function checkOutboundTrafficPolicy(policy: Record<string, unknown>, out: Findings): void {
  const path: SpecPath = ['outboundTrafficPolicy'];
  const mode = asString(policy.mode) || 'REGISTRY_ONLY';
  if (mode === 'ALLOW_ANY_DYNAMIC_DNS') {
    out.error([...path, 'mode'], 'sidecar: ALLOW_ANY_DYNAMIC_DNS mode is only supported in MeshConfig, not in Sidecar resource');
    return;
  }
  const proxy = asRecord(policy.egressProxy);
  if (!proxy) return;
  if (mode !== 'ALLOW_ANY') {
    out.error([...path, 'egressProxy'], 'sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode');
    return;
  }
  if (!asRecord(proxy.port)) {
    out.errorIf([...path, 'egressProxy', 'host'], validateFQDN(asString(proxy.host)));
    out.error([...path, 'egressProxy', 'port'], 'sidecar: egress_proxy port must be non-nil');
    return;
  }
  checkEgressProxyDestination(proxy, [...path, 'egressProxy'], out);
}

// ---------------------------------------------------------------------------------------------

function isEmptySidecar(spec: Record<string, unknown>): boolean {
  return asArray(spec.egress).length === 0 && asArray(spec.ingress).length === 0 && !asRecord(spec.outboundTrafficPolicy) && !asRecord(spec.inboundConnectionPool);
}

/** ValidateSidecar */
export function checkSidecar(spec: Record<string, unknown>, ctx: WebhookContext): WebhookFinding[] {
  const out = new Findings();
  // Istio stops at a bad selector, and at an empty Sidecar (dropping the warnings so far).
  if (checkWorkloadSelector(spec, out)) return out.list;
  if (isEmptySidecar(spec)) {
    return [{ severity: 'error', path: [], message: 'sidecar: empty configuration provided (set egress, ingress, outboundTrafficPolicy or inboundConnectionPool)' }];
  }
  checkIngress(asArray(spec.ingress), out);
  const inboundPool = asRecord(spec.inboundConnectionPool);
  if (inboundPool) checkConnectionPool(out, ['inboundConnectionPool'], inboundPool);
  checkEgress(asArray(spec.egress), ctx.namespace, out);
  const policy = asRecord(spec.outboundTrafficPolicy);
  if (policy) checkOutboundTrafficPolicy(policy, out);
  return out.list;
}
