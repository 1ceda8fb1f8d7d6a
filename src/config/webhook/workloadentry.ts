// Istio's webhook rules for WorkloadEntry (pkg/config/validation/validation.go:
// ValidateWorkloadEntry → validateWorkloadEntry with no service ports and FQDN addresses allowed).
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
import { Findings, type WebhookContext, type WebhookFinding } from './types.js';

/**
 * The address: a Unix socket (unix://path, for STATIC), an IP (STATIC) or a DNS name (DNS); which
 * one is meant is unknown without the ServiceEntry, so any of them passes. Returns false when Istio
 * stops checking.
 */
function checkAddress(spec: Record<string, unknown>, out: Findings): boolean {
  const address = asString(spec.address);
  const network = asString(spec.network);
  if (address === '') {
    if (network === '') {
      out.error(['address'], 'address is required');
      return false;
    }
    // An endpoint on another network is reached through that network's gateway.
    out.warn(['address'], `address is unset with network ${goQuote(network)}`);
    return true;
  }
  if (address.startsWith(UNIX_ADDRESS_PREFIX)) {
    const invalid = validateUnixAddress(address.slice(UNIX_ADDRESS_PREFIX.length));
    if (invalid) out.error(['address'], invalid);
    if (Object.keys(asRecord(spec.ports) ?? {}).length !== 0) out.error(['ports'], `unix endpoint ${address} must not include ports`);
  } else if (!isIP(address) && validateFQDN(address)) {
    out.error(['address'], `endpoint address ${goQuote(address)} is not a valid FQDN or an IP address`);
  }
  return true;
}

function checkPorts(spec: Record<string, unknown>, out: Findings): void {
  for (const [name, port] of Object.entries(asRecord(spec.ports) ?? {})) {
    const badName = validatePortName(name);
    if (badName) out.error(['ports', name], badName);
    const badNumber = validatePort(asNumber(port));
    if (badNumber) out.error(['ports', name], badNumber);
  }
}

/** labels.Instance.Validate: Kubernetes label keys and values. */
function checkLabels(spec: Record<string, unknown>, out: Findings): void {
  for (const [key, value] of Object.entries(asRecord(spec.labels) ?? {})) {
    for (const message of validateLabel(key, asString(value))) out.error(['labels', key], message);
  }
}

/** ValidateWorkloadEntry */
export function checkWorkloadEntry(spec: Record<string, unknown>, _ctx: WebhookContext): WebhookFinding[] {
  const out = new Findings();
  if (!checkAddress(spec, out)) return out.list;
  checkPorts(spec, out);
  checkLabels(spec, out);
  return out.list;
}
