import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Every way the registry learns where a service runs, end to end: the real gateway in this
// process, real upstream servers on loopback, one VirtualService host per discovery kind.

const NAMES = [
  'ep-0', 'ep-1', // Endpoints
  'slice-ready', 'slice-not-ready', // EndpointSlice
  'static-0', 'static-1', // ServiceEntry STATIC
  'we-se', 'we-svc', 'we-unselected', // WorkloadEntry via a ServiceEntry and via a Service
  'dns-endpoint', 'dns-external-name', // DNS
] as const;
type Name = (typeof NAMES)[number];

describe('registry end to end: traffic reaches the endpoints each kind declares', () => {
  const up = {} as Record<Name, Upstream>;
  let gw: TestGateway;

  beforeAll(async () => {
    for (const n of NAMES) up[n] = await startUpstream({ name: n });
    const p = (n: Name) => up[n].port;
    const route = (host: string, dest: string) => `  - match: [{authority: {exact: ${host}}}]
    route: [{destination: {host: ${dest}}}]`;
    gw = await startGateway({
      'gateway.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: apps}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: routes, namespace: apps}
spec:
  hosts: ["*.example.com"]
  gateways: [edge]
  http:
${route('endpoints.example.com', 'web-ep')}
${route('slice.example.com', 'web-slice')}
${route('static.example.com', 'static.apps.internal')}
${route('we-se.example.com', 'vm.apps.internal')}
${route('we-svc.example.com', 'billing')}
${route('dns-endpoint.example.com', 'dns.apps.internal')}
${route('dns-external-name.example.com', 'external.apps')}
`,
      'endpoints.yaml': `apiVersion: v1
kind: Service
metadata: {name: web-ep, namespace: apps}
spec:
  selector: {app: web-ep}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web-ep, namespace: apps}
subsets:
- addresses: [{ip: 127.0.0.1, targetRef: {kind: Pod, name: ep-0}}]
  ports: [{name: http, port: ${p('ep-0')}}]
- addresses: [{ip: 127.0.0.1, targetRef: {kind: Pod, name: ep-1}}]
  notReadyAddresses: [{ip: 127.0.0.2}]
  ports: [{name: http, port: ${p('ep-1')}}]
`,
      'slice.yaml': `apiVersion: v1
kind: Service
metadata: {name: web-slice, namespace: apps}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-slice-ready
  namespace: apps
  labels: {kubernetes.io/service-name: web-slice}
addressType: IPv4
endpoints:
- addresses: [127.0.0.1]
  conditions: {ready: true}
ports: [{name: http, port: ${p('slice-ready')}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-slice-draining
  namespace: apps
  labels: {kubernetes.io/service-name: web-slice}
addressType: IPv4
endpoints:
- addresses: [127.0.0.1]
  conditions: {ready: false, terminating: true}
ports: [{name: http, port: ${p('slice-not-ready')}}]
`,
      'static.yaml': `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: static, namespace: apps}
spec:
  hosts: [static.apps.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - address: 127.0.0.1
    ports: {http: ${p('static-0')}}
    labels: {replica: "0"}
  - address: 127.0.0.1
    ports: {http: ${p('static-1')}}
    labels: {replica: "1"}
`,
      'workloads.yaml': `apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: vm, namespace: apps}
spec:
  hosts: [vm.apps.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector:
    labels: {app: vm}
---
apiVersion: networking.istio.io/v1alpha3
kind: WorkloadEntry
metadata: {name: vm-1, namespace: apps}
spec:
  address: 127.0.0.1
  labels: {app: vm}
  ports: {http: ${p('we-se')}}
---
apiVersion: v1
kind: Service
metadata: {name: billing, namespace: apps}
spec:
  selector: {app: billing}
  ports: [{name: http, port: 80, targetPort: ${p('we-svc')}}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: billing-vm, namespace: apps}
spec:
  address: 127.0.0.1
  labels: {app: billing}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: unselected-vm, namespace: apps}
spec:
  address: 127.0.0.1
  labels: {app: something-else}
  ports: {http: ${p('we-unselected')}}
`,
      'dns.yaml': `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: apps}
spec:
  hosts: [dns.apps.internal]
  location: MESH_INTERNAL
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - address: localhost
    ports: {http: ${p('dns-endpoint')}}
---
apiVersion: v1
kind: Service
metadata: {name: external, namespace: apps}
spec:
  type: ExternalName
  externalName: localhost
  ports: [{name: http, port: ${p('dns-external-name')}}]
`,
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all(Object.values(up).map((u) => u.close()));
  });

  async function who(host: string, times: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < times; i++) {
      const a = await gw.get(host, '/registry');
      expect(a.status, `${host}: ${a.body}`).toBe(200);
      out.push(String(a.headers['x-upstream']));
    }
    return out;
  }
  const counts = (names: string[]) => names.reduce<Record<string, number>>((m, n) => ((m[n] = (m[n] ?? 0) + 1), m), {});

  it('Endpoints: every ready address, balanced', async () => {
    expect(counts(await who('endpoints.example.com', 6))).toEqual({ 'ep-0': 3, 'ep-1': 3 });
  });

  it('EndpointSlice: ready endpoints only', async () => {
    expect(counts(await who('slice.example.com', 4))).toEqual({ 'slice-ready': 4 });
    expect(up['slice-not-ready'].seen).toEqual([]);
  });

  it('ServiceEntry STATIC: both endpoints, through the ports map', async () => {
    expect(counts(await who('static.example.com', 6))).toEqual({ 'static-0': 3, 'static-1': 3 });
  });

  it('WorkloadEntry selected by a ServiceEntry workloadSelector', async () => {
    expect(counts(await who('we-se.example.com', 3))).toEqual({ 'we-se': 3 });
  });

  it('WorkloadEntry selected by a Kubernetes Service, on its targetPort', async () => {
    expect(counts(await who('we-svc.example.com', 3))).toEqual({ 'we-svc': 3 });
    expect(up['we-unselected'].seen).toEqual([]);
  });

  it('DNS: a ServiceEntry endpoint named localhost', async () => {
    expect(counts(await who('dns-endpoint.example.com', 3))).toEqual({ 'dns-endpoint': 3 });
  });

  it('DNS: an ExternalName Service named by NAME.NS', async () => {
    expect(counts(await who('dns-external-name.example.com', 3))).toEqual({ 'dns-external-name': 3 });
  });

  it('upstreams see the request as sent, with the Host the client used', async () => {
    const before = up['static-0'].seen.length + up['static-1'].seen.length;
    await gw.get('static.example.com', '/registry/check?x=1');
    const seen = [...up['static-0'].seen, ...up['static-1'].seen];
    expect(seen.length).toBe(before + 1);
    expect(seen.some((s) => s.url === '/registry/check?x=1' && s.headers.host === 'static.example.com')).toBe(true);
  });

  it('the route table names the registry source of each destination', () => {
    const clusters = [...gw.gateway.snapshot.clusters.values()].map((c) => [c.name, c.discovery, c.endpoints.length]);
    expect(clusters).toEqual(
      expect.arrayContaining([
        ['outbound|80||web-ep.apps.svc.cluster.local', 'Endpoints', 2],
        ['outbound|80||web-slice.apps.svc.cluster.local', 'EndpointSlice', 1],
        ['outbound|80||static.apps.internal', 'STATIC', 2],
        ['outbound|80||vm.apps.internal', 'WorkloadEntry', 1],
        ['outbound|80||billing.apps.svc.cluster.local', 'WorkloadEntry', 1],
        ['outbound|80||dns.apps.internal', 'DNS', 1],
        [`outbound|${up['dns-external-name'].port}||external.apps.svc.cluster.local`, 'DNS', 1],
      ]),
    );
  });
});
