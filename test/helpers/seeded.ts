/** A deterministic random source for property tests: `rand(n)` is a whole number in [0, n). */
export function seeded(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    // A 31-bit linear congruential step; the high bits pick (the low ones of an LCG cycle short).
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return Math.floor((state / 0x80000000) * n);
  };
}
