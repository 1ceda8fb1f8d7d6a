import type { Labels } from '../config/types.js';

/** True when every selector label is present with the same value (an empty selector selects all). */
export function selects(selector: Labels | undefined, labels: Labels | undefined): boolean {
  if (!selector) return true;
  for (const k in selector) {
    if (labels?.[k] !== selector[k]) return false;
  }
  return true;
}
