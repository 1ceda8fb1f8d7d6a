import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, heapGrowingPercentOnCommandLine, heapGrowthLine } from '../../../src/runtime/heap-growth.js';

describe('the heap growth set on node\'s command line', () => {
  it('is read in each spelling V8 takes', () => {
    expect(heapGrowingPercentOnCommandLine(['--heap-growing-percent=50'])).toBe(50);
    expect(heapGrowingPercentOnCommandLine(['--heap_growing_percent=20'])).toBe(20);
    expect(heapGrowingPercentOnCommandLine(['--heap-growing-percent', '15'])).toBe(15);
    expect(heapGrowingPercentOnCommandLine(['--enable-source-maps', '--heap-growing-percent=0'])).toBe(0);
  });

  it('is not there when node was given other flags, or none', () => {
    expect(heapGrowingPercentOnCommandLine([])).toBeUndefined();
    expect(heapGrowingPercentOnCommandLine(['--max-old-space-size=320', '--trace-gc'])).toBeUndefined();
    expect(heapGrowingPercentOnCommandLine(['--heap-growing-percent-x=5'])).toBeUndefined();
  });

  it('is not taken from a value V8 would not take', () => {
    expect(heapGrowingPercentOnCommandLine(['--heap-growing-percent='])).toBeUndefined();
    expect(heapGrowingPercentOnCommandLine(['--heap-growing-percent=-5'])).toBeUndefined();
    expect(heapGrowingPercentOnCommandLine(['--heap-growing-percent=abc'])).toBeUndefined();
    expect(heapGrowingPercentOnCommandLine(['--heap-growing-percent'])).toBeUndefined();
  });
});

describe('the start-up line on the heap', () => {
  it('says what bounds it and how to change it', () => {
    expect(heapGrowthLine({ percent: HEAP_GROWING_PERCENT, fromCommandLine: false })).toBe(
      "heap: a full collection each time the heap grows 50 % past what the last one kept (node --heap-growing-percent=N to change, 0 for V8's own)",
    );
    expect(heapGrowthLine({ percent: 20, fromCommandLine: true })).toBe('heap: a full collection each time the heap grows 20 % past what the last one kept, as node --heap-growing-percent says');
    expect(heapGrowthLine({ percent: 0, fromCommandLine: true })).toContain("V8's own growth between full collections");
  });
});
