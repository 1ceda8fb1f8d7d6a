// Envoy's defaults as Istio's gateways run them, in one place.

/** Request headers above this get 431 (HTTP/1.1) or a reset stream (HTTP/2): max_request_headers_kb 60. */
export const MAX_REQUEST_HEADER_BYTES = 60 * 1024;

/** Envoy's common_http_protocol_options.max_headers_count: more request header fields get 431. */
export const MAX_REQUEST_HEADERS_COUNT = 100;

/** Envoy's stream idle timeout: a stream or connection silent this long is closed. */
export const STREAM_IDLE_MS = 5 * 60_000;

/** Request headers must have arrived this long after the connection opened (bounds slow-loris clients). */
export const HEADERS_TIMEOUT_MS = 60_000;

/** The client-side timeouts, set per gateway (tests shorten them). */
export interface DownstreamTimeouts {
  /** A request's head must be complete this long after its first byte (node:http answers 408). */
  headersMs: number;
  /** A connection or stream silent this long is closed: an idle keep-alive, a stalled upload. */
  idleMs: number;
}

export const DEFAULT_DOWNSTREAM_TIMEOUTS: DownstreamTimeouts = { headersMs: HEADERS_TIMEOUT_MS, idleMs: STREAM_IDLE_MS };

/**
 * SETTINGS_MAX_CONCURRENT_STREAMS offered to clients. Envoy's default is 2^31-1 (no limit worth
 * the name); Envoy's own guidance for edge proxies is 100, and a Node process has no overload
 * manager to fall back on, so meshgate offers 100. Streams over it are refused (REFUSED_STREAM);
 * a client that keeps opening them loses its connection.
 */
export const H2_MAX_CONCURRENT_STREAMS = 100;

/**
 * CVE-2023-44487 (rapid reset), as Envoy closes such connections: a stream the client resets
 * within PREMATURE_RESET_MS of opening it is premature; once half of PREMATURE_RESET_WINDOW
 * streams (or, past that many, half of all streams) were, the connection is closed.
 */
export const PREMATURE_RESET_MS = 1000;
export const PREMATURE_RESET_WINDOW = 500;
