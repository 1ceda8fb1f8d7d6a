import type { UpstreamTls } from '../tls/upstream-tls.js';
import type { Duplex, Readable } from 'node:stream';
import type { UpstreamError } from './errors.js';

/**
 * The seam between the data plane and whatever speaks HTTP to upstreams. Routing, filters and
 * retries only see these types; HTTP/1.1 (undici) and HTTP/2 (node:http2) implement them, and a
 * leaner client can replace either without touching the router.
 *
 * Headers travel as flat `[name, value, name, value, ...]` lists of latin1 strings: one byte per
 * character, as they are on the wire (a UTF-8 value is carried as its bytes).
 */
export interface UpstreamRequest {
  method: string;
  /** Origin-form target: path and query. */
  path: string;
  /** Includes `host`; an HTTP/2 client sends it as `:authority`. */
  headers: string[];
  /** A buffered body (replayable), a stream, or none. */
  body: Buffer | Readable | null;
  /** Trailers to send after a streamed body, read once the body has ended (gRPC). */
  trailers?: () => string[] | null;
  /** The protocol of an HTTP/1.1 Upgrade (`websocket`): the handler then gets onUpgrade. */
  upgrade?: string;
}

/** What a client reports one request's progress to. Every request ends in exactly one of onEnd, onError or onUpgrade. */
export interface ResponseHandler {
  /** The request is on its way; `abort` cancels it (the handler then gets onError with that error). */
  onStart(abort: (reason: UpstreamError) => void): void;
  /**
   * The final response head (1xx are not reported), headers as received: an HTTP/1.1 client
   * leaves hop-by-hop headers in for the caller to drop. Return false to pause the body until
   * `resume` is called. `end`: the head ended the response (HTTP/2 END_STREAM on HEADERS, as in a
   * gRPC trailers-only answer); onEnd still follows.
   */
  onHeaders(status: number, headers: string[], resume: () => void, end?: boolean): boolean;
  /** A body chunk; false pauses until the `resume` given with the headers. */
  onData(chunk: Buffer): boolean;
  /** The response is complete; trailers when the upstream sent any. */
  onEnd(trailers: string[] | null): void;
  onError(err: UpstreamError): void;
  /** The upstream switched protocols (101): the handler owns `socket` from now on. */
  onUpgrade?(status: number, headers: string[], socket: Duplex): void;
  /** Request body bytes handed to the connection. */
  onBodySent?(bytes: number): void;
}

export type UpstreamProtocol = 'http1' | 'http2';

export interface UpstreamClient {
  readonly origin: string;
  readonly protocol: UpstreamProtocol;
  dispatch(req: UpstreamRequest, handler: ResponseHandler): void;
  close(): Promise<void>;
}

export interface UpstreamSettings {
  protocol: UpstreamProtocol;
  /** 0 means unlimited. */
  maxConnections: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** 0 means unlimited. */
  maxRequestsPerConnection: number;
  /** HTTP/2: streams per connection before another is opened (0: what the server allows). */
  maxConcurrentStreams: number;
  /** TLS toward the endpoint (DestinationRule tls); null: plain text. */
  tls: UpstreamTls | null;
}

export const DEFAULT_UPSTREAM: UpstreamSettings = {
  protocol: 'http1',
  maxConnections: 0,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  maxRequestsPerConnection: 0,
  maxConcurrentStreams: 0,
  tls: null,
};

/** node:http2's raw header list without pseudo-headers. */
export function withoutPseudo(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.charCodeAt(0) !== 58 /* : */) out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
