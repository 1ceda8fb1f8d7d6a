import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// Hop-by-hop headers (RFC 9110 §7.6.1), the ones the upstream client sets itself, and the ones
// the gateway sets as Envoy does at the edge. Indexed by length so most names are passed over
// without lower-casing them.
const DROP_REQUEST = byLength([
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
  'x-envoy-attempt-count',
]);

const DROP_RESPONSE = byLength(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'server', 'trailer']);

function byLength(names: string[]): (Set<string> | undefined)[] {
  const out: (Set<string> | undefined)[] = [];
  for (const n of names) (out[n.length] ??= new Set()).add(n);
  return out;
}

/** The lower-cased name when it is one of `table`'s, else undefined. */
function listed(table: (Set<string> | undefined)[], name: string): string | undefined {
  const set = table[name.length];
  if (set === undefined) return undefined;
  const lower = name.toLowerCase();
  return set.has(lower) ? lower : undefined;
}

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
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const drop = listed(DROP_REQUEST, name);
    if (drop !== undefined) {
      if (drop === 'x-forwarded-for') xff = xff === undefined ? raw[i + 1]! : `${xff}, ${raw[i + 1]!}`;
      else if (drop === 'connection') connection = connection === undefined ? raw[i + 1]! : `${connection},${raw[i + 1]!}`;
      continue;
    }
    if (name.length === 12 && name.toLowerCase() === 'x-request-id') requestId = true;
    out.push(name, raw[i + 1]!);
  }
  if (connection !== undefined) dropConnectionListed(out, connection);
  const remote = clientAddress(req);
  out.push('x-forwarded-for', xff === undefined ? remote : `${xff}, ${remote}`, 'x-forwarded-proto', scheme);
  if (!requestId) out.push('x-request-id', randomUUID());
  return out;
}

/** Headers named in Connection are hop-by-hop too (`Connection: keep-alive, X-Trace`). */
function dropConnectionListed(headers: string[], connection: string): void {
  const tokens = connection.toLowerCase().split(',').map((t) => t.trim()).filter((t) => t !== '' && t !== 'keep-alive' && t !== 'close');
  if (tokens.length === 0) return;
  for (let i = headers.length - 2; i >= 0; i -= 2) if (tokens.includes(headers[i]!.toLowerCase())) headers.splice(i, 2);
}

/** Response headers from upstream raw buffers, hop-by-hop removed, ready for `writeHead`. */
export function downstreamResponseHeaders(raw: Buffer[], upstreamMs: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    if (listed(DROP_RESPONSE, name) !== undefined) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  out.push('server', 'istio-envoy', 'x-envoy-upstream-service-time', String(upstreamMs));
  return out;
}
