import { describe, expect, it } from 'vitest';
import { HOST_PATTERN, isHostName } from '../../../src/config/host-name.js';

// The scan stands in for a pattern with nested repeats: it must decide every string as the
// pattern does.

describe('isHostName decides as the host pattern does', () => {
  it('on every string of a small alphabet up to 6 characters', () => {
    const alphabet = ['a', 'Z', '0', '-', '.', '*', '_'];
    let strings = [''];
    let checked = 0;
    for (let len = 0; len <= 6; len++) {
      for (const s of strings) {
        if (isHostName(s) !== HOST_PATTERN.test(s)) expect({ s, scan: isHostName(s) }).toEqual({ s, scan: HOST_PATTERN.test(s) });
        checked++;
      }
      strings = strings.flatMap((s) => alphabet.map((c) => s + c));
    }
    expect(checked).toBe((7 ** 7 - 1) / 6);
  });

  it('on random longer strings, and on names as configs write them', () => {
    let seed = 3;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    const parts = ['a', 'b9', 'x-y', '-', '.', '*', 'example', 'com', '..', 'Q', '/', ' ', 'é', '0'];
    for (let i = 0; i < 20_000; i++) {
      let s = '';
      for (let j = next(12); j > 0; j--) s += parts[next(parts.length)];
      expect(isHostName(s), s).toBe(HOST_PATTERN.test(s));
    }
    for (const h of ['*', '*.example.com', '*-api.example.com', '*api.example.com', 'reviews', 'reviews.default.svc.cluster.local', 'istio.io.', 'a.b-c.d']) {
      expect(isHostName(h), h).toBe(true);
    }
    for (const h of ['', '.', '*.', '*..a', 'a..b', '-a', 'a-', 'a.-b', '*.example.com.', 'a_b', 'a b', '**', 'a*']) {
      expect(isHostName(h), h).toBe(false);
    }
  });
});
