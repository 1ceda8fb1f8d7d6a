import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/compile.js';
import { renderRoutes, snapshotToJSON } from '../../../src/compile/describe.js';
import { loadConfig } from '../../../src/config/load.js';
import type { Snapshot } from '../../../src/compile/snapshot.js';
import { formatProblem } from '../../../src/config/problems.js';
import { compileLoaded, FileConfigSource } from '../../../src/runtime/config-source.js';
import { seeded } from '../../helpers/seeded.js';

// A reload keeps what did not change: file entries, merged object lists, each VirtualService's
// gateways, hosts, domains and compiled routes. Whatever the edit, the reloaded config must be
// the one a fresh start on the same files gives: same route table, same problems.

const gateway = (hosts: string[]) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
  - port: {number: 8080, name: alt, protocol: HTTP}
    hosts: ["*.alt.test"]
`;

const backend = (name: string, subset = 'v1') => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.svc.test]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: 9001}, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: default}
spec:
  host: ${name}.svc.test
  subsets: [{name: pick, labels: {version: ${subset}}}]
`;

const virtualService = (name: string, hosts: string[], to: string, extra = '') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /${name}/}}]
    route: [{destination: {host: ${to}.svc.test, subset: pick}}]
${extra}  - route: [{destination: {host: ${to}.svc.test}}]
`;

function file(backendName: string, vss: string[], subset?: string): string {
  return [backend(backendName, subset), ...vss].join('---\n');
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'meshgate-reload-eq-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const write = (name: string, text: string) => writeFile(path.join(dir, name), text);

const listenersJSON = (snap: Snapshot) => (snapshotToJSON(snap) as { listeners: unknown }).listeners;

async function fresh(): Promise<{ routes: string; dump: unknown; clusters: string[]; problems: string[] }> {
  const loaded = await loadConfig([dir], { defaultNamespace: 'default' });
  const snap = compile(loaded.objects, { tls: { credentials: new Map(), previous: new Map(), now: 0 } });
  return { routes: renderRoutes(snap), dump: listenersJSON(snap), clusters: [...snap.clusters.keys()], problems: [...loaded.problems, ...snap.problems].map(formatProblem) };
}

describe('a reload gives what a fresh start on the same files gives', () => {
  it('through host, gateway, rule and file edits', async () => {
    await write('00-gw.yaml', gateway(['*.test']));
    await write('a.yaml', file('a', [virtualService('a1', ['one.test', 'two.test'], 'a'), virtualService('a2', ['shared.test', 'x.alt.test'], 'a')]));
    await write('b.yaml', file('b', [virtualService('b1', ['three.test'], 'b'), virtualService('b2', ['shared.test'], 'b', '  - match: [{headers: {x-b: {exact: "1"}}}]\n    route: [{destination: {host: b.svc.test}}]\n')]));
    await write('e.yaml', file('e', [virtualService('e1', ['e1.test'], 'e'), virtualService('e2', ['e2.test', 'e3.test'], 'a')]));
    const source = new FileConfigSource([dir], { defaultNamespace: 'default' });
    const opts = { defaultNamespace: 'default', cache: source.compileCache };
    const steps: [string, () => Promise<unknown>][] = [
      ['first load', async () => undefined],
      // Files whose hosts no other file shares: the table is patched, not built again.
      ['a host renamed in a file of its own', () => write('e.yaml', file('e', [virtualService('e1', ['e1-renamed.test'], 'e'), virtualService('e2', ['e2.test', 'e3.test'], 'a')]))],
      ['a route changed in it', () => write('e.yaml', file('e', [virtualService('e1', ['e1-renamed.test'], 'b'), virtualService('e2', ['e2.test', 'e3.test'], 'a')]))],
      ['a new file with hosts of its own', () => write('f.yaml', virtualService('f1', ['f1.test', 'e1.test'], 'e'))],
      ['a new file whose host another has', () => write('g.yaml', virtualService('g1', ['f1.test'], 'e'))],
      ['a host renamed', () => write('a.yaml', file('a', [virtualService('a1', ['one-renamed.test', 'two.test'], 'a'), virtualService('a2', ['shared.test', 'x.alt.test'], 'a')]))],
      ['the Gateway narrowed, VirtualServices unchanged', () => write('00-gw.yaml', gateway(['one-renamed.test', 'shared.test', 'three.test']))],
      ['the Gateway widened again', () => write('00-gw.yaml', gateway(['*']))],
      ['a new file sharing a domain', () => write('c.yaml', file('c', [virtualService('c1', ['shared.test', 'four.test'], 'c')]))],
      ['a DestinationRule changed', () => write('b.yaml', file('b', [virtualService('b1', ['three.test'], 'b'), virtualService('b2', ['shared.test'], 'b')], 'v2'))],
      ['an object defined twice', () => write('d.yaml', virtualService('a1', ['dup.test'], 'a'))],
      ['the second definition removed', () => unlink(path.join(dir, 'd.yaml'))],
      ['a file removed', () => unlink(path.join(dir, 'c.yaml'))],
      ['a destination that does not exist', () => write('b.yaml', file('b', [virtualService('b1', ['three.test'], 'nowhere'), virtualService('b2', ['shared.test'], 'b')]))],
    ];
    let version = 1;
    const patched: string[] = [];
    for (const [what, edit] of steps) {
      await edit();
      const loaded = await source.read();
      const built = compileLoaded(loaded, { ...opts, version: version++ });
      const expected = await fresh();
      expect({ what, routes: renderRoutes(built.snapshot) }).toEqual({ what, routes: expected.routes });
      expect({ what, dump: listenersJSON(built.snapshot) }).toEqual({ what, dump: expected.dump });
      expect({ what, clusters: [...built.snapshot.clusters.keys()] }).toEqual({ what, clusters: expected.clusters });
      expect({ what, problems: built.problems.map(formatProblem) }).toEqual({ what, problems: expected.problems });
      if (source.compileCache.tablesPatched.includes('http.80')) patched.push(what);
    }
    // The patch is what runs for edits of files whose hosts are their own.
    expect(patched).toEqual(['a host renamed in a file of its own', 'a route changed in it', 'a new file with hosts of its own', 'an object defined twice']);
    // The route table did change along the way, and the edits were read as edits.
    expect(renderRoutes(compileLoaded(await source.read(), { ...opts, version }).snapshot)).toContain('one-renamed.test');
    expect(source.compileCache.hits).toBeGreaterThan(0);
  });
});

describe('a reload gives a fresh start\'s config, through random edits', () => {
  it('60 seeded edits of hosts, routes and files', async () => {
    const rand = seeded(2026);
    const pick = <T>(list: readonly T[]): T => list[rand(list.length)]!;
    const hostPool = ['h1.test', 'h2.test', 'h3.test', 'h4.test', 'shared.test', '*.wild.test', 'x.wild.test', 'y.alt.test'];
    const backends = ['a', 'b', 'c'];
    // Each write is new text: a file rewritten with the text it had keeps its objects and their
    // creation time (as `kubectl apply` of an unchanged object keeps its creationTimestamp),
    // which a fresh start cannot know.
    let writes = 0;
    const fileText = (f: number, vsCount: number) =>
      `# write ${++writes}\n` +
      Array.from({ length: vsCount }, (_, k) => {
        // Istio refuses a VirtualService whose hosts overlap (*.wild.test and x.wild.test).
        const hosts: string[] = [];
        for (let n = 1 + rand(2); n > 0; n--) {
          const h = pick(hostPool);
          if (!hosts.some((o) => o === h || (o.startsWith('*') && h.endsWith(o.slice(1))) || (h.startsWith('*') && o.endsWith(h.slice(1))))) hosts.push(h);
        }
        return virtualService(`f${f}-vs${k}-${rand(3)}`, hosts, pick(backends));
      }).join('---\n');
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    await write('00-gw.yaml', gateway(['*.test']));
    await write('01-backends.yaml', backends.map((b) => backend(b)).join('---\n'));
    const live = new Set<number>();
    for (let f = 0; f < 4; f++) {
      await write(`f${f}.yaml`, fileText(f, 1 + rand(3)));
      live.add(f);
    }
    const source = new FileConfigSource([dir], { defaultNamespace: 'default' });
    const opts = { defaultNamespace: 'default', cache: source.compileCache };
    let patched = 0;
    for (let step = 0; step < 60; step++) {
      const what = rand(10);
      const f = rand(6);
      if (what < 6 || !live.has(f)) {
        await write(`f${f}.yaml`, fileText(f, 1 + rand(3)));
        live.add(f);
      } else if (what < 8) {
        await unlink(path.join(dir, `f${f}.yaml`));
        live.delete(f);
      } else if (what === 8) {
        await write('00-gw.yaml', gateway(rand(2) === 0 ? ['*.test'] : ['h1.test', 'shared.test', '*.wild.test']));
      } else {
        await write('01-backends.yaml', backends.map((b) => backend(b, rand(2) === 0 ? 'v1' : 'v2')).join('---\n'));
      }
      const built = compileLoaded(await source.read(), { ...opts, version: step + 1 });
      const expected = await fresh();
      expect({ step, routes: renderRoutes(built.snapshot) }).toEqual({ step, routes: expected.routes });
      expect({ step, clusters: [...built.snapshot.clusters.keys()] }).toEqual({ step, clusters: expected.clusters });
      expect({ step, problems: built.problems.map(formatProblem) }).toEqual({ step, problems: expected.problems });
      if (source.compileCache.tablesPatched.includes('http.80')) patched++;
    }
    // Enough of the edits took the patch for this to test it.
    expect(patched).toBeGreaterThan(5);
  });
});
