import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/compile.js';
import { CompileCache } from '../../../src/compile/compile-cache.js';
import { renderRoutes, snapshotToJSON } from '../../../src/compile/describe.js';
import { KeptVirtualHost } from '../../../src/compile/routes.js';
import type { Snapshot } from '../../../src/compile/snapshot.js';
import { parseConfigTexts } from '../../../src/config/load.js';
import type { ConfigObject } from '../../../src/config/types.js';

// With a compile cache (serve), a VirtualService's routes are resolved at compile time (clusters
// made, warnings reported) and built when first asked for. What is built must be what a compile
// without a cache builds at once, whenever it is built: before or after a reload.

const gateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 8080, name: http-redirect, protocol: HTTP}
    hosts: ["*"]
    tls: {httpsRedirect: true}
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
`;

const vs = (name: string, host: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /${name}/}, headers: {x-v: {exact: "1"}}}]
    route: [{destination: {host: backend.test, subset: v1}}]
    timeout: 3s
${extra}  - route: [{destination: {host: backend.test}}]
`;

const texts = (edited = false) => [
  gateway,
  vs('a', 'a.test', '  - match: [{uri: {prefix: /ghost}}]\n    route: [{destination: {host: ghost.test}}]\n'),
  vs('b', 'b.test', '  - match: [{uri: {prefix: /split}}]\n    route: [{destination: {host: backend.test}, weight: 40}, {destination: {host: backend.test, subset: v1}, weight: 40}]\n'),
  vs('c', edited ? 'c-edited.test' : 'c.test'),
  vs('d', '"*.wild.test"', '  - match: [{uri: {prefix: /mirror}}]\n    mirror: {host: nowhere.test}\n    route: [{destination: {host: backend.test}}]\n'),
];

function load(edited = false, mtimeMs = 1_700_000_000_000) {
  const loaded = parseConfigTexts(texts(edited).map((text, i) => ({ file: `f${i}.yaml`, text, mtimeMs })), { defaultNamespace: 'default' });
  expect(loaded.problems).toEqual([]);
  return loaded.objects;
}

/** Every virtual host of every HTTP chain. */
const vhosts = (snap: Snapshot) =>
  snap.listeners.flatMap((l) => l.chains).flatMap((c) => (c.type === 'http' ? [...c.routes.exact.values(), ...c.routes.wildcards.map((w) => w.vhost), ...(c.routes.any ? [c.routes.any] : [])] : []));

const virtualServices = (objects: ConfigObject[]) => objects.filter((o) => o.kind === 'VirtualService');

function expectSame(kept: Snapshot, atOnce: Snapshot) {
  expect(renderRoutes(kept)).toEqual(renderRoutes(atOnce));
  const listeners = (snap: Snapshot) => (snapshotToJSON(snap) as { listeners: unknown }).listeners;
  expect(listeners(kept)).toEqual(listeners(atOnce));
  expect([...kept.clusters.keys()]).toEqual([...atOnce.clusters.keys()]);
  expect(kept.problems).toEqual(atOnce.problems);
}

describe('routes kept in a compile cache', () => {
  it('are resolved at compile time and built when first asked for, as a compile without a cache builds them', () => {
    const objects = load();
    const cache = new CompileCache();
    const kept = compile(objects, { cache });
    const atOnce = compile(objects);
    // Warnings and clusters are there before any route is built.
    expect(kept.problems).toEqual(atOnce.problems);
    expect(kept.problems.map((p) => p.message).join('\n')).toMatch(/ghost\.test[\s\S]*not 100|not 100[\s\S]*ghost\.test/);
    expect([...kept.clusters.keys()]).toEqual([...atOnce.clusters.keys()]);
    const hosts = vhosts(kept);
    expect(hosts.length).toBe(8);
    expect(hosts.every((h) => h instanceof KeptVirtualHost)).toBe(true);
    for (const v of virtualServices(objects)) for (const scope of ['default/gw|80', 'default/gw|8080']) expect(cache.peek(v, scope)?.routes).toBeUndefined();
    // One host asked for builds its VirtualService's routes for that scope only.
    expect(kept.listeners[0]!.chains[0]!.type).toBe('http');
    const first = hosts[0]!;
    expect(first.routes.length).toBe(3);
    expect(first.routes).toBe(first.routes);
    expect(virtualServices(objects).filter((v) => cache.peek(v, 'default/gw|80')?.routes !== undefined).length).toBe(1);
    expectSame(kept, atOnce);
    // Building them reported nothing more.
    expect(kept.problems).toEqual(atOnce.problems);
    expect(hosts.filter((h) => h.requireTls === true).length).toBe(4);
  });

  it('built only after a reload that kept them are what a fresh compile builds', () => {
    const cache = new CompileCache();
    const before = load();
    compile(before, { cache, version: 1 });
    // The same objects but one file edited (read again: new objects for it); nothing built yet.
    const again = load(true);
    const reread = before.map((o) => (o.name === 'c' && o.kind === 'VirtualService' ? again.find((x) => x.name === 'c' && x.kind === 'VirtualService')! : o));
    const reloaded = compile(reread, { cache, version: 2 });
    expect(cache.hits).toBeGreaterThan(0);
    expectSame(reloaded, compile(reread));
    expect(renderRoutes(reloaded)).toContain('c-edited.test');
  });

  it('serve the old snapshot and the new alike when the routes are built after the reload', () => {
    const cache = new CompileCache();
    const objects = load();
    const old = compile(objects, { cache, version: 1 });
    const next = compile(objects, { cache, version: 2 });
    expect(cache.hits).toBe(8);
    // The old snapshot's hosts ask first; both snapshots give the same routes, built once.
    const atOnce = renderRoutes(compile(objects));
    expect(renderRoutes(old)).toEqual(atOnce);
    expect(renderRoutes(next)).toEqual(atOnce);
    expect(vhosts(old)[0]!.routes).toBe(vhosts(next)[0]!.routes);
  });

  it('built nowhere during a reload that patches a table with a shared host', () => {
    const cache = new CompileCache();
    const lone = Array.from({ length: 20 }, (_, i) => vs(`v${i}`, `v${i}.test`));
    const files = [gateway, vs('s1', 'shared.test'), vs('s2', 'shared.test'), ...lone];
    const parse = (texts: string[], mtimeMs: number) => parseConfigTexts(texts.map((text, i) => ({ file: `f${i}.yaml`, text, mtimeMs })), { defaultNamespace: 'default' }).objects;
    const first = parse(files, 1_700_000_000_000);
    compile(first, { cache, version: 1 });
    const kept = virtualServices(first).filter((o) => o.name.startsWith('v'));
    const unbuilt = () => kept.filter((o) => cache.peek(o, 'default/gw|80')!.routes === undefined).length;
    expect(unbuilt()).toBe(20);
    // A new file, newer than the rest, with a host of its own: the table is patched.
    const added = parseConfigTexts([{ file: 'z.yaml', text: vs('z', 'z.test'), mtimeMs: 1_800_000_000_000 }], { defaultNamespace: 'default' }).objects;
    const next = compile([...first, ...added], { cache, version: 2 });
    expect(cache.tablesPatched).toContain('http.80');
    expect(unbuilt()).toBe(20);
    expect(renderRoutes(next)).toEqual(renderRoutes(compile([...first, ...added])));
  });

  it('keep no compile but the latest alive across one-file reloads that patch the table', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const cache = new CompileCache();
    const one = (i: number, host: string, mtimeMs: number) => parseConfigTexts([{ file: `v${i}.yaml`, text: vs(`v${i}`, host), mtimeMs }], { defaultNamespace: 'default' }).objects;
    let objects = [...parseConfigTexts([{ file: 'gw.yaml', text: gateway, mtimeMs: 1 }], { defaultNamespace: 'default' }).objects, ...Array.from({ length: 10 }, (_, i) => one(i, `v${i}.test`, 1)).flat()];
    let snap = compile(objects, { cache });
    const before: WeakRef<object>[] = [];
    for (let r = 1; r <= 8; r++) {
      before.push(new WeakRef(snap.clusters));
      const edited = one(r, `v${r}-edited.test`, 1 + r);
      objects = objects.map((o) => (o.source.file === `v${r}.yaml` ? edited[0]! : o));
      snap = compile(objects, { cache });
      expect(cache.tablesPatched).toContain('http.80');
    }
    expect(renderRoutes(snap)).toEqual(renderRoutes(compile(objects)));
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 0));
      gc();
    }
    expect(before.filter((w) => w.deref() !== undefined).length).toBe(0);
  });
});
