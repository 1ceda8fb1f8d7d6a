import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import { withoutPseudo, type ResponseHandler, type UpstreamClient, type UpstreamRequest, type UpstreamSettings } from './client.js';
import { connectFailure, isConnectError, tlsFailure, UpstreamError } from './errors.js';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_NO_ERROR, NGHTTP2_FLAG_END_STREAM } = http2.constants;

// Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2); node:http2 throws on them.
const NOT_IN_H2 = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host']);

// Until the server's SETTINGS arrive, this many streams go on a connection before another opens.
const ASSUMED_STREAMS = 100;

/** The HTTP/2 request head: pseudo-headers first, connection-specific headers dropped, `te` only as `trailers`. */
function requestHead(req: UpstreamRequest): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { ':method': req.method, ':scheme': 'http', ':path': req.path };
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!.toLowerCase();
    const value = h[i + 1]!;
    if (NOT_IN_H2.has(name)) {
      if (name === 'host') out[':authority'] = value;
      continue;
    }
    if (name === 'te') {
      if (value.toLowerCase().includes('trailers')) out.te = 'trailers';
      continue;
    }
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}

/** A header object (trailers) as a flat list. */
function flatten(obj: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const name of Object.keys(obj)) {
    if (name.charCodeAt(0) === 58) continue;
    const v = obj[name];
    if (Array.isArray(v)) for (const x of v) out.push(name, String(x));
    else if (v !== undefined) out.push(name, String(v));
  }
  return out;
}

interface Conn {
  session: ClientHttp2Session;
  connected: boolean;
  /** No new streams: GOAWAY received, or maxRequestsPerConnection reached. */
  draining: boolean;
  active: number;
  served: number;
}

/**
 * HTTP/2 with prior knowledge (h2c) to one endpoint: streams share a connection until the
 * server's SETTINGS_MAX_CONCURRENT_STREAMS (or the DestinationRule's maxConcurrentStreams) is
 * reached, then another connection opens, up to maxConnections. A GOAWAY drains its connection.
 */
export class H2Client implements UpstreamClient {
  readonly protocol = 'http2' as const;
  private readonly conns: Conn[] = [];
  private readonly host: string;
  private readonly port: number;
  private closed = false;

  constructor(
    readonly origin: string,
    private readonly s: UpstreamSettings,
  ) {
    const u = new URL(origin);
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port);
  }

  dispatch(req: UpstreamRequest, handler: ResponseHandler): void {
    if (this.closed) return handler.onError(new UpstreamError('reset', 0, 'client closed'));
    let head: Record<string, string | string[]>;
    try {
      head = requestHead(req);
    } catch (e) {
      return handler.onError(new UpstreamError('invalid-request', 0, (e as Error).message));
    }
    const conn = this.connection();
    conn.active++;
    conn.served++;
    if (this.s.maxRequestsPerConnection > 0 && conn.served >= this.s.maxRequestsPerConnection) conn.draining = true;
    new H2Exchange(this, conn, req, head, handler).start();
  }

  /** A connection with room for one more stream, opening one when none has room and the limit allows. */
  private connection(): Conn {
    let best: Conn | null = null;
    for (const c of this.conns) {
      if (c.draining) continue;
      if (c.active < this.streamLimit(c)) return c;
      if (best === null || c.active < best.active) best = c;
    }
    if (best !== null && this.s.maxConnections > 0 && this.liveConnections() >= this.s.maxConnections) return best;
    return this.open();
  }

  private liveConnections(): number {
    let n = 0;
    for (const c of this.conns) if (!c.draining) n++;
    return n;
  }

  private streamLimit(c: Conn): number {
    const peer = c.connected ? (c.session.remoteSettings.maxConcurrentStreams ?? ASSUMED_STREAMS) : ASSUMED_STREAMS;
    return this.s.maxConcurrentStreams > 0 ? Math.min(peer, this.s.maxConcurrentStreams) : peer;
  }

  private open(): Conn {
    const session = http2.connect(this.origin, {
      createConnection: () => {
        const tlsSettings = this.s.tls;
        if (tlsSettings === null) return net.connect({ host: this.host, port: this.port, noDelay: true });
        const socket = tls.connect({ host: this.host, port: this.port, ...tlsSettings.connectOptions('h2') });
        socket.setNoDelay(true);
        return socket;
      },
      settings: { enablePush: false },
      peerMaxConcurrentStreams: ASSUMED_STREAMS,
      maxHeaderListPairs: 2000,
    });
    const conn: Conn = { session, connected: false, draining: false, active: 0, served: 0 };
    this.conns.push(conn);
    const timer = setTimeout(() => session.destroy(connectFailure('UND_ERR_CONNECT_TIMEOUT')), this.s.connectTimeoutMs);
    session.once('connect', () => {
      clearTimeout(timer);
      conn.connected = true;
    });
    session.on('error', () => undefined);
    session.on('goaway', () => {
      conn.draining = true;
    });
    session.once('close', () => {
      clearTimeout(timer);
      const i = this.conns.indexOf(conn);
      if (i >= 0) this.conns.splice(i, 1);
    });
    // The idle timeout: a connection with nothing to do this long is closed.
    session.setTimeout(this.s.idleTimeoutMs, () => {
      if (conn.active === 0) {
        conn.draining = true;
        session.close();
      }
    });
    session.unref();
    return conn;
  }

  /** A stream ended: close a draining connection once it has none left. */
  released(conn: Conn): void {
    conn.active--;
    if (conn.active === 0 && conn.draining && !conn.session.closed) conn.session.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.conns.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.session.destroyed) return resolve();
            c.session.once('close', () => resolve());
            c.session.close();
          }),
      ),
    );
  }
}

/** One request on an HTTP/2 connection. */
class H2Exchange {
  private stream: ClientHttp2Stream | null = null;
  private trailers: string[] | null = null;
  private finished = false;
  private responded = false;
  private resetCode = 0;
  private failure: UpstreamError | null = null;

  constructor(
    private readonly client: H2Client,
    private readonly conn: Conn,
    private readonly req: UpstreamRequest,
    private readonly head: Record<string, string | string[]>,
    private readonly h: ResponseHandler,
  ) {}

  start(): void {
    const body = this.req.body;
    const sendTrailers = this.req.trailers !== undefined && body !== null && !Buffer.isBuffer(body);
    let stream: ClientHttp2Stream;
    try {
      stream = this.conn.session.request(this.head, { endStream: body === null, waitForTrailers: sendTrailers });
    } catch (e) {
      this.client.released(this.conn);
      this.finished = true;
      const code = (e as { code?: string }).code;
      return this.h.onError(code === 'ERR_HTTP2_INVALID_SESSION' || code === 'ERR_HTTP2_GOAWAY_SESSION' ? new UpstreamError('refused-stream') : new UpstreamError('invalid-request', 0, (e as Error).message));
    }
    this.stream = stream;
    this.h.onStart((reason) => this.abort(reason));
    stream.on('response', (headers, flags, raw?: string[]) => {
      this.responded = true;
      const status = Number(headers[':status']);
      const list = raw !== undefined ? withoutPseudo(raw) : flatten(headers);
      // END_STREAM on the response HEADERS (a gRPC trailers-only answer) must reach the client as such.
      if (!this.h.onHeaders(status, list, () => stream.resume(), (flags & NGHTTP2_FLAG_END_STREAM) !== 0)) stream.pause();
    });
    stream.on('data', (chunk: Buffer) => {
      if (!this.h.onData(chunk)) stream.pause();
    });
    stream.on('trailers', (t: Record<string, unknown>) => {
      this.trailers = flatten(t);
    });
    // A stream can end with no response at all (the session broke before any, e.g. a TLS alert
    // from an upstream that expected TLS): that is a failure, not an empty answer.
    stream.on('end', () => (this.responded ? this.done() : undefined));
    stream.on('error', (err: Error & { code?: string }) => {
      this.failure ??= this.errorOf(err);
    });
    stream.on('close', () => {
      this.resetCode = stream.rstCode ?? 0;
      if (!this.finished) this.fail(this.failure ?? this.closeReason());
    });
    if (body === null) return;
    if (Buffer.isBuffer(body)) {
      stream.end(body);
      this.h.onBodySent?.(body.length);
      return;
    }
    this.pump(stream, body, sendTrailers);
  }

  private pump(stream: ClientHttp2Stream, body: Readable, sendTrailers: boolean): void {
    const onData = (c: Buffer) => {
      this.h.onBodySent?.(c.length);
      if (!stream.write(c)) body.pause();
    };
    const onDrain = () => body.resume();
    const onEnd = () => {
      cleanup();
      if (sendTrailers) {
        stream.once('wantTrailers', () => {
          const t = this.req.trailers?.() ?? null;
          const obj: Record<string, string> = {};
          for (let i = 0; t !== null && i < t.length; i += 2) obj[t[i]!.toLowerCase()] = t[i + 1]!;
          try {
            stream.sendTrailers(obj);
          } catch {
            stream.close(NGHTTP2_NO_ERROR);
          }
        });
      }
      stream.end();
    };
    const onError = () => {
      cleanup();
      this.abort(new UpstreamError('downstream'));
    };
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      stream.off('drain', onDrain);
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    stream.on('drain', onDrain);
    stream.once('close', cleanup);
    if (body.isPaused()) body.resume();
  }

  private errorOf(err: Error & { code?: string }): UpstreamError {
    if (err instanceof UpstreamError) return err;
    const cause = (err as { cause?: Error & { code?: string } }).cause;
    if (cause instanceof UpstreamError) return cause;
    if (!this.conn.connected) return tlsFailure(cause?.code ?? err.code, err.message) ?? connectFailure(isConnectError(cause?.code) ? cause?.code : err.code);
    if (err.code === 'ERR_HTTP2_STREAM_ERROR' && this.stream?.rstCode === NGHTTP2_REFUSED_STREAM) return new UpstreamError('refused-stream');
    if (err.code === 'ERR_HTTP2_GOAWAY_SESSION') return new UpstreamError('refused-stream');
    if (err.code === 'ERR_HTTP2_STREAM_ERROR') return new UpstreamError('remote-reset', 0, err.message);
    if (err.code === 'ERR_HTTP2_ERROR' || err.code === 'ERR_HTTP2_INVALID_HEADER_VALUE') return new UpstreamError('protocol', 0, err.message);
    return new UpstreamError('reset', 0, err.message);
  }

  private closeReason(): UpstreamError {
    if (!this.conn.connected) return connectFailure('ECONNREFUSED');
    if (this.resetCode === NGHTTP2_REFUSED_STREAM) return new UpstreamError('refused-stream');
    if (this.resetCode !== 0) return new UpstreamError('remote-reset');
    return new UpstreamError('reset');
  }

  private abort(reason: UpstreamError): void {
    if (this.finished) return;
    this.failure = reason;
    this.stream?.close(NGHTTP2_CANCEL);
    this.fail(reason);
  }

  private done(): void {
    if (this.finished) return;
    this.finished = true;
    this.client.released(this.conn);
    this.h.onEnd(this.trailers);
  }

  private fail(err: UpstreamError): void {
    if (this.finished) return;
    this.finished = true;
    this.client.released(this.conn);
    this.h.onError(err);
  }
}
