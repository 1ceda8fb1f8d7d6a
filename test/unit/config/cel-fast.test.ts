import { describe, expect, it } from 'vitest';
import { parse } from '@marcbachmann/cel-js';
import { compileFastRule, UNDECIDED } from '../../../src/config/cel-fast.js';
import { CRD_SPECS } from '../../../src/config/crd-schema.gen.js';

/** Every CEL rule in the CRDs meshgate checks against. */
function crdRules(): string[] {
  const rules = new Set<string>();
  const seen = new Set<object>();
  const walk = (s: unknown): void => {
    if (s === null || typeof s !== 'object' || seen.has(s)) return;
    seen.add(s);
    if (Array.isArray(s)) return s.forEach(walk);
    const v = (s as Record<string, unknown>)['x-kubernetes-validations'];
    if (Array.isArray(v)) for (const r of v) rules.add((r as { rule: string }).rule);
    Object.values(s).forEach(walk);
  };
  walk(CRD_SPECS);
  return [...rules];
}

/** What meshgate asks of a rule: does it hold (true), or not (false, an error, anything else)? */
function celHolds(rule: string, self: unknown): boolean {
  try {
    return (parse(rule) as (ctx: object) => unknown)({ self }) === true;
  } catch {
    return false;
  }
}

type Outcome = { decided: true; holds: boolean } | { decided: false };

function fastOutcome(rule: string, self: unknown): Outcome {
  const fast = compileFastRule(parse(rule).ast);
  if (fast === undefined) return { decided: false };
  try {
    return { decided: true, holds: fast(self) === true };
  } catch (e) {
    if (e !== UNDECIDED) throw e;
    return { decided: false };
  }
}

/** A seeded generator: the same strings on every run. */
function durationLike(n: number): string[] {
  let seed = 42;
  const next = (k: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % k;
  };
  const parts = ['0', '1', '7', '10', '250', '1.5', '0.0001', '.5', '5.', '1.00000000000009', '99999999999'];
  const units = ['h', 'm', 's', 'ms', 'us', 'µs', 'ns', '', 'x', 'd'];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = ['', '', '', '-', '+'][next(5)]!;
    const count = 1 + next(3);
    for (let j = 0; j < count; j++) s += parts[next(parts.length)]! + units[next(units.length)]!;
    out.push(s);
  }
  return out;
}

const STRINGS = ['', '*', 'a', 'a*b', '*.example.com', 'unix:///var/run/a.sock', 'unix://@abstract', 'unix://', 'unix://a', 'unix:///dir/', 'unix:///', '127.0.0.1', 'http', 'http-web', '-bad', 'bad-', 'x'.repeat(62), 'x'.repeat(63), '😀'.repeat(40), 'é', '10.0.0.0/8', 'STATIC', 'NONE', 'DNS_ROUND_ROBIN'];
const DURATIONS = ['1ms', '0s', '0ms', '0.5ms', '0.999999ms', '1.000000000000001ms', '1h30m', '1h', '2m', '1s', '999us', '1000us', '1000µs', '999999ns', '1000000ns', '-1s', '+1s', 'ms', '1', '1.5', '.5s', '5.s', '1d', '', '0.0000000000001h', ...durationLike(400)];
const NUMBERS = [0, 1, -1, 2, 63, 80, 65535, 65536, 1.5, 0.5, -0.5, 80.0000001, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER, 2 ** 63];
const LISTS = [[], [1, 2], ['a', 'b/c'], ['a'], [{ number: 80 }, { number: 80 }], [{ number: 80 }, { number: 81 }], [{ number: 80 }], [{ number: 80 }, { name: 'x' }], [{ number: 80 }, { number: 80.5 }], [{ number: null }], [null], [{}, {}], [{ address: 'a' }]];
const MAPS: Record<string, unknown>[] = [
  {},
  { http: 80 },
  { http: 18080, 'http-b': 8080 },
  { '-bad': 1 },
  { ['x'.repeat(63)]: 1 },
  { '*': 'a' },
  { a: '*x' },
  { a: 'b' },
  { '': 'v' },
  { a: null },
  { hosts: ['a.example.com'], resolution: 'NONE' },
  { hosts: ['a'], resolution: 'NONE', endpoints: [{ address: '1.1.1.1' }] },
  { hosts: ['a'], resolution: 'STATIC', endpoints: [{ address: '1.1.1.1' }] },
  { resolution: 'DNS_ROUND_ROBIN', endpoints: [{ address: 'a' }, { address: 'b' }] },
  { resolution: 'DNS_ROUND_ROBIN', endpoints: [{ address: 'a' }] },
  { resolution: 'DNS_ROUND_ROBIN' },
  { resolution: 'DNS', addresses: ['10.0.0.0/8'] },
  { resolution: 'STATIC', addresses: ['10.0.0.0/8'] },
  { addresses: ['10.0.0.0/8'] },
  { addresses: ['1.1.1.1'], resolution: 'DNS' },
  { addresses: [1] },
  { resolution: null },
  { resolution: 1 },
  { endpoints: null },
  { workloadSelector: { labels: { app: 'a' } } },
  { workloadSelector: {}, endpoints: [] },
  { address: 'unix:///a.sock', ports: { http: 1 } },
  { address: 'unix:///a.sock' },
  { address: 'unix://x' },
  { address: '1.1.1.1', ports: { http: 80 } },
  { address: null },
  { address: 1 },
  { network: 'n1' },
  { ports: {} },
  { tlsCertificates: [], credentialNames: ['a'] },
  { credentialName: 'x', credentialNames: ['a'] },
  { credentialName: 'x' },
  { credentialNames: ['a'] },
  { tlsCertificates: null, credentialNames: ['a'] },
  { constructor: 1 },
  { resolution: 'DNS_ROUND_ROBIN', endpoints: [{ labels: { constructor: 'x' }, address: 'a.example.com' }, { address: 'b' }] },
  { resolution: 'DNS_ROUND_ROBIN', endpoints: [{ address: 'a', labels: { constructor: 'x' } }] },
  { addresses: ['1.1.1.1'], resolution: 'DNS', endpoints: [{ address: 'a' }], workloadSelector: { labels: { constructor: 'y' } } },
];
const VALUES: unknown[] = [...STRINGS, ...DURATIONS, ...NUMBERS, ...LISTS, ...MAPS, true, false, null, undefined];

describe('CEL rules: the fast path gives cel-js’s answer', () => {
  const rules = crdRules();

  it('the CRDs have rules, and the fast path carries every one of them', () => {
    expect(rules.length).toBeGreaterThan(10);
    expect(rules.filter((r) => compileFastRule(parse(r).ast) === undefined)).toEqual([]);
  });

  for (const rule of rules) {
    it(`${rule}: same answer wherever the fast path decides, over ${VALUES.length} values`, () => {
      const differ: unknown[] = [];
      let decided = 0;
      for (const v of VALUES) {
        const fast = fastOutcome(rule, v);
        if (!fast.decided) continue;
        decided++;
        if (fast.holds !== celHolds(rule, v)) differ.push(v);
      }
      expect(differ).toEqual([]);
      // It decides for the values the rule is written for, not only for none.
      expect(decided).toBeGreaterThan(0);
    });
  }

  it('decides the route timeout rule for the usual durations, and leaves signs and odd forms to cel-js', () => {
    const rule = "duration(self) >= duration('1ms')";
    const decided = (v: string) => fastOutcome(rule, v);
    expect(decided('5s')).toEqual({ decided: true, holds: true });
    expect(decided('1h30m')).toEqual({ decided: true, holds: true });
    expect(decided('1ms')).toEqual({ decided: true, holds: true });
    expect(decided('999us')).toEqual({ decided: true, holds: false });
    expect(decided('0s')).toEqual({ decided: true, holds: false });
    expect(decided('0.9999999999999ms')).toEqual({ decided: true, holds: false });
    for (const odd of ['-1s', '+1s', 'ms', '.5s', '5.s', '1', '']) expect(decided(odd)).toEqual({ decided: false });
  });

  it('a value holding a map with a key named constructor (which cel-js does not take for a map) is left to cel-js', () => {
    const rule = '((has(self.resolution) ? self.resolution : "") == "DNS_ROUND_ROBIN") ? ((has(self.endpoints) ? self.endpoints : []).size() <= 1) : true';
    const self = { resolution: 'DNS_ROUND_ROBIN', endpoints: [{ labels: { constructor: 'x' }, address: 'a.example.com' }] };
    expect(fastOutcome(rule, self)).toEqual({ decided: false });
    expect(celHolds(rule, self)).toBe(false);
  });

  it('a comprehension variable bound again inside another has a slot of its own', () => {
    for (const rule of ['self.all(x, self.all(x, self.all(y, x == y)))', 'self.exists(x, self.all(x, self.exists(y, x != y)))']) {
      for (const v of [['a', 'b'], ['a'], []]) {
        const fast = fastOutcome(rule, v);
        expect(fast.decided).toBe(true);
        expect(fast.decided && fast.holds).toBe(celHolds(rule, v));
      }
    }
  });

  it('a rule with a function it does not carry is left to cel-js whole', () => {
    expect(compileFastRule(parse('self.lowerAscii() == "a"').ast)).toBeUndefined();
    expect(compileFastRule(parse('self.map(x, x + 1).size() > 0').ast)).toBeUndefined();
  });
});
