import { describe, expect, it } from 'vitest';
import { CompileCache } from '../../../src/compile/compile-cache.js';
import { compile } from '../../../src/compile/compile.js';
import { byCreation } from '../../../src/compile/creation-order.js';
import type { Snapshot } from '../../../src/compile/snapshot.js';
import { parseConfigTexts } from '../../../src/config/load.js';
import type { ConfigObject } from '../../../src/config/types.js';
import { httpRoutes } from '../../helpers/compile.js';
import { seeded } from '../../helpers/seeded.js';

// Routes kept between compiles: a VirtualService object that did not change keeps its routes,
// their clusters and their warnings, unless something routes depend on changed.

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;
const service = (subsetVersion = 'v1') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: [backend.test]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: 9001}, labels: {version: v1}}, {address: 127.0.0.1, ports: {http: 9002}, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: backend, namespace: default}
spec:
  host: backend.test
  subsets: [{name: pick, labels: {version: ${subsetVersion}}}]
`;
const vs = (name: string, weights = [50, 50]) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.example.com]
  gateways: [gw]
  http:
  - route:
    - {destination: {host: backend.test, subset: pick}, weight: ${weights[0]}}
    - {destination: {host: backend.test}, weight: ${weights[1]}}
`;

const parse = (file: string, text: string, mtimeMs = 1_700_000_000_000): ConfigObject[] => {
  const r = parseConfigTexts([{ file, text, mtimeMs }], { defaultNamespace: 'default' });
  expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
  return r.objects;
};
const routesOf = (s: Snapshot, host: string) => httpRoutes(s.listeners[0]!).exact.get(host)!.routes;
const endpointPorts = (s: Snapshot) => s.clusters.get('outbound|80|pick|backend.test')!.endpoints.map((e) => e.port);

describe('CompileCache', () => {
  const base = [...parse('gw.yaml', GATEWAY), ...parse('svc.yaml', service())];
  const a = parse('a.yaml', vs('a'));
  const b = parse('b.yaml', vs('b', [60, 30]));

  it('a second compile of the same objects gives the same route objects, clusters and warnings', () => {
    const cache = new CompileCache();
    const first = compile([...base, ...a, ...b], { cache });
    expect(cache.misses).toBe(2);
    const second = compile([...base, ...a, ...b], { cache });
    expect([cache.hits, cache.misses]).toEqual([2, 0]);
    expect(routesOf(second, 'a.example.com')[0]).toBe(routesOf(first, 'a.example.com')[0]);
    expect([...second.clusters.keys()].sort()).toEqual([...first.clusters.keys()].sort());
    expect(second.problems).toEqual(first.problems);
    expect(second.problems.filter((p) => /add up to 90/.test(p.message))).toHaveLength(1);
  });

  it('a changed VirtualService alone is compiled again', () => {
    const cache = new CompileCache();
    const first = compile([...base, ...a, ...b], { cache });
    const b2 = parse('b.yaml', vs('b', [20, 80]));
    const second = compile([...base, ...a, ...b2], { cache });
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
    expect(routesOf(second, 'a.example.com')[0]).toBe(routesOf(first, 'a.example.com')[0]);
    const action = routesOf(second, 'b.example.com')[0]!.action;
    expect(action.type === 'forward' && action.destinations.map((d) => d.weight)).toEqual([20, 80]);
    expect(second.problems.some((p) => /add up to 90/.test(p.message))).toBe(false);
  });

  it('an unchanged object read again (its file changed) still counts as unchanged', () => {
    const cache = new CompileCache();
    compile([...base, ...a, ...b], { cache });
    compile([...parse('gw.yaml', GATEWAY), ...parse('svc.yaml', service()), ...a, ...b], { cache });
    expect([cache.hits, cache.misses]).toEqual([2, 0]);
  });

  it('an unchanged DestinationRule in a file written later (a newer creation time) still counts as unchanged', () => {
    // A rule for another host created in between: the edited file's rule moves after it.
    const elsewhere = parse('x.yaml', 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: x, namespace: default}\nspec: {host: elsewhere.test}\n', 1_750_000_000_000);
    const cache = new CompileCache();
    compile([...base, ...elsewhere, ...a, ...b], { cache });
    compile([...parse('gw.yaml', GATEWAY), ...parse('svc.yaml', service(), 1_800_000_000_000), ...elsewhere, ...a, ...b], { cache });
    expect([cache.hits, cache.misses]).toEqual([2, 0]);
  });

  it('two DestinationRules for one host that swap their creation order compile every route again', () => {
    const other = (mtimeMs: number) => parse('other.yaml', service('v2').split('---\n')[1]!.replace('name: backend,', 'name: backend-2,'), mtimeMs);
    const cache = new CompileCache();
    const first = compile([...base, ...other(1_800_000_000_000), ...a, ...b], { cache });
    expect(endpointPorts(first)).toEqual([9001]);
    const second = compile([...base, ...other(1_600_000_000_000), ...a, ...b], { cache });
    expect(cache.hits).toBe(0);
    expect(endpointPorts(second)).toEqual([9002]);
  });

  it('a changed DestinationRule compiles every route again, with what it now says', () => {
    const cache = new CompileCache();
    const first = compile([...base, ...a, ...b], { cache });
    expect(endpointPorts(first)).toEqual([9001]);
    const second = compile([...parse('gw.yaml', GATEWAY), ...parse('svc.yaml', service('v2')), ...a, ...b], { cache });
    expect([cache.hits, cache.misses]).toEqual([0, 2]);
    expect(endpointPorts(second)).toEqual([9002]);
  });

  it('other options (gateway labels) compile every route again', () => {
    const cache = new CompileCache();
    compile([...base, ...a, ...b], { cache });
    compile([...base, ...a, ...b], { cache, labels: { istio: 'ingressgateway' } });
    expect(cache.hits).toBe(0);
  });
});

describe('creation order kept between compiles', () => {
  it('gives byCreation\'s order whatever was added and removed', () => {
    const rand = seeded(7);
    const make = (i: number) => ({ kind: 'VirtualService', namespace: `ns${rand(3)}`, name: `vs-${i}`, createdMs: rand(4) }) as unknown as ConfigObject;
    const cache = new CompileCache();
    let live: ConfigObject[] = Array.from({ length: 300 }, (_, i) => make(i));
    let next = 300;
    for (let round = 0; round < 30; round++) {
      expect(cache.inCreationOrder([...live])).toEqual(byCreation(live));
      live = live.filter(() => rand(10) !== 0);
      for (let k = rand(20); k > 0; k--) live.splice(rand(live.length + 1), 0, make(next++));
    }
  });
});
