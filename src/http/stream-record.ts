import type { HeaderMap } from './downstream.js';
/**
 * Envoy's response flags (%RESPONSE_FLAGS% in its access log): why a stream ended the way it
 * did. A bit each, so setting one on the hot path costs nothing.
 */
export const Flag = {
  /** No route (NR): no server, virtual host or route matched, or the host is outside the registry. */
  NR: 1 << 0,
  /** No healthy upstream (UH). */
  UH: 1 << 1,
  /** Upstream connection failure (UF). */
  UF: 1 << 2,
  /** Upstream overflow: circuit breaker (UO). */
  UO: 1 << 3,
  /** Upstream retry limit exceeded (URX). */
  URX: 1 << 4,
  /** Upstream request timeout (UT). */
  UT: 1 << 5,
  /** Delay injected by the fault filter (DI). */
  DI: 1 << 6,
  /** Aborted by the fault filter (FI). */
  FI: 1 << 7,
  /** Downstream connection termination (DC). */
  DC: 1 << 8,
  /** Upstream connection termination (UC). */
  UC: 1 << 9,
  /** Local reset (LR). */
  LR: 1 << 10,
  /** Upstream remote reset (UR). */
  UR: 1 << 11,
  /** Upstream protocol error (UPE). */
  UPE: 1 << 12,
  /** No cluster found for the route (NC). */
  NC: 1 << 13,
  /** Downstream protocol error (DPE). */
  DPE: 1 << 14,
  /** Stream idle timeout (SI): the client went silent mid-request. */
  SI: 1 << 15,
} as const;

export type FlagName = keyof typeof Flag;

const ORDER = Object.keys(Flag) as FlagName[];

/** Envoy's rendering: comma-separated short names, `-` for none. */
export function flagString(bits: number): string {
  if (bits === 0) return '-';
  let out = '';
  for (const name of ORDER) {
    if ((bits & Flag[name]) !== 0) out += out === '' ? name : `,${name}`;
  }
  return out;
}

/** `TCP`: a connection the TCP proxy carried (TCP servers, TLS passthrough), one record per connection. */
export type DownstreamProtocol = 'HTTP/1.1' | 'HTTP/2' | 'TCP';

/**
 * Everything known about one request (or one upgraded connection), filled in as it goes and
 * handed, finished, to whoever listens for the end of streams (access log, metrics, tests).
 * Times are milliseconds from `startMs` (performance.now() at arrival); -1 until they happen.
 */
export class StreamRecord {
  /** The listener (`gateway:80`, `mesh`) and its filter chain (`http.80`). */
  listener = '';
  chain = '';
  method = '';
  authority = '';
  path = '';
  requestId: string | null = null;
  /** `VirtualService ns/name http[i]`, or the route's name when it has one. */
  route: string | null = null;
  cluster: string | null = null;
  /** `address:port` of the last endpoint tried. */
  upstreamHost: string | null = null;
  attempts = 0;
  flags = 0;
  responseCode = 0;
  /** Envoy's %RESPONSE_CODE_DETAILS%: `via_upstream`, `route_not_found`, ... */
  details = '';
  grpcStatus: string | null = null;
  bytesReceived = 0;
  bytesSent = 0;
  /** The request was tunnelled (WebSocket): bytes counted until the connection closed. */
  upgraded = false;
  responseStartMs = -1;
  upstreamMs = -1;
  durationMs = -1;
  /** The request's headers, as received (for the access log's user-agent, x-forwarded-for). */
  requestHeaders: HeaderMap | null = null;

  constructor(
    readonly protocol: DownstreamProtocol,
    readonly downstreamAddress: string,
    readonly startMs: number,
  ) {}

  /** When the stream began, as a wall-clock time in ms. */
  get startTime(): number {
    return performance.timeOrigin + this.startMs;
  }

  get flagString(): string {
    return flagString(this.flags);
  }

  hasFlag(name: FlagName): boolean {
    return (this.flags & Flag[name]) !== 0;
  }
}

export type StreamEndListener = (record: StreamRecord) => void;
