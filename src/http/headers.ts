import { randomUUID } from 'node:crypto';

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
  'http2-settings',
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

/** What the upstream request's headers are built from. */
export interface RequestHeadersIn {
  rawHeaders: readonly string[];
  remoteAddress: string;
  /** HTTP/2: Host comes from :authority, whatever a host header says. */
  authority: string | undefined;
  protocol: string;
  /** Set by the gateway from the client certificate (SANITIZE_SET): any the client sent is dropped above. */
  clientCertDetails: string | null;
}

/**
 * Request headers as sent upstream: hop-by-hop and Envoy-internal ones removed (`te: trailers`
 * kept, as gRPC needs it), x-forwarded-* and x-request-id set as Envoy sets them at the edge.
 * Null for a request with more than one Host (RFC 9112 §3.2: answer 400).
 */
export function upstreamRequestHeaders(req: RequestHeadersIn, scheme: string, ids?: { requestId: string | null }): string[] | null {
  const raw = req.rawHeaders;
  const h2 = req.protocol === 'HTTP/2';
  const out: string[] = [];
  let xff: string | undefined;
  let requestId = false;
  let connection: string | undefined;
  let trailers = false;
  let host = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const drop = listed(DROP_REQUEST, name);
    if (drop !== undefined) {
      if (drop === 'x-forwarded-for') xff = xff === undefined ? raw[i + 1]! : `${xff}, ${raw[i + 1]!}`;
      else if (drop === 'connection') connection = connection === undefined ? raw[i + 1]! : `${connection},${raw[i + 1]!}`;
      else if (drop === 'te' && raw[i + 1]!.toLowerCase().includes('trailers')) trailers = true;
      continue;
    }
    if (name.length === 12 && name.toLowerCase() === 'x-request-id') {
      requestId = true;
      if (ids !== undefined) ids.requestId = raw[i + 1]!;
    }
    else if (name.length === 4 && name.toLowerCase() === 'host') {
      if (h2) continue;
      if (host) return null;
      host = true;
    }
    out.push(name, raw[i + 1]!);
  }
  if (h2 && req.authority !== undefined) out.push('host', req.authority);
  if (connection !== undefined) dropConnectionListed(out, connection);
  const remote = req.remoteAddress;
  out.push('x-forwarded-for', xff === undefined ? remote : `${xff}, ${remote}`, 'x-forwarded-proto', scheme);
  if (trailers) out.push('te', 'trailers');
  if (req.clientCertDetails !== null) out.push('x-forwarded-client-cert', req.clientCertDetails);
  if (!requestId) {
    const id = randomUUID();
    out.push('x-request-id', id);
    if (ids !== undefined) ids.requestId = id;
  }
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

/**
 * An upstream's response headers as the client gets them, in place: hop-by-hop ones removed,
 * `server` and `x-envoy-upstream-service-time` as Envoy sets them.
 */
export function downstreamResponseHeaders(headers: string[], upstreamMs: number): string[] {
  let w = 0;
  for (let r = 0; r < headers.length; r += 2) {
    if (listed(DROP_RESPONSE, headers[r]!) !== undefined) continue;
    if (w !== r) {
      headers[w] = headers[r]!;
      headers[w + 1] = headers[r + 1]!;
    }
    w += 2;
  }
  headers.length = w;
  headers.push('server', 'istio-envoy', 'x-envoy-upstream-service-time', String(upstreamMs));
  return headers;
}
