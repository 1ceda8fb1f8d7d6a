import type { HeaderOps } from '../compile/snapshot.js';

/** Apply VirtualService header edits to a flat [name, value, ...] list, in place: remove, set, add. */
export function applyHeaderOps(headers: string[], ops: HeaderOps): void {
  for (const name of ops.remove) removeHeader(headers, name);
  setAndAdd(headers, ops);
}

function setAndAdd(headers: string[], ops: HeaderOps): void {
  for (const [name, value] of ops.set) {
    removeHeader(headers, name);
    headers.push(name, value);
  }
  for (const [name, value] of ops.add) headers.push(name, value);
}

/**
 * A route's and its chosen destination's edits, in Envoy's order as Istio configures it. With a
 * single destination Istio appends the destination's edits to the route's own list: every remove
 * first, then the route's set/add, then the destination's. With several destinations they sit on
 * the weighted cluster, which Envoy applies before the route's.
 */
export function applyRouteHeaderOps(headers: string[], route: HeaderOps | null, dest: HeaderOps | null, single: boolean): void {
  if (single && route !== null && dest !== null) {
    for (const name of route.remove) removeHeader(headers, name);
    for (const name of dest.remove) removeHeader(headers, name);
    setAndAdd(headers, route);
    setAndAdd(headers, dest);
    return;
  }
  if (dest !== null) applyHeaderOps(headers, dest);
  if (route !== null) applyHeaderOps(headers, route);
}

export function removeHeader(headers: string[], lowerName: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i]!.toLowerCase() === lowerName) headers.splice(i, 2);
  }
}

export function setHeader(headers: string[], lowerName: string, value: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === lowerName) {
      headers[i + 1] = value;
      return;
    }
  }
  headers.push(lowerName, value);
}
