import { groupByKind, ofKind, type ObjectsByKind } from '../config/by-kind.js';
import { exportToOf, isExportedTo } from '../config/visibility.js';
import type {
  ConfigObject,
  EndpointPort,
  EndpointSliceBody,
  EndpointsBody,
  KubeServiceSpec,
  Labels,
  ServiceEntrySpec,
  WorkloadEntrySpec,
} from '../config/types.js';
import { selects } from './labels.js';

export const CLUSTER_DOMAIN = 'svc.cluster.local';

/** One upstream address. `address` is an IP, or a DNS name when `resolve` is set. */
export interface Endpoint {
  address: string;
  port: number;
  labels: Labels;
  weight: number;
  /** Pod or workload name, when the config names one (for logs and `routes`). */
  name?: string;
  resolve?: boolean;
}

export interface ServicePortInfo {
  number: number;
  name?: string;
  protocol: string;
}

export type ServiceOrigin = 'Service' | 'ServiceEntry';

export interface RegistryService {
  hostname: string;
  namespace: string;
  origin: ServiceOrigin;
  /** The object that declared it, `Kind ns/name`. */
  ref: string;
  ports: ServicePortInfo[];
  external: boolean;
  /** Endpoints per service port number. */
  endpoints: Map<number, Endpoint[]>;
  /** How endpoints were found, for `routes` and config_dump. */
  discovery: 'Endpoints' | 'EndpointSlice' | 'WorkloadEntry' | 'STATIC' | 'DNS' | 'none';
  /** ServiceEntry `subjectAltNames`: what upstream TLS checks when the DestinationRule names none. */
  subjectAltNames?: string[];
}

export interface Registry {
  services: Map<string, RegistryService>;
  /** Hosts declared but not exported to the proxy's namespace: `host` → the object that declares it. */
  hidden: Map<string, string>;
}

/** `reviews` → `reviews.NS.svc.cluster.local`; `reviews.other` → `reviews.other.svc.cluster.local` when that is known. */
export function resolveHost(registry: Registry, host: string, namespace: string): string {
  const h = host.toLowerCase();
  if (h.includes('*')) return h;
  if (!h.includes('.')) return `${h}.${namespace}.${CLUSTER_DOMAIN}`;
  if (registry.services.has(h)) return h;
  const parts = h.split('.');
  if (parts.length === 2) {
    const fq = `${h}.${CLUSTER_DOMAIN}`;
    if (registry.services.has(fq)) return fq;
  }
  return h;
}

/**
 * The services a proxy in `proxyNamespace` sees (every one when it is undefined): Services and
 * ServiceEntries not exported to that namespace are left out, as Istio leaves them out of the
 * proxy's config.
 */
export function buildRegistry(objects: readonly ConfigObject[], proxyNamespace?: string, kinds: ObjectsByKind = groupByKind(objects)): Registry {
  const services = new Map<string, RegistryService>();
  const hidden = new Map<string, string>();
  const visible = (o: ConfigObject, hosts: readonly string[]) => {
    if (proxyNamespace === undefined || isExportedTo(exportToOf(o), o.namespace, proxyNamespace)) return true;
    for (const h of hosts) if (!hidden.has(h)) hidden.set(h, o.ref);
    return false;
  };
  // By namespace and name, not searched for each Service: 10,000 Services with their Endpoints
  // took 0.6 s searched, and 30,000 nine times that.
  const workloadEntries = byKey(ofKind<WorkloadEntrySpec>(kinds, 'WorkloadEntry'), (w) => w.namespace);
  const endpointsObjs = byKey(ofKind<EndpointsBody>(kinds, 'Endpoints'), (e) => `${e.namespace}/${e.name}`);
  const slices = byKey(ofKind<EndpointSliceBody>(kinds, 'EndpointSlice'), (s) => `${s.namespace}/${s.labels['kubernetes.io/service-name'] ?? ''}`);

  for (const svc of ofKind<KubeServiceSpec>(kinds, 'Service')) {
    const hostname = `${svc.name}.${svc.namespace}.${CLUSTER_DOMAIN}`;
    if (!visible(svc, [hostname])) continue;
    const spec = svc.spec;
    const ports: ServicePortInfo[] = (spec.ports ?? []).map((p) => ({ number: p.port, name: p.name, protocol: protocolOf(p.name, p.appProtocol) }));
    const endpoints = new Map<number, Endpoint[]>();
    let discovery: RegistryService['discovery'] = 'none';

    const key = `${svc.namespace}/${svc.name}`;
    const mySlices = slices.get(key) ?? NONE;
    // Istio reads EndpointSlices when there are any; an Endpoints object describes the same pods.
    const ep = mySlices.length > 0 ? undefined : endpointsObjs.get(key)?.[0];
    const wes = spec.selector && Object.keys(spec.selector).length > 0
      ? (workloadEntries.get(svc.namespace) ?? NONE).filter((w) => selects(spec.selector, weLabels(w)))
      : [];

    if (spec.type === 'ExternalName' && spec.externalName) {
      discovery = 'DNS';
      for (const p of spec.ports ?? []) endpoints.set(p.port, [{ address: spec.externalName, port: p.port, labels: {}, weight: 1, resolve: true }]);
    } else if (ep || mySlices.length > 0 || wes.length > 0) {
      discovery = ep ? 'Endpoints' : mySlices.length > 0 ? 'EndpointSlice' : 'WorkloadEntry';
      for (const p of spec.ports ?? []) {
        const list: Endpoint[] = [];
        if (ep) {
          for (const subset of ep.spec.subsets ?? []) {
            const target = pickEndpointPort(subset.ports ?? [], p.name, spec.ports!.length);
            if (target === undefined) continue;
            for (const a of subset.addresses ?? []) list.push({ address: a.ip, port: target, labels: {}, weight: 1, name: a.targetRef?.name ?? a.hostname });
          }
        }
        for (const s of mySlices) {
          const target = pickEndpointPort(s.spec.ports ?? [], p.name, spec.ports!.length);
          if (target === undefined) continue;
          for (const e of s.spec.endpoints ?? []) {
            if (e.conditions?.ready === false) continue;
            for (const a of e.addresses) list.push({ address: a, port: target, labels: {}, weight: 1, name: e.targetRef?.name, resolve: s.spec.addressType === 'FQDN' });
          }
        }
        for (const w of wes) {
          const target = (p.name !== undefined ? w.spec.ports?.[p.name] : undefined) ?? (typeof p.targetPort === 'number' ? p.targetPort : p.port);
          list.push(workloadEndpoint(w.spec, target, w.name, weLabels(w)));
        }
        endpoints.set(p.port, list);
      }
    } else {
      // Nothing declares where the pods are: ask DNS for the service name, as a pod would.
      discovery = 'DNS';
      for (const p of spec.ports ?? []) endpoints.set(p.port, [{ address: hostname, port: p.port, labels: {}, weight: 1, resolve: true }]);
    }
    services.set(hostname, { hostname, namespace: svc.namespace, origin: 'Service', ref: svc.ref, ports, external: false, endpoints, discovery });
  }

  for (const se of ofKind<ServiceEntrySpec>(kinds, 'ServiceEntry')) {
    const spec = se.spec;
    if (!visible(se, spec.hosts.map((h) => h.toLowerCase()))) continue;
    const resolution = spec.resolution ?? 'NONE';
    const ports: ServicePortInfo[] = (spec.ports ?? []).map((p) => ({ number: p.number, name: p.name, protocol: (p.protocol ?? 'TCP').toUpperCase() }));
    const wes = spec.workloadSelector
      ? (workloadEntries.get(se.namespace) ?? NONE).filter((w) => selects(spec.workloadSelector!.labels, weLabels(w)))
      : [];
    for (const rawHost of spec.hosts) {
      const hostname = rawHost.toLowerCase();
      const endpoints = new Map<number, Endpoint[]>();
      let discovery: RegistryService['discovery'] = 'none';
      for (const p of spec.ports ?? []) {
        const target = p.targetPort ?? p.number;
        const list: Endpoint[] = [];
        if (spec.endpoints && spec.endpoints.length > 0) {
          discovery = resolution === 'STATIC' ? 'STATIC' : 'DNS';
          for (const e of spec.endpoints) {
            const port = (p.name !== undefined ? e.ports?.[p.name] : undefined) ?? target;
            list.push({ ...workloadEndpoint(e, port), resolve: resolution !== 'STATIC' && !isIP(e.address ?? '') });
          }
        } else if (wes.length > 0) {
          discovery = 'WorkloadEntry';
          for (const w of wes) list.push(workloadEndpoint(w.spec, (p.name !== undefined ? w.spec.ports?.[p.name] : undefined) ?? target, w.name, weLabels(w)));
        } else if (resolution !== 'STATIC' && !hostname.includes('*')) {
          discovery = 'DNS';
          list.push({ address: hostname, port: target, labels: {}, weight: 1, resolve: true });
        }
        endpoints.set(p.number, list);
      }
      const existing = services.get(hostname);
      if (existing && existing.origin === 'Service') continue; // a Kubernetes Service of the same name wins, as in Istio
      services.set(hostname, {
        hostname,
        namespace: se.namespace,
        origin: 'ServiceEntry',
        ref: se.ref,
        ports,
        external: (spec.location ?? 'MESH_EXTERNAL') === 'MESH_EXTERNAL',
        endpoints,
        discovery,
        subjectAltNames: spec.subjectAltNames,
      });
    }
  }
  for (const h of services.keys()) hidden.delete(h);
  return { services, hidden };
}

const NONE: readonly never[] = Object.freeze([]);

/** The objects by `key`, each list in the objects' order. */
function byKey<T>(objects: readonly T[], key: (o: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const o of objects) {
    const k = key(o);
    const list = out.get(k);
    if (list === undefined) out.set(k, [o]);
    else list.push(o);
  }
  return out;
}

function weLabels(w: ConfigObject<WorkloadEntrySpec>): Labels {
  // Istio merges a WorkloadEntry's spec.labels with its metadata labels, metadata winning.
  return { ...(w.spec.labels ?? {}), ...w.labels };
}

function workloadEndpoint(spec: WorkloadEntrySpec, port: number, name?: string, labels: Labels = spec.labels ?? {}): Endpoint {
  return { address: spec.address ?? '', port, labels, weight: spec.weight && spec.weight > 0 ? spec.weight : 1, name };
}

/** The endpoint port for a service port: by name, or the only one when the service has one port. */
function pickEndpointPort(ports: readonly EndpointPort[], name: string | undefined, servicePortCount: number): number | undefined {
  if (name !== undefined) {
    const hit = ports.find((p) => p.name === name);
    if (hit) return hit.port;
  }
  if (servicePortCount === 1 && ports.length === 1) return ports[0]!.port;
  return undefined;
}

// The protocols the gateway treats differently; Istio's others (MONGO, MYSQL, REDIS, ...) are TCP to it.
const KNOWN_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'HTTPS', 'GRPC', 'GRPC-WEB', 'TLS', 'TCP']);

/**
 * A Kubernetes port's protocol as Istio's protocol selection reads it: appProtocol when set
 * (with Kubernetes' `kubernetes.io/h2c`), else the port name's prefix (`grpc-web` whole, others
 * up to the first `-`: `http2-api` is HTTP2). Anything else is TCP.
 */
export function protocolOf(name: string | undefined, appProtocol: string | undefined): string {
  let n = appProtocol ?? name ?? '';
  if (appProtocol === 'kubernetes.io/h2c') return 'HTTP2';
  if (appProtocol === 'kubernetes.io/ws' || appProtocol === 'kubernetes.io/wss') return 'HTTP';
  if (n.toLowerCase().startsWith('grpc-web')) return 'GRPC-WEB';
  const dash = n.indexOf('-');
  if (dash >= 0) n = n.slice(0, dash);
  const p = n.toUpperCase();
  return KNOWN_PROTOCOLS.has(p) ? p : 'TCP';
}

function isIP(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || s.includes(':');
}
