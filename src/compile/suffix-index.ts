// Wildcard hosts (`*.example.com`, `*-api.example.com`) looked up without walking them all: a
// table of 30,000 wildcard VirtualService hosts must cost a request what a table of ten does.
// `*.` patterns are found by their suffix at each dot of the host (a few map lookups, longest
// first); partial ones (`*-api.example.com`), rare, are tried in a short list.

/** Below this many patterns, a walk of the list is as fast and makes no strings. */
export const SUFFIX_INDEX_MIN = 16;

export class SuffixIndex<T> {
  private readonly atDot = new Map<string, T>();
  /** Longest first. */
  private readonly partial: { suffix: string; value: T }[] = [];

  /** `entries`: suffixes without the `*` (`.example.com`, `-api.example.com`), longest first. */
  constructor(entries: readonly { suffix: string; value: T }[]) {
    for (const e of entries) {
      if (e.suffix.charCodeAt(0) === DOT) {
        if (!this.atDot.has(e.suffix)) this.atDot.set(e.suffix, e.value);
      } else this.partial.push(e);
    }
  }

  /** The value of the longest suffix `host` ends with, with at least one character before it. */
  find(host: string): T | undefined {
    let best: T | undefined;
    let bestLength = 0;
    // The first dot is at 1 or later: a suffix needs a character before it.
    for (let i = host.indexOf('.', 1); i > 0; i = host.indexOf('.', i + 1)) {
      const v = this.atDot.get(host.slice(i));
      if (v !== undefined) {
        best = v;
        bestLength = host.length - i;
        break;
      }
    }
    for (const p of this.partial) {
      if (p.suffix.length <= bestLength) break;
      if (host.length > p.suffix.length && host.endsWith(p.suffix)) return p.value;
    }
    return best;
  }

  /** Not config: /config_dump shows the wildcards themselves. */
  toJSON(): undefined {
    return undefined;
  }
}

const DOT = 46;
