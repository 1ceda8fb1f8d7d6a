import { describe, expect, it } from 'vitest';
import { parseConfigTexts } from '../../../src/config/load.js';
import { formatProblem } from '../../../src/config/problems.js';
import { buildRegistry, resolveHost, type Endpoint, type Registry } from '../../../src/registry/registry.js';

function registry(text: string): Registry {
  const r = parseConfigTexts([{ file: 'registry.yaml', text, mtimeMs: 0 }], { defaultNamespace: 'default' });
  const bad = r.problems.filter((p) => p.severity !== 'info');
  if (bad.length > 0) throw new Error(`test config has problems:\n${bad.map(formatProblem).join('\n')}`);
  return buildRegistry(r.objects);
}

/** `address:port` of each endpoint, sorted, for order-independent comparisons. */
const addrs = (eps: readonly Endpoint[] | undefined) => (eps ?? []).map((e) => `${e.address}:${e.port}`).sort();

function svc(reg: Registry, host: string) {
  const s = reg.services.get(host);
  if (!s) throw new Error(`${host} is not in the registry (have: ${[...reg.services.keys()].join(', ')})`);
  return s;
}

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
  - {name: grpc-api, port: 9090, targetPort: 19090}
`;

describe('Kubernetes Service', () => {
  it('is host NAME.NS.svc.cluster.local with its ports and protocols', () => {
    const reg = registry(SERVICE);
    expect([...reg.services.keys()]).toEqual(['reviews.bookinfo.svc.cluster.local']);
    const s = svc(reg, 'reviews.bookinfo.svc.cluster.local');
    expect(s.namespace).toBe('bookinfo');
    expect(s.origin).toBe('Service');
    expect(s.ref).toBe('Service bookinfo/reviews');
    expect(s.external).toBe(false);
    expect(s.ports).toEqual([
      { number: 9080, name: 'http', protocol: 'HTTP' },
      { number: 9090, name: 'grpc-api', protocol: 'GRPC' },
    ]);
  });

  it('infers the protocol from appProtocol before the port name', () => {
    const reg = registry(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports:
  - {name: web, port: 80, appProtocol: http}
  - {name: http2-x, port: 81}
  - {name: mysql, port: 3306}
  - {port: 82}
`);
    expect(svc(reg, 'web.shop.svc.cluster.local').ports.map((p) => p.protocol)).toEqual(['HTTP', 'HTTP2', 'TCP', 'TCP']);
  });

  it('without Endpoints, slices or workloads, falls back to DNS on its own name, per port', () => {
    const s = svc(registry(SERVICE), 'reviews.bookinfo.svc.cluster.local');
    expect(s.discovery).toBe('DNS');
    expect(s.endpoints.get(9080)).toEqual([{ address: 'reviews.bookinfo.svc.cluster.local', port: 9080, labels: {}, weight: 1, resolve: true }]);
    expect(s.endpoints.get(9090)).toEqual([{ address: 'reviews.bookinfo.svc.cluster.local', port: 9090, labels: {}, weight: 1, resolve: true }]);
  });

  it('type ExternalName resolves the external name', () => {
    const s = svc(
      registry(`apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  type: ExternalName
  externalName: db.example.org
  ports: [{name: tcp, port: 5432}]
`),
      'db.shop.svc.cluster.local',
    );
    expect(s.discovery).toBe('DNS');
    expect(s.endpoints.get(5432)).toEqual([{ address: 'db.example.org', port: 5432, labels: {}, weight: 1, resolve: true }]);
  });
});

describe('Endpoints', () => {
  const ENDPOINTS = `---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: bookinfo}
subsets:
- addresses:
  - {ip: 10.0.0.1, targetRef: {kind: Pod, name: reviews-v1-a}}
  - {ip: 10.0.0.2, targetRef: {kind: Pod, name: reviews-v1-b}}
  notReadyAddresses:
  - {ip: 10.0.0.9}
  ports:
  - {name: grpc-api, port: 19090}
  - {name: http, port: 8080}
- addresses:
  - {ip: 10.0.0.3}
  ports:
  - {name: http, port: 8081}
`;

  it('maps each service port to the endpoint port of the same name, subset by subset; not-ready addresses are left out', () => {
    const s = svc(registry(SERVICE + ENDPOINTS), 'reviews.bookinfo.svc.cluster.local');
    expect(s.discovery).toBe('Endpoints');
    expect(addrs(s.endpoints.get(9080))).toEqual(['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8081']);
    expect(addrs(s.endpoints.get(9090))).toEqual(['10.0.0.1:19090', '10.0.0.2:19090']);
    expect(s.endpoints.get(9080)!.find((e) => e.address === '10.0.0.1')!.name).toBe('reviews-v1-a');
  });

  it('with one service port and one unnamed endpoint port, uses that port', () => {
    const s = svc(
      registry(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: shop}
subsets:
- addresses: [{ip: 10.1.0.1}, {ip: 10.1.0.2}]
  ports: [{port: 8080}]
`),
      'web.shop.svc.cluster.local',
    );
    expect(addrs(s.endpoints.get(80))).toEqual(['10.1.0.1:8080', '10.1.0.2:8080']);
  });

  it('only Endpoints of the same name and namespace count', () => {
    const s = svc(
      registry(
        SERVICE +
          `---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: other}
subsets: [{addresses: [{ip: 10.9.9.9}], ports: [{name: http, port: 1}]}]
`,
      ),
      'reviews.bookinfo.svc.cluster.local',
    );
    expect(s.discovery).toBe('DNS');
  });
});

describe('EndpointSlice', () => {
  const slice = (name: string, ns: string, service: string | null, body: string) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}
  namespace: ${ns}
${service ? `  labels: {kubernetes.io/service-name: ${service}}\n` : ''}addressType: IPv4
${body}`;

  it('takes ready endpoints of slices labelled kubernetes.io/service-name, ports by name', () => {
    const text =
      SERVICE +
      slice(
        'reviews-a',
        'bookinfo',
        'reviews',
        `endpoints:
- addresses: [10.0.1.1]
  conditions: {ready: true}
- addresses: [10.0.1.2]
  conditions: {ready: false, serving: true, terminating: true}
- addresses: [10.0.1.3]
ports:
- {name: http, port: 8080}
- {name: grpc-api, port: 19090}
`,
      ) +
      slice('reviews-b', 'bookinfo', 'reviews', `endpoints:\n- addresses: [10.0.2.1]\n  conditions: {ready: true}\nports:\n- {name: http, port: 8081}\n`) +
      slice('unlabelled', 'bookinfo', null, `endpoints:\n- addresses: [10.6.6.6]\nports:\n- {name: http, port: 8080}\n`) +
      slice('other-svc', 'bookinfo', 'ratings', `endpoints:\n- addresses: [10.7.7.7]\nports:\n- {name: http, port: 8080}\n`) +
      slice('other-ns', 'elsewhere', 'reviews', `endpoints:\n- addresses: [10.8.8.8]\nports:\n- {name: http, port: 8080}\n`);
    const s = svc(registry(text), 'reviews.bookinfo.svc.cluster.local');
    expect(s.discovery).toBe('EndpointSlice');
    expect(addrs(s.endpoints.get(9080))).toEqual(['10.0.1.1:8080', '10.0.1.3:8080', '10.0.2.1:8081']);
    expect(addrs(s.endpoints.get(9090))).toEqual(['10.0.1.1:19090', '10.0.1.3:19090']);
    expect(s.endpoints.get(9080)!.every((e) => !e.resolve)).toBe(true);
  });

  it('an FQDN slice is resolved by DNS', () => {
    const s = svc(
      registry(
        `apiVersion: v1
kind: Service
metadata: {name: ext, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
` + slice('ext-1', 'shop', 'ext', `endpoints:\n- addresses: [api.example.org]\nports:\n- {name: http, port: 8080}\n`).replace('addressType: IPv4', 'addressType: FQDN'),
      ),
      'ext.shop.svc.cluster.local',
    );
    expect(s.endpoints.get(80)).toMatchObject([{ address: 'api.example.org', port: 8080, resolve: true }]);
  });

  it('an Endpoints and an EndpointSlice describing the same pods count each pod once', () => {
    // `kubectl get endpoints,endpointslices -o yaml` dumps both views of the same pods; Istio
    // reads one of them (EndpointSlice), so each pod is one endpoint, not two.
    const text =
      SERVICE +
      `---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: bookinfo}
subsets:
- addresses: [{ip: 10.0.0.1}, {ip: 10.0.0.2}]
  ports: [{name: http, port: 8080}, {name: grpc-api, port: 19090}]
` +
      slice('reviews-x', 'bookinfo', 'reviews', `endpoints:\n- addresses: [10.0.0.1]\n- addresses: [10.0.0.2]\nports:\n- {name: http, port: 8080}\n- {name: grpc-api, port: 19090}\n`);
    const s = svc(registry(text), 'reviews.bookinfo.svc.cluster.local');
    expect(addrs(s.endpoints.get(9080))).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
    expect(addrs(s.endpoints.get(9090))).toEqual(['10.0.0.1:19090', '10.0.0.2:19090']);
  });
});

describe('ServiceEntry', () => {
  it('STATIC endpoints: ports map by port name, else targetPort, else the port number; labels and weight kept', () => {
    const reg = registry(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy, namespace: shop}
spec:
  hosts: [legacy.shop.internal, legacy-alias.shop.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 8443, name: https, protocol: TLS, targetPort: 9443}
  endpoints:
  - address: 10.2.0.1
    ports: {http: 8080}
    labels: {version: v1}
  - address: 10.2.0.2
    ports: {http: 8081, https: 10443}
    labels: {version: v2}
    weight: 3
`);
    expect([...reg.services.keys()]).toEqual(['legacy.shop.internal', 'legacy-alias.shop.internal']);
    const s = svc(reg, 'legacy.shop.internal');
    expect(s.origin).toBe('ServiceEntry');
    expect(s.ref).toBe('ServiceEntry shop/legacy');
    expect(s.discovery).toBe('STATIC');
    expect(s.external).toBe(false);
    expect(s.ports).toEqual([
      { number: 80, name: 'http', protocol: 'HTTP' },
      { number: 8443, name: 'https', protocol: 'TLS' },
    ]);
    expect(s.endpoints.get(80)).toEqual([
      { address: '10.2.0.1', port: 8080, labels: { version: 'v1' }, weight: 1, name: undefined, resolve: false },
      { address: '10.2.0.2', port: 8081, labels: { version: 'v2' }, weight: 3, name: undefined, resolve: false },
    ]);
    expect(addrs(s.endpoints.get(8443))).toEqual(['10.2.0.1:9443', '10.2.0.2:10443']);
    expect(addrs(svc(reg, 'legacy-alias.shop.internal').endpoints.get(80))).toEqual(['10.2.0.1:8080', '10.2.0.2:8081']);
  });

  it('hosts are case-insensitive and MESH_EXTERNAL is the default location', () => {
    const reg = registry(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: shop}
spec:
  hosts: [API.Example.ORG]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
`);
    const s = svc(reg, 'api.example.org');
    expect(s.external).toBe(true);
    expect(s.discovery).toBe('DNS');
    expect(s.endpoints.get(443)).toEqual([{ address: 'api.example.org', port: 443, labels: {}, weight: 1, resolve: true }]);
  });

  it('DNS endpoints: names are resolved, IP addresses are used as they are', () => {
    const s = svc(
      registry(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: mirrors, namespace: shop}
spec:
  hosts: [mirrors.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  endpoints:
  - address: eu.mirrors.example.org
  - address: 192.0.2.10
    ports: {http: 8080}
`),
      'mirrors.example.org',
    );
    expect(s.discovery).toBe('DNS');
    expect(s.endpoints.get(80)!.map((e) => [e.address, e.port, e.resolve])).toEqual([
      ['eu.mirrors.example.org', 80, true],
      ['192.0.2.10', 8080, false],
    ]);
  });

  it('a STATIC entry without endpoints and a wildcard host have no endpoints', () => {
    const reg = registry(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: empty, namespace: shop}
spec:
  hosts: [empty.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wild, namespace: shop}
spec:
  hosts: ["*.wild.example.org"]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: NONE
`);
    expect(svc(reg, 'empty.example.org').endpoints.get(80)).toEqual([]);
    expect(svc(reg, '*.wild.example.org').endpoints.get(443)).toEqual([]);
  });

  it('workloadSelector selects WorkloadEntries of its namespace by labels (spec.labels or metadata.labels)', () => {
    const reg = registry(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms, namespace: shop}
spec:
  hosts: [vm.shop.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 9000, name: admin, protocol: HTTP, targetPort: 9001}
  workloadSelector:
    labels: {app: vm-app}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: shop}
spec:
  address: 10.3.0.1
  labels: {app: vm-app, version: v1}
  ports: {http: 8080}
---
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: vm-2
  namespace: shop
  labels: {app: vm-app}
spec:
  address: 10.3.0.2
  labels: {version: v2}
  weight: 2
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-other-app, namespace: shop}
spec: {address: 10.3.0.3, labels: {app: other}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-other-ns, namespace: elsewhere}
spec: {address: 10.3.0.4, labels: {app: vm-app}}
`);
    const s = svc(reg, 'vm.shop.internal');
    expect(s.discovery).toBe('WorkloadEntry');
    expect(s.endpoints.get(80)!.map((e) => [e.name, e.address, e.port, e.weight])).toEqual([
      ['vm-1', '10.3.0.1', 8080, 1],
      ['vm-2', '10.3.0.2', 80, 2],
    ]);
    expect(addrs(s.endpoints.get(9000))).toEqual(['10.3.0.1:9001', '10.3.0.2:9001']);
    expect(s.endpoints.get(80)!.map((e) => e.labels.version)).toEqual(['v1', 'v2']);
  });

  it('a Kubernetes Service of the same host wins over a ServiceEntry', () => {
    const reg = registry(
      SERVICE +
        `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: shadow, namespace: bookinfo}
spec:
  hosts: [reviews.bookinfo.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.9.9.9}]
`,
    );
    const s = svc(reg, 'reviews.bookinfo.svc.cluster.local');
    expect(s.origin).toBe('Service');
    expect(addrs(s.endpoints.get(9080))).not.toContain('10.9.9.9:9080');
  });
});

describe('Kubernetes Service selecting WorkloadEntries', () => {
  it('takes the port by service port name in the WorkloadEntry ports, else targetPort, else the port', () => {
    const reg = registry(`apiVersion: v1
kind: Service
metadata: {name: billing, namespace: shop}
spec:
  selector: {app: billing}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: metrics, port: 9100, targetPort: 19100}
  - {name: plain, port: 7000}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: billing-vm-1, namespace: shop}
spec:
  address: 10.4.0.1
  labels: {app: billing}
  ports: {http: 18080}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: billing-vm-2, namespace: shop}
spec:
  address: 10.4.0.2
  labels: {app: billing, zone: b}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: not-billing, namespace: shop}
spec: {address: 10.4.0.3, labels: {app: payments}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: billing-elsewhere, namespace: other}
spec: {address: 10.4.0.4, labels: {app: billing}}
`);
    const s = svc(reg, 'billing.shop.svc.cluster.local');
    expect(s.discovery).toBe('WorkloadEntry');
    expect(addrs(s.endpoints.get(80))).toEqual(['10.4.0.1:18080', '10.4.0.2:8080']);
    expect(addrs(s.endpoints.get(9100))).toEqual(['10.4.0.1:19100', '10.4.0.2:19100']);
    expect(addrs(s.endpoints.get(7000))).toEqual(['10.4.0.1:7000', '10.4.0.2:7000']);
    expect(s.endpoints.get(80)!.map((e) => e.name).sort()).toEqual(['billing-vm-1', 'billing-vm-2']);
  });

  it('a Service without a selector selects no WorkloadEntry', () => {
    const reg = registry(`apiVersion: v1
kind: Service
metadata: {name: manual, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: any, namespace: shop}
spec: {address: 10.5.0.1, labels: {app: manual}}
`);
    expect(svc(reg, 'manual.shop.svc.cluster.local').discovery).toBe('DNS');
  });
});

describe('resolveHost', () => {
  const reg = registry(
    SERVICE +
      `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: shop}
spec:
  hosts: [api.example.org]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
`,
  );

  it('a short name is NAME.NS.svc.cluster.local in the namespace of the object that names it', () => {
    expect(resolveHost(reg, 'reviews', 'bookinfo')).toBe('reviews.bookinfo.svc.cluster.local');
    expect(resolveHost(reg, 'reviews', 'shop')).toBe('reviews.shop.svc.cluster.local');
    expect(resolveHost(reg, 'Reviews', 'bookinfo')).toBe('reviews.bookinfo.svc.cluster.local');
  });

  it('NAME.NS is the service NAME of namespace NS when the registry has it', () => {
    expect(resolveHost(reg, 'reviews.bookinfo', 'shop')).toBe('reviews.bookinfo.svc.cluster.local');
    expect(resolveHost(reg, 'ratings.bookinfo', 'shop')).toBe('ratings.bookinfo');
  });

  it('fully qualified names, ServiceEntry hosts and wildcards are kept (lower-cased)', () => {
    expect(resolveHost(reg, 'reviews.bookinfo.svc.cluster.local', 'shop')).toBe('reviews.bookinfo.svc.cluster.local');
    expect(resolveHost(reg, 'API.example.org', 'shop')).toBe('api.example.org');
    expect(resolveHost(reg, 'unknown.example.org', 'shop')).toBe('unknown.example.org');
    expect(resolveHost(reg, '*.example.org', 'shop')).toBe('*.example.org');
    expect(resolveHost(reg, '*', 'shop')).toBe('*');
  });
});
