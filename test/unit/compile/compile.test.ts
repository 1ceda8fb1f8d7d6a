import { describe, expect, it } from 'vitest';
import { compile, type CompileOptions } from '../../../src/compile/compile.js';
import type { ListenerConfig, RouteTable, Snapshot } from '../../../src/compile/snapshot.js';
import { compileYaml, httpRoutes } from '../../helpers/compile.js';
import { parseConfigTexts } from '../../../src/config/load.js';
import type { Problem } from '../../../src/config/problems.js';

const build = compileYaml;

/** A listener, with its HTTP chain's route table as `routes`. */
function listener(s: Snapshot, port: number): ListenerConfig & { routes: RouteTable } {
  const l = s.listeners.find((x) => x.port === port);
  if (!l) throw new Error(`no listener for port ${port}: ${s.listeners.map((x) => x.port).join(', ')}`);
  return { ...l, routes: httpRoutes(l) };
}

function domains(t: RouteTable): { exact: string[]; wildcards: string[]; any: string | null } {
  return { exact: [...t.exact.keys()].sort(), wildcards: t.wildcards.map((w) => w.vhost.domain), any: t.any?.domain ?? null };
}

function warnings(s: Snapshot): Problem[] {
  return s.problems.filter((p) => p.severity === 'warning');
}

function gateway(name: string, ns: string, servers: { port: number; hosts: string[]; protocol?: string }[], selector?: Record<string, string>): string {
  return `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}}
spec:
${selector ? `  selector: {${Object.entries(selector).map(([k, v]) => `${k}: ${v}`).join(', ')}}\n` : ''}  servers:
${servers.map((s) => `  - port: {number: ${s.port}, name: p${s.port}, protocol: ${s.protocol ?? 'HTTP'}}\n    hosts: [${s.hosts.map((h) => JSON.stringify(h)).join(', ')}]`).join('\n')}
`;
}

function service(host: string, ns = 'default', eps: { port: number; labels?: Record<string, string> }[] = [{ port: 9001 }], port = 80): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${host.replace(/[^a-z0-9]/g, '-')}, namespace: ${ns}}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: http, protocol: HTTP}]
  endpoints:
${eps.map((e) => `  - address: 127.0.0.1\n    ports: {http: ${e.port}}${e.labels ? `\n    labels: ${JSON.stringify(e.labels)}` : ''}`).join('\n')}
`;
}

/** A VirtualService with one route per `http` entry, given as raw YAML list items. */
function vs(name: string, ns: string, hosts: string[], gateways: string[] | null, http: string, created?: string): string {
  return `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}${created ? `, creationTimestamp: "${created}"` : ''}}
spec:
  hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
${gateways ? `  gateways: [${gateways.join(', ')}]\n` : ''}  http:
${http}
`;
}

const to = (host: string) => `  - route: [{destination: {host: ${host}}}]`;

describe('compile: listeners and route tables', () => {
  const snap = build(
    gateway('edge', 'istio-system', [
      { port: 80, hosts: ['a.example.com', '*.example.com', '*.deep.example.com', '*'] },
      { port: 8080, hosts: ['a.example.com'] },
      { port: 31400, hosts: ['*'], protocol: 'TCP' },
      { port: 9999, hosts: ['*'], protocol: 'UDP' },
    ]) +
      service('svc.example.com') +
      vs('exact', 'istio-system', ['a.example.com'], ['edge'], to('svc.example.com'), '2024-01-01T00:00:00Z') +
      vs('wild', 'istio-system', ['*.example.com'], ['edge'], to('svc.example.com'), '2024-01-02T00:00:00Z') +
      vs('deep', 'istio-system', ['*.deep.example.com'], ['edge'], to('svc.example.com'), '2024-01-03T00:00:00Z') +
      vs('any', 'istio-system', ['*'], ['edge'], to('svc.example.com'), '2024-01-04T00:00:00Z'),
  );

  it('one listener per served Gateway port, in port order, named gateway:PORT', () => {
    expect(snap.listeners.map((l) => l.name)).toEqual(['gateway:80', 'gateway:8080', 'gateway:31400']);
    expect(snap.listeners.find((l) => l.name === 'gateway:31400')!.chains.map((c) => c.type)).toEqual(['tcp']);
    expect(listener(snap, 80).chains[0]!.type).toBe('http');
    expect(listener(snap, 80)).toMatchObject({ kind: 'gateway', gateways: ['istio-system/edge'] });
    expect(listener(snap, 80).routes.name).toBe('http.80');
  });

  it('a server of a protocol meshgate does not serve (UDP) is skipped with a warning naming its protocol field', () => {
    const w = warnings(snap).find((p) => p.field === 'spec.servers[3].port.protocol');
    expect(w?.message).toMatch(/UDP servers are not served; port 9999 is skipped/);
    expect(w?.object).toBe('Gateway istio-system/edge');
  });

  it('sorts domains into exact, wildcards (longest suffix first) and any', () => {
    expect(domains(listener(snap, 80).routes)).toEqual({
      exact: ['a.example.com'],
      wildcards: ['*.deep.example.com', '*.example.com'],
      any: '*',
    });
    expect(listener(snap, 80).routes.wildcards.map((w) => w.suffix)).toEqual(['.deep.example.com', '.example.com']);
  });

  it('a vhost gets the routes of every VirtualService whose hosts intersect it, oldest VirtualService first', () => {
    const t = listener(snap, 80).routes;
    expect(t.exact.get('a.example.com')!.routes.map((r) => r.source)).toEqual([
      'VirtualService istio-system/exact',
      'VirtualService istio-system/wild',
      'VirtualService istio-system/any',
    ]);
    expect(t.wildcards[0]!.vhost.routes.map((r) => r.source)).toEqual([
      'VirtualService istio-system/wild',
      'VirtualService istio-system/deep',
      'VirtualService istio-system/any',
    ]);
    expect(t.any!.routes.map((r) => r.source)).toEqual(['VirtualService istio-system/any']);
  });

  it('a port with only an exact server host has only that domain', () => {
    expect(domains(listener(snap, 8080).routes)).toEqual({ exact: ['a.example.com'], wildcards: [], any: null });
  });

  it('a route forwards to outbound|PORT|SUBSET|HOST with weight 100 when it has one destination', () => {
    const r = listener(snap, 8080).routes.exact.get('a.example.com')!.routes[0]!;
    expect(r.matches).toBeNull();
    expect(r.timeoutMs).toBe(15_000);
    expect(r.action).toEqual({
      type: 'forward',
      totalWeight: 100,
      destinations: [
        { cluster: 'outbound|80||svc.example.com', host: 'svc.example.com', port: 80, subset: undefined, weight: 100, clusterByPort: undefined, requestHeaders: null, responseHeaders: null },
      ],
    });
    const c = snap.clusters.get('outbound|80||svc.example.com')!;
    expect(c).toMatchObject({ host: 'svc.example.com', port: 80, known: true, discovery: 'STATIC' });
    expect(c.endpoints.map((e) => `${e.address}:${e.port}`)).toEqual(['127.0.0.1:9001']);
  });

  it('no warning besides the UDP server for this clean config', () => {
    expect(warnings(snap).map((p) => p.field)).toEqual(['spec.servers[3].port.protocol']);
  });
});

describe('compile: route order and match compilation', () => {
  const snap = build(
    gateway('gw', 'default', [{ port: 80, hosts: ['m.example.com'] }, { port: 8080, hosts: ['m.example.com'] }]) +
      gateway('other', 'default', [{ port: 9080, hosts: ['m.example.com'] }]) +
      service('svc.example.com') +
      vs('m', 'default', ['m.example.com'], ['gw', 'other'], `  - name: exact
    match: [{uri: {exact: /exact}}]
    route: [{destination: {host: svc.example.com}}]
  - name: ored
    match: [{uri: {prefix: /a}}, {uri: {regex: "/b[0-9]+"}, ignoreUriCase: true}]
    route: [{destination: {host: svc.example.com}}]
  - name: anded
    match:
    - uri: {prefix: /x}
      method: {exact: POST}
      authority: {exact: m.example.com}
      headers: {X-Exact: {exact: "yes"}, x-present: {}}
      withoutHeaders: {x-block: {prefix: "y"}}
      queryParams: {v: {exact: "2"}}
    route: [{destination: {host: svc.example.com}}]
  - name: on-8080
    match: [{uri: {prefix: /port}, port: 8080}]
    route: [{destination: {host: svc.example.com}}]
  - name: on-other
    match: [{uri: {prefix: /gw}, gateways: [other]}]
    route: [{destination: {host: svc.example.com}}]
  - name: half-other
    match: [{uri: {prefix: /half-a}, gateways: [other]}, {uri: {prefix: /half-b}}]
    route: [{destination: {host: svc.example.com}}]
  - name: last
    timeout: 2s
    route: [{destination: {host: svc.example.com}}]`),
  );
  const names = (port: number) => listener(snap, port).routes.exact.get('m.example.com')!.routes.map((r) => r.name);

  it('keeps the order of http entries', () => {
    expect(names(80)).toEqual(['exact', 'ored', 'anded', 'half-other', 'last']);
    expect(listener(snap, 80).routes.exact.get('m.example.com')!.routes.map((r) => r.index)).toEqual([0, 1, 2, 5, 6]);
  });

  it('a match with `port` exists only on that port’s listener', () => {
    expect(names(8080)).toEqual(['exact', 'ored', 'anded', 'on-8080', 'half-other', 'last']);
    expect(names(80)).not.toContain('on-8080');
  });

  it('a match with `gateways` exists only on those gateways; a route keeps the matches that apply', () => {
    expect(names(9080)).toEqual(['exact', 'ored', 'anded', 'on-other', 'half-other', 'last']);
    const half80 = listener(snap, 80).routes.exact.get('m.example.com')!.routes.find((r) => r.name === 'half-other')!;
    expect(half80.matches!.map((m) => m.uri?.value)).toEqual(['/half-b']);
    const half9080 = listener(snap, 9080).routes.exact.get('m.example.com')!.routes.find((r) => r.name === 'half-other')!;
    expect(half9080.matches!.map((m) => m.uri?.value)).toEqual(['/half-a', '/half-b']);
  });

  it('compiles each field of a match', () => {
    const routes = listener(snap, 80).routes.exact.get('m.example.com')!.routes;
    const ored = routes.find((r) => r.name === 'ored')!;
    expect(ored.matches).toHaveLength(2);
    expect(ored.matches![0]!.uri).toMatchObject({ kind: 1, value: '/a', ci: false });
    expect(ored.matches![1]!.uri).toMatchObject({ kind: 2, value: '/b[0-9]+', ci: true });
    expect(ored.matches![1]!.uri!.re!.test('/B12')).toBe(true);
    expect(ored.matches![1]!.uri!.re!.test('/b12x')).toBe(false);

    const m = routes.find((r) => r.name === 'anded')!.matches![0]!;
    expect(m.uri).toMatchObject({ kind: 1, value: '/x' });
    expect(m.method).toMatchObject({ kind: 0, value: 'POST' });
    expect(m.authority).toMatchObject({ kind: 0, value: 'm.example.com' });
    expect(m.headers.map((h) => [h.name, h.m.kind, h.m.value, h.invert])).toEqual([
      ['x-exact', 0, 'yes', false],
      ['x-present', 3, '', false],
      ['x-block', 1, 'y', true],
    ]);
    expect(m.query.map((q) => [q.name, q.m.kind, q.m.value])).toEqual([['v', 0, '2']]);
    expect(m.port).toBe(0);
  });

  it('reads the route timeout, 15 s by default', () => {
    const routes = listener(snap, 80).routes.exact.get('m.example.com')!.routes;
    expect(routes.find((r) => r.name === 'last')!.timeoutMs).toBe(2000);
    expect(routes.find((r) => r.name === 'exact')!.timeoutMs).toBe(15_000);
  });

  it('the shared listener lists both gateways only where both have servers', () => {
    expect(listener(snap, 80).gateways).toEqual(['default/gw']);
    expect(listener(snap, 9080).gateways).toEqual(['default/other']);
  });
});

describe('compile: fields written with nothing under them (null)', () => {
  // `http:` or `headers:` with every entry commented out reads as null; the schema, CRD and
  // webhook checks let a null through, as the API server does, so compile must take it too.
  it('a VirtualService with `http:` null and a tcp route, on an HTTP server and unbound, gives no HTTP routes', () => {
    const snap = build(
      gateway('gw', 'default', [{ port: 80, hosts: ['n.example.com'] }]) +
        service('svc.example.com') +
        `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bound, namespace: default}
spec:
  hosts: [n.example.com]
  gateways: [gw]
  http:
  tcp:
  - route: [{destination: {host: svc.example.com, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: unbound, namespace: default}
spec:
  hosts: [svc.example.com]
  http:
  tcp:
  - route: [{destination: {host: svc.example.com, port: {number: 80}}}]
`,
    );
    expect(listener(snap, 80).routes.exact.get('n.example.com')?.routes ?? []).toEqual([]);
  });

  it('a match whose headers, withoutHeaders and queryParams are null tests its URI only', () => {
    const snap = build(
      gateway('gw', 'default', [{ port: 80, hosts: ['n.example.com'] }]) +
        service('svc.example.com') +
        vs('nulls', 'default', ['n.example.com'], ['gw'], `  - name: nulls
    match:
    - uri: {prefix: /n}
      headers:
      withoutHeaders:
      queryParams:
    route: [{destination: {host: svc.example.com}}]`),
    );
    const m = listener(snap, 80).routes.exact.get('n.example.com')!.routes[0]!.matches![0]!;
    expect(m.uri).toMatchObject({ kind: 1, value: '/n' });
    expect(m.headers).toEqual([]);
    expect(m.query).toEqual([]);
  });
});

describe('compile: which VirtualServices bind to which Gateway hosts', () => {
  const snap = build(
    gateway('gw', 'gw-ns', [{ port: 80, hosts: ['short.example.com', 'qualified.example.com', 'unqualified.example.com', 'mesh.example.com', 'narrow.example.com', 'exported.example.com'] }]) +
      gateway('hosts', 'gw-ns', [{ port: 81, hosts: ['./same.example.com', './other.example.com', 'team-a/team.example.com', 'team-a/team-b-try.example.com', '*/shared.example.com'] }]) +
      service('svc.example.com') +
      vs('short', 'gw-ns', ['short.example.com'], ['gw'], to('svc.example.com')) +
      vs('qualified', 'apps', ['qualified.example.com'], ['gw-ns/gw'], to('svc.example.com')) +
      vs('unqualified', 'apps', ['unqualified.example.com'], ['gw'], to('svc.example.com')) +
      vs('mesh-only', 'gw-ns', ['mesh.example.com'], null, to('svc.example.com')) +
      vs('narrow', 'gw-ns', ['*.example.com'], ['gw'], to('svc.example.com')) +
      vs('not-exported', 'apps', ['exported.example.com'], ['gw-ns/gw'], to('svc.example.com')).replace('  hosts:', '  exportTo: ["."]\n  hosts:') +
      vs('same', 'gw-ns', ['same.example.com'], ['hosts'], to('svc.example.com')) +
      vs('other', 'team-b', ['other.example.com'], ['gw-ns/hosts'], to('svc.example.com')) +
      vs('team', 'team-a', ['team.example.com'], ['gw-ns/hosts'], to('svc.example.com')) +
      vs('team-b-try', 'team-b', ['team-b-try.example.com'], ['gw-ns/hosts'], to('svc.example.com')) +
      vs('shared', 'team-b', ['shared.example.com'], ['gw-ns/hosts'], to('svc.example.com')),
  );
  const sources = (port: number, host: string) => listener(snap, port).routes.exact.get(host)?.routes.map((r) => r.source) ?? [];

  it('a short gateway name resolves in the VirtualService’s namespace', () => {
    expect(sources(80, 'short.example.com')).toContain('VirtualService gw-ns/short');
  });

  it('`ns/name` binds a VirtualService of another namespace', () => {
    expect(sources(80, 'qualified.example.com')).toEqual(['VirtualService apps/qualified', 'VirtualService gw-ns/narrow']);
  });

  it('a short name from another namespace does not bind, and is reported as an unknown gateway', () => {
    expect(sources(80, 'unqualified.example.com')).toEqual(['VirtualService gw-ns/narrow']);
    const w = warnings(snap).find((p) => p.object === 'VirtualService apps/unqualified');
    expect(w?.field).toBe('spec.gateways[0]');
    expect(w?.message).toMatch(/apps\/gw does not exist/);
  });

  it('a VirtualService without gateways is mesh only', () => {
    expect(sources(80, 'mesh.example.com')).toEqual(['VirtualService gw-ns/narrow']);
    expect(warnings(snap).filter((p) => p.object === 'VirtualService gw-ns/mesh-only')).toEqual([]);
  });

  it('VirtualService hosts are intersected with the server hosts (`*.example.com` on exact server hosts gives only those)', () => {
    const t = listener(snap, 80).routes;
    expect(t.wildcards).toEqual([]);
    expect(t.any).toBeNull();
    expect(sources(80, 'narrow.example.com')).toEqual(['VirtualService gw-ns/narrow']);
  });

  it('a VirtualService exported only to its own namespace does not bind to a Gateway in another', () => {
    expect(sources(80, 'exported.example.com')).toEqual(['VirtualService gw-ns/narrow']);
  });

  it('`./host` binds only VirtualServices of the Gateway’s namespace', () => {
    expect(sources(81, 'same.example.com')).toEqual(['VirtualService gw-ns/same']);
    expect(listener(snap, 81).routes.exact.has('other.example.com')).toBe(false);
  });

  it('`team-a/host` binds only VirtualServices of team-a', () => {
    expect(sources(81, 'team.example.com')).toEqual(['VirtualService team-a/team']);
    expect(listener(snap, 81).routes.exact.has('team-b-try.example.com')).toBe(false);
  });

  it('`*/host` binds any namespace', () => {
    expect(sources(81, 'shared.example.com')).toEqual(['VirtualService team-b/shared']);
  });

  it('warns about hosts a namespace may not bind', () => {
    const objs = warnings(snap).filter((p) => /is not among the hosts of gateway/.test(p.message)).map((p) => p.object).sort();
    expect(objs).toEqual(['VirtualService team-b/other', 'VirtualService team-b/team-b-try']);
  });
});

describe('compile: destinations, clusters and their warnings', () => {
  const snap = build(
    gateway('gw', 'default', [{ port: 80, hosts: ['d.example.com'] }]) +
      service('svc.example.com', 'default', [{ port: 9001, labels: { version: 'v1' } }, { port: 9002, labels: { version: 'v2' } }, { port: 9003, labels: { version: 'v1' } }]) +
      `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc, namespace: default}
spec:
  host: svc.example.com
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: apps}
spec:
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: apps}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: 7001}]
---
apiVersion: v1
kind: Service
metadata: {name: two, namespace: apps}
spec:
  ports: [{name: http-a, port: 8001}, {name: http-b, port: 8002}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: two, namespace: apps}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http-a, port: 7101}, {name: http-b, port: 7102}]
` +
      vs('d', 'default', ['d.example.com'], ['gw'], `  - name: zero-hundred
    match: [{uri: {prefix: /zero}}]
    route:
    - {destination: {host: svc.example.com, subset: v1}, weight: 0}
    - {destination: {host: svc.example.com, subset: v2}, weight: 100}
  - name: ninety
    match: [{uri: {prefix: /ninety}}]
    route:
    - {destination: {host: svc.example.com}, weight: 60}
    - {destination: {host: svc.example.com, subset: v1}, weight: 30}
  - name: even
    match: [{uri: {prefix: /even}}]
    route:
    - {destination: {host: svc.example.com, subset: v1}, weight: 50}
    - {destination: {host: svc.example.com, subset: v2}, weight: 50}
  - name: missing
    match: [{uri: {prefix: /missing}}]
    route: [{destination: {host: missing.example.com}}]
  - name: nosubset
    match: [{uri: {prefix: /nosubset}}]
    route: [{destination: {host: svc.example.com, subset: v3}}]
  - name: qualified
    match: [{uri: {prefix: /qualified}}]
    route: [{destination: {host: reviews.apps}}]
  - name: fqdn
    match: [{uri: {prefix: /fqdn}}]
    route: [{destination: {host: reviews.apps.svc.cluster.local}}]
  - name: two-default
    match: [{uri: {prefix: /two}}]
    route: [{destination: {host: two.apps.svc.cluster.local}}]
  - name: two-b
    match: [{uri: {prefix: /b}}]
    route: [{destination: {host: two.apps.svc.cluster.local, port: {number: 8002}}}]
  - name: bad-port
    match: [{uri: {prefix: /bad-port}}]
    route: [{destination: {host: svc.example.com, port: {number: 81}}}]`) +
      vs('short', 'apps', ['d.example.com'], ['default/gw'], `  - name: short
    route: [{destination: {host: reviews}}]`),
  );
  const routes = listener(snap, 80).routes.exact.get('d.example.com')!.routes;
  const r = (name: string) => routes.find((x) => x.name === name)!;
  const fwd = (name: string) => {
    const a = r(name).action;
    if (a.type !== 'forward') throw new Error(`route ${name} does not forward`);
    return a;
  };
  const warningFor = (field: string) => warnings(snap).filter((p) => p.field === field).map((p) => p.message);

  it('keeps explicit weights, 0 included', () => {
    expect(fwd('zero-hundred').destinations.map((d) => [d.subset, d.weight])).toEqual([['v1', 0], ['v2', 100]]);
    expect(fwd('zero-hundred').totalWeight).toBe(100);
    expect(warningFor('spec.http[0].route')).toEqual([]);
  });

  it('warns when weights do not add up to 100 and keeps their proportion', () => {
    expect(fwd('ninety').destinations.map((d) => d.weight)).toEqual([60, 30]);
    expect(fwd('ninety').totalWeight).toBe(90);
    expect(warningFor('spec.http[1].route')).toEqual([expect.stringMatching(/add up to 90, not 100/)]);
  });

  it('splits 50/50 weights evenly, without a warning', () => {
    const ds = fwd('even').destinations;
    expect(ds.map((d) => d.weight)).toEqual([50, 50]);
    expect(warningFor('spec.http[2].route')).toEqual([]);
  });

  it('refuses several destinations without weights, as Istio does (total destination weight 0)', () => {
    const { objects, problems } = parseConfigTexts([{ file: 'w.yaml', text: vs('w', 'default', ['w.example.com'], ['gw'], `  - route:
    - {destination: {host: svc.example.com, subset: v1}}
    - {destination: {host: svc.example.com, subset: v2}}`) }], { defaultNamespace: 'default' });
    expect(objects).toEqual([]);
    expect(problems.filter((p) => p.severity === 'error').map((p) => `${p.field}: ${p.message}`)).toEqual([expect.stringMatching(/^spec\.http\[0\]\.route: .*total destination weight = 0/)]);
  });

  it('a subset cluster keeps only the endpoints whose labels the DestinationRule subset selects', () => {
    const v1 = snap.clusters.get('outbound|80|v1|svc.example.com')!;
    const v2 = snap.clusters.get('outbound|80|v2|svc.example.com')!;
    const all = snap.clusters.get('outbound|80||svc.example.com')!;
    expect(v1.endpoints.map((e) => e.port)).toEqual([9001, 9003]);
    expect(v2.endpoints.map((e) => e.port)).toEqual([9002]);
    expect(all.endpoints.map((e) => e.port)).toEqual([9001, 9002, 9003]);
    expect(v1.subset).toBe('v1');
  });

  it('a host has one cluster per port and subset named, shared by every route that names it', () => {
    expect([...snap.clusters.keys()].filter((k) => k.endsWith('|svc.example.com')).sort()).toEqual([
      'outbound|80|v1|svc.example.com',
      'outbound|80|v2|svc.example.com',
      'outbound|80|v3|svc.example.com',
      'outbound|80||svc.example.com',
      'outbound|81||svc.example.com',
    ]);
    expect(fwd('even').destinations.map((d) => d.cluster)).toEqual(['outbound|80|v1|svc.example.com', 'outbound|80|v2|svc.example.com']);
    expect(fwd('ninety').destinations.map((d) => d.cluster)).toEqual(['outbound|80||svc.example.com', 'outbound|80|v1|svc.example.com']);
    expect(fwd('bad-port').destinations.map((d) => d.cluster)).toEqual(['outbound|81||svc.example.com']);
  });

  it('warns about a host not in the registry and marks its cluster unknown', () => {
    expect(warningFor('spec.http[3].route[0].destination.host')).toEqual([expect.stringMatching(/missing\.example\.com is not in the service registry/)]);
    expect(snap.clusters.get('outbound|80||missing.example.com')).toMatchObject({ known: false, endpoints: [] });
  });

  it('warns about a subset no DestinationRule defines and gives it no endpoints', () => {
    expect(warningFor('spec.http[4].route[0].destination.subset')).toEqual([expect.stringMatching(/subset v3/)]);
    expect(snap.clusters.get('outbound|80|v3|svc.example.com')!.endpoints).toEqual([]);
  });

  it('resolves `name.namespace` and fully qualified Service names to the same cluster', () => {
    expect(fwd('qualified').destinations[0]!.host).toBe('reviews.apps.svc.cluster.local');
    expect(fwd('fqdn').destinations[0]!.cluster).toBe('outbound|9080||reviews.apps.svc.cluster.local');
    expect(fwd('qualified').destinations[0]!.cluster).toBe('outbound|9080||reviews.apps.svc.cluster.local');
    expect(snap.clusters.get('outbound|9080||reviews.apps.svc.cluster.local')!.endpoints.map((e) => e.port)).toEqual([7001]);
  });

  it('resolves a short name in the VirtualService’s namespace', () => {
    expect(r('short').source).toBe('VirtualService apps/short');
    expect(fwd('short').destinations[0]!.host).toBe('reviews.apps.svc.cluster.local');
  });

  it('the destination port picks the Service port (and so the endpoint port of the same name)', () => {
    expect(fwd('two-b').destinations[0]!.cluster).toBe('outbound|8002||two.apps.svc.cluster.local');
    expect(snap.clusters.get('outbound|8002||two.apps.svc.cluster.local')!.endpoints.map((e) => e.port)).toEqual([7102]);
  });

  it('a host with several ports and no port.number uses the first, with a warning', () => {
    expect(fwd('two-default').destinations[0]!.port).toBe(8001);
    expect(snap.clusters.get('outbound|8001||two.apps.svc.cluster.local')!.endpoints.map((e) => e.port)).toEqual([7101]);
    expect(warningFor('spec.http[7].route[0].destination.port')).toEqual([expect.stringMatching(/several ports/)]);
  });

  it('warns about a port the host does not have', () => {
    expect(warningFor('spec.http[9].route[0].destination.port')).toEqual([expect.stringMatching(/has no port 81/)]);
  });

  it('every warning carries the file and line of the field', () => {
    for (const p of warnings(snap)) {
      expect(p.file).toBe('test.yaml');
      expect(p.line).toBeGreaterThan(0);
    }
  });
});

describe('compile: Gateway selectors and workload labels', () => {
  const yaml =
    gateway('ingress', 'istio-system', [{ port: 80, hosts: ['*'] }], { istio: 'ingressgateway' }) +
    gateway('egress', 'istio-system', [{ port: 8080, hosts: ['*'] }], { istio: 'egressgateway' }) +
    service('svc.example.com') +
    vs('v', 'istio-system', ['*'], ['ingress', 'egress'], to('svc.example.com'));

  it('without labels every Gateway is served', () => {
    expect(build(yaml).listeners.map((l) => l.port)).toEqual([80, 8080]);
  });

  it('with labels only the Gateways whose selector matches', () => {
    expect(build(yaml, { labels: { istio: 'ingressgateway', app: 'x' } }).listeners.map((l) => l.port)).toEqual([80]);
    expect(build(yaml, { labels: { istio: 'egressgateway' } }).listeners.map((l) => l.port)).toEqual([8080]);
    expect(build(yaml, { labels: { app: 'none' } }).listeners).toEqual([]);
  });

  it('snapshot version comes from the options', () => {
    expect(build(yaml, { version: 7 }).version).toBe(7);
  });
});

describe('compile: unknown gateway', () => {
  it('warns with the qualified name and the field, and serves nothing for it', () => {
    const snap = build(service('svc.example.com') + vs('v', 'default', ['a.example.com'], ['nope', 'other-ns/gone'], to('svc.example.com')));
    expect(snap.listeners).toEqual([]);
    const ws = warnings(snap).filter((p) => /does not exist/.test(p.message));
    expect(ws.map((p) => [p.field, p.message.split(' does')[0]])).toEqual([
      ['spec.gateways[0]', 'gateway default/nope'],
      ['spec.gateways[1]', 'gateway other-ns/gone'],
    ]);
  });
});

describe('compile: the mesh listener’s table', () => {
  const snap = build(
    service('a.svc.test') +
      service('b.svc.test') +
      service('c.wild.test') +
      service('d.other.test') +
      vs('exact', 'default', ['a.svc.test'], null, to('a.svc.test')) +
      vs('wild', 'default', ['*.wild.test'], null, to('c.wild.test')),
    { meshNamespace: 'default' },
  );
  const mesh = snap.listeners.find((l) => l.name === 'mesh')!;
  const table = httpRoutes(mesh);
  const sources = (host: string) => table.exact.get(host)?.routes.map((r) => r.source);

  it('a service a VirtualService names (exactly or by a wildcard) takes its routes; every other service its default route', () => {
    expect(sources('a.svc.test')).toEqual(['VirtualService default/exact']);
    expect(table.exact.has('c.wild.test')).toBe(false);
    expect(table.wildcards.map((w) => w.vhost.domain)).toEqual(['*.wild.test']);
    expect(table.exact.get('b.svc.test')?.routes.map((r) => r.action.type)).toEqual(['forward']);
    expect(table.exact.get('d.other.test')?.routes.map((r) => r.action.type)).toEqual(['forward']);
  });
});
