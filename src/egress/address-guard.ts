import { BlockList, isIPv4 } from 'node:net';
import os from 'node:os';

// Where a forward proxy must not be steered by a name: the gateway host itself, the link-local
// network (cloud metadata services at 169.254.169.254 and fd00:ec2::254), unspecified addresses.
const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet('127.0.0.0', 8, 'ipv4');
FORBIDDEN.addSubnet('0.0.0.0', 8, 'ipv4');
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4');
FORBIDDEN.addAddress('::1', 'ipv6');
FORBIDDEN.addAddress('::', 'ipv6');
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6');
FORBIDDEN.addAddress('fd00:ec2::254', 'ipv6');
FORBIDDEN.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
FORBIDDEN.addSubnet('::ffff:169.254.0.0', 112, 'ipv6');

/** Why egress may not reach this address, or null. A ServiceEntry that declares the address itself lifts it. */
export function forbiddenAddress(address: string, declared: ReadonlySet<string>): string | null {
  if (declared.has(address)) return null;
  if (!FORBIDDEN.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')) return null;
  if (address.startsWith('169.254.') || address.startsWith('fe80:') || address === 'fd00:ec2::254') return `${address}, which is link-local (cloud metadata services live there)`;
  return `${address}, which is this host (loopback or unspecified)`;
}

// This host's own addresses besides loopback: listeners bound to 0.0.0.0 answer on them too.
let interfaceAddresses: Set<string> | null = null;
let interfacesReadAt = 0;

function ownInterfaceAddresses(): Set<string> {
  const now = Date.now();
  // Re-read now and then: interfaces come and go (DHCP, containers), and reading is cheap.
  if (interfaceAddresses === null || now - interfacesReadAt > 30_000) {
    interfaceAddresses = new Set(Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.split('%')[0]!)));
    interfacesReadAt = now;
  }
  return interfaceAddresses;
}

/** Whether an address is this host (loopback, unspecified, or one of its interfaces): a forward proxy must not tunnel into the gateway's own ports. */
export function isLocalAddress(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (ownInterfaceAddresses().has(a)) return true;
  return FORBIDDEN.check(address, isIPv4(address) ? 'ipv4' : 'ipv6') && !address.startsWith('169.254.') && !address.startsWith('fe80:') && address !== 'fd00:ec2::254';
}
