import type { Duplex, Readable } from 'node:stream';
import type { DownstreamProtocol } from './stream-record.js';

/** Who hears that the client went away (an object, so no closure is made per request). */
export interface AbortListener {
  downstreamGone(): void;
}

/** Request headers by lower-case name, as node:http and node:http2 present them. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/**
 * One client request and its answer, whatever the protocol: the codec-facing half of a stream.
 * The request path above it never sees node:http or node:http2 types.
 */
export interface DownstreamStream {
  readonly protocol: DownstreamProtocol;
  readonly method: string;
  /** The request target: origin-form or absolute-form (HTTP/1.1), `:path` (HTTP/2). */
  readonly target: string;
  /** `Host`, or `:authority` (HTTP/2); undefined when the request has neither. */
  readonly authority: string | undefined;
  /** Request headers in arrival order, without pseudo-headers. */
  readonly rawHeaders: readonly string[];
  readonly headers: HeaderMap;
  readonly remoteAddress: string;
  /** x-forwarded-client-cert for a mutual-TLS connection's client certificate; null otherwise. */
  readonly clientCertDetails: string | null;
  /** The request body (read it only when forwarding it). */
  readonly body: Readable;
  readonly hasBody: boolean;
  /** Whether the request asked for a WebSocket upgrade (HTTP/1.1 only). */
  readonly upgrade: string | null;
  /** Trailers the client sent after the body (HTTP/2), once the body has ended. */
  requestTrailers(): string[] | null;

  readonly headersSent: boolean;
  /**
   * Sends the response head. `end`: nothing follows. `trailers`: the answer may end with
   * trailers (HTTP/2 keeps the stream open for them). Throws when Node refuses a header.
   */
  respond(status: number, headers: string[], end: boolean, trailers: boolean): void;
  /** A body chunk; false when the client is not keeping up (wait for onceDrain). */
  write(chunk: Buffer): boolean;
  onceDrain(cb: () => void): void;
  /** Ends the answer, with an optional last chunk and trailers (dropped on HTTP/1.1, as Envoy drops them). */
  end(last: Buffer | string | null, trailers: string[] | null): void;
  /** Abandons the answer: the client sees a reset (HTTP/2 RST_STREAM, or the connection closed). */
  reset(): void;
  /** The connection closes once this answer is done (draining). */
  closeConnection(): void;
  /** `owner.downstreamGone()` is called once if the client goes away before the answer is complete. */
  onAbort(owner: AbortListener): void;
  /**
   * Joins the client to an upstream that switched protocols (HTTP/1.1 Upgrade only): the head
   * goes to the client, the rest of both connections is piped. `done` is called with the bytes
   * each way when either side closes.
   */
  tunnel?(status: number, headers: string[], upstream: Duplex, done: (received: number, sent: number) => void): void;
}

/** Whether a request carries a body, from its framing headers. */
export function declaresBody(headers: HeaderMap): boolean {
  const cl = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

export function unmapped(addr: string | undefined): string {
  const a = addr ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
