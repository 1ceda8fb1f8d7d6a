import { describe, expect, it } from 'vitest';
import { hash32, HashRing } from '../../../src/upstream/hash.js';

// The consistent-hash machinery behind DestinationRule `consistentHash` (Envoy's ring_hash):
// a key always lands on the same endpoint while the endpoint set is unchanged, load follows
// weights, and removing an endpoint only moves the keys it owned.

interface Item {
  name: string;
  weight: number;
}

const items = (weights: number[]): Item[] => weights.map((weight, i) => ({ name: `10.0.0.${i + 1}:8080`, weight }));
const ring = (list: Item[], size?: number) => new HashRing(list, (t) => t.name, (t) => t.weight, size);

function shares(r: HashRing<Item>, keys: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < keys; i++) {
    const t = r.pick(hash32(`session-${i}`))!;
    out[t.name] = (out[t.name] ?? 0) + 1;
  }
  return out;
}

describe('hash32', () => {
  it('is a stable unsigned 32-bit hash (every gateway replica and version must agree on it)', () => {
    // Pinned: a changed hash would move every sticky session on upgrade.
    expect(hash32('')).toBe(2872998923);
    expect(hash32('alice')).toBe(3927234078);
    for (const s of ['a', 'b', 'user-1', 'ünïcødé', 'x'.repeat(1000)]) {
      const h = hash32(s);
      expect(Number.isInteger(h)).toBe(true);
      expect(h).toBeGreaterThanOrEqual(0);
      expect(h).toBeLessThan(2 ** 32);
      expect(hash32(s)).toBe(h);
    }
  });

  it('spreads similar keys evenly over the 32-bit space', () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) buckets[hash32(`user-${i}`) >>> 28]!++;
    for (const b of buckets) {
      expect(b).toBeGreaterThan(800);
      expect(b).toBeLessThan(1200);
    }
    expect(hash32('user-1')).not.toBe(hash32('user-2'));
  });
});

describe('HashRing', () => {
  it('maps the same hash to the same item every time', () => {
    const r = ring(items([1, 1, 1]));
    for (let i = 0; i < 50; i++) {
      const h = hash32(`k${i}`);
      const first = r.pick(h);
      for (let j = 0; j < 5; j++) expect(r.pick(h)).toBe(first);
    }
  });

  it('gives two rings over equal items the same answers (independent of item order)', () => {
    const a = items([1, 1, 1, 1]);
    const r1 = ring(a);
    const r2 = ring([...a].reverse());
    for (let i = 0; i < 200; i++) expect(r2.pick(hash32(`k${i}`))!.name).toBe(r1.pick(hash32(`k${i}`))!.name);
  });

  it('balances equal-weight items', () => {
    const s = shares(ring(items([1, 1, 1])), 6000);
    expect(Object.keys(s)).toHaveLength(3);
    for (const n of Object.values(s)) {
      expect(n).toBeGreaterThan(1500);
      expect(n).toBeLessThan(2500);
    }
  });

  it('shares load in proportion to weight (1 : 3)', () => {
    const list = items([1, 3]);
    const s = shares(ring(list), 8000);
    const light = s[list[0]!.name]! / 8000;
    expect(light).toBeGreaterThan(0.17);
    expect(light).toBeLessThan(0.33);
  });

  it('moves the keys of a removed item and few others (unlike modulo hashing)', () => {
    const list = items([1, 1, 1, 1]);
    const before = ring(list);
    const gone = list[2]!;
    const after = ring(list.filter((t) => t !== gone));
    let surviving = 0;
    let moved = 0;
    for (let i = 0; i < 4000; i++) {
      const h = hash32(`session-${i}`);
      const was = before.pick(h)!;
      const now = after.pick(h)!;
      expect(now).not.toBe(gone);
      if (was === gone) continue;
      surviving++;
      if (now !== was) moved++;
    }
    // The survivors keep their ring points and gain a third more (the ring keeps its size), so a
    // few of their keys change hands; `hash % n` would move three quarters of them.
    expect(surviving).toBeGreaterThan(2500);
    expect(moved / surviving).toBeLessThan(0.25);
  });

  it('walks clockwise past items the caller refuses, and gives null when none is acceptable', () => {
    const list = items([1, 1, 1]);
    const r = ring(list);
    for (let i = 0; i < 100; i++) {
      const h = hash32(`k${i}`);
      const owner = r.pick(h)!;
      const other = r.pick(h, (t) => t !== owner)!;
      expect(other).not.toBe(owner);
      expect(r.pick(h, (t) => t !== owner)).toBe(other);
      expect(r.pick(h, () => false)).toBeNull();
    }
  });

  it('gives null for an empty ring and one point at least to every item of a crowded one', () => {
    expect(ring([]).pick(123)).toBeNull();
    const many = items(Array.from({ length: 40 }, () => 1));
    const r = ring(many, 16);
    const seen = new Set<string>();
    for (let i = 0; i < 20_000 && seen.size < many.length; i++) seen.add(r.pick(hash32(`k${i}`))!.name);
    expect(seen.size).toBe(many.length);
  });

  it('wraps around past the highest point', () => {
    const r = ring(items([1, 1]));
    expect(r.pick(0xffffffff)).toBe(r.pick(0));
  });
});
