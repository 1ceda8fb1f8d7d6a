import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { derivedOf } from '../../../src/config/derived.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigFileCache, loadConfig, parseConfigTexts, type FilePart } from '../../../src/config/load.js';
import type { ConfigObject } from '../../../src/config/types.js';
import { fromWire, readOwn, sameReads, toWire, type HeldFiles, type LoadedConfig, type WireConfig } from '../../../src/runtime/config-source.js';

// A primary sends each config file's objects to a worker once per read of the file; the worker
// keeps them, so that after a reload its unchanged files are the same objects as before.

const service = (name: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  ports: [{name: http, port: 80}]
`;

function part(file: string, id: number, names: string[]): FilePart {
  return { file, id, objects: parseConfigTexts([{ file, text: names.map(service).join('---\n') }], { defaultNamespace: 'default' }).objects };
}

function loaded(parts: FilePart[] | undefined, objects = (parts ?? []).flatMap((p) => p.objects)): LoadedConfig {
  return { objects, credentials: new Map(), problems: [], files: (parts ?? []).map((p) => p.file), tlsFiles: [], parts };
}

/** Through IPC: a structured clone, as node:cluster's advanced serialization makes. */
const overIpc = (w: WireConfig): WireConfig => deserialize(serialize(w)) as WireConfig;
const names = (objects: readonly ConfigObject[]) => objects.map((o) => o.name);

describe('config sent to workers file by file', () => {
  it('sends a file once per read of it, and the worker keeps its objects', () => {
    const sent = new Map<string, number>();
    const held: HeldFiles = new Map();
    const a = part('a.yaml', 1, ['a1', 'a2']);
    const b = part('b.yaml', 2, ['b1']);
    const first = toWire(loaded([a, b]), sent);
    expect(first.files!.map((f) => f.objects !== undefined)).toEqual([true, true]);
    const got1 = fromWire(overIpc(first), held);
    expect(names(got1.objects)).toEqual(['a1', 'a2', 'b1']);
    expect(got1.objects[0]!.source.locate(['spec'])).toEqual({ line: 0, col: 0 });

    // b.yaml read again: only it travels; a.yaml's objects are the very ones the worker had.
    const b2 = part('b.yaml', 3, ['b1', 'b2']);
    const second = toWire(loaded([a, b2]), sent);
    expect(second.files!.map((f) => f.objects !== undefined)).toEqual([false, true]);
    const got2 = fromWire(overIpc(second), held);
    expect(names(got2.objects)).toEqual(['a1', 'a2', 'b1', 'b2']);
    expect(got2.objects[0]).toBe(got1.objects[0]);
    expect(got2.objects[2]).not.toBe(got1.objects[2]);

    // a.yaml gone: the worker lets it go too.
    const third = fromWire(overIpc(toWire(loaded([b2]), sent)), held);
    expect(names(third.objects)).toEqual(['b1', 'b2']);
    expect([...held.keys()]).toEqual(['b.yaml']);
  });

  it('sends every object when there is no per-file form (an object defined twice), and starts over', () => {
    const sent = new Map<string, number>([['a.yaml', 1]]);
    const held: HeldFiles = new Map();
    const a = part('a.yaml', 1, ['a1']);
    const wire = toWire(loaded(undefined, a.objects), sent);
    expect(wire.files).toBeUndefined();
    expect(sent.size).toBe(0);
    expect(names(fromWire(overIpc(wire), held).objects)).toEqual(['a1']);
    expect(held.size).toBe(0);
  });

  it('compiled state kept on objects does not travel', () => {
    const a = part('a.yaml', 1, ['a1']);
    derivedOf(a.objects[0]!).lowerHosts = ['x'];
    const wire = overIpc(toWire(loaded([a]), new Map()));
    expect(wire.files![0]!.objects![0]!.derived).toBeUndefined();
  });

  it('a worker named a file it does not hold refuses the config (it is then replaced)', () => {
    const sent = new Map<string, number>([['a.yaml', 1]]);
    const wire = toWire(loaded([part('a.yaml', 1, ['a1'])]), sent);
    expect(() => fromWire(overIpc(wire), new Map())).toThrow(/a\.yaml \(read 1\) without its objects/);
  });
});

// A worker of `serve --workers` reads the config files itself while the primary reads them, and
// says what text it read (a digest per file); the primary sends by name the files it read the
// same, and where its checks refused nothing (the worker's read skips them).
describe('config files a worker read itself', () => {
  const vs = (name: string, host: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  http:
  - route: [{destination: {host: backend}}]
`;
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshgate-own-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function primaryRead(): Promise<LoadedConfig> {
    const cache = new ConfigFileCache();
    const got = await loadConfig([dir], { defaultNamespace: 'default' }, cache);
    return { objects: got.objects, credentials: new Map(), problems: got.problems, files: got.files, tlsFiles: [], parts: cache.parts(got.files) };
  }

  it('takes the files read with the same text by name, and is sent the objects of the others', async () => {
    await writeFile(path.join(dir, 'a.yaml'), vs('a', 'a.example.com'));
    await writeFile(path.join(dir, 'b.yaml'), vs('b', 'b.example.com'));
    const own = (await readOwn([dir], 'default'))!;
    // b.yaml changes between the worker's read and the primary's.
    await writeFile(path.join(dir, 'b.yaml'), vs('b', 'b2.example.com'));
    const primary = await primaryRead();
    const same = sameReads(primary, own.digests);
    expect([...same].map((f) => path.basename(f))).toEqual(['a.yaml']);

    const sent = new Map<string, number>();
    const wire = toWire(primary, sent, same);
    expect(wire.files!.map((f) => [path.basename(f.file), f.own === true, f.objects !== undefined])).toEqual([
      ['a.yaml', true, false],
      ['b.yaml', false, true],
    ]);
    const held: HeldFiles = new Map();
    const got = fromWire(overIpc(wire), held, own);
    expect(got.objects.map((o) => (o.spec as { hosts: string[] }).hosts[0])).toEqual(['a.example.com', 'b2.example.com']);
    // a.yaml's objects are the worker's own, held under the primary's read of the file.
    expect(got.objects[0]).toBe(own.files.get(path.join(dir, 'a.yaml'))![0]);
    expect(held.get(path.join(dir, 'a.yaml'))!.id).toBe(primary.parts![0]!.id);
    expect(got.objects[0]!.source.locate(['spec'])).toEqual({ line: 0, col: 0 });
    // The next config names a.yaml only: the worker holds it.
    expect(toWire(primary, sent).files!.every((f) => f.objects === undefined && f.own === undefined)).toBe(true);
  });

  it('a file written again with the same text is sent: its objects keep the creation time of the first read', async () => {
    // Two VirtualServices for one host: the older wins, and without creationTimestamp an object
    // is as old as its file's modification time when its text was read.
    const file = path.join(dir, 'a.yaml');
    await writeFile(file, vs('a', 'shop.example.com'));
    await utimes(file, new Date('2024-01-01T00:00:00Z'), new Date('2024-01-01T00:00:00Z'));
    const cache = new ConfigFileCache();
    const first = await loadConfig([dir], { defaultNamespace: 'default' }, cache);
    // Touched (a checkout, a ConfigMap swapped): the primary keeps its objects and their time.
    await utimes(file, new Date('2025-01-01T00:00:00Z'), new Date('2025-01-01T00:00:00Z'));
    const again = await loadConfig([dir], { defaultNamespace: 'default' }, cache);
    expect(again.objects[0]).toBe(first.objects[0]);
    const primary: LoadedConfig = { objects: again.objects, credentials: new Map(), problems: [], files: again.files, tlsFiles: [], parts: cache.parts(again.files) };
    const own = (await readOwn([dir], 'default'))!;
    expect(own.files.get(file)![0]!.createdMs).not.toBe(first.objects[0]!.createdMs);
    expect(sameReads(primary, own.digests).size).toBe(0);
    const got = fromWire(overIpc(toWire(primary, new Map(), sameReads(primary, own.digests))), new Map(), own);
    expect(got.objects[0]!.createdMs).toBe(first.objects[0]!.createdMs);
  });

  it('reads as the primary does, but for the checks: the objects are the same', async () => {
    await writeFile(path.join(dir, 'a.yaml'), [vs('a', 'a.example.com'), vs('b', 'b.example.com')].join('---\n'));
    const own = (await readOwn([dir], 'default'))!;
    const primary = await primaryRead();
    const strip = (o: object) => JSON.parse(JSON.stringify({ ...o, source: undefined })) as unknown;
    expect([...own.files.values()].flat().map(strip)).toEqual(primary.objects.map(strip));
  });

  it('a file where the checks refused an object is sent, whatever the worker read', async () => {
    // A host with a port: the webhook's check refuses it; the worker's read does not check.
    await writeFile(path.join(dir, 'a.yaml'), [vs('a', 'a.example.com:80'), vs('b', 'b.example.com')].join('---\n'));
    const own = (await readOwn([dir], 'default'))!;
    expect([...own.files.values()].flat().map((o) => o.name)).toEqual(['a', 'b']);
    const primary = await primaryRead();
    expect(primary.objects.map((o) => o.name)).toEqual(['b']);
    expect(sameReads(primary, own.digests).size).toBe(0);
    const wire = toWire(primary, new Map(), sameReads(primary, own.digests));
    expect(fromWire(overIpc(wire), new Map(), own).objects.map((o) => o.name)).toEqual(['b']);
  });

  it('with an object defined twice there is no per-file form: no own read, every object sent', async () => {
    await writeFile(path.join(dir, 'a.yaml'), vs('a', 'a.example.com'));
    await writeFile(path.join(dir, 'b.yaml'), vs('a', 'b.example.com'));
    expect(await readOwn([dir], 'default')).toBeUndefined();
    const primary = await primaryRead();
    expect(sameReads(primary, [{ file: path.join(dir, 'a.yaml'), digest: 'x' }]).size).toBe(0);
    expect(toWire(primary, new Map(), new Set([path.join(dir, 'a.yaml')])).objects).toHaveLength(1);
  });

  it('a file named as read by the worker that it did not read refuses the config', () => {
    const wire = toWire(loaded([part('a.yaml', 1, ['a1'])]), new Map(), new Set(['a.yaml']));
    expect(() => fromWire(overIpc(wire), new Map(), { files: new Map(), digests: [] })).toThrow(/a\.yaml \(read 1\) without its objects/);
  });
});
