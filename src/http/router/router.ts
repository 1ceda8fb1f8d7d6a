import type { Readable } from 'node:stream';
import type { ForwardAction, Route, WeightedDestination } from '../../compile/snapshot.js';
import type { UpstreamRequest } from '../../upstream/client.js';
import type { ClusterRuntime, LiveEndpoint } from '../../upstream/cluster.js';
import { DOWNSTREAM_GONE, TIMEOUT, type UpstreamError } from '../../upstream/errors.js';
import type { ActiveStream } from '../active-stream.js';
import { STOP, type FilterStatus, type HttpFilter } from '../filters/filter.js';
import { setHeader } from '../header-ops.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../headers.js';
import { isGrpc, REPLY } from '../local-reply.js';
import { rewritePath } from '../rewrite.js';
import { Flag } from '../stream-record.js';
import { Attempt, onPerTryTimeout, type AttemptOwner } from './attempt.js';
import { bufferForReplay, teeForMirrors, type PreparedBody } from './body.js';
import { hashKeyOf } from './hash-key.js';
import { MirrorSink, shadowHost } from './mirror.js';
import { UpgradeBridge } from './upgrade.js';


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

/**
 * The router: the last filter of a forwarding route, as in Envoy. It forwards along the
 * stream's route, so one router serves every route (a config has 100,000s of them).
 */
export class RouterFilter implements HttpFilter {
  readonly name = 'router';

  onRequest(s: ActiveStream): FilterStatus {
    new Forward(s, s.route!).start();
    return STOP;
  }
}

export const ROUTER = new RouterFilter();

/** Envoy's reason details and flags for an upstream failure before any answer. */
function failureOf(err: UpstreamError): { body: string; details: string; flag: number; status: number } {
  switch (err.kind) {
    case 'connect-failure':
      return {
        status: 503,
        body:
          err.transportFailure !== ''
            ? `${REPLY.connectFailure}, transport failure reason: ${err.transportFailure}`
            : err.errno > 0
              ? `${REPLY.connectFailure}, transport failure reason: delayed connect error: ${err.errno}`
              : REPLY.connectFailure,
        details: 'upstream_reset_before_response_started{connection_failure}',
        flag: Flag.UF,
      };
    case 'protocol':
      return { status: 503, body: REPLY.protocolError, details: 'upstream_reset_before_response_started{protocol_error}', flag: Flag.UPE };
    case 'remote-reset':
      return { status: 503, body: REPLY.remoteReset, details: 'upstream_reset_before_response_started{remote_reset}', flag: Flag.UR };
    case 'refused-stream':
      return { status: 503, body: REPLY.refusedStream, details: 'upstream_reset_before_response_started{remote_refused_stream_reset}', flag: Flag.UR };
    case 'timeout':
      return { status: 504, body: REPLY.timeout, details: 'upstream_response_timeout', flag: Flag.UT };
    case 'per-try-timeout':
      return { status: 504, body: REPLY.timeout, details: 'upstream_per_try_timeout', flag: Flag.UT };
    default:
      return { status: 503, body: REPLY.resetBeforeHeaders, details: 'upstream_reset_before_response_started{connection_termination}', flag: Flag.UC };
  }
}

const GRPC_STATUS = 'grpc-status';

const GRPC_TIMEOUT_UNIT: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** A `grpc-timeout` header (1 to 8 digits and a unit) in milliseconds, or undefined. */
export function grpcTimeoutMs(v: string | string[] | undefined): number | undefined {
  if (typeof v !== 'string' || v.length < 2 || v.length > 9) return undefined;
  const unit = GRPC_TIMEOUT_UNIT[v[v.length - 1]!];
  const n = Number(v.slice(0, -1));
  if (unit === undefined || !/^\d+$/.test(v.slice(0, -1))) return undefined;
  return Math.max(1, Math.ceil(n * unit));
}

/** The value of a header in a flat list, or null. */
function headerIn(list: readonly string[] | null, name: string): string | null {
  if (list === null) return null;
  for (let i = 0; i < list.length; i += 2) if (list[i]!.length === name.length && list[i]!.toLowerCase() === name) return list[i + 1]!;
  return null;
}

/**
 * One request's way upstream and back: circuit breakers, attempts, retries, timeouts and
 * mirrors, streaming the chosen answer to the client through the stream's one reply path.
 */
class Forward implements AttemptOwner {
  private readonly route: Route;
  private dest: WeightedDestination | null = null;
  private cluster: ClusterRuntime | null = null;
  private hashKey: number | undefined = undefined;
  private setCookie: string | null = null;
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
  private answered = false;
  /** The request is gRPC: its grpc-status is recorded, and its grpc-timeout bounds the route timeout. */
  private readonly grpc: boolean;

  constructor(
    private readonly s: ActiveStream,
    route: Route,
  ) {
    this.route = route;
    this.grpc = isGrpc(s.headers);
  }

  start(): void {
    const s = this.s;
    const action = this.route.action as ForwardAction;
    const dest = pickDestination(action.destinations, action.totalWeight);
    const clusterName = dest.clusterByPort?.get(s.port) ?? dest.cluster;
    const cluster = s.active.clusters.get(clusterName);
    s.destination = dest;
    s.record.cluster = clusterName;
    // Envoy has no cluster for a host outside the registry or an undefined subset.
    if (cluster === undefined || !cluster.config.known) return s.localReply(503, '', 'cluster_not_found', Flag.NC);
    this.dest = dest;
    this.cluster = cluster;
    s.onEnd(this);
    if (cluster.config.hash !== null) this.computeHash();
    if (!this.prepareRequest()) return s.localReply(400, '', 'duplicate_host_header', Flag.DPE);
    if (s.downstream.upgrade !== null) return this.admit();
    if (!s.downstream.hasBody) {
      this.body = null;
      this.admit();
    } else if (this.route.retry !== null) {
      this.releaseReplay = bufferForReplay(s.downstream.body, s.headers['content-length'] as string | undefined, (b) => {
        if (s.finished) return;
        this.body = b;
        if (b.replayable) s.record.bytesReceived = b.data.length;
        this.admit();
      });
    } else {
      this.body = { replayable: false, stream: s.downstream.body };
      this.admit();
    }
  }

  /** Builds the upstream request; false when it cannot be forwarded (duplicate Host). */
  private prepareRequest(): boolean {
    const s = this.s;
    const headers = upstreamRequestHeaders(s, s.scheme, s.record);
    if (headers === null) return false;
    // RFC 9112 §3.2.2: an absolute-form target's authority is the request's; Host follows it.
    if (s.absolute) setHeader(headers, 'host', s.authority);
    let path = s.path;
    const rw = this.route.rewrite;
    if (rw !== null) {
      path = rewritePath(rw, s.matched, path);
      if (rw.authority !== undefined) setHeader(headers, 'host', rw.authority);
    }
    s.decorateUpstreamRequest(headers, this.dest!);
    // Envoy overwrites any count the client sent (upstreamRequestHeaders dropped it); tryOnce
    // relies on this being the last header.
    headers.push('x-envoy-attempt-count', '1');
    this.headers = headers;
    this.path = s.rawQuery === '' ? path : `${path}?${s.rawQuery}`;
    return true;
  }

  private computeHash(): void {
    const { key, setCookie } = hashKeyOf(this.cluster!.config.hash!, this.s, this.s.remoteAddress);
    this.hashKey = key;
    if (setCookie !== undefined) this.setCookie = setCookie;
  }

  /** Take a connection slot under the cluster's circuit breakers, or answer 503 overflow. */
  private admit(): void {
    const cluster = this.cluster!;
    const start = () => {
      this.queuedStart = null;
      if (this.s.finished) return cluster.release();
      this.holdsSlot = true;
      this.begin();
    };
    const r = cluster.admit(start);
    if (r === true) {
      this.holdsSlot = true;
      this.begin();
    } else if (r === 'queued') {
      this.queuedStart = start;
      // Time spent waiting for a connection counts against the route timeout, as in Envoy.
      this.armTimeout();
    } else {
      this.s.localReply(503, REPLY.overflow, 'upstream_reset_before_response_started{overflow}', Flag.UO, ['x-envoy-overloaded', 'true']);
    }
  }

  private begin(): void {
    if (this.s.downstream.upgrade === null) this.startMirrors();
    this.armTimeout();
    this.tryOnce();
  }

  private armTimeout(): void {
    let ms = this.route.timeoutMs;
    // Istio sets Envoy's max_grpc_timeout to the route timeout: a gRPC client's own deadline
    // (grpc-timeout) applies when it is shorter, or when the route has none.
    if (this.grpc) {
      const deadline = grpcTimeoutMs(this.s.headers['grpc-timeout']);
      if (deadline !== undefined && (ms <= 0 || deadline < ms)) ms = deadline;
    }
    if (ms <= 0 || this.s.finished || this.timeoutArmed) return;
    this.timeoutArmed = true;
    const body = this.s.downstream.body;
    // The route timeout counts from the end of the request, as Envoy's does.
    if (this.body === null || this.body.replayable || body.readableEnded) this.timer = setTimeout(onRouteTimeout, ms, this);
    else {
      body.once('end', () => {
        if (!this.s.finished) this.timer = setTimeout(onRouteTimeout, ms, this);
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
          if (!this.s.finished) this.tryOnce();
        });
        return;
      }
      const refusal = cluster.guardRefusal;
      if (refusal !== null) {
        // Refused by the address guard, not down: Istio's BlackHoleCluster answer, and why.
        this.s.ctx.state.egressRefused(`${cluster.config.host}:${cluster.config.port}`, refusal, this.s.record.downstreamAddress);
        return this.s.localReply(502, '', 'egress_forbidden_address', Flag.NR);
      }
      return this.s.localReply(503, REPLY.noHealthyUpstream, 'no_healthy_upstream', Flag.UH);
    }
    const state = this.s.ctx.state;
    if (state.loopsBack(this.s.ctx.listener, endpoint.address, endpoint.port)) {
      state.egressRefused(`${cluster.config.host}:${cluster.config.port}`, `its endpoint ${endpoint.hostPort} is the own port of this listener, ${this.s.ctx.listener} (route ${this.route.label}); the request would loop`, this.s.record.downstreamAddress);
      return this.s.localReply(502, '', 'routing_loop', Flag.NR);
    }
    this.attempts++;
    this.s.record.attempts = this.attempts;
    this.s.record.upstreamHost = endpoint.hostPort;
    if (this.attempts > 1) this.headers[this.headers.length - 1] = String(this.attempts);
    this.tried.push(endpoint);
    endpoint.active++;
    const upgrade = this.s.downstream.upgrade;
    if (upgrade !== null) {
      const bridge = new UpgradeBridge(this.s, this, endpoint);
      this.upgrade = bridge;
      this.attempt = null;
      cluster.upgradeClientOf(endpoint).dispatch({ method: this.s.method, path: this.path, headers: this.headers, body: null, upgrade }, bridge);
      return;
    }
    const attempt = new Attempt(this, endpoint);
    this.attempt = attempt;
    const perTry = this.route.retry?.perTryTimeoutMs ?? 0;
    if (perTry > 0) attempt.timer = setTimeout(onPerTryTimeout, perTry, attempt);
    const body = this.body;
    const req: UpstreamRequest = {
      method: this.s.method,
      path: this.path,
      headers: this.attempts > 1 ? this.headers.slice() : this.headers,
      body: body === null ? null : body.replayable ? body.data : body.stream,
    };
    if (this.s.downstream.protocol === 'HTTP/2' && body !== null && !body.replayable) req.trailers = () => this.s.downstream.requestTrailers();
    endpoint.client.dispatch(req, attempt);
  }

  // --- attempt outcomes ------------------------------------------------------------------

  onAttemptHeaders(at: Attempt, status: number, headers: string[], end: boolean): boolean {
    const s = this.s;
    if (at !== this.attempt || s.finished) return false;
    this.cluster!.record(at.endpoint, status);
    if (this.retriableAnswer(status, headers)) {
      if (this.canRetry()) {
        at.discard();
        this.scheduleRetry();
        return false;
      }
      s.record.flags |= this.retryLimitReached() ? Flag.URX : 0;
    }
    at.clearTimer();
    const out = downstreamResponseHeaders(headers, Date.now() - at.startMs);
    if (this.setCookie !== null) out.push('set-cookie', this.setCookie);
    this.answered = true;
    if (this.grpc) s.record.grpcStatus = headerIn(headers, GRPC_STATUS);
    s.record.details = 'via_upstream';
    s.record.upstreamMs = performance.now() - s.record.startMs;
    // A head that ended the upstream answer ends the client's too (gRPC trailers-only stays trailers-only).
    if (s.sendHeaders(status, out, end, !end && this.cluster!.config.protocol === 'http2')) return true;
    // The answer could not be passed on (the stream answered 502 instead): stop reading it.
    at.discard();
    return false;
  }

  onBodySent(bytes: number): void {
    // A replayed body was counted once, when it was read.
    if (this.body === null || !this.body.replayable) this.s.record.bytesReceived += bytes;
  }

  onAttemptData(at: Attempt, chunk: Buffer): boolean {
    if (this.s.sendData(chunk)) return true;
    if (at.resume !== null) this.s.downstream.onceDrain(at.resume);
    return false;
  }

  onAttemptEnd(at: Attempt, trailers: string[] | null): void {
    if (at !== this.attempt || this.s.finished) return;
    if (this.grpc) this.s.record.grpcStatus = headerIn(trailers, GRPC_STATUS) ?? this.s.record.grpcStatus;
    this.s.endResponse(null, trailers);
  }

  onAttemptError(at: Attempt, err: UpstreamError): void {
    const s = this.s;
    if (at !== this.attempt || s.finished) return;
    at.clearTimer();
    if (err.kind === 'timeout' || err.kind === 'downstream') return;
    // Not the upstream's failure: no outlier mark, no retry.
    if (!this.answered && err.kind === 'invalid-request') return s.localReply(400, '', 'invalid_upstream_request', Flag.DPE);
    this.cluster!.record(at.endpoint, 0);
    if (this.answered) return s.resetResponse(failureOf(err).flag);
    if (this.retriableError(err)) {
      if (this.canRetry()) return this.scheduleRetry();
      if (this.retryLimitReached()) s.record.flags |= Flag.URX;
    }
    const f = failureOf(err);
    s.localReply(f.status, f.body, f.details, f.flag);
  }

  /** The upstream answered an Upgrade: from here only the idle timeout applies. */
  upgradeAnswered(): void {
    this.clearTimers();
  }

  /** An Upgrade that failed before any answer. */
  upgradeFailed(err: UpstreamError): void {
    if (this.s.finished || err.kind === 'timeout' || err.kind === 'downstream') return;
    const f = failureOf(err);
    this.s.localReply(f.status, f.body, f.details, f.flag);
  }

  private canRetry(): boolean {
    const r = this.route.retry;
    if (r === null || this.attempts > r.retries) return false;
    if (this.body !== null && !this.body.replayable) return false;
    return this.holdsRetry || this.cluster!.retryAllowed();
  }

  private retryLimitReached(): boolean {
    const r = this.route.retry;
    return r !== null && this.attempts > r.retries;
  }

  private retriableAnswer(status: number, headers: string[]): boolean {
    const r = this.route.retry;
    if (r === null) return false;
    if (status >= 400) {
      if ((r.on5xx && status >= 500) || (r.onGatewayError && (status === 502 || status === 503 || status === 504)) || (r.onRetriable4xx && status === 409) || r.statusCodes.includes(status)) return true;
    }
    // gRPC answers failures as 200 with grpc-status in the headers (a trailers-only response).
    if (r.grpcCodes.length > 0 && status === 200) {
      for (let i = 0; i < headers.length; i += 2) {
        if (headers[i]!.length === 11 && headers[i]!.toLowerCase() === GRPC_STATUS) return r.grpcCodes.includes(Number(headers[i + 1]));
      }
    }
    return false;
  }

  private retriableError(err: UpstreamError): boolean {
    const r = this.route.retry;
    if (r === null) return false;
    const broad = r.on5xx || r.onGatewayError || r.onReset;
    if (err.local) return broad;
    return broad || (r.onConnectFailure && err.kind === 'connect-failure') || (r.onRefusedStream && err.kind === 'refused-stream');
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
      if (!this.s.finished) this.tryOnce();
    }, Math.random() * ceiling);
  }

  // --- endings ---------------------------------------------------------------------------

  routeTimedOut(): void {
    const s = this.s;
    if (s.finished) return;
    this.timer = null;
    this.attempt?.abort(TIMEOUT);
    this.upgrade?.abort();
    if (this.answered) s.resetResponse(Flag.UT);
    else s.localReply(504, REPLY.timeout, 'upstream_response_timeout', Flag.UT);
  }

  /** An Upgrade waiting for the upstream's 101, to be cut if the route times out. */
  upgrade: UpgradeBridge | null = null;

  /** The stream ended (answered, reset, or the client left): give back everything held. */
  streamEnded(): void {
    this.clearTimers();
    const at = this.attempt;
    if (at !== null && !at.settled) at.abort(DOWNSTREAM_GONE);
    this.releaseReplay?.();
    this.releaseReplay = null;
    const cluster = this.cluster!;
    if (this.holdsRetry) cluster.activeRetries--;
    this.holdsRetry = false;
    if (this.queuedStart !== null) cluster.cancelQueued(this.queuedStart);
    this.queuedStart = null;
    if (this.holdsSlot) cluster.release();
    this.holdsSlot = false;
  }

  private clearTimers(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.timer = this.retryTimer = null;
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
    const shadow = shadowHost(hostAt >= 0 ? this.headers[hostAt + 1]! : this.s.authority);
    chosen.forEach((m, i) => {
      const cluster = this.s.active.clusters.get(m.cluster);
      const ep = cluster?.pick();
      // A mirror never waits: without a free connection slot it is dropped, as Envoy drops it.
      if (!cluster || !ep || !cluster.admitMirror()) {
        streams?.[i]!.destroy();
        return;
      }
      const headers = this.headers.slice();
      setHeader(headers, 'host', shadow);
      const body = this.body === null ? null : this.body.replayable ? this.body.data : streams![i]!;
      ep.client.dispatch({ method: this.s.method, path: this.path, headers, body }, new MirrorSink(cluster, this.route.timeoutMs, streams?.[i] ?? null));
    });
  }
}

function onRouteTimeout(f: Forward): void {
  f.routeTimedOut();
}

export type { Forward };
export { failureOf };
