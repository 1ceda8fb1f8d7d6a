import { randomBytes } from 'node:crypto';
import type { HashKey } from '../../compile/snapshot.js';
import { hash32 } from '../../upstream/hash.js';
import type { HeaderMap } from '../downstream.js';
import { parseQuery, type RequestView } from '../route-lookup.js';

/**
 * The consistent-hash key of a request (DestinationRule consistentHash), and the cookie to set
 * when the policy hashes by a cookie the client does not have yet and names a ttl, as Envoy does.
 * An absent key leaves the choice to the balancer.
 */
export function hashKeyOf(h: HashKey, view: RequestView, remoteAddress: string): { key: number | undefined; setCookie?: string } {
  let key: string | undefined;
  let setCookie: string | undefined;
  if (h.type === 'header') {
    const v = view.headers[h.name];
    key = Array.isArray(v) ? v.join(',') : v;
  } else if (h.type === 'sourceIp') {
    key = remoteAddress;
  } else if (h.type === 'query') {
    if (view.query === null) view.query = parseQuery(view.rawQuery);
    key = view.query.get(h.name);
  } else {
    key = readCookie(cookieHeader(view.headers), h.name);
    if (key === undefined && h.ttlSeconds !== undefined) {
      key = randomBytes(8).toString('hex');
      const attrs = [`${h.name}="${key}"`];
      if (h.ttlSeconds > 0) attrs.push(`Max-Age=${h.ttlSeconds}`);
      if (h.path !== undefined) attrs.push(`Path=${h.path}`);
      attrs.push('HttpOnly');
      setCookie = attrs.join('; ');
    }
  }
  return { key: key === undefined ? undefined : hash32(key), setCookie };
}

/** HTTP/2 may split cookies over several fields (RFC 9113 §8.2.3). */
function cookieHeader(headers: HeaderMap): string | undefined {
  const c = headers.cookie;
  return Array.isArray(c) ? c.join('; ') : c;
}

/** A cookie's value from a Cookie header, quotes removed (Envoy writes hash cookies quoted). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    const v = part.slice(eq + 1).trim();
    return v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"' ? v.slice(1, -1) : v;
  }
  return undefined;
}
