// Istio's admission webhook for ServiceEntry: ValidateServiceEntry in
// pkg/config/validation/validation.go; STATIC endpoints go through validateWorkloadEntry
// (workloadentry.ts). The CRD schema has passed already, so field types are right; every field may still
// be missing.
import {
  asArray,
  asNumber,
  asRecord,
  asString,
  reportSelectorLabelErrors,
  exportToErrors,
  goQuote,
  isHTTPProtocol,
  isIP,
  isTLSProtocol,
  parseProtocol,
  validateFQDN,
  validateIPSubnet,
  validatePartialWildcard,
  validatePort,
  validatePortName,
  validateProtocol,
  validateWildcardDomain,
  validateWorkloadSelector,
} from './common.js';
import { checkWorkload, checkWorkloadLabels, checkWorkloadPorts } from './workloadentry.js';
import { Findings, type SpecPath, type WebhookContext, type WebhookFinding } from './types.js';

type Obj = Record<string, unknown>;

// Opt-out of the address istiod allocates to a ServiceEntry without one (PILOT_ENABLE_IP_AUTOALLOCATE, on by default).
const AUTOALLOCATE_LABEL = 'networking.istio.io/enable-autoallocate-ip';
const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint';
// Protocols the dynamic forward proxy serves (pilot's buildOutboundClusters).
const DYNAMIC_DNS_PROTOCOLS = new Set(['HTTP', 'TLS', 'GRPC', 'HTTP2']);
// protocol.Instance.IsTCP
const TCP_PROTOCOLS = new Set(['TCP', 'HTTPS', 'TLS', 'Mongo', 'Redis', 'MySQL']);

/** What the rules read once and share. */
interface Entry {
  spec: Obj;
  ctx: WebhookContext;
  resolution: string;
  hosts: string[];
  addresses: string[];
  ports: readonly unknown[];
  endpoints: readonly unknown[];
  selector: Obj | undefined;
  /** The names of the service's ports: endpoint ports must name one of them. */
  portNames: Set<string>;
}

export function checkServiceEntry(spec: Record<string, unknown>, ctx: WebhookContext): WebhookFinding[] {
  const f = new Findings();
  const se: Entry = {
    spec,
    ctx,
    resolution: asString(spec.resolution) || 'NONE',
    hosts: asArray(spec.hosts).map(asString),
    addresses: asArray(spec.addresses).map(asString),
    ports: asArray(spec.ports),
    endpoints: asArray(spec.endpoints),
    selector: asRecord(spec.workloadSelector),
    portNames: new Set(),
  };
  // Istio refuses a bad selector on its own, before looking at anything else.
  if (!checkSelector(f, se)) return f.list;
  checkHosts(f, se);
  checkAddresses(f, se);
  checkPorts(f, se);
  checkResolution(f, se);
  checkMultipleHosts(f, se);
  for (const { index, message } of exportToErrors(ctx.namespace, asArray(spec.exportTo).map(asString), true, false)) {
    f.error(index === undefined ? ['exportTo'] : ['exportTo', index], message);
  }
  return f.list;
}

// ---------------------------------------------------------------------------------------------
// Selector, hosts, addresses, ports
// ---------------------------------------------------------------------------------------------

/** ValidateAlphaWorkloadSelector; false when it refuses the selector (Istio then says nothing else). */
function checkSelector(f: Findings, se: Entry): boolean {
  if (se.selector === undefined) return true;
  const labels = asRecord(se.selector.labels) ?? {};
  if (reportSelectorLabelErrors(f, ['workloadSelector', 'labels'], labels)) return false;
  for (const w of validateWorkloadSelector(labels).warnings) f.warn(['workloadSelector'], `service entry: ${w}, will be applied to all services in namespace`);
  // Go reads `endpoints: []` as no endpoints.
  if (se.endpoints.length > 0) f.error(['endpoints'], 'only one of WorkloadSelector or Endpoints is allowed in Service Entry');
  return true;
}

function checkHosts(f: Findings, se: Entry): void {
  if (se.hosts.length === 0) f.error(['hosts'], 'service entry must have at least one host');
  se.hosts.forEach((host, i) => {
    if (host === '*') {
      f.error(['hosts', i], `invalid host ${host}; a ServiceEntry cannot match every host: list them, or use a wildcard such as *.example.com`);
      return;
    }
    const err = validateWildcardDomain(host);
    if (err) f.error(['hosts', i], err);
    // Only the dynamic forward proxy can serve a partial wildcard such as *foo.com.
    const partial = se.resolution === 'DYNAMIC_DNS' ? undefined : validatePartialWildcard(host);
    if (partial) f.warn(['hosts', i], partial);
  });
}

function checkAddresses(f: Findings, se: Entry): void {
  let firstCidr = -1;
  se.addresses.forEach((address, i) => {
    if (firstCidr < 0 && address.includes('/')) firstCidr = i;
    const err = validateIPSubnet(address);
    if (err) f.error(['addresses', i], err);
  });
  if (firstCidr >= 0 && se.resolution !== 'NONE' && se.resolution !== 'STATIC') {
    f.error(['addresses', firstCidr], 'CIDR addresses are allowed only for NONE/STATIC resolution types');
  }
}

/** serviceentry.ShouldV2AutoAllocateIPFromConfig, with the feature on (its default). */
function autoAllocatesAddress(se: Entry): boolean {
  // An allocated address could not be honoured with resolution NONE.
  if (se.resolution === 'NONE') return false;
  if ((se.ctx.labels[AUTOALLOCATE_LABEL] ?? '').toLowerCase() === 'false') return false;
  return se.addresses.length === 0;
}

function checkPorts(f: Findings, se: Entry): void {
  const autoAllocation = autoAllocatesAddress(se);
  const numbers = new Set<number>();
  se.ports.forEach((raw, i) => {
    const port = asRecord(raw);
    if (port === undefined) {
      f.error(['ports', i], 'service entry port may not be null');
      return;
    }
    const name = asString(port.name);
    const number = asNumber(port.number);
    const protocol = asString(port.protocol);
    if (se.portNames.has(name)) f.error(['ports', i, 'name'], `service entry port name ${goQuote(name)} already defined`);
    se.portNames.add(name);
    if (numbers.has(number)) f.error(['ports', i, 'number'], `service entry port ${number} already defined`);
    numbers.add(number);
    const targetPort = asNumber(port.targetPort);
    if (targetPort !== 0) f.errorIf(['ports', i, 'targetPort'], validatePort(targetPort));
    // Without an address, a TCP port can only be told apart by its number.
    if (se.addresses.length === 0 && !autoAllocation && (protocol === '' || protocol === 'TCP')) {
      f.warn(['ports', i], 'addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled');
    }
    f.errorIf(['ports', i, 'name'], validatePortName(name));
    f.errorIf(['ports', i, 'protocol'], validateProtocol(protocol));
    f.errorIf(['ports', i, 'number'], validatePort(number));
  });
}


// ---------------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------------

function checkResolution(f: Findings, se: Entry): void {
  switch (se.resolution) {
    case 'NONE':
      if (se.endpoints.length > 0) f.error(['endpoints'], 'no endpoints should be provided for resolution type none');
      if (se.selector !== undefined) f.warn(['workloadSelector'], 'workloadSelector should not be set when resolution mode is NONE');
      return;
    case 'STATIC':
      se.endpoints.forEach((raw, i) => {
        const endpoint = asRecord(raw);
        if (endpoint === undefined) f.error(['endpoints', i], 'endpoint cannot be nil');
        else checkWorkload(f, ['endpoints', i], endpoint, se.portNames, false);
      });
      return;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      checkDnsResolution(f, se);
      return;
    case 'DYNAMIC_DNS':
      checkDynamicDnsResolution(f, se);
      return;
    default:
      f.error(['resolution'], `unsupported resolution type ${se.resolution}`);
  }
}

function checkDnsResolution(f: Findings, se: Entry): void {
  if (se.endpoints.length === 0) {
    // The hosts themselves are resolved: a wildcard cannot be. Istio names the first one only.
    const i = se.hosts.findIndex((h) => validateFQDN(h) !== undefined);
    if (i >= 0) {
      f.error(
        ['hosts', i],
        `hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode ${se.resolution}, ${validateFQDN(se.hosts[i]!)}`,
      );
    }
  }
  if (se.resolution === 'DNS_ROUND_ROBIN' && se.endpoints.length > 1) {
    f.error(['endpoints'], `there must only be 0 or 1 endpoint for resolution mode ${se.resolution}`);
  }
  se.endpoints.forEach((raw, i) => {
    const endpoint = asRecord(raw);
    if (endpoint === undefined) f.error(['endpoints', i], 'endpoint cannot be nil');
    else checkDnsEndpoint(f, ['endpoints', i], endpoint, se.portNames);
  });
  if (se.addresses.length > 0) {
    for (let i = 0; i < se.ports.length; i++) {
      const port = asRecord(se.ports[i]);
      if (port === undefined) {
        f.error(['ports', i], 'ports cannot be nil');
        continue;
      }
      if (TCP_PROTOCOLS.has(parseProtocol(asString(port.protocol)))) {
        if (se.hosts.length > 1) {
          f.warn(['hosts'], 'service entry can not have more than one host specified simultaneously with address and tcp port');
        }
        break;
      }
    }
  }
}

function checkDnsEndpoint(f: Findings, path: SpecPath, endpoint: Obj, portNames: ReadonlySet<string>): void {
  const address = asString(endpoint.address);
  if (!isIP(address) && validateFQDN(address) !== undefined) {
    f.error([...path, 'address'], `endpoint address ${goQuote(address)} is not a valid FQDN or an IP address`);
  }
  checkWorkloadLabels(f, [...path, 'labels'], asRecord(endpoint.labels));
  checkWorkloadPorts(f, [...path, 'ports'], asRecord(endpoint.ports), portNames);
}

function checkDynamicDnsResolution(f: Findings, se: Entry): void {
  const resolution = se.resolution;
  if (se.hosts.length === 0) f.error(['hosts'], `at least one wildcard host must be provided for resolution type ${resolution}`);
  se.hosts.forEach((host, i) => {
    if (!host.startsWith('*')) f.error(['hosts', i], `host must be wildcarded for resolution mode ${resolution}`);
  });
  // Istio's messages miss a space ("generatedfrom", "hostsfield"): kept, as operators search for them.
  if (se.addresses.length > 0) {
    f.error(['addresses'], `addresses cannot be set for resolution type ${resolution}. HTTP route domains will only be generatedfrom the hosts field values`);
  }
  if (se.endpoints.length > 0) {
    f.error(['endpoints'], `endpoints cannot be set for resolution type ${resolution}. Destination IP address determined from hostsfield values`);
  }
  se.ports.forEach((raw, i) => {
    const port = asRecord(raw);
    if (port === undefined) {
      f.error(['ports', i], 'port cannot be nil');
    } else if (!DYNAMIC_DNS_PROTOCOLS.has(parseProtocol(asString(port.protocol)))) {
      f.error(['ports', i, 'protocol'], `only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type ${resolution}`);
    }
  });
  const location = asString(se.spec.location) || 'MESH_EXTERNAL';
  if (location !== 'MESH_EXTERNAL' && location !== 'MESH_INTERNAL') {
    f.error(['location'], `location must be MESH_EXTERNAL or MESH_INTERNAL for resolution type ${resolution}`);
  }
  if (location === 'MESH_INTERNAL' && usesWaypoint(se.ctx)) {
    f.error(['location'], `location MESH_INTERNAL with resolution type ${resolution} is not supported when using waypoints`);
  }
}

/** The object is bound to a waypoint: the use-waypoint label names one (not "none"). */
function usesWaypoint(ctx: WebhookContext): boolean {
  const waypoint = ctx.labels[USE_WAYPOINT_LABEL] ?? '';
  return waypoint !== '' && waypoint.toLowerCase() !== 'none';
}

/**
 * Several hosts on one port can only be told apart by HTTP's Host header or TLS's SNI, unless
 * resolution is NONE (the hosts are then ignored).
 */
function checkMultipleHosts(f: Findings, se: Entry): void {
  if (se.resolution === 'NONE' || se.hosts.length <= 1) return;
  for (let i = 0; i < se.ports.length; i++) {
    const port = asRecord(se.ports[i]);
    if (port === undefined) {
      f.error(['ports', i], 'ports cannot be nil');
      continue;
    }
    const protocol = asString(port.protocol);
    if (!isHTTPProtocol(protocol) && !isTLSProtocol(protocol)) {
      f.error(['ports', i, 'protocol'], 'multiple hosts provided with non-HTTP, non-TLS ports');
      break;
    }
  }
}
