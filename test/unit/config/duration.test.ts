import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/config/duration.js';
import { parseConfigTexts } from '../../../src/config/load.js';
import { formatProblem } from '../../../src/config/problems.js';

describe('parseDuration: Go-style durations, as Istio accepts them in YAML', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['1s', 1000],
    ['15s', 15_000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['1.s', 1000],
    ['250ms', 250],
    ['1m', 60_000],
    ['2m3s', 123_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1h1m1s1ms', 3_661_001],
    ['0.25h', 900_000],
    ['1000us', 1],
    ['1000µs', 1],
    ['1000000ns', 1],
    ['10s500ms', 10_500],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
  });

  it('keeps sub-millisecond precision', () => {
    expect(parseDuration('1us')).toBeCloseTo(0.001, 12);
    expect(parseDuration('500ns')).toBeCloseTo(0.0005, 12);
  });

  it.each(['', '1', '10', 's', 'ms', '1x', '1d', '1 s', ' 1s', '1s ', '1.5', '-1s', '1e3ms', '1s1', 'h1', '..5s', '1,5s', '1S', '1H', 'PT1S'])(
    '%j is not a duration',
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );

  it('does not carry state between calls (sticky regex)', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('bogus')).toBeUndefined();
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [250, '250ms'],
    [1000, '1s'],
    [1500, '1500ms'],
    [15_000, '15s'],
    [90_000, '90s'],
    [60_000, '1m'],
    [5_400_000, '90m'],
    [3_600_000, '1h'],
    [7_200_000, '2h'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('is read back by parseDuration as the same number', () => {
    for (const ms of [0, 1, 250, 999, 1000, 1500, 59_000, 60_000, 61_000, 3_599_000, 3_600_000, 86_400_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});

describe('durations in config', () => {
  const vs = (timeout: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: shop}
spec:
  hosts: [shop.example.com]
  http:
  - route: [{destination: {host: cart}}]
    timeout: ${timeout}
`;
  const problems = (timeout: string) => parseConfigTexts([{ file: 'vs.yaml', text: vs(timeout) }], { defaultNamespace: 'default' }).problems.map(formatProblem);

  it('accepts the Go forms Istio documents use', () => {
    for (const t of ['10s', '1.5s', '250ms', '1h30m', '"3m"']) expect(problems(t), t).toEqual([]);
  });

  it('refuses 0s as Istio does (its CRD and webhook: a duration must be at least 1ms)', () => {
    expect(problems('0s')).toEqual(['vs.yaml:8:5: error: VirtualService shop/vs: spec.http[0].timeout: must be a valid duration greater than 1ms']);
  });

  it('refuses a number without unit and a misspelt unit, naming the field line', () => {
    expect(problems('5')).toEqual([
      'vs.yaml:8:5: error: VirtualService shop/vs: spec.http[0].timeout: expected a duration such as "1.5s" or "250ms", got number 5',
    ]);
    expect(problems('5sec')).toEqual([
      'vs.yaml:8:5: error: VirtualService shop/vs: spec.http[0].timeout: "5sec" is not a duration: write a number with a unit (h, m, s, ms), e.g. "1.5s" or "250ms"',
    ]);
  });

  it('keeps the parsed object\'s duration text as written', () => {
    const r = parseConfigTexts([{ file: 'vs.yaml', text: vs('1h30m') }], { defaultNamespace: 'default' });
    const spec = r.objects[0]!.spec as { http: { timeout: string }[] };
    expect(spec.http[0]!.timeout).toBe('1h30m');
    expect(parseDuration(spec.http[0]!.timeout)).toBe(5_400_000);
  });
});
