import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Route, WeightedDestination } from '../compile/snapshot.js';
import type { ActiveConfig } from './active.js';
import { bufferForReplay, hasBody, teeForMirrors, type PreparedBody } from './body.js';
import type { ClusterRuntime, LiveEndpoint } from './cluster.js';
import { isPreflight, originAllowed, preflightHeaders, responseCorsHeaders } from './cors.js';
import { applyHeaderOps, applyRouteHeaderOps, removeHeader, setHeader } from './header-ops.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { REPLY, sendLocalReply } from './local-reply.js';
import { redirectLocation, rewritePath } from './redirect.js';
import type { RequestView } from './router.js';
import type { UpstreamRequest } from './upstream.js';
import { Attempt, onPerTryTimeout, type AttemptOwner } from './attempt.js';
import { hashKeyOf } from './hash-key.js';
import { MirrorSink, shadowHost } from './mirror.js';
import { isConnectFailure, isRequestRefused, LocalFailure, upstreamFailureReply } from './upstream-errors.js';
import type { ListenerContext } from './proxy.js';

/** Istio treats a route with one destination differently from a weighted one (header edit order). */
const singleDestination = (route: Route): boolean => route.action.type === 'forward' && route.action.destinations.length === 1;

/**
 * Headers and path sent upstream for a routed request (or Upgrade): hop-by-hop and internal
 * headers removed, Host from an absolute-form target, the route's rewrite and header edits.
 * Null when the request cannot be forwarded (two Host headers).
 */
export function upstreamRequestFor(
  req: IncomingMessage,
  scheme: string,
  route: Route,
  dest: WeightedDestination,
  view: RequestView,
  absolute: boolean,
): { headers: string[]; path: string } | null {
  const headers = upstreamRequestHeaders(req, scheme);
  if (headers === null) return null;
  // RFC 9112 §3.2.2: an absolute-form target's authority is the request's; Host follows it.
  if (absolute) setHeader(headers, 'host', view.authority);
  let path = view.path;
  if (route.rewrite !== null) {
    path = rewritePath(route.rewrite, view.matched, path);
    if (route.rewrite.authority !== undefined) setHeader(headers, 'host', route.rewrite.authority);
  }
  applyRouteHeaderOps(headers, route.requestHeaders, dest.requestHeaders, singleDestination(route));
  return { headers, path: view.rawQuery === '' ? path : `${path}?${view.rawQuery}` };
}

/** A destination by weight (Envoy's weighted clusters: random, in proportion). */
export function pickDestination(dests: WeightedDestination[], total: number): WeightedDestination {
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

const kExchange = Symbol('meshgate.exchange');

/**
 * One client request from route match to the last byte of the answer: the route's filters
 * (CORS, fault), then attempts upstream (retries, timeouts), streaming the chosen answer back.
 */
export class Exchange implements AttemptOwner {
  private dest: WeightedDestination | null = null;
  private cluster: ClusterRuntime | null = null;
  private hashKey: number | undefined = undefined;
  /** Extra response headers from filters (CORS, a generated hash cookie). */
  private responseExtra: string[] | null = null;
  private headers: string[] = [];
  private path = '';
  private body: PreparedBody | null = null;
  private tried: LiveEndpoint[] = [];
  private attempt: Attempt | null = null;
  private attempts = 0;
  private timer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private holdsSlot = false;
  private timeoutArmed = false;
  private releaseReplay: (() => void) | null = null;
  /** Counted in the cluster's retries outstanding (connectionPool.http.maxRetries) until the request ends. */
  private holdsRetry = false;
  private queuedStart: (() => void) | null = null;
  private finished = false;

  constructor(
    private readonly ctx: ListenerContext,
    private readonly active: ActiveConfig,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly route: Route,
    private readonly view: RequestView,
    /** The target was absolute-form: its authority replaces the Host header upstream. */
    private readonly absolute: boolean,
  ) {}

  start(): void {
    const route = this.route;
    if (route.cors !== null) {
      const origin = this.req.headers.origin;
      if (origin !== undefined) {
        const allowed = originAllowed(route.cors, origin);
        if (isPreflight(this.req)) {
          if (allowed) return this.localReply(200, '', preflightHeaders(route.cors, origin));
          if (route.cors.unmatchedPreflights === 'ignore') return this.localReply(200, '');
        } else if (allowed) {
          this.responseExtra = responseCorsHeaders(route.cors, origin);
        }
      }
    }
    const fault = route.fault;
    if (fault !== null && fault.delayPercent > 0 && Math.random() * 100 < fault.delayPercent) {
      this.watchDownstream();
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.finished) this.afterDelay();
      }, fault.delayMs);
      return;
    }
    this.afterDelay();
  }

  private afterDelay(): void {
    const route = this.route;
    const fault = route.fault;
    if (fault !== null && fault.abortPercent > 0 && Math.random() * 100 < fault.abortPercent) {
      return this.localReply(fault.abortStatus, 'fault filter abort');
    }
    const action = route.action;
    if (action.type === 'redirect') {
      const location = redirectLocation(action.redirect, this.ctx.scheme, this.view.authority, this.view.path, this.view.rawQuery, this.view.port);
      // Envoy applies the route's response header edits to its redirects too.
      const headers = ['location', location];
      if (route.responseHeaders) applyHeaderOps(headers, route.responseHeaders);
      return this.localReply(action.redirect.code, '', headers);
    }
    if (action.type === 'direct') {
      const headers = ['server', 'istio-envoy', 'content-length', String(action.body?.length ?? 0)];
      if (action.body) headers.push('content-type', 'text/plain');
      if (route.responseHeaders) applyHeaderOps(headers, route.responseHeaders);
      this.finish();
      this.res.writeHead(action.status, headers);
      this.res.end(action.body ?? undefined);
      return;
    }
    const dest = pickDestination(action.destinations, action.totalWeight);
    const clusterName = dest.clusterByPort?.get(this.view.port) ?? dest.cluster;
    const cluster = this.active.clusters.get(clusterName);
    if (cluster === undefined || !cluster.config.known) return this.localReply(503, '');
    this.dest = dest;
    this.cluster = cluster;
    if (cluster.config.hash !== null) this.computeHash();
    if (!this.prepareRequest()) return this.localReply(400, '');
    if (!hasBody(this.req)) {
      this.body = null;
      this.admit();
    } else if (route.retry !== null) {
      this.watchDownstream();
      bufferForReplay(this.req, (b, release) => {
        this.releaseReplay = release;
        if (this.finished) return release();
        this.body = b;
        this.admit();
      });
    } else {
      this.body = { replayable: false, stream: this.req };
      this.admit();
    }
  }

  /** Builds the upstream request; false when the request cannot be forwarded (duplicate Host). */
  private prepareRequest(): boolean {
    const built = upstreamRequestFor(this.req, this.ctx.scheme, this.route, this.dest!, this.view, this.absolute);
    if (built === null) return false;
    // Envoy overwrites any count the client sent (upstreamRequestHeaders dropped it); tryOnce
    // relies on this being the last header.
    built.headers.push('x-envoy-attempt-count', '1');
    this.headers = built.headers;
    this.path = built.path;
    return true;
  }


  private computeHash(): void {
    const { key, setCookie } = hashKeyOf(this.cluster!.config.hash!, this.req, this.view);
    this.hashKey = key;
    if (setCookie !== undefined) (this.responseExtra ??= []).push('set-cookie', setCookie);
  }

  /** Take a connection slot under the cluster's circuit breakers, or answer 503 overflow. */
  private admit(): void {
    const cluster = this.cluster!;
    const start = () => {
      this.queuedStart = null;
      if (this.finished) return cluster.release();
      this.holdsSlot = true;
      this.begin();
    };
    const r = cluster.admit(start);
    if (r === true) {
      this.holdsSlot = true;
      this.begin();
    } else if (r === 'queued') {
      this.queuedStart = start;
      this.watchDownstream();
      // Time spent waiting for a connection counts against the route timeout, as in Envoy.
      this.armTimeout();
    } else {
      this.localReply(503, REPLY.overflow, ['x-envoy-overloaded', 'true']);
    }
  }

  private begin(): void {
    this.watchDownstream();
    this.startMirrors();
    this.armTimeout();
    this.tryOnce();
  }

  private armTimeout(): void {
    const ms = this.route.timeoutMs;
    if (ms <= 0 || this.finished || this.timeoutArmed) return;
    this.timeoutArmed = true;
    if (this.req.readableEnded || this.body === null || this.body.replayable) this.timer = setTimeout(onRouteTimeout, ms, this);
    else {
      this.req.once('end', () => {
        if (!this.finished) this.timer = setTimeout(onRouteTimeout, ms, this);
      });
    }
  }

  private tryOnce(): void {
    const cluster = this.cluster!;
    const endpoint = cluster.pick(this.hashKey, this.tried);
    if (endpoint === null) {
      const lookup = cluster.firstLookup;
      if (lookup !== null && this.attempts === 0) {
        void lookup.then(() => {
          if (!this.finished) this.tryOnce();
        });
        return;
      }
      return this.localReply(503, REPLY.noHealthyUpstream);
    }
    this.attempts++;
    if (this.attempts > 1) this.headers[this.headers.length - 1] = String(this.attempts);
    this.tried.push(endpoint);
    endpoint.active++;
    const attempt = new Attempt(this, endpoint);
    this.attempt = attempt;
    const perTry = this.route.retry?.perTryTimeoutMs ?? 0;
    if (perTry > 0) attempt.timer = setTimeout(onPerTryTimeout, perTry, attempt);
    const body = this.body;
    const req: UpstreamRequest = {
      method: this.req.method ?? 'GET',
      path: this.path,
      headers: this.attempts > 1 ? this.headers.slice() : this.headers,
      body: body === null ? null : body.replayable ? (body.data as never) : (body.stream as never),
    };
    endpoint.upstream.dispatch(req, attempt);
  }

  // --- attempt outcomes ------------------------------------------------------------------

  onAttemptHeaders(at: Attempt, status: number, raw: Buffer[]): boolean {
    if (at !== this.attempt || this.finished) return false;
    this.cluster!.record(at.endpoint, status);
    if (this.shouldRetryStatus(status)) {
      at.discard();
      this.scheduleRetry();
      return false;
    }
    at.clearTimer();
    const headers = downstreamResponseHeaders(raw, Date.now() - at.startMs);
    const extra = this.responseExtra;
    if (extra !== null) {
      // CORS headers replace what the upstream sent (Envoy's setInline); a hash cookie is added.
      for (let i = 0; i < extra.length; i += 2) {
        if (extra[i] !== 'set-cookie') removeHeader(headers, extra[i]!);
        headers.push(extra[i]!, extra[i + 1]!);
      }
    }
    applyRouteHeaderOps(headers, this.route.responseHeaders, this.dest!.responseHeaders, singleDestination(this.route));
    // Draining began while this request ran: its answer closes the connection.
    if (this.ctx.state.draining) this.res.shouldKeepAlive = false;
    this.res.writeHead(status, headers);
    return true;
  }

  onAttemptComplete(at: Attempt): void {
    if (at !== this.attempt || this.finished) return;
    this.finish();
    this.res.end();
  }

  onAttemptError(at: Attempt, err: Error): void {
    if (at !== this.attempt || this.finished) return;
    at.clearTimer();
    if (err instanceof LocalFailure && err.kind !== 'per-try-timeout') return;
    // Not the upstream's failure: no outlier mark, no retry.
    if (!this.res.headersSent && isRequestRefused(err)) return this.localReply(400, '');
    this.cluster!.record(at.endpoint, 0);
    if (this.res.headersSent) {
      this.finish();
      this.res.destroy(err);
      return;
    }
    if (this.shouldRetryError(err)) {
      this.scheduleRetry();
      return;
    }
    if (err instanceof LocalFailure) return this.localReply(504, REPLY.timeout);
    this.localReply(503, upstreamFailureReply(err));
  }

  private canRetry(): boolean {
    const r = this.route.retry;
    if (r === null || this.attempts > r.retries) return false;
    if (this.body !== null && !this.body.replayable) return false;
    return this.holdsRetry || this.cluster!.retryAllowed();
  }

  private shouldRetryStatus(status: number): boolean {
    const r = this.route.retry;
    if (r === null || status < 400) return false;
    const hit =
      (r.on5xx && status >= 500) ||
      (r.onGatewayError && (status === 502 || status === 503 || status === 504)) ||
      (r.onRetriable4xx && status === 409) ||
      r.statusCodes.includes(status);
    return hit && this.canRetry();
  }

  private shouldRetryError(err: Error): boolean {
    const r = this.route.retry;
    if (r === null) return false;
    const broad = r.on5xx || r.onGatewayError || r.onReset;
    const hit = err instanceof LocalFailure ? broad : broad || (r.onConnectFailure && isConnectFailure(err));
    return hit && this.canRetry();
  }

  private scheduleRetry(): void {
    if (!this.holdsRetry) {
      this.cluster!.activeRetries++;
      this.holdsRetry = true;
    }
    // Envoy's jittered exponential back-off: up to base, 2 × base, ... capped at 10 × base (25 ms by default).
    const base = this.route.retry!.backoffBaseMs;
    const ceiling = Math.min(10 * base, base * 2 ** (this.attempts - 1));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.finished) this.tryOnce();
    }, Math.random() * ceiling);
  }

  // --- endings ---------------------------------------------------------------------------

  routeTimedOut(): void {
    if (this.finished) return;
    this.timer = null;
    this.attempt?.abort(new LocalFailure('timeout'));
    if (this.res.headersSent) {
      this.finish();
      this.res.destroy();
    } else this.localReply(504, REPLY.timeout);
  }

  downstreamClosed(): void {
    if (this.finished) return;
    this.finish();
    this.attempt?.abort(new LocalFailure('downstream'));
  }

  private localReply(status: number, body: string, headers?: string[]): void {
    this.finish();
    if (this.ctx.state.draining) this.res.shouldKeepAlive = false;
    sendLocalReply(this.res, status, body, headers);
  }

  private watchDownstream(): void {
    const res = this.res as unknown as Record<symbol, Exchange | undefined>;
    if (res[kExchange] !== undefined) return;
    res[kExchange] = this;
    this.res.on('close', onDownstreamClose);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.timer = this.retryTimer = null;
    this.releaseReplay?.();
    if (this.holdsRetry) this.cluster!.activeRetries--;
    this.holdsRetry = false;
    if (this.queuedStart !== null) this.cluster!.cancelQueued(this.queuedStart);
    if (this.holdsSlot) this.cluster!.release();
    this.holdsSlot = false;
  }

  // --- mirroring -------------------------------------------------------------------------

  private startMirrors(): void {
    const mirrors = this.route.mirrors;
    if (mirrors === null) return;
    const chosen = mirrors.filter((m) => m.percent >= 100 || Math.random() * 100 < m.percent);
    if (chosen.length === 0) return;
    let streams: Readable[] | null = null;
    if (this.body !== null && !this.body.replayable) {
      // Tee what will be sent: for a body partly read already (retries), its prepared stream.
      const tee = teeForMirrors(this.body.stream, chosen.length);
      this.body = { replayable: false, stream: tee.main };
      streams = tee.mirrors;
    }
    const hostAt = this.headers.findIndex((h, k) => k % 2 === 0 && h.toLowerCase() === 'host');
    const shadow = shadowHost(hostAt >= 0 ? this.headers[hostAt + 1]! : this.view.authority);
    chosen.forEach((m, i) => {
      const cluster = this.active.clusters.get(m.cluster);
      const ep = cluster?.pick();
      // A mirror never waits: without a free connection slot it is dropped, as Envoy drops it.
      if (!cluster || !ep || !cluster.admitMirror()) {
        streams?.[i]!.destroy();
        return;
      }
      const headers = this.headers.slice();
      setHeader(headers, 'host', shadow);
      const body = this.body === null ? null : this.body.replayable ? this.body.data : streams![i]!;
      ep.upstream.dispatch({ method: this.req.method ?? 'GET', path: this.path, headers, body: body as never }, new MirrorSink(cluster, this.route.timeoutMs, streams?.[i] ?? null));
    });
  }

}

function onRouteTimeout(ex: Exchange): void {
  ex.routeTimedOut();
}

function onDownstreamClose(this: ServerResponse): void {
  const ex = (this as unknown as Record<symbol, Exchange | undefined>)[kExchange];
  if (ex !== undefined && !this.writableFinished) ex.downstreamClosed();
}

