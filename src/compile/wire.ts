/**
 * A configured string as a header or request line carries it. Node writes header strings one
 * byte per character (latin1) and refuses characters above U+00FF, so a value with `€` would
 * throw on the data plane; Envoy sends configured values as their UTF-8 bytes. Converting once
 * here gives the same bytes and nothing to throw.
 */
export function wire(v: string): string {
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0x7f) return Buffer.from(v, 'utf8').toString('latin1');
  return v;
}
