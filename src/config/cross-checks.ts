import type { Problem } from './problems.js';
import type { ConfigObject } from './types.js';

/**
 * Checks across objects beyond what compiling needs: Istio's webhook rules per object and
 * `istioctl analyze`'s analyzers. Empty until those modules land.
 */
export function crossChecks(_objects: readonly ConfigObject[]): Problem[] {
  return [];
}
