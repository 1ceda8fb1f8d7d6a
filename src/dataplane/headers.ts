import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the upstream client sets itself.
const DROP_REQUEST = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'x-forwarded-proto',
  'x-forwarded-for',
  'proxy-authorization',
]);

const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'server', 'trailer']);

export function clientAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** Request headers as sent upstream: hop-by-hop removed, x-forwarded-* and x-request-id as Envoy sets them at the edge. */
export function upstreamRequestHeaders(req: IncomingMessage, scheme: string): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let xff: string | undefined;
  let requestId = false;
  const connectionListed = req.headers.connection;
  const extraDrop = connectionListed !== undefined && connectionListed !== 'keep-alive' && connectionListed !== 'close'
    ? new Set(connectionListed.toLowerCase().split(',').map((s) => s.trim()))
    : null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (DROP_REQUEST.has(lower)) {
      if (lower === 'x-forwarded-for') xff = xff === undefined ? raw[i + 1]! : `${xff}, ${raw[i + 1]!}`;
      continue;
    }
    if (extraDrop !== null && extraDrop.has(lower)) continue;
    if (lower === 'x-request-id') requestId = true;
    out.push(name, raw[i + 1]!);
  }
  const remote = clientAddress(req);
  out.push('x-forwarded-for', xff === undefined ? remote : `${xff}, ${remote}`, 'x-forwarded-proto', scheme);
  if (!requestId) out.push('x-request-id', randomUUID());
  return out;
}

/** Response headers from upstream raw buffers, hop-by-hop removed, ready for `writeHead`. */
export function downstreamResponseHeaders(raw: Buffer[], upstreamMs: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    if (DROP_RESPONSE.has(name.toLowerCase())) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  out.push('server', 'istio-envoy', 'x-envoy-upstream-service-time', String(upstreamMs));
  return out;
}
