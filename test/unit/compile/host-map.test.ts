import { describe, expect, it } from 'vitest';
import { LayeredHostMap } from '../../../src/compile/host-map.js';
import { seeded } from '../../helpers/seeded.js';

// A patched table's hosts must read and iterate exactly as the plain map a full build makes:
// the hosts that stay in their order, then the new ones.

describe('LayeredHostMap', () => {
  it('reads and iterates as the map it stands for, through patches on patches', () => {
    const rand = seeded(11);
    let plain = new Map<string, number>();
    for (let i = 0; i < 3000; i++) plain.set(`h${i}`, i);
    let layered: ReadonlyMap<string, number> = new Map(plain);
    let next = 3000;
    for (let round = 0; round < 40; round++) {
      const keys = [...plain.keys()];
      const removed = new Set<string>();
      for (let k = rand(30); k > 0; k--) removed.add(keys[rand(keys.length)]!);
      const added = new Map<string, number>();
      // Some removed hosts come back with a new value; some hosts are new.
      for (const k of removed) if (rand(2) === 0) added.set(k, next++);
      for (let k = rand(20); k > 0; k--) added.set(`n${next}`, next++);
      const expected = new Map([...plain].filter(([k]) => !removed.has(k)));
      for (const [k, v] of added) expected.set(k, v);
      layered = LayeredHostMap.of(layered, removed, added);
      plain = expected;
      expect([...layered]).toEqual([...plain]);
      expect(layered.size).toBe(plain.size);
      for (const k of [...removed, ...added.keys(), 'h1', 'absent']) {
        expect(layered.get(k)).toBe(plain.get(k));
        expect(layered.has(k)).toBe(plain.has(k));
      }
    }
  });

  it('folds into a plain map once the patches are a large share of it', () => {
    const base = new Map(Array.from({ length: 100 }, (_, i) => [`h${i}`, i] as const));
    const small = LayeredHostMap.of(base, new Set(['h1']), new Map([['x', 1]]));
    expect(small).toBeInstanceOf(LayeredHostMap);
    const removed = new Set(Array.from({ length: 1100 }, (_, i) => `h${i}`));
    expect(LayeredHostMap.of(small, removed, new Map())).toBeInstanceOf(Map);
  });
});
