import { groupByKind, ofKind, type ObjectsByKind } from '../config/by-kind.js';
import type { ConfigObject, ServiceEntrySpec } from '../config/types.js';
import type { RegistryService } from '../registry/registry.js';
import { warn, type CompileContext } from './context.js';
import { ensureCluster } from './routes.js';
import type { EgressPolicy, EgressTarget } from './snapshot.js';

// Istio's root namespace: a Sidecar there without a workloadSelector is the mesh-wide default.
const ROOT_NAMESPACE = 'istio-system';

interface SidecarSpec {
  workloadSelector?: unknown;
  egress?: { hosts: string[] }[];
  outboundTrafficPolicy?: { mode?: string };
}

/** The Sidecar that governs the namespace's workloads: its own namespace-wide one, else the root namespace's. */
function governingSidecar(sidecars: ConfigObject<SidecarSpec>[], namespace: string): ConfigObject<SidecarSpec> | undefined {
  const wide = sidecars.filter((s) => s.spec.workloadSelector === undefined);
  return wide.find((s) => s.namespace === namespace) ?? wide.find((s) => s.namespace === ROOT_NAMESPACE);
}

/** Sidecar `egress.hosts` entry `ns/host`: does it take this service? */
function egressHostAllows(entry: string, sidecarNs: string, svc: RegistryService): boolean {
  const slash = entry.indexOf('/');
  const ns = slash < 0 ? '*' : entry.slice(0, slash);
  const host = (slash < 0 ? entry : entry.slice(slash + 1)).toLowerCase();
  if (ns === '~') return false;
  if (ns !== '*' && (ns === '.' ? sidecarNs : ns) !== svc.namespace) return false;
  if (host === '*') return true;
  if (host.startsWith('*.')) return svc.hostname.endsWith(host.slice(1)) || svc.hostname === host;
  return svc.hostname === host;
}

/**
 * What workloads behind the mesh listener and an egress gateway's forward proxy may reach:
 * registry hosts and ports (narrowed by a Sidecar's egress.hosts), everything with ALLOW_ANY.
 * A port with endpoints goes through its cluster; a port without (resolution NONE, wildcard
 * hosts) is reached by resolving the requested name.
 */
/** Whether the governing Sidecar's egress.hosts let workloads of the namespace reach a service (true without a Sidecar or hosts). */
export function sidecarReach(objects: readonly ConfigObject[], namespace: string): { sidecar: ConfigObject<SidecarSpec> | undefined; allows: (svc: RegistryService) => boolean } {
  const sidecars = objects.filter((o) => o.kind === 'Sidecar') as ConfigObject<SidecarSpec>[];
  const sidecar = governingSidecar(sidecars, namespace);
  const hosts = sidecar?.spec.egress?.flatMap((e) => e.hosts) ?? null;
  return { sidecar, allows: (svc) => hosts === null || hosts.some((h) => egressHostAllows(h, sidecar!.namespace, svc)) };
}

export function egressPolicy(ctx: CompileContext, objects: readonly ConfigObject[], namespace: string): EgressPolicy {
  const { sidecar, allows } = sidecarReach(objects, namespace);
  const mode = sidecar?.spec.outboundTrafficPolicy?.mode === 'ALLOW_ANY' ? 'ALLOW_ANY' : 'REGISTRY_ONLY';
  const declared = ctx.declaredAddresses ?? declaredAddresses(objects);
  const exact = new Map<string, EgressTarget>();
  const wildcards: { suffix: string; target: EgressTarget }[] = [];
  const leftOut = new Map<string, string>();
  for (const svc of ctx.registry.services.values()) {
    if (!allows(svc)) {
      leftOut.set(svc.hostname, svc.ref);
      continue;
    }
    const ports = new Map<number, string | null>();
    for (const p of svc.ports) {
      const eps = svc.endpoints.get(p.number) ?? [];
      ports.set(p.number, eps.length > 0 ? ensureCluster(ctx, svc.hostname, p.number, undefined, { gateway: 'mesh', port: 0 }).name : null);
    }
    const target: EgressTarget = { host: svc.hostname, ref: svc.ref, ports, declared: declared.get(svc.ref) ?? NONE };
    if (svc.hostname.startsWith('*.')) wildcards.push({ suffix: svc.hostname.slice(1), target });
    else if (svc.hostname === '*') wildcards.push({ suffix: '', target });
    else exact.set(svc.hostname, target);
  }
  wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
  if (sidecar?.spec.outboundTrafficPolicy?.mode === 'ALLOW_ANY') {
    warn(ctx, sidecar, ['outboundTrafficPolicy', 'mode'], 'ALLOW_ANY: workloads may reach any host and port through the mesh listener and egress gateways, declared or not (loopback, link-local and metadata addresses stay refused)');
  }
  return { mode, exact, wildcards, leftOut, source: sidecar ? sidecar.ref : 'default (REGISTRY_ONLY)' };
}

const NONE: ReadonlySet<string> = new Set();

/**
 * The addresses each ServiceEntry names itself (endpoints, addresses), by `ServiceEntry ns/name`:
 * the only loopback or link-local ones its hosts may reach. Another entry's addresses do not count.
 */
export function declaredAddresses(objects: readonly ConfigObject[], kinds: ObjectsByKind = groupByKind(objects)): Map<string, ReadonlySet<string>> {
  const out = new Map<string, ReadonlySet<string>>();
  for (const se of ofKind<ServiceEntrySpec>(kinds, 'ServiceEntry')) {
    const set = new Set<string>();
    for (const a of se.spec.addresses ?? []) set.add(a.split('/')[0]!);
    for (const e of se.spec.endpoints ?? []) if (e.address) set.add(e.address);
    out.set(se.ref, set);
  }
  return out;
}

/** The registry entry that declares host:port, or null. */
export function egressTarget(p: EgressPolicy, host: string, port: number): { target: EgressTarget; cluster: string | null } | null {
  const h = host.toLowerCase();
  const exact = p.exact.get(h);
  if (exact !== undefined && exact.ports.has(port)) return { target: exact, cluster: exact.ports.get(port)! };
  for (const w of p.wildcards) {
    if ((w.suffix === '' || (h.endsWith(w.suffix) && h.length > w.suffix.length)) && w.target.ports.has(port)) return { target: w.target, cluster: null };
  }
  return null;
}

/** Why host:port is refused, in words an operator can act on. */
export function refusalReason(p: EgressPolicy, host: string, port: number): string {
  const h = host.toLowerCase();
  const policy = `outbound policy ${p.mode}, ${p.source}`;
  const by = p.leftOut.get(h);
  if (by !== undefined) return `${by} declares ${h}, but ${p.source} leaves it out of its egress.hosts`;
  const exact = p.exact.get(h);
  if (exact !== undefined) return `${exact.ref} declares ${h} on port(s) ${[...exact.ports.keys()].join(', ')}, not ${port} (${policy})`;
  return `no ServiceEntry declares ${h} port ${port} (${policy})`;
}
