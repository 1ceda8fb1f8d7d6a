import { deserialize, serialize } from 'node:v8';
import { derivedOf } from '../../../src/config/derived.js';
import { describe, expect, it } from 'vitest';
import { parseConfigTexts, type FilePart } from '../../../src/config/load.js';
import type { ConfigObject } from '../../../src/config/types.js';
import { fromWire, toWire, type HeldFiles, type LoadedConfig, type WireConfig } from '../../../src/runtime/config-source.js';

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
