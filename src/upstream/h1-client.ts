import { Duplex, PassThrough, type Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type { Client as UndiciClient, Dispatcher, Pool as UndiciPool } from 'undici';
import type { ResponseHandler, UpstreamClient, UpstreamRequest, UpstreamSettings } from './client.js';
import { connectFailure, isConnectError, tlsFailure, UpstreamError } from './errors.js';
import { installUndiciFixes, type ReuseAware } from './undici-fixes.js';

// undici's index loads fetch, WebSocket, cookies and the rest (120 ms of every start, measured
// with require); the data path needs its Pool and Client only (48 ms). Those are undici 7's own
// files, as undici-fixes.ts reads them; should a release move them, the index serves.
const require = createRequire(import.meta.url);
const { Pool, Client } = undiciDispatchers();

function undiciDispatchers(): { Pool: typeof UndiciPool; Client: typeof UndiciClient } {
  try {
    return { Pool: require('undici/lib/dispatcher/pool.js') as typeof UndiciPool, Client: require('undici/lib/dispatcher/client.js') as typeof UndiciClient };
  } catch {
    return require('undici') as { Pool: typeof UndiciPool; Client: typeof UndiciClient };
  }
}

// undici's names for an answer that breaks HTTP/1.1 framing.
const PROTOCOL_ERRORS = new Set(['UND_ERR_INFO', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_EXCEEDED_MAX_SIZE', 'UND_ERR_HEADERS_OVERFLOW']);

/** undici's error in our terms. */
export function fromUndici(err: Error & { code?: string }): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const code = err.code;
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') return new UpstreamError('invalid-request', 0, err.message);
  if (isConnectError(code)) return connectFailure(code);
  const tls = tlsFailure(code, err.message);
  if (tls !== null) return tls;
  if (err.name === 'HTTPParserError' || (code !== undefined && (code.startsWith('HPE_') || PROTOCOL_ERRORS.has(code)))) return new UpstreamError('protocol', 0, err.message);
  return new UpstreamError('reset', 0, err.message);
}

/**
 * Response headers from undici's raw buffers, as they came. HTTP/1.1's framing headers
 * (Connection, Transfer-Encoding, ...) are still in the list: the router drops them with the
 * other hop-by-hop headers in the same pass (downstreamResponseHeaders).
 */
function responseHeaders(raw: Buffer[] | string[] | null): string[] {
  const out: string[] = [];
  if (raw === null) return out;
  for (let i = 0; i < raw.length; i++) {
    const h = raw[i]!;
    out.push(typeof h === 'string' ? h : h.toString('latin1'));
  }
  return out;
}

/**
 * undici destroys a stream body once it has sent it (or given up). An HTTP/2 request's body is
 * its stream, which also carries the answer: undici gets a stand-in to destroy instead.
 */
function shielded(body: Readable): Readable {
  const out = new PassThrough();
  // undici listens while it sends; an error after that has no one left to tell.
  out.on('error', () => undefined);
  body.on('error', (e: Error) => out.destroy(e));
  body.pipe(out);
  return out;
}

// A connection the upstream closed (or reset) under a request, as undici reports it.
const CLOSED_UNDER_REQUEST = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** One request's bridge from undici's handler calls to ours. */
class UndiciBridge implements Dispatcher.DispatchHandler, ReuseAware {
  /** Set by undici-fixes when the request is sent: its connection had carried requests before. */
  reused = false;
  private started = false;
  private bodyBytes = 0;
  private abort: ((err?: Error) => void) | null = null;

  constructor(
    private readonly h: ResponseHandler,
    /** Who can try the request once more on a fresh connection; null when this is that try (or the body cannot be sent again). */
    private readonly retryOwner: H1Client | null,
    private readonly opts: Dispatcher.DispatchOptions,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    this.h.onStart(abort);
  }

  onResponseStarted(): void {
    this.started = true;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    const headers = responseHeaders(rawHeaders);
    // Envoy: a 204 may carry neither Transfer-Encoding nor a Content-Length other than 0 (which it drops).
    if (statusCode === 204 && !noContentHeadersOk(headers)) {
      this.abort?.(new UpstreamError('protocol', 0, 'a 204 answer with a body length (Transfer-Encoding or Content-Length)'));
      return false;
    }
    return this.h.onHeaders(statusCode, headers, resume);
  }

  onData(chunk: Buffer): boolean {
    return this.h.onData(chunk);
  }

  onComplete(trailers: string[] | Buffer[] | null): void {
    this.h.onEnd(trailers && trailers.length > 0 ? responseHeaders(trailers) : null);
  }

  onError(err: Error & { code?: string }): void {
    // The upstream closed a kept-alive connection as this request went out on it: no answer byte
    // came and no body byte went, so one more try, on a fresh connection, cannot do harm twice.
    if (this.retryOwner !== null && this.reused && !this.started && this.bodyBytes === 0 && CLOSED_UNDER_REQUEST.has(err.code ?? '')) return this.retryOwner.dispatchFresh(this.opts, this.h);
    this.h.onError(fromUndici(err));
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, socket: Duplex): void {
    this.h.onUpgrade?.(statusCode, responseHeaders(rawHeaders), socket);
  }

  // undici's types say a size; undici passes the chunk.
  onBodySent(chunk: number | Buffer | string): void {
    const n = typeof chunk === 'number' ? chunk : chunk.length;
    this.bodyBytes += n;
    this.h.onBodySent?.(n);
  }
}

/** Checks a 204's headers as Envoy does, dropping a `content-length: 0`. False: a protocol error. */
function noContentHeadersOk(headers: string[]): boolean {
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name === 'transfer-encoding') return false;
    if (name === 'content-length') {
      if (headers[i + 1]!.trim() !== '0') return false;
      headers.splice(i, 2);
      i -= 2;
    }
  }
  return true;
}

/** HTTP/1.1 to one endpoint through an undici Pool (keep-alive, no pipelining). */
export class H1Client implements UpstreamClient {
  readonly protocol = 'http1' as const;
  private readonly pool: UndiciPool;
  /**
   * maxRequestsPerConnection 1: every request asks for `connection: close`. Otherwise undefined,
   * never false: an explicit false would undo undici's own close-after-HEAD.
   */
  private readonly reset: true | undefined;
  private readonly servername: string | undefined;
  private readonly options: UndiciPool.Options;

  constructor(
    readonly origin: string,
    s: UpstreamSettings,
  ) {
    this.reset = s.maxRequestsPerConnection === 1 ? true : undefined;
    // undici takes SNI from each request's Host unless told, and reconnects when it changes.
    this.servername = s.tls?.sni ?? undefined;
    installUndiciFixes();
    this.options = {
      ...(s.tls !== null ? { connect: s.tls.connectOptions('http/1.1') as Record<string, unknown> } : {}),
      connections: s.maxConnections > 0 ? s.maxConnections : null,
      connectTimeout: s.connectTimeoutMs,
      keepAliveTimeout: s.idleTimeoutMs,
      keepAliveMaxTimeout: s.idleTimeoutMs,
      // Route timeouts are the router's job; these are only backstops against a stuck socket.
      headersTimeout: 0,
      bodyTimeout: 0,
      pipelining: 1,
      // Envoy accepts up to 60 KiB of response headers from upstreams.
      maxHeaderSize: 60 * 1024,
      // undici lets maxRequestsPerClient + 1 requests through one socket (it post-increments its
      // counter, nodejs/undici#5033), so ask for one less; 1 itself is handled per request (reset).
      ...(s.maxRequestsPerConnection > 1 ? { maxRequestsPerClient: s.maxRequestsPerConnection - 1 } : {}),
    };
    this.pool = new Pool(origin, this.options);
  }

  dispatch(req: UpstreamRequest, handler: ResponseHandler): void {
    const body = req.body instanceof Duplex ? shielded(req.body) : req.body;
    // `servername` is a request option undici reads but does not declare.
    const opts = { origin: this.origin, path: req.path, method: req.method, headers: req.headers, body: body as never, reset: this.reset, upgrade: req.upgrade, servername: this.servername } as Dispatcher.DispatchOptions;
    // Only a body that can be sent again (none, or buffered) allows the fresh-connection try.
    const replayable = req.body === null || Buffer.isBuffer(req.body);
    this.pool.dispatch(opts, new UndiciBridge(handler, replayable && req.upgrade === undefined ? this : null, opts));
  }

  /** One request on a connection of its own, closed after it: a stale pooled one is not picked again. */
  dispatchFresh(opts: Dispatcher.DispatchOptions, handler: ResponseHandler): void {
    const client = new Client(this.origin, this.options);
    client.dispatch(opts, new UndiciBridge(handler, null, opts));
    void client.close();
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
