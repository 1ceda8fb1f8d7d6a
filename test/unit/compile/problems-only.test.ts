import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the bench's config writer is plain JavaScript, shared so the test reads the config the scale bench does
import { writeScaleConfig } from '../../../bench/lib/config.mjs';
import { compile, type CompileOptions } from '../../../src/compile/compile.js';
import { CompileCache } from '../../../src/compile/compile-cache.js';
import { hasRegex } from '../../../src/compile/match.js';
import { parseConfigTexts } from '../../../src/config/load.js';
import { filesUnder } from '../../helpers/config-files.js';

// `validate` compiles with problemsOnly: routes are resolved (clusters, warnings) but not built.
// It must report exactly what the full compile reports, in the same order, and name the same
// clusters, on every config: the repository's and the samples', a generated one with every route
// feature, and one written to make each route warning.

const ROOT = path.resolve(import.meta.dirname, '../../..');
const scaleDir = mkdtempSync(path.join(tmpdir(), 'meshgate-problems-only-'));
afterAll(() => rmSync(scaleDir, { recursive: true, force: true }));

function loadTexts(files: string[]) {
  return parseConfigTexts(
    files.map((file) => ({ file, text: readFileSync(file, 'utf8'), mtimeMs: 1_700_000_000_000 })),
    { defaultNamespace: 'default' },
  ).objects;
}

function expectSameProblems(objects: ReturnType<typeof loadTexts>, opts: CompileOptions = {}) {
  const full = compile(objects, opts);
  const only = compile(objects, { ...opts, problemsOnly: true });
  expect(only.problems).toEqual(full.problems);
  expect([...only.clusters.keys()]).toEqual([...full.clusters.keys()]);
  return { full, only };
}

const ROUTE_WARNINGS = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other, namespace: default}
spec:
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: [backend.test]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: 9001}, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: backend, namespace: default}
spec:
  host: backend.test
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: many, namespace: default}
spec:
  hosts: [many.example]
  gateways: [gw, other]
  http:
  - match: [{uri: {prefix: /split}}]
    route:
    - {destination: {host: backend.test, subset: v1}, weight: 30}
    - {destination: {host: backend.test}, weight: 30}
  - match: [{uri: {prefix: /nowhere}}]
    route: [{destination: {host: nowhere.test}}]
  - match: [{uri: {prefix: /nosubset}}]
    route: [{destination: {host: backend.test, subset: v9}}]
  - match: [{uri: {prefix: /badport}}]
    route: [{destination: {host: backend.test, port: {number: 9999}}}]
  - match: [{uri: {prefix: /mirror}}]
    mirror: {host: ghost.test}
    route: [{destination: {host: backend.test}}]
  - match: [{uri: {prefix: /mirrors}}]
    mirrors: [{destination: {host: backend.test, subset: v7}}]
    route: [{destination: {host: backend.test}}]
  - match: [{uri: {prefix: /other-only}, gateways: [other]}]
    route: [{destination: {host: other-only.test}}]
  - match: [{uri: {prefix: /port}, port: 8080}]
    route: [{destination: {host: port-only.test}}]
  - match: [{uri: {regex: "/re/[a-z]+"}, headers: {x-a: {exact: b}}, queryParams: {q: {prefix: z}}}]
    route: [{destination: {host: backend.test}, headers: {request: {set: {x-b: c}}}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
    corsPolicy: {allowOrigins: [{exact: "https://a.example"}]}
    retries: {attempts: 2}
    timeout: 2s
  - match: [{uri: {prefix: /redirect}}]
    redirect: {uri: /new}
  - match: [{uri: {prefix: /direct}}]
    directResponse: {status: 418, body: {string: teapot}}
  - delegate: {name: missing}
  - delegate: {name: hidden, namespace: other}
  - delegate: {name: child}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hidden, namespace: other}
spec:
  exportTo: ["."]
  http:
  - route: [{destination: {host: backend.test}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: child, namespace: default}
spec:
  hosts: [ignored.example]
  http:
  - delegate: {name: missing}
  - match: [{uri: {prefix: /child}}]
    route: [{destination: {host: child-nowhere.test}}, {destination: {host: backend.test}, weight: 5}]
`;

describe('compile with problemsOnly', () => {
  it('reports what the full compile reports, on a config written to make each route warning', () => {
    const loaded = parseConfigTexts([{ file: 'warnings.yaml', text: ROUTE_WARNINGS, mtimeMs: 1_700_000_000_000 }], { defaultNamespace: 'default' });
    expect(loaded.problems).toEqual([]);
    const objects = loaded.objects;
    const { full, only } = expectSameProblems(objects);
    // Not a test that cannot fail: the config does make warnings, on routes and delegates alike.
    const messages = full.problems.map((p) => p.message).join('\n');
    for (const part of ['not 100', 'nowhere.test', 'v9', 'ghost.test', 'v7', 'delegate VirtualService default/missing', 'not exported', 'must not set hosts', 'child-nowhere.test']) {
      expect(messages).toContain(part);
    }
    // And builds no route: the full compile's tables hold some, the problems-only ones none.
    const routesIn = (s: typeof full) => s.listeners.flatMap((l) => l.chains).flatMap((c) => (c.type === 'http' ? [...c.routes.exact.values()] : [])).reduce((n, vh) => n + vh.routes.length, 0);
    expect(routesIn(full)).toBeGreaterThan(10);
    expect(routesIn(only)).toBe(0);
    expectSameProblems(objects, { meshNamespace: 'default' });
  });

  it('reports what the full compile reports, on every config of the repository and the samples, and a generated one with every route feature', () => {
    writeScaleConfig(scaleDir, 18080, { vs: 40, perFile: 10, features: true });
    const dirs = ['gateways', 'deploy', 'test/fixtures', '../shared/istio-samples', '../shared/seed'].map((d) => path.join(ROOT, d));
    const files = [...dirs, scaleDir].flatMap((d) => filesUnder(d, /\.ya?ml$/));
    expect(files.length).toBeGreaterThan(50);
    for (const file of files) expectSameProblems(loadTexts([file]));
    expectSameProblems(loadTexts(filesUnder(scaleDir, /\.ya?ml$/)));
    expectSameProblems(loadTexts(filesUnder(path.join(ROOT, '../shared/istio-samples'), /\.ya?ml$/)), { meshNamespace: 'default' });
  });

  it('is ignored with a compile cache, which would keep the routes it did not build', () => {
    const objects = parseConfigTexts([{ file: 'warnings.yaml', text: ROUTE_WARNINGS, mtimeMs: 1_700_000_000_000 }], { defaultNamespace: 'default' }).objects;
    const cache = new CompileCache();
    compile(objects, { cache, problemsOnly: true });
    const again = compile(objects, { cache });
    const plain = compile(objects);
    expect(again.listeners.flatMap((l) => l.chains).length).toBe(plain.listeners.flatMap((l) => l.chains).length);
    const table = (s: typeof plain) => s.listeners.flatMap((l) => l.chains).flatMap((c) => (c.type === 'http' ? [...c.routes.exact].map(([d, vh]) => `${d} ${vh.routes.length}`) : []));
    expect(table(again)).toEqual(table(plain));
  });
});

describe('hasRegex', () => {
  it('finds a regular expression in any part of a condition, and nowhere else', () => {
    expect(hasRegex({ uri: { regex: '/a.*' } })).toBe(true);
    expect(hasRegex({ method: { regex: 'GET|PUT' } })).toBe(true);
    expect(hasRegex({ authority: { regex: '.*' } })).toBe(true);
    expect(hasRegex({ scheme: { regex: 'https?' } })).toBe(true);
    expect(hasRegex({ headers: { a: { exact: '1' }, b: { regex: 'x+' } } })).toBe(true);
    expect(hasRegex({ withoutHeaders: { b: { regex: 'x+' } } })).toBe(true);
    expect(hasRegex({ queryParams: { q: { regex: '[0-9]+' } } })).toBe(true);
    expect(hasRegex({ uri: { prefix: '/a' }, headers: { a: { exact: '1' } }, queryParams: { q: { prefix: 'z' } }, method: { exact: 'GET' } })).toBe(false);
    expect(hasRegex({})).toBe(false);
  });
});
