import { describe, expect, it } from 'vitest';
import { readSubset } from '../../../src/config/yaml-subset.js';

// Maps met a second time with the same key sequence are made by a function made for that
// sequence (map-builder.ts): they must be the maps `{}` and one key after another would give,
// in the same key order, with the same prototype.

/** Keys in order, all the way down, and every map's prototype. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (v !== null && typeof v === 'object') {
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    return Object.entries(v).map(([k, x]) => [k, shape(x)]);
  }
  return v;
}

describe('maps made for a key sequence', () => {
  const docs = [
    'a: 1\nb: {host: x, port: {number: 80}}\nc: [{name: r0, match: [{uri: {prefix: /}}]}, {name: r1, match: []}]\n',
    '"2": two\n"1": one\nz: {"10": a, "9": b, x: c}\n',
    'labels: {app.kubernetes.io/name: web, "odd key": 1, x-request-id: 2, "quote\\"d": 3}\n',
    `big: {${Array.from({ length: 20 }, (_, i) => `k${i}: ${i}`).join(', ')}}\nsmall: {}\n`,
    'constructor: 1\ntoString: 2\nhasOwnProperty: {valueOf: 3}\n',
  ];

  it.each(docs)('are the maps one key after another gives: %s', (doc) => {
    const first = readSubset(doc)!.value;
    for (let i = 0; i < 3; i++) {
      const again = readSubset(doc)!.value;
      expect(again).toStrictEqual(first);
      expect(shape(again)).toEqual(shape(first));
    }
    // Against the order the text gives, for the first document's top level.
    expect(Object.keys(readSubset(doc)!.value as object)).toEqual(Object.keys(first as object));
  });

  it('keep the order written, integer keys first as any JavaScript object has them', () => {
    const v = readSubset('"2": two\n"1": one\nb: x\na: y\n')!.value as object;
    readSubset('"2": two\n"1": one\nb: x\na: y\n');
    expect(Object.keys(readSubset('"2": two\n"1": one\nb: x\na: y\n')!.value as object)).toEqual(['1', '2', 'b', 'a']);
    expect(Object.keys(v)).toEqual(['1', '2', 'b', 'a']);
  });

  it('decline a key written twice, in block and flow maps, however often the sequence was seen', () => {
    for (let i = 0; i < 3; i++) {
      expect(readSubset('a: 1\nb: 2\na: 3\n')).toBeUndefined();
      expect(readSubset('m: {a: 1, b: 2, a: 3}\n')).toBeUndefined();
      expect(readSubset('m: {a: 1, b: 2}\n')).toEqual({ value: { m: { a: 1, b: 2 } } });
    }
  });
});
