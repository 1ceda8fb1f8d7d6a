import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { pickDestination, upstreamRequestFor } from './exchange.js';
import { downstreamResponseHeaders } from './headers.js';
import { REPLY } from './local-reply.js';
import { routeOf, type ListenerContext } from './proxy.js';
import type { UpstreamHandler } from './upstream.js';
import { upstreamFailureReply } from './upstream-errors.js';

// WebSocket (and other HTTP/1.1 Upgrade) requests: routed like any request, then the two
// connections are joined once the upstream answers 101, as Istio's gateways do by default.

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 502: 'Bad Gateway' };

/** A local reply written straight to a connection that is not (or no longer) an HTTP exchange. */
function rawReply(socket: Duplex, status: number, text: string, body = ''): void {
  const head = `HTTP/1.1 ${status} ${text}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${body ? 'content-type: text/plain\r\n' : ''}server: istio-envoy\r\nconnection: close\r\n\r\n`;
  socket.end(head + body);
}

function headBlock(status: number, text: string, headers: string[]): string {
  let out = `HTTP/1.1 ${status} ${text}\r\n`;
  for (let i = 0; i < headers.length; i += 2) out += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return out + '\r\n';
}

export function handleUpgrade(ctx: ListenerContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  ctx.upgraded.add(socket);
  socket.once('close', () => ctx.upgraded.delete(socket));
  const r = routeOf(ctx, req);
  if (typeof r === 'number') return rawReply(socket, r, STATUS_TEXT[r] ?? 'Error');
  const { active, route, view } = r;
  const port = view.port;
  if (route.action.type !== 'forward') return rawReply(socket, 404, 'Not Found');
  const fault = route.fault;
  if (fault !== null && fault.abortPercent > 0 && Math.random() * 100 < fault.abortPercent) {
    return rawReply(socket, fault.abortStatus, 'Fault', 'fault filter abort');
  }
  const dests = route.action.destinations;
  const dest = pickDestination(dests, route.action.totalWeight);
  const cluster = active.clusters.get(dest.clusterByPort?.get(port) ?? dest.cluster);
  const endpoint = cluster?.config.known ? cluster.pick() : null;
  if (!endpoint) return rawReply(socket, 503, 'Service Unavailable', REPLY.noHealthyUpstream);
  const built = upstreamRequestFor(req, ctx.scheme, route, dest, view, r.absolute);
  if (built === null) return rawReply(socket, 400, 'Bad Request');
  endpoint.upstream.dispatch(
    { method: req.method ?? 'GET', path: built.path, headers: built.headers, body: null, upgrade: String(req.headers.upgrade) },
    new UpgradeHandler(socket, head, Date.now()),
  );
}

class UpgradeHandler implements UpstreamHandler {
  private abortFn: ((err?: Error) => void) | null = null;
  private answered = false;

  constructor(
    private readonly client: Duplex,
    private readonly head: Buffer,
    private readonly startMs: number,
  ) {
    client.once('close', () => this.abortFn?.(new Error('client closed')));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex): void {
    this.answered = true;
    const raw = (rawHeaders ?? []).map((h) => (typeof h === 'string' ? Buffer.from(h, 'latin1') : h));
    // Upgrade and Connection are hop-by-hop, but here they are the point: keep them.
    const headers: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1');
      const lower = name.toLowerCase();
      if (lower === 'upgrade' || lower === 'connection') headers.push(name, raw[i + 1]!.toString('latin1'));
    }
    headers.push(...downstreamResponseHeaders(raw, Date.now() - this.startMs));
    this.client.write(headBlock(statusCode, 'Switching Protocols', headers));
    if (this.head.length > 0) upstream.write(this.head);
    // Either side closing closes the other: an upgraded connection has no other ending.
    upstream.on('close', () => this.client.destroy());
    this.client.on('close', () => upstream.destroy());
    upstream.on('error', () => upstream.destroy());
    upstream.pipe(this.client);
    this.client.pipe(upstream);
  }

  // The upstream declined the upgrade: relay its answer as a normal response.
  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.answered = true;
    const headers = downstreamResponseHeaders(rawHeaders, Date.now() - this.startMs);
    headers.push('connection', 'close');
    this.client.write(headBlock(statusCode, statusCode < 400 ? 'OK' : 'Error', headers));
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.client.write(chunk);
  }

  onComplete(): void {
    this.client.end();
  }

  onError(err: Error): void {
    if (this.answered) this.client.destroy();
    else rawReply(this.client, 503, 'Service Unavailable', upstreamFailureReply(err));
  }
}
