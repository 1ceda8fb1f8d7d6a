import type { Duplex } from 'node:stream';
import type { CompiledMatch, Route, WeightedDestination } from '../compile/snapshot.js';
import { refusalReason } from '../compile/egress.js';
import { normalizeAuthority } from '../compile/hosts.js';
import type { DownstreamStream, HeaderMap } from './downstream.js';
import type { HttpFilter } from './filters/filter.js';
import { isGrpc, localReplyHead, REPLY } from './local-reply.js';
import { splitTarget, type RequestTarget } from './path.js';
import { findRoute, findVirtualHost, type RequestView } from './route-lookup.js';
import type { ActiveConfig, DataPlaneState } from './state.js';
import { Flag, StreamRecord, type DownstreamProtocol } from './stream-record.js';

/** Where a stream arrived: the listener and filter chain its connection was accepted on. */
export interface HttpContext {
  readonly state: DataPlaneState;
  /** Listener name in the snapshot (`gateway:80`, `mesh`). */
  readonly listener: string;
  /** Filter chain name (`http.80`); with the listener, the key of the chain in the active config. */
  readonly chain: string;
  readonly chainKey: string;
  readonly scheme: 'http' | 'https';
}

const NO_FILTERS: readonly HttpFilter[] = [];

// RFC 3986 host[:port]: a bracketed IP literal or a reg-name (unreserved, sub-delims and
// percent-encoding), then at most one port. No userinfo, path, space or second colon.
const VALID_AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]+)(?::[0-9]{1,5})?$/;

/** The port an authority names, or the default. */
function authorityPort(authority: string, dflt: number): number {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.indexOf(']', colon) >= 0) return dflt;
  const n = Number(authority.slice(colon + 1));
  return Number.isInteger(n) && n > 0 ? n : dflt;
}

/**
 * One request from arrival to the end of its answer, whatever the protocol: routing, then the
 * route's filters in order, each answer (the upstream's or the gateway's own) leaving through
 * `sendHeaders`, and one end event with the finished stream record.
 */
export class ActiveStream implements RequestView {
  // What routing and the filters read (RequestView).
  readonly method: string;
  readonly headers: HeaderMap;
  readonly scheme: string;
  path = '';
  rawQuery = '';
  query: Map<string, string> | null = null;
  port = 0;
  authority = '';
  matched: CompiledMatch | null = null;
  /** The target was absolute-form: its authority replaces Host upstream. */
  absolute = false;
  // What building the upstream request reads (RequestHeadersIn), read from the client once.
  readonly protocol: DownstreamProtocol;
  readonly rawHeaders: readonly string[];
  readonly remoteAddress: string;
  readonly clientCertDetails: string | null;

  readonly active: ActiveConfig;
  readonly record: StreamRecord;
  route: Route | null = null;
  /** The destination the router picked (destination-level header edits read it). */
  destination: WeightedDestination | null = null;
  /** Headers the CORS filter adds to the answer. */
  corsHeaders: string[] | null = null;
  finished = false;

  private filters: readonly HttpFilter[] = NO_FILTERS;
  private filterIndex = -1;
  private endHook: { streamEnded(): void } | null = null;
  private pauseTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly ctx: HttpContext,
    readonly downstream: DownstreamStream,
  ) {
    this.active = ctx.state.active;
    this.method = downstream.method;
    this.headers = downstream.headers;
    this.scheme = ctx.scheme;
    this.protocol = downstream.protocol;
    this.rawHeaders = downstream.rawHeaders;
    this.remoteAddress = downstream.remoteAddress;
    this.clientCertDetails = downstream.clientCertDetails;
    const rec = new StreamRecord(this.protocol, this.remoteAddress, performance.now());
    rec.listener = ctx.listener;
    rec.chain = ctx.chain;
    rec.method = this.method;
    rec.requestHeaders = this.headers;
    this.record = rec;
    downstream.onAbort(this);
  }

  /** Routes the request and runs its route's filters. */
  start(): void {
    const ds = this.downstream;
    const state = this.ctx.state;
    if (state.draining) ds.closeConnection();
    const rec = this.record;
    const target = splitTarget(ds.target);
    // Envoy's :path: the normalized path with its query.
    rec.path = target === null ? ds.target : target.rawQuery === '' ? target.path : `${target.path}?${target.rawQuery}`;
    if (target === null) {
      ds.closeConnection();
      return this.localReply(400, '', 'invalid_url', Flag.DPE);
    }
    const authority = target.authority ?? ds.authority;
    if (authority === undefined || !VALID_AUTHORITY.test(authority)) {
      // A Host a URL parser behind could read otherwise (`h.example:80@evil.example`) is refused,
      // and the connection with it: what else it carries cannot be trusted.
      ds.closeConnection();
      return this.localReply(400, '', authority === undefined ? 'missing_host_header' : 'invalid_authority', Flag.DPE);
    }
    rec.authority = authority;
    const chain = this.active.chains.get(this.ctx.chainKey);
    if (chain === undefined || chain.type !== 'http') return this.localReply(404, '', 'route_not_found', Flag.NR);
    const mesh = chain.listenerKind === 'mesh';
    const port = mesh ? authorityPort(authority, 80) : chain.port;
    const host = normalizeAuthority(authority);
    const vhost = findVirtualHost(chain.routes, host);
    if (vhost === null) {
      // A forward-proxy request for a host no VirtualService names: to what a ServiceEntry
      // declares (or anything, under ALLOW_ANY); otherwise Istio's REGISTRY_ONLY block_all
      // answer, 502, nothing forwarded.
      if (mesh || (chain.forwardProxy && target.authority !== undefined)) {
        const toPort = authorityPort(authority, 80);
        const route = this.ctx.state.forwardRoute(host, toPort);
        if (route === null) return this.egressRefused(host, toPort);
        this.setTarget(target, toPort, authority);
        return this.runRoute(route);
      }
      // A client reusing a TLS connection for a host another server of this port serves (one
      // certificate covering both): 421 makes it open a connection with the right SNI.
      if (chain.tls !== null && this.servedElsewhere(chain.name, host)) return this.localReply(421, 'misdirected request', 'misdirected_request', Flag.NR);
      return this.localReply(404, '', 'route_not_found', Flag.NR);
    }
    if (vhost.ports !== undefined && !vhost.ports.includes(port)) return this.egressRefused(host, port);
    // A plain-text server with tls.httpsRedirect: Envoy's require_tls answer, https:// + Host +
    // :path (the normalized path with its query, as recorded above).
    if (vhost.requireTls === true && this.scheme === 'http') return this.localReply(301, '', 'direct_response', 0, ['location', `https://${authority}${rec.path}`]);
    this.setTarget(target, port, authority);
    const route = findRoute(vhost, this);
    if (route === null) return this.localReply(404, '', 'route_not_found', Flag.NR);
    this.runRoute(route);
  }

  /** What route matching reads of the request. */
  private setTarget(target: RequestTarget, port: number, authority: string): void {
    this.path = target.path;
    this.rawQuery = target.rawQuery;
    this.port = port;
    this.authority = authority;
    this.absolute = target.authority !== undefined;
  }

  private runRoute(route: Route): void {
    this.route = route;
    this.record.route = route.label;
    this.filters = route.filters;
    this.run(0);
  }

  private servedElsewhere(chainName: string, host: string): boolean {
    const listener = this.active.listeners.get(this.ctx.listener);
    if (listener === undefined) return false;
    for (const c of listener.chains) {
      if (c.type === 'http' && c.tls !== null && c.name !== chainName && findVirtualHost(c.routes, host) !== null) return true;
    }
    return false;
  }

  /** Istio's BlackHoleCluster answer (502, nothing forwarded), counted and logged by host and port. */
  private egressRefused(host: string, port: number): void {
    const egress = this.ctx.state.active.snapshot.egress;
    this.ctx.state.egressRefused(`${host}:${port}`, refusalReason(egress, host, port), this.record.downstreamAddress);
    this.localReply(502, '', 'direct_response', 0);
  }

  /** Answers a request the connection manager will not route (HTTP/1.0, CONNECT, a refused Upgrade). */
  reject(status: number, details: string, flags: number): void {
    if (this.ctx.state.draining) this.downstream.closeConnection();
    this.record.path = this.downstream.target;
    this.record.authority = this.downstream.authority ?? '';
    this.localReply(status, '', details, flags);
  }

  private run(from: number): void {
    const fs = this.filters;
    for (let i = from; i < fs.length; i++) {
      this.filterIndex = i;
      if (fs[i]!.onRequest(this) !== 0) return;
    }
  }

  /** A filter that stopped the chain lets it go on. */
  continueDecoding(): void {
    if (!this.finished) this.run(this.filterIndex + 1);
  }

  /** Holds the request for `ms`, then calls `fn` (a filter's delay); nothing happens if the stream ends first. */
  pause<T>(ms: number, fn: (s: ActiveStream, arg: T) => void, arg: T): void {
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = null;
      if (!this.finished) fn(this, arg);
    }, ms);
  }

  /** Called when the stream ends, however it ends (the router gives its slots back). */
  onEnd(hook: { streamEnded(): void }): void {
    this.endHook = hook;
  }

  /** Lets the filters before the router edit the request headers going upstream. */
  decorateUpstreamRequest(headers: string[], dest: WeightedDestination): void {
    const fs = this.filters;
    for (let i = 0; i < this.filterIndex; i++) fs[i]!.onUpstreamRequest?.(this, headers, dest);
  }

  // --- the one reply path ------------------------------------------------------------------

  /**
   * Sends the head of the answer, the upstream's or the gateway's own, through the filters that
   * passed the request on (in reverse). False when it could not be sent (the stream is then over).
   */
  sendHeaders(status: number, headers: string[], end: boolean, trailers: boolean): boolean {
    if (this.finished) return false;
    const fs = this.filters;
    for (let i = this.filterIndex - 1; i >= 0; i--) fs[i]!.onResponseHeaders?.(this, status, headers);
    const ds = this.downstream;
    if (this.ctx.state.draining) ds.closeConnection();
    const rec = this.record;
    rec.responseCode = status;
    rec.responseStartMs = performance.now() - rec.startMs;
    try {
      ds.respond(status, headers, end, trailers);
    } catch {
      // Node refused a header it was given: never a crash. Envoy answers an upstream answer it
      // cannot relay with 502.
      this.refused();
      return false;
    }
    if (end) this.finish();
    return true;
  }

  private refused(): void {
    const ds = this.downstream;
    const rec = this.record;
    rec.flags |= Flag.UPE;
    rec.details = 'upstream_reset_before_response_started{protocol_error}';
    if (ds.headersSent) return this.resetResponse(0);
    rec.responseCode = 502;
    try {
      ds.respond(502, ['content-length', String(REPLY.protocolError.length), 'content-type', 'text/plain', 'server', 'istio-envoy'], false, false);
      ds.end(REPLY.protocolError, null);
    } catch {
      ds.reset();
    }
    this.finish();
  }

  sendData(chunk: Buffer): boolean {
    this.record.bytesSent += chunk.length;
    return this.downstream.write(chunk);
  }

  endResponse(last: Buffer | string | null, trailers: string[] | null): void {
    if (this.finished) return;
    if (last !== null) this.record.bytesSent += typeof last === 'string' ? Buffer.byteLength(last) : last.length;
    this.downstream.end(last, trailers);
    this.finish();
  }

  /** Abandons an answer already under way (the upstream failed mid-answer, or the route timed out). */
  resetResponse(flags: number): void {
    if (this.finished) return;
    this.record.flags |= flags;
    this.downstream.reset();
    this.finish();
  }

  /**
   * An answer of the gateway's own, as Envoy words it; for a gRPC request, Envoy's trailers-only
   * form (HTTP 200, grpc-status).
   */
  localReply(status: number, body: string, details: string, flags: number, extra?: readonly string[], grpcStatus: number | null = null): void {
    if (this.finished) return;
    const rec = this.record;
    rec.flags |= flags;
    rec.details = details;
    if (this.downstream.headersSent) return this.resetResponse(0);
    const grpc = grpcStatus !== null || isGrpc(this.headers);
    const headers: string[] = [];
    const head = localReplyHead(status, body, grpc, grpcStatus, headers);
    if (grpc) rec.grpcStatus = headers[3]!;
    if (extra !== undefined) for (const h of extra) headers.push(h);
    if (this.sendHeaders(head.status, headers, !head.withBody, false) && head.withBody) this.endResponse(body, null);
  }

  /** The upstream accepted an Upgrade: the client and upstream connections are joined. */
  tunnel(status: number, headers: string[], upstream: Duplex, release: () => void): void {
    const fs = this.filters;
    for (let i = this.filterIndex - 1; i >= 0; i--) fs[i]!.onResponseHeaders?.(this, status, headers);
    const rec = this.record;
    rec.responseCode = status;
    rec.details = 'via_upstream';
    rec.upgraded = true;
    rec.responseStartMs = performance.now() - rec.startMs;
    this.downstream.tunnel!(status, headers, upstream, (received, sent) => {
      rec.bytesReceived = received;
      rec.bytesSent = sent;
      release();
      this.finish();
    });
  }

  /** The client went away before the answer was complete. */
  downstreamGone(): void {
    if (this.finished) return;
    this.record.flags |= Flag.DC;
    if (this.record.responseCode === 0) this.record.details = 'downstream_remote_disconnect';
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.pauseTimer !== null) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    this.endHook?.streamEnded();
    const rec = this.record;
    rec.durationMs = performance.now() - rec.startMs;
    this.ctx.state.streamEnded(rec);
  }
}
