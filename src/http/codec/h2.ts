import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { withoutPseudo } from '../../upstream/client.js';
import { unmapped, type AbortListener, type DownstreamStream, type HeaderMap } from '../downstream.js';
import { tlsInfoOf } from '../../listener/tls-terminate.js';

const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

// HTTP/1.1 connection headers have no place in HTTP/2 (RFC 9113 §8.2.2): dropped, as Envoy drops them.
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function h2Headers(list: readonly string[], into: Record<string, string | string[]>): Record<string, string | string[]> {
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!.toLowerCase();
    if (CONNECTION_SPECIFIC.has(name)) continue;
    const value = list[i + 1]!;
    const prev = into[name];
    if (prev === undefined) into[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else into[name] = [prev, value];
  }
  return into;
}

/** An HTTP/2 stream from node:http2 (h2c, or h2 over TLS). */
export class H2Stream implements DownstreamStream {
  readonly protocol = 'HTTP/2' as const;
  readonly upgrade = null;
  readonly method: string;
  readonly target: string;
  readonly authority: string | undefined;
  readonly rawHeaders: readonly string[];
  readonly headers: HeaderMap;
  readonly remoteAddress: string;
  readonly clientCertDetails: string | null;
  readonly hasBody: boolean;
  readonly openedMs: number;
  private trailersIn: string[] | null = null;
  private waitForTrailers = false;
  /** Set when the gateway reset the stream or finished the answer: a close after that is not the client's doing. */
  ended = false;

  constructor(
    readonly body: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    raw: string[],
    flags: number,
    now: number,
  ) {
    this.openedMs = now;
    this.method = String(headers[':method'] ?? 'GET');
    this.target = String(headers[':path'] ?? '/');
    // RFC 9113 §8.3.1: :authority, or Host when a client sends that instead.
    const authority = headers[':authority'] ?? headers.host;
    this.authority = authority === undefined ? undefined : String(authority);
    this.rawHeaders = withoutPseudo(raw);
    this.headers = headers;
    const socket = body.session?.socket;
    this.remoteAddress = unmapped(socket?.remoteAddress);
    this.clientCertDetails = tlsInfoOf(socket)?.clientCertDetails ?? null;
    this.hasBody = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) === 0;
    body.on('trailers', (t: IncomingHttpHeaders) => {
      const list: string[] = [];
      for (const name of Object.keys(t)) {
        const v = t[name];
        if (Array.isArray(v)) for (const x of v) list.push(name, x);
        else if (v !== undefined) list.push(name, String(v));
      }
      this.trailersIn = list;
    });
  }

  requestTrailers(): string[] | null {
    return this.trailersIn;
  }

  get headersSent(): boolean {
    return this.body.headersSent;
  }

  respond(status: number, headers: string[], end: boolean, trailers: boolean): void {
    const obj = h2Headers(headers, { ':status': String(status) });
    // An answer to HEAD has no body, whatever the upstream or a local reply would send.
    const last = end || this.method === 'HEAD';
    this.waitForTrailers = trailers && !last;
    this.body.respond(obj, { endStream: last, waitForTrailers: this.waitForTrailers });
    if (last) this.ended = true;
  }

  write(chunk: Buffer): boolean {
    if (this.ended) return true;
    return this.body.write(chunk);
  }

  onceDrain(cb: () => void): void {
    this.body.once('drain', cb);
  }

  end(last: Buffer | string | null, trailers: string[] | null): void {
    if (this.ended) return;
    this.ended = true;
    const s = this.body;
    if (this.waitForTrailers) {
      s.once('wantTrailers', () => {
        try {
          s.sendTrailers(trailers === null ? {} : h2Headers(trailers, {}));
        } catch {
          s.close(NGHTTP2_INTERNAL_ERROR);
        }
      });
    }
    if (last === null) s.end();
    else s.end(last);
  }

  reset(): void {
    this.ended = true;
    if (!this.body.closed) this.body.close(NGHTTP2_INTERNAL_ERROR);
  }

  closeConnection(): void {
    // The connection manager sends GOAWAY to every session when draining starts.
  }

  onAbort(owner: AbortListener): void {
    this.body.once('close', () => {
      if (!this.ended) owner.downstreamGone();
    });
  }
}
