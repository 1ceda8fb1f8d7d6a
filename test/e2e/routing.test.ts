import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, staticService, type TestGateway } from '../helpers/gateway.js';
import { echo } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Routing end to end: the in-process gateway on real sockets, real upstream servers behind
// ServiceEntry STATIC endpoints, Kubernetes Service+Endpoints or WorkloadEntries. Each upstream
// answers with its name in `x-upstream`, so a test sees which route and destination served it.

interface Fixture {
  gw: TestGateway;
  ups: Map<string, Upstream>;
}

async function startUpstreams(names: string[]): Promise<Map<string, Upstream>> {
  const list = await Promise.all(names.map((name) => startUpstream({ name })));
  return new Map(list.map((u) => [u.name, u]));
}

async function stopFixture(f: Fixture | undefined): Promise<void> {
  if (!f) return;
  await f.gw?.stop();
  await Promise.all([...f.ups.values()].map((u) => u.close()));
}

/** One ServiceEntry `NAME.svc.test` per upstream, each with that upstream as its only STATIC endpoint. */
function serviceEntries(ups: Map<string, Upstream>): string {
  return [...ups.values()].map((u) => staticService(`${u.name}.svc.test`, [u.port])).join('---\n');
}

const dest = (upstream: string) => `{destination: {host: ${upstream}.svc.test}}`;

function gatewayYaml(name: string, ns: string, servers: { port: number; hosts: string[] }[]): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {istio: ingressgateway}
  servers:
${servers.map((s) => `  - port: {number: ${s.port}, name: http-${s.port}, protocol: HTTP}\n    hosts: [${s.hosts.map((h) => JSON.stringify(h)).join(', ')}]`).join('\n')}
`;
}

function vsYaml(name: string, ns: string, hosts: string[], gateways: string[] | null, http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
${gateways ? `  gateways: [${gateways.join(', ')}]\n` : ''}  http:
${http}
`;
}

/** A VirtualService sending everything to one upstream. */
function vsTo(name: string, ns: string, hosts: string[], gateways: string[] | null, upstream: string): string {
  return vsYaml(name, ns, hosts, gateways, `  - route: [${dest(upstream)}]`);
}

/** Which upstream answered (its name), or the status when the gateway answered itself. */
async function via(
  gw: TestGateway,
  host: string,
  path = '/',
  opts: { headers?: Record<string, string>; method?: string; port?: number } = {},
): Promise<string | number> {
  const a = await gw.get(host, { path, method: opts.method, headers: opts.headers }, opts.port ?? 80);
  if (a.status === 200 && typeof a.headers['x-upstream'] === 'string') return a.headers['x-upstream'];
  if (a.status === 404) expect(a.body).toBe('');
  return a.status;
}

/** Runs `n` requests, `concurrency` at a time, and counts who answered. */
async function tally(n: number, send: () => Promise<string | number>, concurrency = 16): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let started = 0;
  const worker = async () => {
    while (started < n) {
      started++;
      const who = String(await send());
      counts[who] = (counts[who] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

describe('Gateway server hosts and VirtualService binding', () => {
  let f: Fixture;
  const gp = { gatewayPorts: [80, 81, 82, 83] };

  beforeAll(async () => {
    const ups = await startUpstreams([
      'exact', 'wild', 'deep', 'any', 'exact80', 'wild80',
      'same', 'other', 'team', 'team-b-try', 'shared',
      'short', 'qualified', 'unqualified', 'mesh-only', 'narrow',
    ]);
    const files: Record<string, string> = {
      'services.yaml': serviceEntries(ups),
      // Port 80: a `*.suffix` server host, and an exact one on a second Gateway sharing the port.
      'gw80.yaml': [
        gatewayYaml('wild-gw', 'gw-ns', [{ port: 80, hosts: ['*.example.com'] }]),
        gatewayYaml('exact-gw', 'gw-ns', [{ port: 80, hosts: ['exact.example.org'] }]),
        vsTo('wild80', 'gw-ns', ['*.example.com'], ['wild-gw'], 'wild80'),
        vsTo('exact80', 'gw-ns', ['exact.example.org'], ['exact-gw'], 'exact80'),
      ].join('---\n'),
      // Port 81: a `*` server host; VirtualService hosts of every specificity.
      'gw81.yaml': [
        gatewayYaml('any-gw', 'gw-ns', [{ port: 81, hosts: ['*'] }]),
        vsTo('exact', 'gw-ns', ['a.example.com'], ['any-gw'], 'exact'),
        vsTo('wild', 'gw-ns', ['*.example.com'], ['any-gw'], 'wild'),
        vsTo('deep', 'gw-ns', ['*.deep.example.com'], ['any-gw'], 'deep'),
        vsTo('any', 'gw-ns', ['*'], ['any-gw'], 'any'),
      ].join('---\n'),
      // Port 82: the `namespace/host` forms.
      'gw82.yaml': [
        gatewayYaml('ns-gw', 'gw-ns', [{ port: 82, hosts: ['./same.example.com', './other.example.com', 'team-a/team.example.com', 'team-a/team-b-try.example.com', '*/shared.example.com'] }]),
        vsTo('same', 'gw-ns', ['same.example.com'], ['ns-gw'], 'same'),
        vsTo('other', 'team-b', ['other.example.com'], ['gw-ns/ns-gw'], 'other'),
        vsTo('team', 'team-a', ['team.example.com'], ['gw-ns/ns-gw'], 'team'),
        vsTo('team-b-try', 'team-b', ['team-b-try.example.com'], ['gw-ns/ns-gw'], 'team-b-try'),
        vsTo('shared', 'team-b', ['shared.example.com'], ['gw-ns/ns-gw'], 'shared'),
      ].join('---\n'),
      // Port 83: how VirtualServices name Gateways.
      'gw83.yaml': [
        gatewayYaml('bind-gw', 'gw-ns', [{ port: 83, hosts: ['*.bind.test'] }]),
        gatewayYaml('narrow-gw', 'gw-ns', [{ port: 83, hosts: ['a.narrow.test'] }]),
        vsTo('short', 'gw-ns', ['short.bind.test'], ['bind-gw'], 'short'),
        vsTo('qualified', 'apps', ['qualified.bind.test'], ['gw-ns/bind-gw'], 'qualified'),
        vsTo('unqualified', 'apps', ['unqualified.bind.test'], ['bind-gw'], 'unqualified'),
        vsTo('mesh-only', 'gw-ns', ['mesh.bind.test'], null, 'mesh-only'),
        vsTo('narrow', 'gw-ns', ['*.narrow.test'], ['narrow-gw'], 'narrow'),
      ].join('---\n'),
    };
    f = { gw: await startGateway(files, gp), ups };
  });

  afterAll(() => stopFixture(f));

  describe('exact and `*.suffix` server hosts', () => {
    it('an exact server host serves that host', async () => {
      expect(await via(f.gw, 'exact.example.org')).toBe('exact80');
    });

    it('an exact server host serves no other host, not even a subdomain', async () => {
      expect(await via(f.gw, 'example.org')).toBe(404);
      expect(await via(f.gw, 'x.exact.example.org')).toBe(404);
      expect(await via(f.gw, 'exact.example.org.evil.test')).toBe(404);
    });

    it('`*.example.com` serves a.example.com and a.b.example.com', async () => {
      expect(await via(f.gw, 'a.example.com')).toBe('wild80');
      expect(await via(f.gw, 'a.b.example.com')).toBe('wild80');
    });

    it('`*.example.com` does not serve example.com, nor names that only end in the same letters', async () => {
      expect(await via(f.gw, 'example.com')).toBe(404);
      expect(await via(f.gw, 'badexample.com')).toBe(404);
      expect(await via(f.gw, 'a.example.com.org')).toBe(404);
    });

    it('compares the Host header case-insensitively, without its :port', async () => {
      expect(await via(f.gw, 'EXACT.Example.ORG')).toBe('exact80');
      expect(await via(f.gw, 'exact.example.org:80')).toBe('exact80');
      expect(await via(f.gw, 'Exact.Example.Org:8080')).toBe('exact80');
      expect(await via(f.gw, 'A.B.Example.COM:1234')).toBe('wild80');
    });

    it('a port in the Host header does not make another host match', async () => {
      expect(await via(f.gw, 'example.org:80')).toBe(404);
    });
  });

  describe('`*` server host: the most specific VirtualService host wins', () => {
    it('an exact host beats `*.example.com` and `*`', async () => {
      expect(await via(f.gw, 'a.example.com', '/', { port: 81 })).toBe('exact');
      expect(await via(f.gw, 'A.Example.Com:81', '/', { port: 81 })).toBe('exact');
    });

    it('`*.example.com` beats `*`', async () => {
      expect(await via(f.gw, 'b.example.com', '/', { port: 81 })).toBe('wild');
      expect(await via(f.gw, 'a.b.example.com', '/', { port: 81 })).toBe('wild');
    });

    it('the longer wildcard suffix beats the shorter', async () => {
      expect(await via(f.gw, 'x.deep.example.com', '/', { port: 81 })).toBe('deep');
      expect(await via(f.gw, 'y.x.deep.example.com', '/', { port: 81 })).toBe('deep');
    });

    it('deep.example.com itself is not under `*.deep.example.com`', async () => {
      expect(await via(f.gw, 'deep.example.com', '/', { port: 81 })).toBe('wild');
    });

    it('`*` takes every other host, example.com included', async () => {
      expect(await via(f.gw, 'example.com', '/', { port: 81 })).toBe('any');
      expect(await via(f.gw, 'somewhere.org', '/', { port: 81 })).toBe('any');
      expect(await via(f.gw, 'localhost', '/', { port: 81 })).toBe('any');
    });
  });

  describe('`namespace/host` server hosts', () => {
    it('`./host` binds a VirtualService of the Gateway’s namespace', async () => {
      expect(await via(f.gw, 'same.example.com', '/', { port: 82 })).toBe('same');
    });

    it('`./host` does not bind a VirtualService of another namespace', async () => {
      expect(await via(f.gw, 'other.example.com', '/', { port: 82 })).toBe(404);
    });

    it('`team-a/host` binds a VirtualService of team-a', async () => {
      expect(await via(f.gw, 'team.example.com', '/', { port: 82 })).toBe('team');
    });

    it('`team-a/host` does not bind a VirtualService of team-b', async () => {
      expect(await via(f.gw, 'team-b-try.example.com', '/', { port: 82 })).toBe(404);
    });

    it('`*/host` binds a VirtualService of any namespace', async () => {
      expect(await via(f.gw, 'shared.example.com', '/', { port: 82 })).toBe('shared');
    });
  });

  describe('VirtualService `gateways`', () => {
    it('a short gateway name resolves in the VirtualService’s namespace', async () => {
      expect(await via(f.gw, 'short.bind.test', '/', { port: 83 })).toBe('short');
    });

    it('`ns/name` binds a VirtualService in another namespace', async () => {
      expect(await via(f.gw, 'qualified.bind.test', '/', { port: 83 })).toBe('qualified');
    });

    it('a VirtualService in another namespace naming the gateway without namespace does not bind', async () => {
      expect(await via(f.gw, 'unqualified.bind.test', '/', { port: 83 })).toBe(404);
    });

    it('a VirtualService bound to no gateway (mesh only) is not served on the gateway port', async () => {
      expect(await via(f.gw, 'mesh.bind.test', '/', { port: 83 })).toBe(404);
    });

    it('VirtualService `*.narrow.test` on a Gateway host a.narrow.test serves a.narrow.test', async () => {
      expect(await via(f.gw, 'a.narrow.test', '/', { port: 83 })).toBe('narrow');
    });

    it('…and only a.narrow.test', async () => {
      expect(await via(f.gw, 'b.narrow.test', '/', { port: 83 })).toBe(404);
      expect(await via(f.gw, 'x.a.narrow.test', '/', { port: 83 })).toBe(404);
    });

    it('nothing reaches the upstreams of VirtualServices that must not bind, on any port', async () => {
      const hosts = ['other.example.com', 'team-b-try.example.com', 'unqualified.bind.test', 'mesh.bind.test'];
      for (const host of hosts) for (const port of [80, 81, 82, 83]) await via(f.gw, host, '/', { port });
      for (const name of ['other', 'team-b-try', 'unqualified', 'mesh-only']) expect(f.ups.get(name)!.seen, name).toEqual([]);
    });
  });
});

describe('HTTP match fields', () => {
  let f: Fixture;
  const routes: [string, string][] = [
    ['exact', `match: [{uri: {exact: /exact}}]`],
    ['prefix', `match: [{uri: {prefix: /prefix/}}]`],
    ['regex', `match: [{uri: {regex: "/a.c"}}]`],
    ['posix', `match: [{uri: {regex: "/items/[[:digit:]]+"}}]`],
    ['method', `match: [{uri: {exact: /method}, method: {exact: POST}}]`],
    ['authority', `match: [{uri: {exact: /authority}, authority: {exact: auth.example.com}}]`],
    ['h-exact', `match: [{uri: {prefix: /headers}, headers: {x-exact: {exact: "yes"}}}]`],
    ['h-prefix', `match: [{uri: {prefix: /headers}, headers: {x-prefix: {prefix: "pre"}}}]`],
    ['h-regex', `match: [{uri: {prefix: /headers}, headers: {x-regex: {regex: "v[0-9]+"}}}]`],
    ['h-present', `match: [{uri: {prefix: /headers}, headers: {x-present: {}}}]`],
    ['q-exact', `match: [{uri: {exact: /query}, queryParams: {version: {exact: v2}}}]`],
    ['q-regex', `match: [{uri: {exact: /query}, queryParams: {id: {regex: "[0-9]+"}}}]`],
    ['without', `match: [{uri: {exact: /without}, withoutHeaders: {x-block: {exact: "yes"}}}]`],
    ['caseless', `match: [{uri: {exact: /CaseLess}, ignoreUriCase: true}]`],
    ['caseless-prefix', `match: [{uri: {prefix: /AnyCase/}, ignoreUriCase: true}]`],
    ['caseful', `match: [{uri: {exact: /caseful}}]`],
    ['port-8080', `match: [{uri: {exact: /port}, port: 8080}]`],
    ['port-any', `match: [{uri: {exact: /port}}]`],
    ['gw-only', `match: [{uri: {exact: /gw-only}, gateways: [other-gw]}]`],
    ['or', `match: [{uri: {exact: /or-a}}, {uri: {exact: /or-b}}]`],
    ['and', `match: [{uri: {exact: /and}, headers: {x-and: {exact: "1"}}}]`],
    ['first', `match: [{uri: {prefix: /first}}]`],
    ['second', `match: [{uri: {prefix: /first/second}}]`],
  ];

  beforeAll(async () => {
    const ups = await startUpstreams(routes.map(([name]) => name));
    const http = routes.map(([name, m]) => `  - name: ${name}\n    ${m}\n    route: [${dest(name)}]`).join('\n');
    const files = {
      'services.yaml': serviceEntries(ups),
      'gateways.yaml': [
        gatewayYaml('match-gw', 'default', [
          { port: 80, hosts: ['match.example.com', 'auth.example.com'] },
          { port: 8080, hosts: ['match.example.com', 'auth.example.com'] },
        ]),
        gatewayYaml('other-gw', 'default', [{ port: 9080, hosts: ['match.example.com'] }]),
      ].join('---\n'),
      'vs.yaml': vsYaml('matches', 'default', ['match.example.com', 'auth.example.com'], ['match-gw', 'other-gw'], http),
    };
    f = { gw: await startGateway(files, { gatewayPorts: [80, 8080, 9080] }), ups };
  });

  afterAll(() => stopFixture(f));

  const get = (path: string, opts: { headers?: Record<string, string>; method?: string; port?: number; host?: string } = {}) =>
    via(f.gw, opts.host ?? 'match.example.com', path, opts);

  it('uri exact matches the path exactly, the query string aside', async () => {
    expect(await get('/exact')).toBe('exact');
    expect(await get('/exact?x=1')).toBe('exact');
  });

  it('uri exact does not match a longer path or another case', async () => {
    expect(await get('/exact/')).toBe(404);
    expect(await get('/exactly')).toBe(404);
    expect(await get('/EXACT')).toBe(404);
  });

  it('uri prefix matches the paths that start with it', async () => {
    expect(await get('/prefix/')).toBe('prefix');
    expect(await get('/prefix/deep/path?q=1')).toBe('prefix');
  });

  it('uri prefix does not match a path that does not start with it', async () => {
    expect(await get('/prefix')).toBe(404);
    expect(await get('/x/prefix/')).toBe(404);
  });

  it('uri regex matches the whole path', async () => {
    expect(await get('/abc')).toBe('regex');
    expect(await get('/a-c')).toBe('regex');
    expect(await get('/abc?d=1')).toBe('regex');
  });

  it('uri regex `/a.c` does not match `/abcd` or `/xabc` (full match, RE2 semantics)', async () => {
    expect(await get('/abcd')).toBe(404);
    expect(await get('/xabc')).toBe(404);
  });

  it('uri regex with a POSIX class', async () => {
    expect(await get('/items/123')).toBe('posix');
    expect(await get('/items/12a')).toBe(404);
  });

  it('method', async () => {
    expect(await get('/method', { method: 'POST' })).toBe('method');
    expect(await get('/method', { method: 'GET' })).toBe(404);
    expect(await get('/method', { method: 'PUT' })).toBe(404);
  });

  it('authority', async () => {
    expect(await get('/authority', { host: 'auth.example.com' })).toBe('authority');
    expect(await get('/authority', { host: 'match.example.com' })).toBe(404);
  });

  it('header exact (the header name in any case)', async () => {
    expect(await get('/headers', { headers: { 'x-exact': 'yes' } })).toBe('h-exact');
    expect(await get('/headers', { headers: { 'X-Exact': 'yes' } })).toBe('h-exact');
    expect(await get('/headers', { headers: { 'x-exact': 'yes-no' } })).toBe(404);
    expect(await get('/headers', { headers: { 'x-exact': 'YES' } })).toBe(404);
  });

  it('header prefix', async () => {
    expect(await get('/headers', { headers: { 'x-prefix': 'prefix' } })).toBe('h-prefix');
    expect(await get('/headers', { headers: { 'x-prefix': 'xpre' } })).toBe(404);
  });

  it('header regex is a full match', async () => {
    expect(await get('/headers', { headers: { 'x-regex': 'v12' } })).toBe('h-regex');
    expect(await get('/headers', { headers: { 'x-regex': 'v12a' } })).toBe(404);
    expect(await get('/headers', { headers: { 'x-regex': 'av1' } })).toBe(404);
  });

  it('header present (`{}`): any value, even empty', async () => {
    expect(await get('/headers', { headers: { 'x-present': 'anything' } })).toBe('h-present');
    expect(await get('/headers', { headers: { 'x-present': '' } })).toBe('h-present');
  });

  it('no header condition holds without the headers', async () => {
    expect(await get('/headers')).toBe(404);
    expect(await get('/headers', { headers: { 'x-other': 'yes' } })).toBe(404);
  });

  it('queryParams exact and regex', async () => {
    expect(await get('/query?version=v2')).toBe('q-exact');
    expect(await get('/query?a=1&version=v2&b=2')).toBe('q-exact');
    expect(await get('/query?id=42')).toBe('q-regex');
  });

  it('queryParams that do not hold', async () => {
    expect(await get('/query?version=v22')).toBe(404);
    expect(await get('/query?other=v2')).toBe(404);
    expect(await get('/query?id=4x')).toBe(404);
    expect(await get('/query')).toBe(404);
  });

  it('withoutHeaders: matches when the header is absent or different', async () => {
    expect(await get('/without')).toBe('without');
    expect(await get('/without', { headers: { 'x-block': 'no' } })).toBe('without');
  });

  it('withoutHeaders: does not match when the header matches', async () => {
    expect(await get('/without', { headers: { 'x-block': 'yes' } })).toBe(404);
  });

  it('ignoreUriCase matches the path in any case', async () => {
    expect(await get('/caseless')).toBe('caseless');
    expect(await get('/CASELESS')).toBe('caseless');
    expect(await get('/CaseLess')).toBe('caseless');
    expect(await get('/anycase/x')).toBe('caseless-prefix');
    expect(await get('/ANYCASE/Y')).toBe('caseless-prefix');
  });

  it('ignoreUriCase still needs the same letters; without it case matters', async () => {
    expect(await get('/caseless/x')).toBe(404);
    expect(await get('/anycasex')).toBe(404);
    expect(await get('/caseful')).toBe('caseful');
    expect(await get('/CASEFUL')).toBe(404);
  });

  it('`port: 8080` matches requests to the Gateway’s 8080 server', async () => {
    expect(await get('/port', { port: 8080 })).toBe('port-8080');
  });

  it('`port: 8080` does not match on port 80: the next route takes it', async () => {
    expect(await get('/port', { port: 80 })).toBe('port-any');
  });

  it('match-level `gateways` matches on the gateway it names', async () => {
    expect(await get('/gw-only', { port: 9080 })).toBe('gw-only');
  });

  it('match-level `gateways` does not match on another gateway of the same VirtualService', async () => {
    expect(await get('/gw-only', { port: 80 })).toBe(404);
    expect(await get('/gw-only', { port: 8080 })).toBe(404);
    expect(await get('/exact', { port: 9080 })).toBe('exact');
  });

  it('several match entries are ORed', async () => {
    expect(await get('/or-a')).toBe('or');
    expect(await get('/or-b')).toBe('or');
    expect(await get('/or-c')).toBe(404);
  });

  it('fields inside one match entry are ANDed', async () => {
    expect(await get('/and', { headers: { 'x-and': '1' } })).toBe('and');
    expect(await get('/and')).toBe(404);
    expect(await get('/and', { headers: { 'x-and': '2' } })).toBe(404);
    expect(await get('/other', { headers: { 'x-and': '1' } })).toBe(404);
  });

  it('the first matching route wins', async () => {
    expect(await get('/first/second')).toBe('first');
    expect(await get('/first')).toBe('first');
    expect(f.ups.get('second')!.seen).toEqual([]);
  });

  it('no route: 404 with an empty body, nothing forwarded', async () => {
    const before = [...f.ups.values()].reduce((n, u) => n + u.seen.length, 0);
    const a = await f.gw.get('match.example.com', '/nothing/here');
    expect(a.status).toBe(404);
    expect(a.body).toBe('');
    expect(a.headers['content-length']).toBe('0');
    expect([...f.ups.values()].reduce((n, u) => n + u.seen.length, 0)).toBe(before);
  });
});

describe('Destinations', () => {
  let f: Fixture;

  beforeAll(async () => {
    const ups = await startUpstreams(['w-a', 'w-b', 's-v1', 's-v2', 'we-v1', 'we-v2', 'p-a', 'p-b', 'same-apps', 'same-other']);
    const u = (n: string) => ups.get(n)!;
    const k8s = (name: string, ns: string, ports: { name: string; port: number; target: number }[]) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {app: ${name}}
  ports:
${ports.map((p) => `  - {name: ${p.name}, port: ${p.port}}`).join('\n')}
---
apiVersion: v1
kind: Endpoints
metadata: {name: ${name}, namespace: ${ns}}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports:
${ports.map((p) => `  - {name: ${p.name}, port: ${p.target}}`).join('\n')}
`;
    const files: Record<string, string> = {
      'weights.yaml': [
        staticService('w-a.svc.test', [u('w-a').port]),
        staticService('w-b.svc.test', [u('w-b').port]),
        vsYaml('weights', 'default', ['weights.example.com'], ['dest-gw'], `  - match: [{uri: {prefix: /zero}}]
    route:
    - {destination: {host: w-a.svc.test}, weight: 0}
    - {destination: {host: w-b.svc.test}, weight: 100}
  - match: [{uri: {prefix: /split}}]
    route:
    - {destination: {host: w-a.svc.test}, weight: 50}
    - {destination: {host: w-b.svc.test}, weight: 50}`),
      ].join('---\n'),
      'subsets.yaml': [
        staticService('subsets.svc.test', [u('s-v1').port, u('s-v2').port], { labels: [{ version: 'v1' }, { version: 'v2' }] }),
        `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: subsets, namespace: default}
spec:
  host: subsets.svc.test
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`,
        vsYaml('subsets', 'default', ['subsets.example.com'], ['dest-gw'], `  - match: [{uri: {prefix: /v1}}]
    route: [{destination: {host: subsets.svc.test, subset: v1}}]
  - match: [{uri: {prefix: /v2}}]
    route: [{destination: {host: subsets.svc.test, subset: v2}}]
  - route: [{destination: {host: subsets.svc.test}}]`),
      ].join('---\n'),
      'workloads.yaml': `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: workloads, namespace: default}
spec:
  hosts: [workloads.svc.test]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: workloads}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: we-v1, namespace: default}
spec:
  address: 127.0.0.1
  ports: {http: ${u('we-v1').port}}
  labels: {app: workloads, version: v1}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: we-v2
  namespace: default
  labels: {app: workloads, version: v2}
spec:
  address: 127.0.0.1
  ports: {http: ${u('we-v2').port}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: workloads, namespace: default}
spec:
  host: workloads.svc.test
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
${vsYaml('workloads', 'default', ['workloads.example.com'], ['dest-gw'], `  - match: [{uri: {prefix: /v1}}]
    route: [{destination: {host: workloads.svc.test, subset: v1}}]
  - match: [{uri: {prefix: /v2}}]
    route: [{destination: {host: workloads.svc.test, subset: v2}}]`)}`,
      'ports.yaml': [
        k8s('two-ports', 'apps', [
          { name: 'http-a', port: 8001, target: u('p-a').port },
          { name: 'http-b', port: 8002, target: u('p-b').port },
        ]),
        vsYaml('ports', 'apps', ['ports.example.com'], ['default/dest-gw'], `  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: two-ports, port: {number: 8001}}}]
  - match: [{uri: {prefix: /b}}]
    route: [{destination: {host: two-ports, port: {number: 8002}}}]`),
      ].join('---\n'),
      'names.yaml': [
        k8s('same', 'apps', [{ name: 'http', port: 80, target: u('same-apps').port }]),
        k8s('same', 'other', [{ name: 'http', port: 80, target: u('same-other').port }]),
        vsYaml('short', 'apps', ['short-apps.example.com'], ['default/dest-gw'], `  - route: [{destination: {host: same}}]`),
        vsYaml('short', 'other', ['short-other.example.com'], ['default/dest-gw'], `  - route: [{destination: {host: same}}]`),
        vsYaml('dotted', 'default', ['dotted.example.com'], ['dest-gw'], `  - match: [{uri: {prefix: /apps}}]
    route: [{destination: {host: same.apps}}]
  - match: [{uri: {prefix: /other}}]
    route: [{destination: {host: same.other}}]
  - match: [{uri: {prefix: /fqdn}}]
    route: [{destination: {host: same.other.svc.cluster.local}}]`),
      ].join('---\n'),
      'gateway.yaml': gatewayYaml('dest-gw', 'default', [{ port: 80, hosts: ['*'] }]),
    };
    f = { gw: await startGateway(files, { gatewayPorts: [80] }), ups };
  });

  afterAll(() => stopFixture(f));

  it('a 0/100 split always goes to the 100 destination', async () => {
    const counts = await tally(60, () => via(f.gw, 'weights.example.com', '/zero'));
    expect(counts).toEqual({ 'w-b': 60 });
  });

  it('a 50/50 split over 400 requests lands on both, each within generous bounds', async () => {
    const counts = await tally(400, () => via(f.gw, 'weights.example.com', '/split'));
    expect(Object.keys(counts).sort()).toEqual(['w-a', 'w-b']);
    expect(counts['w-a']! + counts['w-b']!).toBe(400);
    // Binomial(400, 0.5): sd 10; 140..260 is ±6 sd.
    expect(counts['w-a']).toBeGreaterThanOrEqual(140);
    expect(counts['w-a']).toBeLessThanOrEqual(260);
  });

  it('subset v1 reaches only the endpoints labelled version: v1 (ServiceEntry endpoint labels)', async () => {
    expect(await tally(12, () => via(f.gw, 'subsets.example.com', '/v1'), 4)).toEqual({ 's-v1': 12 });
  });

  it('subset v2 reaches only the endpoints labelled version: v2', async () => {
    expect(await tally(12, () => via(f.gw, 'subsets.example.com', '/v2'), 4)).toEqual({ 's-v2': 12 });
  });

  it('without a subset every endpoint of the host takes its turn', async () => {
    expect(await tally(12, () => via(f.gw, 'subsets.example.com', '/any'), 1)).toEqual({ 's-v1': 6, 's-v2': 6 });
  });

  it('subsets select WorkloadEntries by their spec.labels', async () => {
    expect(await tally(6, () => via(f.gw, 'workloads.example.com', '/v1'), 2)).toEqual({ 'we-v1': 6 });
  });

  it('subsets select WorkloadEntries by their metadata.labels too (Istio merges both)', async () => {
    expect(await tally(6, () => via(f.gw, 'workloads.example.com', '/v2'), 2)).toEqual({ 'we-v2': 6 });
  });

  it('destination port 8001 of a two-port Service reaches the endpoint port named like it', async () => {
    expect(await tally(6, () => via(f.gw, 'ports.example.com', '/a'), 2)).toEqual({ 'p-a': 6 });
  });

  it('destination port 8002 reaches the other endpoint port', async () => {
    expect(await tally(6, () => via(f.gw, 'ports.example.com', '/b'), 2)).toEqual({ 'p-b': 6 });
  });

  it('a short destination host resolves in the VirtualService’s namespace (apps)', async () => {
    expect(await via(f.gw, 'short-apps.example.com')).toBe('same-apps');
  });

  it('the same short name from another namespace reaches that namespace’s Service', async () => {
    expect(await via(f.gw, 'short-other.example.com')).toBe('same-other');
  });

  it('`name.namespace` names the Service of that namespace', async () => {
    expect(await via(f.gw, 'dotted.example.com', '/apps')).toBe('same-apps');
    expect(await via(f.gw, 'dotted.example.com', '/other')).toBe('same-other');
    expect(await via(f.gw, 'dotted.example.com', '/fqdn')).toBe('same-other');
  });
});

describe('Upstream request headers', () => {
  let f: Fixture;

  beforeAll(async () => {
    const ups = await startUpstreams(['echo']);
    f = {
      gw: await startGateway(
        {
          'config.yaml': [
            serviceEntries(ups),
            gatewayYaml('hdr-gw', 'default', [{ port: 80, hosts: ['headers.example.com'] }]),
            vsTo('headers', 'default', ['headers.example.com'], ['hdr-gw'], 'echo'),
          ].join('---\n'),
        },
        { gatewayPorts: [80] },
      ),
      ups,
    };
  });

  afterAll(() => stopFixture(f));

  const send = async (headers: Record<string, string> = {}, path = '/') => {
    const a = await f.gw.get(headers.host ?? 'headers.example.com', { path, headers });
    expect(a.status).toBe(200);
    return echo(a);
  };

  it('keeps the original Host header, path and query', async () => {
    const e = await send({}, '/some/path?q=1&r=two');
    expect(e.headers.host).toBe('headers.example.com');
    expect(e.url).toBe('/some/path?q=1&r=two');
    expect(e.method).toBe('GET');
  });

  it('keeps a Host header with a port as the client sent it', async () => {
    const e = await send({ host: 'headers.example.com:8080' });
    expect(e.headers.host).toBe('headers.example.com:8080');
  });

  it('sets x-forwarded-for to the client address', async () => {
    const e = await send();
    expect(e.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('appends the client address to an x-forwarded-for the client sent', async () => {
    const e = await send({ 'x-forwarded-for': '203.0.113.7' });
    expect(e.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
  });

  it('sets x-forwarded-proto to http, whatever the client claims', async () => {
    expect((await send()).headers['x-forwarded-proto']).toBe('http');
    expect((await send({ 'x-forwarded-proto': 'https' })).headers['x-forwarded-proto']).toBe('http');
  });

  it('generates an x-request-id (a UUID, new for each request) when the client sends none', async () => {
    const a = (await send()).headers['x-request-id'];
    const b = (await send()).headers['x-request-id'];
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(b).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
  });

  it('keeps the x-request-id the client sent', async () => {
    expect((await send({ 'x-request-id': 'my-request-id-1' })).headers['x-request-id']).toBe('my-request-id-1');
  });

  it('removes the headers named in Connection and the hop-by-hop ones, keeps the others', async () => {
    const e = await send({ connection: 'x-hop, keep-alive', 'x-hop': '1', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive', 'x-keep': 'k' });
    expect(e.headers['x-hop']).toBeUndefined();
    expect(e.headers['keep-alive']).toBeUndefined();
    expect(e.headers['proxy-connection']).toBeUndefined();
    expect(e.headers['x-keep']).toBe('k');
  });

  it('keeps a header that Connection does not name', async () => {
    const e = await send({ connection: 'close', 'x-hop': '1' });
    expect(e.headers['x-hop']).toBe('1');
  });
});
