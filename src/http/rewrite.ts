import type { CompiledMatch, Rewrite } from '../compile/snapshot.js';

/**
 * The path sent upstream after `rewrite.uri` (Envoy's prefix_rewrite): a prefix match has its
 * prefix replaced; an exact or regex match has the whole path replaced; a route matched without
 * a URI condition has its leading "/" replaced.
 */
export function rewritePath(rw: Rewrite, matched: CompiledMatch | null, path: string): string {
  if (rw.regex) {
    rw.regex.re.lastIndex = 0;
    return path.replace(rw.regex.re, rw.regex.substitution);
  }
  if (rw.uri === undefined) return path;
  const uri = matched?.uri ?? null;
  if (uri === null) return rw.uri + path.slice(1);
  if (uri.kind === 1) return rw.uri + path.slice(uri.value.length);
  return rw.uri;
}
