// Maps read from YAML, made in one step from their keys and values once both are known. A map
// made as `{}` and then given its keys one by one goes through a hidden-class transition per key
// (a megamorphic keyed store, as every map has other keys), and past four keys into a second
// allocation for the rest. Config repeats a few hundred key sequences ({host, port}, {name,
// match, route}, ...) over a million maps: for a sequence met before, a function made for it
// returns the map as one object literal, with its final shape and every field in the object.
// Construction of 30,000 VirtualServices' maps took a third less time so.
//
// Keys and values wait on two stacks shared by the nested maps being read (innermost last).

/**
 * The keys and values of the maps being read, up to `top`. The lists keep their length (setting
 * it is a call into the runtime, 100 ms over a million maps); clearMaps lets go of the values.
 */
const keys: string[] = [];
const values: unknown[] = [];
let top = 0;

/** Where the next map's keys start on the stacks. */
export function mapStart(): number {
  return top;
}

/** Puts a key (not there yet: see hasKey) and its value on the stacks. */
export function addEntry(key: string, value: unknown): void {
  keys[top] = key;
  values[top] = value;
  top++;
}

/** Whether `key` is among the keys of the map since `base` (YAML forbids a key twice). */
export function hasKey(base: number, key: string): boolean {
  for (let i = base; i < top; i++) if (keys[i] === key) return true;
  return false;
}

/** The map whose entries start at `base`, taken off the stacks. */
export function takeMap(base: number): Record<string, unknown> {
  const n = top - base;
  const make = n > 0 && n <= MAX_KEYS ? makerOf(base, n) : undefined;
  let map: Record<string, unknown>;
  if (make !== undefined) map = make(values, base);
  else {
    map = {};
    for (let i = base; i < top; i++) map[keys[i]!] = values[i];
  }
  top = base;
  return map;
}

/** Empties the stacks, letting go of what they held: after each document, read or declined. */
export function clearMaps(): void {
  keys.length = 0;
  values.length = 0;
  top = 0;
}

type Maker = (values: unknown[], base: number) => Record<string, unknown>;

/** A key sequence's place in the tree of sequences met. */
interface Seq {
  next: Map<string, Seq> | undefined;
  /** Made on the second map with this sequence; null: not to be made (a key of other characters). */
  maker: Maker | null | undefined;
  seen: number;
}

// Bounds on what is kept for the life of the process: a config of many different key sequences
// (labels, annotations, header names) makes the rest with `{}` as before.
const MAX_KEYS = 16;
const MAX_SEQS = 8192;
const MAX_MAKERS = 1024;
// Keys a maker is made for: letters, digits and the punctuation of label keys and header names.
// Written as JSON string literals into the maker's source, so any text would be safe; the
// characters are kept plain all the same.
const PLAIN_KEY = /^[A-Za-z0-9_.\/-]+$/;

const root: Seq = { next: undefined, maker: undefined, seen: 0 };
let seqCount = 0;
let makerCount = 0;

/**
 * The last sequence seen in each slot (by length and the first and last keys' lengths and first
 * characters): most maps repeat one met a moment ago, and their keys are the very same strings
 * (the reader reuses them), so comparing them is cheaper than a walk of the tree.
 */
const recentKeys: (string[] | undefined)[] = new Array<string[] | undefined>(1024).fill(undefined);
const recentMakers: (Maker | undefined)[] = new Array<Maker | undefined>(1024).fill(undefined);

function makerOf(base: number, n: number): Maker | undefined {
  const first = keys[base]!;
  const last = keys[base + n - 1]!;
  const slot = (((n * 31 + first.length) * 31 + last.length) * 31 + first.charCodeAt(0) + last.charCodeAt(0) * 7) & 1023;
  const seen = recentKeys[slot];
  if (seen !== undefined && seen.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (seen[i] !== keys[base + i]) {
        same = false;
        break;
      }
    }
    if (same) return recentMakers[slot];
  }
  const maker = makerFor(base, n);
  if (maker !== undefined) {
    recentKeys[slot] = keys.slice(base, base + n);
    recentMakers[slot] = maker;
  }
  return maker;
}

function makerFor(base: number, n: number): Maker | undefined {
  let seq = root;
  for (let i = base; i < base + n; i++) {
    const key = keys[i]!;
    let next = seq.next?.get(key);
    if (next === undefined) {
      if (seqCount >= MAX_SEQS) return undefined;
      next = { next: undefined, maker: undefined, seen: 0 };
      (seq.next ??= new Map()).set(key, next);
      seqCount++;
    }
    seq = next;
  }
  if (seq.maker !== undefined) return seq.maker ?? undefined;
  if (++seq.seen < 2 || makerCount >= MAX_MAKERS) return undefined;
  seq.maker = makeMaker(keys.slice(base, base + n));
  return seq.maker ?? undefined;
}

function makeMaker(names: string[]): Maker | null {
  // `__proto__` in a literal would set the prototype (the reader declines such keys anyway).
  if (!names.every((k) => PLAIN_KEY.test(k) && k !== '__proto__')) return null;
  makerCount++;
  const fields = names.map((k, i) => `${JSON.stringify(k)}: v[b + ${i}]`).join(', ');
  try {
    return new Function('v', 'b', `"use strict"; return { ${fields} };`) as Maker;
  } catch {
    // Node run with --disallow-code-generation-from-strings: maps are made key by key.
    makerCount = MAX_MAKERS;
    return null;
  }
}
