/** `make`, called once per key object and remembered for as long as the key lives. */
export function memoByObject<K extends object, V>(make: (key: K) => V): (key: K) => V {
  const kept = new WeakMap<K, V>();
  return (key) => {
    let v = kept.get(key);
    if (v === undefined) {
      v = make(key);
      kept.set(key, v);
    }
    return v;
  };
}

/** Stands for a made value of undefined in a text memo (Map.get gives undefined for a miss too). */
const MADE_UNDEFINED = Symbol('undefined');

/**
 * `make`, called once per text and remembered: a config repeats the same few timeouts, retry
 * policies and header names over 100,000s of routes. At most `limit` texts are kept; past that
 * the memo starts again (a config of all-different texts costs a Map.set each, no more).
 */
export function memoByText<V>(make: (text: string) => V, limit = 4096): (text: string) => V {
  const kept = new Map<string, V | typeof MADE_UNDEFINED>();
  return (text) => {
    const seen = kept.get(text);
    if (seen !== undefined) return seen === MADE_UNDEFINED ? (undefined as V) : seen;
    const v = make(text);
    if (kept.size >= limit) kept.clear();
    kept.set(text, v === undefined ? MADE_UNDEFINED : v);
    return v;
  };
}
