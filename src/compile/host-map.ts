// A route table's exact hosts after a patch (gateway-listener.ts): the previous table's map, the
// hosts the patch took out, and the ones it put in. Copying a map of 30,000 hosts costs 15 to
// 30 ms, which is more than the rest of a one-file reload; a lookup here is two or three map
// lookups instead of one. Patches on patches keep one layer, and the layers are folded into a
// plain map once they hold a sizeable share of it.

/** Fold into a plain map when the layers hold this share of the hosts, or more. */
const FOLD_SHARE = 8;
const FOLD_MIN = 1024;

export class LayeredHostMap<V> implements ReadonlyMap<string, V> {
  readonly size: number;

  private constructor(
    private readonly base: ReadonlyMap<string, V>,
    /** Hosts of `base` that are gone (some may be in `added` again). */
    private readonly removed: ReadonlySet<string>,
    /** Hosts put in; none is in `base` unless it is also in `removed`. */
    private readonly added: ReadonlyMap<string, V>,
  ) {
    let gone = 0;
    for (const k of removed) if (base.has(k)) gone++;
    this.size = base.size - gone + added.size;
  }

  /**
   * `previous` without the `removed` hosts (each in it), then with `added` (each absent from it
   * once those are gone), in that order when iterated: the order a full build gives when the
   * added hosts belong to the newest VirtualServices.
   */
  static of<V>(previous: ReadonlyMap<string, V>, removed: ReadonlySet<string>, added: ReadonlyMap<string, V>): ReadonlyMap<string, V> {
    let base = previous;
    const gone = new Set<string>();
    const put = new Map<string, V>();
    if (previous instanceof LayeredHostMap) {
      const p = previous as LayeredHostMap<V>;
      base = p.base;
      for (const k of p.removed) gone.add(k);
      for (const [k, v] of p.added) if (!removed.has(k)) put.set(k, v);
    }
    for (const k of removed) gone.add(k);
    for (const [k, v] of added) put.set(k, v);
    const layered = new LayeredHostMap(base, gone, put);
    return gone.size + put.size < Math.max(FOLD_MIN, base.size / FOLD_SHARE) ? layered : new Map(layered);
  }

  get(key: string): V | undefined {
    const v = this.added.get(key);
    if (v !== undefined) return v;
    if (this.removed.size !== 0 && this.removed.has(key)) return undefined;
    return this.base.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  *entries(): IterableIterator<[string, V]> {
    for (const e of this.base) if (!this.removed.has(e[0])) yield e;
    yield* this.added;
  }

  *keys(): IterableIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  /** As /config_dump shows a plain map: host to virtual host. */
  toJSON(): Record<string, V> {
    return Object.fromEntries(this);
  }
}
