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
  // Envoy removes these from external requests: they steer Envoy itself (retries, timeouts,
  // tracing) or claim an identity the gateway alone may assert. Istio's gateways sanitise
  // x-forwarded-client-cert as well.
  'x-envoy-decorator-operation',
  'x-envoy-downstream-service-cluster',
  'x-envoy-downstream-service-node',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-external-address',
  'x-envoy-force-trace',
  'x-envoy-hedge-on-per-try-timeout',
  'x-envoy-internal',
  'x-envoy-ip-tags',
  'x-envoy-max-retries',
  'x-envoy-retriable-header-names',
  'x-envoy-retriable-status-codes',
  'x-envoy-retry-grpc-on',
  'x-envoy-retry-on',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-stream-duration-ms',
  'x-forwarded-client-cert',
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

/**
 * Request headers as sent upstream: hop-by-hop and Envoy-internal ones removed, x-forwarded-* and
 * x-request-id set as Envoy sets them at the edge. Null for a request with more than one Host
 * (RFC 9112 §3.2: answer 400).
 */
export function upstreamRequestHeaders(req: IncomingMessage, scheme: string): string[] | null {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let xff: string | undefined;
  let requestId = false;
  let connection: string | undefined;
  let host = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const drop = listed(DROP_REQUEST, name);
    if (drop !== undefined) {
      if (drop === 'x-forwarded-for') xff = xff === undefined ? raw[i + 1]! : `${xff}, ${raw[i + 1]!}`;
      else if (drop === 'connection') connection = connection === undefined ? raw[i + 1]! : `${connection},${raw[i + 1]!}`;
      continue;
    }
    if (name.length === 12 && name.toLowerCase() === 'x-request-id') requestId = true;
    else if (name.length === 4 && name.toLowerCase() === 'host') {
      if (host) return null;
      host = true;
    }
    out.push(name, raw[i + 1]!);
  }
  if (connection !== undefined) dropConnectionListed(out, connection);
  const remote = clientAddress(req);
  out.push('x-forwarded-for', xff === undefined ? remote : `${xff}, ${remote}`, 'x-forwarded-proto', scheme);
  if (!requestId) out.push('x-request-id', randomUUID());
  return out;
}

// Connection cannot make these hop-by-hop: they carry the request's identity and framing.
const NEVER_HOP_BY_HOP = new Set(['host', 'content-length', 'x-request-id', 'content-type', 'authorization', 'cookie']);

/** Headers named in Connection are hop-by-hop too (`Connection: keep-alive, X-Trace`). */
function dropConnectionListed(headers: string[], connection: string): void {
  const tokens = new Set<string>();
  for (const t of connection.toLowerCase().split(',')) {
    const name = t.trim();
    if (name !== '' && name !== 'keep-alive' && name !== 'close' && !NEVER_HOP_BY_HOP.has(name)) tokens.add(name);
  }
  if (tokens.size === 0) return;
  for (let i = headers.length - 2; i >= 0; i -= 2) if (tokens.has(headers[i]!.toLowerCase())) headers.splice(i, 2);
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
