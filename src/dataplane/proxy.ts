import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Route, WeightedDestination } from '../compile/snapshot.js';
import { normalizeAuthority } from '../compile/hosts.js';
import type { DataPlaneState } from './active.js';
import type { ClusterRuntime, LiveEndpoint } from './cluster.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { REPLY, sendLocalReply } from './local-reply.js';
import { splitTarget } from './path.js';
import { findRoute, findVirtualHost, type RequestView } from './router.js';
import type { UpstreamHandler } from './upstream.js';

export interface ListenerContext {
  state: DataPlaneState;
  /** Listener name in the snapshot (`gateway:80`, `mesh`). */
  name: string;
  scheme: 'http' | 'https';
}

/** The request handler of one HTTP listener: route, pick an endpoint, forward. */
export function createRequestHandler(ctx: ListenerContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => handleRequest(ctx, req, res);
}

function handleRequest(ctx: ListenerContext, req: IncomingMessage, res: ServerResponse): void {
  const active = ctx.state.active;
  const listener = active.listeners.get(ctx.name);
  const target = splitTarget(req.url ?? '/');
  if (listener === undefined || target === null) return sendLocalReply(res, 404, '');
  const authority = target.authority ?? req.headers.host;
  if (authority === undefined) return sendLocalReply(res, 404, '');
  const vhost = findVirtualHost(listener.routes, normalizeAuthority(authority));
  if (vhost === null) return sendLocalReply(res, 404, '');
  const view: RequestView = { req, path: target.path, rawQuery: target.rawQuery, query: null, scheme: ctx.scheme, port: listener.port };
  const route = findRoute(vhost, view);
  if (route === null) return sendLocalReply(res, 404, '');

  const dest = pickDestination(route.action.destinations, route.action.totalWeight);
  const cluster = active.clusters.get(dest.cluster);
  if (cluster === undefined || !cluster.config.known) return sendLocalReply(res, 503, '');
  const endpoint = cluster.pick();
  if (endpoint !== null) return forward(ctx, req, res, route, cluster, endpoint, target.path, target.rawQuery);
  const lookup = cluster.firstLookup;
  if (lookup === null) return sendLocalReply(res, 503, REPLY.noHealthyUpstream);
  void lookup.then(() => {
    const ep = cluster.pick();
    if (ep === null) sendLocalReply(res, 503, REPLY.noHealthyUpstream);
    else forward(ctx, req, res, route, cluster, ep, target.path, target.rawQuery);
  });
}

function pickDestination(dests: WeightedDestination[], total: number): WeightedDestination {
  if (dests.length === 1) return dests[0]!;
  let r = Math.random() * total;
  for (let i = 0; i < dests.length; i++) {
    const d = dests[i]!;
    if (d.weight === 0) continue;
    r -= d.weight;
    if (r < 0) return d;
  }
  return dests[dests.length - 1]!;
}

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

function forward(
  ctx: ListenerContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  _cluster: ClusterRuntime,
  endpoint: LiveEndpoint,
  path: string,
  rawQuery: string,
): void {
  const exchange = new Exchange(req, res, route.timeoutMs);
  const body = hasBody(req) ? req : null;
  endpoint.upstream.dispatch(
    { method: req.method ?? 'GET', path: rawQuery === '' ? path : `${path}?${rawQuery}`, headers: upstreamRequestHeaders(req, ctx.scheme), body },
    exchange,
  );
  exchange.armTimeout(body !== null);
}

const kExchange = Symbol('meshgate.exchange');

class UpstreamTimeout extends Error {
  override name = 'UpstreamTimeout';
}

/**
 * One request's trip upstream and back, as an undici dispatch handler: the answer is written to
 * the client as it arrives, with backpressure both ways, and nothing is buffered whole.
 */
class Exchange implements UpstreamHandler {
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private finished = false;
  private readonly startMs = Date.now();
  private drainListener: (() => void) | null = null;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly timeoutMs: number,
  ) {
    (res as unknown as Record<symbol, Exchange>)[kExchange] = this;
    res.on('close', onDownstreamClose);
  }

  /** Envoy's route timeout counts from the end of the client's request. */
  armTimeout(requestHasBody: boolean): void {
    if (this.timeoutMs <= 0 || this.finished) return;
    if (!requestHasBody || this.req.readableEnded) this.timer = setTimeout(onTimeout, this.timeoutMs, this);
    else this.req.once('end', () => {
      if (!this.finished) this.timer = setTimeout(onTimeout, this.timeoutMs, this);
    });
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.finished) abort();
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.finished) return false;
    this.resumeUpstream = resume;
    this.res.writeHead(statusCode, downstreamResponseHeaders(rawHeaders, Date.now() - this.startMs));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.finished) return false;
    if (this.res.write(chunk)) return true;
    if (this.drainListener === null) this.drainListener = () => this.resumeUpstream?.();
    this.res.once('drain', this.drainListener);
    return false;
  }

  onComplete(): void {
    if (this.finished) return;
    this.finish();
    this.res.end();
  }

  onError(err: Error): void {
    if (this.finished) return;
    this.finish();
    if (this.res.headersSent) {
      this.res.destroy(err);
      return;
    }
    if (err instanceof UpstreamTimeout) return sendLocalReply(this.res, 504, REPLY.timeout);
    sendLocalReply(this.res, 503, upstreamFailureReply(err));
  }

  timedOut(): void {
    if (this.finished) return;
    const err = new UpstreamTimeout('upstream request timeout');
    if (this.abortUpstream) this.abortUpstream(err);
    else this.onError(err);
    // undici reports the abort through onError; make sure the client hears back either way.
    if (!this.finished) this.onError(err);
  }

  downstreamClosed(): void {
    if (this.finished) return;
    this.finish();
    this.abortUpstream?.(new Error('downstream closed'));
  }

  private finish(): void {
    this.finished = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

function onTimeout(ex: Exchange): void {
  ex.timedOut();
}

function onDownstreamClose(this: ServerResponse): void {
  const ex = (this as unknown as Record<symbol, Exchange | undefined>)[kExchange];
  if (ex !== undefined && !this.writableFinished) ex.downstreamClosed();
}

const CONNECT_ERRNO: Record<string, number> = { ECONNREFUSED: 111, EHOSTUNREACH: 113, ENETUNREACH: 101, ETIMEDOUT: 110 };

/** Envoy's wording for an upstream that failed before sending headers. */
export function upstreamFailureReply(err: Error & { code?: string }): string {
  const code = err.code ?? '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return `${REPLY.connectFailure}, transport failure reason: delayed connect error: 110`;
  if (CONNECT_ERRNO[code] !== undefined) return `${REPLY.connectFailure}, transport failure reason: delayed connect error: ${CONNECT_ERRNO[code]}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return REPLY.connectFailure;
  if (code === 'HPE_INVALID_CONSTANT' || code.startsWith('HPE_') || code === 'UND_ERR_INFO') return REPLY.protocolError;
  return REPLY.resetBeforeHeaders;
}
