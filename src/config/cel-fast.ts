// A fast path for the CEL rules of Istio's CRDs. @marcbachmann/cel-js walks a rule's tree for
// each value and checks every type on the way: 10-20 µs a rule, and a rule such as
// `duration(self) >= duration('1ms')` runs on every route timeout (120,000 of them at 30,000
// VirtualServices: 0.4 s of a start). Here a rule's tree (parsed by cel-js) becomes JavaScript
// closures, once, for the node kinds Istio's rules use.
//
// The closures decide only where CEL's answer is plain: well-typed values on the happy path.
// Anything else (a missing key, a null, an int compared with a double for equality, a sign on a
// duration, a type CEL would refuse) throws UNDECIDED, and cel-js evaluates the rule as before.
// So a rule gives cel-js's answer either way; test/unit/config/cel-fast.test.ts holds every rule
// of the CRDs to that over values of every shape.

import { memoByText } from './memo.js';

/** Thrown when the fast path cannot be sure of CEL's answer (one shared instance: no stack). */
export const UNDECIDED: unique symbol = Symbol('cel: undecided');

/** A compiled rule: true or false, as CEL says, or throws UNDECIDED. */
export type FastRule = (self: unknown) => boolean;

/** cel-js's AST: [operator, ...operands]. */
type Node = readonly unknown[];

/** Slot 0 holds `self`; comprehension variables (all, exists, exists_one) take the next ones. */
type Scope = unknown[];
type Ev = (scope: Scope) => unknown;

/** A CEL duration, apart from ints and doubles: only compared with another. */
class Duration {
  constructor(readonly nanos: bigint) {}
}

function undecided(): never {
  throw UNDECIDED;
}

/** The rule as closures, or undefined when it uses something this does not carry. */
export function compileFastRule(ast: unknown): FastRule | undefined {
  let ev: Ev;
  try {
    ev = compile(ast as Node, new Map([['self', 0]]));
  } catch (e) {
    if (e === UNSUPPORTED) return undefined;
    throw e;
  }
  return (self) => {
    // cel-js tells a value's type by its constructor (a list's by its first items): a map with a
    // `constructor` key of its own anywhere in the value is a type it refuses. Left to it whole.
    if (typeof self === 'object' && self !== null && !celPlain(self)) return undecided();
    const scope: Scope = [self];
    const v = ev(scope);
    return typeof v === 'boolean' ? v : undecided();
  };
}

/** Whether every map and list in `v` is a plain one, as cel-js takes them. */
function celPlain(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (Array.isArray(v)) {
    for (const item of v) if (!celPlain(item)) return false;
    return true;
  }
  if ((v as { constructor?: unknown }).constructor !== Object) return false;
  for (const k in v) if (!celPlain((v as Record<string, unknown>)[k])) return false;
  return true;
}

const UNSUPPORTED = Symbol('cel: unsupported');

function unsupported(): never {
  throw UNSUPPORTED;
}

/** A map as cel-js tells one: by its constructor (so not one with a `constructor` key of its own). */
function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && (v as { constructor?: unknown }).constructor === Object;
}

/** A map's field as CEL reads it: missing, or null (whose handling varies), is left to cel-js. */
function field(obj: unknown, name: string): unknown {
  if (!isMap(obj) || !Object.prototype.hasOwnProperty.call(obj, name)) return undecided();
  const v = obj[name];
  return v === null || v === undefined ? undecided() : v;
}

function bool(v: unknown): boolean {
  return typeof v === 'boolean' ? v : undecided();
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : undecided();
}

/** A CEL int: kept as a bigint, as cel-js keeps it, so that ints and doubles stay apart. */
function int(v: unknown): number {
  return typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undecided();
}

function compile(node: Node, vars: ReadonlyMap<string, number>): Ev {
  const op = node[0];
  switch (op) {
    case 'value':
      return literal(node[1]);
    case 'id': {
      const slot = vars.get(node[1] as string);
      if (slot === undefined) return unsupported();
      return (s) => s[slot];
    }
    case '.': {
      const obj = compile(node[1] as Node, vars);
      const name = node[2] as string;
      return (s) => field(obj(s), name);
    }
    case 'list': {
      const items = (node[1] as Node[]).map((n) => compile(n, vars));
      return (s) => items.map((e) => e(s));
    }
    case '!_': {
      const a = compile(node[1] as Node, vars);
      return (s) => !bool(a(s));
    }
    case '&&': {
      const a = compile(node[1] as Node, vars);
      const b = compile(node[2] as Node, vars);
      return (s) => bool(a(s)) && bool(b(s));
    }
    case '||': {
      const a = compile(node[1] as Node, vars);
      const b = compile(node[2] as Node, vars);
      return (s) => bool(a(s)) || bool(b(s));
    }
    case '?:': {
      const c = compile(node[1] as Node, vars);
      const a = compile(node[2] as Node, vars);
      const b = compile(node[3] as Node, vars);
      return (s) => (bool(c(s)) ? a(s) : b(s));
    }
    case '==':
    case '!=': {
      const a = compile(node[1] as Node, vars);
      const b = compile(node[2] as Node, vars);
      const negate = op === '!=';
      return (s) => equal(a(s), b(s)) !== negate;
    }
    case '<':
    case '<=':
    case '>':
    case '>=':
      return comparison(op, compile(node[1] as Node, vars), compile(node[2] as Node, vars));
    case '+': {
      const a = compile(node[1] as Node, vars);
      const b = compile(node[2] as Node, vars);
      return (s) => add(a(s), b(s));
    }
    case 'in': {
      const a = compile(node[1] as Node, vars);
      const b = compile(node[2] as Node, vars);
      return (s) => contained(a(s), b(s));
    }
    case 'call':
      return call(node[1] as string, node[2] as Node[], vars);
    case 'rcall':
      return receiverCall(node[1] as string, node[2] as Node, node[3] as Node[], vars);
    default:
      return unsupported();
  }
}

function literal(v: unknown): Ev {
  if (typeof v === 'string' || typeof v === 'boolean') return () => v;
  // Ints stay bigints (see int()); doubles and anything else are left to cel-js.
  if (typeof v === 'bigint') return () => v;
  return unsupported();
}

/** CEL equality of two values of one type; other pairs (int and double, lists, maps) are cel-js's. */
function equal(a: unknown, b: unknown): boolean {
  const t = typeof a;
  if (t !== typeof b) return undecided();
  if (t === 'string' || t === 'boolean' || t === 'bigint') return a === b;
  // A whole number from YAML may be an int or a double to cel-js: only like with like.
  if (t === 'number') return Number.isFinite(a) && Number.isFinite(b) && Number.isInteger(a) === Number.isInteger(b) ? a === b : undecided();
  return undecided();
}

/** `in` a list of strings (`x in ["STATIC", "NONE"]`). */
function contained(a: unknown, list: unknown): boolean {
  const s = str(a);
  if (!Array.isArray(list)) return undecided();
  for (const item of list) if (str(item) === s) return true;
  return false;
}

function add(a: unknown, b: unknown): unknown {
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    const sum = a + b;
    // CEL ints are 64 bits: an overflow is an error, left to cel-js.
    return sum > 0x7fffffffffffffffn || sum < -0x8000000000000000n ? undecided() : sum;
  }
  return undecided();
}

/** The order of two ints, finite doubles, or durations: <0, 0 or >0; other pairs are cel-js's. */
function order(a: unknown, b: unknown): number {
  if (a instanceof Duration || b instanceof Duration) {
    if (!(a instanceof Duration && b instanceof Duration)) return undecided();
    return a.nanos < b.nanos ? -1 : a.nanos > b.nanos ? 1 : 0;
  }
  const x = typeof a === 'bigint' ? int(a) : typeof a === 'number' && Number.isFinite(a) ? a : undecided();
  const y = typeof b === 'bigint' ? int(b) : typeof b === 'number' && Number.isFinite(b) ? b : undecided();
  return x < y ? -1 : x > y ? 1 : 0;
}

function comparison(op: string, a: Ev, b: Ev): Ev {
  if (op === '<') return (s) => order(a(s), b(s)) < 0;
  if (op === '<=') return (s) => order(a(s), b(s)) <= 0;
  if (op === '>') return (s) => order(a(s), b(s)) > 0;
  return (s) => order(a(s), b(s)) >= 0;
}

function call(name: string, args: Node[], vars: ReadonlyMap<string, number>): Ev {
  if (name === 'has' && args.length === 1) {
    const arg = args[0]!;
    if (arg[0] !== '.') return unsupported();
    const obj = compile(arg[1] as Node, vars);
    const key = arg[2] as string;
    return (s) => {
      const o = obj(s);
      if (!isMap(o)) return undecided();
      if (!Object.prototype.hasOwnProperty.call(o, key)) return false;
      const v = o[key];
      return v === null || v === undefined ? undecided() : true;
    };
  }
  if (name === 'size' && args.length === 1) {
    const a = compile(args[0]!, vars);
    return (s) => size(a(s));
  }
  if (name === 'duration' && args.length === 1) {
    const arg = args[0]!;
    if (arg[0] === 'value' && typeof arg[1] === 'string' && DURATION.test(arg[1])) {
      const constant = duration(arg[1]);
      return () => constant;
    }
    const a = compile(arg, vars);
    return (s) => duration(a(s));
  }
  return unsupported();
}

function receiverCall(name: string, receiver: Node, args: Node[], vars: ReadonlyMap<string, number>): Ev {
  if ((name === 'all' || name === 'exists' || name === 'exists_one') && args.length === 2) {
    const v = args[0]!;
    if (v[0] !== 'id') return unsupported();
    const list = compile(receiver, vars);
    // Past every slot in use: a name bound again inside (`all(x, all(x, ...))`) gets a slot of its own.
    let slot = 0;
    for (const used of vars.values()) slot = Math.max(slot, used + 1);
    const predicate = compile(args[1]!, new Map([...vars, [v[1] as string, slot]]));
    return comprehension(name, list, slot, predicate);
  }
  const target = compile(receiver, vars);
  if (name === 'size' && args.length === 0) return (s) => size(target(s));
  if (name === 'matches' && args.length === 1) {
    const pattern = args[0]!;
    if (pattern[0] !== 'value' || typeof pattern[1] !== 'string') return unsupported();
    let re: RegExp;
    try {
      // As cel-js reads the pattern: a JavaScript RegExp without flags.
      re = new RegExp(pattern[1]);
    } catch {
      return unsupported();
    }
    return (s) => re.test(str(target(s)));
  }
  if ((name === 'contains' || name === 'startsWith' || name === 'endsWith') && args.length === 1) {
    const arg = compile(args[0]!, vars);
    if (name === 'contains') return (s) => str(target(s)).includes(str(arg(s)));
    if (name === 'startsWith') return (s) => str(target(s)).startsWith(str(arg(s)));
    return (s) => str(target(s)).endsWith(str(arg(s)));
  }
  if (name === 'substring' && args.length === 2) {
    const from = compile(args[0]!, vars);
    const to = compile(args[1]!, vars);
    return (s) => {
      const text = str(target(s));
      const start = int(from(s));
      const end = int(to(s));
      if (start < 0 || start > text.length || end < start || end > text.length) return undecided();
      return text.substring(start, end);
    };
  }
  return unsupported();
}

function comprehension(name: string, list: Ev, slot: number, predicate: Ev): Ev {
  return (s) => {
    const items = iterated(list(s));
    let count = 0;
    for (const item of items) {
      s[slot] = item;
      const ok = bool(predicate(s));
      if (name === 'all' && !ok) return false;
      if (name === 'exists' && ok) return true;
      if (ok) count++;
    }
    if (name === 'all') return true;
    if (name === 'exists') return false;
    return count === 1;
  };
}

/** A list's items, or a map's keys, as CEL's comprehensions take them. */
function iterated(v: unknown): readonly unknown[] {
  if (Array.isArray(v)) return v;
  if (isMap(v)) return Object.keys(v);
  return undecided();
}

function size(v: unknown): bigint {
  if (typeof v === 'string') {
    // Code points, as CEL counts a string.
    let n = 0;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < v.length) {
        const d = v.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) i++;
      }
      n++;
    }
    return BigInt(n);
  }
  if (Array.isArray(v)) return BigInt(v.length);
  return undecided();
}

const UNIT_NANOS: Record<string, bigint> = { h: 3_600_000_000_000n, m: 60_000_000_000n, s: 1_000_000_000n, ms: 1_000_000n, us: 1000n, µs: 1000n, ns: 1n };
/** Unsigned, digits on both sides of a point, one unit after each number: others are cel-js's. */
const DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const DURATION_PART = /(\d+)(?:\.(\d+))?(ns|us|µs|ms|s|m|h)/g;
/** cel-js keeps 13 digits of a fraction. */
const FRACTION_DIGITS = 13;
const FRACTION_SCALE = 10n ** BigInt(FRACTION_DIGITS);

/** Durations read, by their text: a config writes the same few timeouts on 100,000s of routes. */
const durationOfText = memoByText(readDuration);

function duration(v: unknown): Duration {
  return durationOfText(str(v));
}

function readDuration(text: string): Duration {
  if (!DURATION.test(text)) return undecided();
  let nanos = 0n;
  DURATION_PART.lastIndex = 0;
  for (let m = DURATION_PART.exec(text); m !== null; m = DURATION_PART.exec(text)) {
    const unit = UNIT_NANOS[m[3]!]!;
    nanos += BigInt(m[1]!) * unit;
    if (m[2] !== undefined) nanos += (BigInt(m[2].slice(0, FRACTION_DIGITS).padEnd(FRACTION_DIGITS, '0')) * unit) / FRACTION_SCALE;
  }
  return new Duration(nanos);
}
