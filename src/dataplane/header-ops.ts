import type { HeaderOps } from '../compile/snapshot.js';

/** Apply VirtualService header edits to a flat [name, value, ...] list, in place: remove, set, add. */
export function applyHeaderOps(headers: string[], ops: HeaderOps): void {
  for (const name of ops.remove) removeHeader(headers, name);
  for (const [name, value] of ops.set) {
    removeHeader(headers, name);
    headers.push(name, value);
  }
  for (const [name, value] of ops.add) headers.push(name, value);
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
