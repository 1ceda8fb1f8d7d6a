/** 32-bit FNV-1a with a murmur3 finaliser: cheap, and spreads similar keys across the ring. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A consistent-hash ring over items (Envoy's ring_hash): the same key lands on the same item while the set is unchanged. */
export class HashRing<T> {
  private readonly points: Uint32Array;
  private readonly owners: T[];

  constructor(items: readonly T[], keyOf: (t: T) => string, weightOf: (t: T) => number, size = 1024) {
    const total = items.reduce((s, t) => s + weightOf(t), 0) || 1;
    const entries: { h: number; t: T }[] = [];
    for (const t of items) {
      const n = Math.max(1, Math.round((size * weightOf(t)) / total));
      const key = keyOf(t);
      for (let i = 0; i < n; i++) entries.push({ h: hash32(`${key}_${i}`), t });
    }
    entries.sort((a, b) => a.h - b.h);
    this.points = Uint32Array.from(entries.map((e) => e.h));
    this.owners = entries.map((e) => e.t);
  }

  /** The item owning `h`, or the next one for which `accept` holds, walking clockwise. */
  pick(h: number, accept?: (t: T) => boolean): T | null {
    const pts = this.points;
    const n = pts.length;
    if (n === 0) return null;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    for (let k = 0; k < n; k++) {
      const t = this.owners[(lo + k) % n]!;
      if (!accept || accept(t)) return t;
    }
    return null;
  }
}
