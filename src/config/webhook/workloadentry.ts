// Istio's webhook rules for a workload's address, ports and labels (pkg/config/validation:
// validateWorkloadEntry): for a WorkloadEntry, and for each endpoint of a STATIC ServiceEntry.
import {
  asNumber,
  asRecord,
  asString,
  goQuote,
  isIP,
  UNIX_ADDRESS_PREFIX,
  validateFQDN,
  validateLabel,
  validatePort,
  validatePortName,
  validateUnixAddress,
} from './common.js';
import { Findings, type SpecPath, type WebhookContext, type WebhookFinding } from './types.js';

/** ValidateWorkloadEntry: no service ports to check against, and DNS names allowed. */
export function checkWorkloadEntry(spec: Record<string, unknown>, _ctx: WebhookContext): WebhookFinding[] {
  const out = new Findings();
  checkWorkload(out, [], spec, undefined, true);
  return out.list;
}

/**
 * validateWorkloadEntry(we, servicePorts, allowFQDNAddresses). The address may be a Unix socket
 * (unix://path), an IP, or (allowFQDN) a DNS name; `servicePorts` are the port names of the
 * ServiceEntry the workload serves, when there is one.
 */
export function checkWorkload(out: Findings, path: SpecPath, spec: Record<string, unknown>, servicePorts: ReadonlySet<string> | undefined, allowFQDN: boolean): void {
  const address = asString(spec.address);
  if (address === '') {
    const network = asString(spec.network);
    if (network === '') {
      out.error([...path, 'address'], 'address is required');
      return;
    }
    // An endpoint on another network is reached through that network's gateway.
    out.warn([...path, 'address'], `address is unset with network ${goQuote(network)}`);
  }
  const ports = asRecord(spec.ports);
  const unix = address.startsWith(UNIX_ADDRESS_PREFIX);
  if (unix) {
    const invalid = validateUnixAddress(address.slice(UNIX_ADDRESS_PREFIX.length));
    if (invalid) out.error([...path, 'address'], invalid);
    if (Object.keys(ports ?? {}).length !== 0) out.error([...path, 'ports'], `unix endpoint ${address} must not include ports`);
  } else if (address !== '' && !isIP(address)) {
    if (!allowFQDN) out.error([...path, 'address'], `endpoint address ${goQuote(address)} is not a valid IP address; resolution STATIC takes IP addresses, use DNS for host names`);
    else if (validateFQDN(address)) out.error([...path, 'address'], `endpoint address ${goQuote(address)} is not a valid FQDN or an IP address`);
  }
  checkWorkloadPorts(out, [...path, 'ports'], ports, servicePorts);
  checkWorkloadLabels(out, [...path, 'labels'], asRecord(spec.labels));
  // A socket has no port: the one service port is the only one it can serve.
  if (unix && servicePorts !== undefined && servicePorts.size !== 1) out.error([...path, 'address'], 'exactly 1 service port required for unix endpoints');
}

/** A workload's named ports: valid names and numbers, and (with `servicePorts`) ones the service declares. */
export function checkWorkloadPorts(out: Findings, path: SpecPath, ports: Record<string, unknown> | undefined, servicePorts: ReadonlySet<string> | undefined): void {
  for (const [name, raw] of Object.entries(ports ?? {})) {
    const port = asNumber(raw);
    if (servicePorts !== undefined && !servicePorts.has(name)) out.error([...path, name], `endpoint port ${port} is not defined by the service entry`);
    const badName = validatePortName(name);
    if (badName) out.error([...path, name], badName);
    const badNumber = validatePort(port);
    if (badNumber) out.error([...path, name], badNumber);
  }
}

/** labels.Instance.Validate, each mistake at its label. */
export function checkWorkloadLabels(out: Findings, path: SpecPath, labels: Record<string, unknown> | undefined): void {
  for (const [key, value] of Object.entries(labels ?? {})) {
    for (const message of validateLabel(key, asString(value))) out.error([...path, key], message);
  }
}
