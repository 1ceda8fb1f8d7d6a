import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { ActiveStream, type HttpContext } from './active-stream.js';
import { detectProtocol } from './codec/detect.js';
import { openTunnel } from '../egress/connect-tunnel.js';
import { connectionClosing, H1RawStream, H1Stream } from './codec/h1.js';
import { H2Stream } from './codec/h2.js';
import { unmapped } from './downstream.js';
import {
  H2_MAX_CONCURRENT_STREAMS,
  MAX_REQUEST_HEADER_BYTES,
  MAX_REQUEST_HEADERS_COUNT,
  PREMATURE_RESET_MS,
  PREMATURE_RESET_WINDOW,
} from './limits.js';
import { Flag, StreamRecord } from './stream-record.js';

const { NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/** RFC 9113 §6.5.2: the header list's size, names and values plus 32 octets per field (pseudo-headers included). */
function headerListSize(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) n += raw[i]!.length + raw[i + 1]!.length + 32;
  return n;
}

/** Per HTTP/2 connection: streams closed, and how many of them the client reset early. */
interface SessionLoad {
  closed: number;
  premature: number;
}

/**
 * Envoy's HTTP connection manager for one filter chain: HTTP/1.1 and HTTP/2 with prior
 * knowledge on the same connections (codec AUTO), each request turned into an ActiveStream.
 * node:http and node:http2 do the parsing; neither server listens itself, the listener hands
 * them connections.
 */
/** The stream a node:http response belongs to, for the idle timeout's answer. */
const STREAM = Symbol('meshgate.stream');
type ResponseWithStream = ServerResponse & { [STREAM]?: ActiveStream };

export class HttpConnectionManager {
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly load = new WeakMap<ServerHttp2Session, SessionLoad>();
  /** Connections node:http handed over (Upgrade, CONNECT): closed at the drain deadline. */
  private readonly detached = new Set<Duplex>();

  constructor(private readonly ctx: HttpContext) {
    const { headersMs, idleMs } = ctx.state.timeouts;
    this.h1 = http.createServer(
      {
        // Envoy has no request timeout by default: long uploads must not be cut off. Headers
        // still have to arrive in time, which bounds slow-loris clients.
        requestTimeout: 0,
        headersTimeout: headersMs,
        // How often node:http looks for heads past their time: a slow client is cut within 25 %.
        connectionsCheckingInterval: Math.max(100, Math.min(30_000, headersMs / 4)),
        // Idle keep-alive connections are closed by the stream idle timeout below, as Envoy's idle
        // timeout closes them; 0 here also keeps Node from adding a Keep-Alive header Envoy never sends.
        keepAliveTimeout: 0,
        maxHeaderSize: MAX_REQUEST_HEADER_BYTES,
        // A missing Host is the router's to answer, as an Envoy local reply.
        requireHostHeader: false,
      },
      (req, res) => this.onH1Request(req, res),
    );
    // node:http keeps this many fields and drops the rest without a word (a Content-Length among
    // them would send the body nowhere); one over Envoy's limit is enough to tell, and refuse.
    this.h1.maxHeadersCount = MAX_REQUEST_HEADERS_COUNT + 1;
    this.h1.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    this.h1.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => this.onConnect(req, socket, head));
    this.h1.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
    this.h1.on('timeout', (socket: Socket) => this.onH1Timeout(socket));
    // Envoy's stream idle timeout: a connection silent this long (a stalled upload, a client
    // that never reads) is closed, releasing whatever its request held.
    this.h1.setTimeout(idleMs);
    // node:http checks headersTimeout only for servers that emitted 'listening'; this one never
    // listens (the listener hands it connections), so start the checks by hand.
    this.h1.emit('listening');

    this.h2 = http2.createServer({
      settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: MAX_REQUEST_HEADER_BYTES, enablePush: false },
      maxHeaderListPairs: 2000,
    });
    this.h2.on('session', (session: ServerHttp2Session) => this.onSession(session));
    this.h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, raw: string[]) => this.onH2Stream(stream, headers, flags, raw));
    this.h2.setTimeout(idleMs, () => undefined);
  }

  /** A connection the listener chose this chain for. */
  accept(socket: Socket): void {
    detectProtocol(socket, this.ctx.state.timeouts.headersMs, (h2) => {
      if (h2) this.h2.emit('connection', socket);
      else {
        this.h1.emit('connection', socket);
        socket.resume();
      }
    });
  }

  /**
   * A terminated TLS connection: ALPN says which protocol; without ALPN the first bytes do, as
   * Envoy's codec AUTO decides.
   */
  acceptTls(socket: TLSSocket): void {
    if (socket.alpnProtocol === 'h2') this.h2.emit('connection', socket);
    else if (socket.alpnProtocol === 'http/1.1') this.h1.emit('connection', socket);
    else {
      detectProtocol(socket, this.ctx.state.timeouts.headersMs, (h2) => {
        if (!h2) {
          this.h1.emit('connection', socket);
          return void socket.resume();
        }
        // node:http2 refuses a TLS socket whose ALPN is not h2 (its 'unknownProtocol' path); the
        // preface has said what ALPN did not.
        (socket as { alpnProtocol: string | false | null }).alpnProtocol = 'h2';
        this.h2.emit('connection', socket);
      });
    }
  }

  // --- HTTP/1.1 ----------------------------------------------------------------------------

  private onH1Request(req: IncomingMessage, res: ServerResponse): void {
    // Pipelined behind an answer that closes the connection (a refused Host, a smuggling shape):
    // not served. node:http ends the socket after that answer, and this one goes with it.
    if (connectionClosing(req.socket)) return;
    const downstream = new H1Stream(req, res);
    const s = new ActiveStream(this.ctx, downstream);
    (res as ResponseWithStream)[STREAM] = s;
    // Istio's gateways do not accept HTTP/1.0 (Envoy's accept_http_10 is off): 426, as they answer.
    if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1) {
      downstream.closeConnection();
      return s.reject(426, 'low_version', 0);
    }
    if (req.rawHeaders.length > MAX_REQUEST_HEADERS_COUNT * 2) {
      downstream.closeConnection();
      return s.reject(431, 'too_many_headers', Flag.DPE);
    }
    s.start();
  }

  /**
   * Only WebSocket is tunnelled (Istio's upgrade_configs). `Upgrade: h2c` is dropped and the
   * request goes on as a plain one, as Envoy does; any other Upgrade is refused with 403.
   */
  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const token = String(req.headers.upgrade ?? '').trim().toLowerCase();
    if (token === 'h2c') return this.withoutUpgrade(req, socket, head);
    this.track(socket);
    const s = new ActiveStream(this.ctx, new H1RawStream(req, socket, head, token === 'websocket' ? 'websocket' : null));
    if (token !== 'websocket') return s.reject(403, 'upgrade_failed', 0);
    s.start();
  }

  /** node:http gave the connection up at an `Upgrade: h2c`: give it back the request without it. */
  private withoutUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (name === 'upgrade' || name === 'http2-settings') continue;
      let value = raw[i + 1]!;
      if (name === 'connection') {
        value = value
          .split(',')
          .map((t) => t.trim())
          .filter((t) => t !== '' && !/^(upgrade|http2-settings)$/i.test(t))
          .join(', ');
        if (value === '') continue;
      }
      text += `${raw[i]}: ${value}\r\n`;
    }
    if (head.length > 0) socket.unshift(head);
    socket.unshift(Buffer.from(`${text}\r\n`, 'latin1'));
    this.h1.emit('connection', socket);
    socket.resume();
  }

  /** CONNECT: a tunnel where this chain is a forward proxy (mesh listener, egress gateway); 403 elsewhere, as Istio's ingress answers. */
  private onConnect(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.track(socket);
    const chain = this.ctx.state.active.chains.get(this.ctx.chainKey);
    if (chain !== undefined && chain.type === 'http' && chain.forwardProxy && !this.ctx.state.draining) return openTunnel(this.ctx, req, socket, head);
    new ActiveStream(this.ctx, new H1RawStream(req, socket, head, null)).reject(403, 'connect_not_allowed', 0);
  }

  /**
   * Envoy's stream idle timeout on HTTP/1.1: a request still coming in (a stalled upload) gets
   * 408 `stream timeout` (flag SI), as Envoy answers; an idle keep-alive connection, or one whose
   * answer had started, is closed.
   */
  private onH1Timeout(socket: Socket): void {
    const res = (socket as { _httpMessage?: ResponseWithStream | null })._httpMessage;
    const s = res?.[STREAM];
    if (res !== undefined && res !== null && s !== undefined && !res.headersSent && !s.finished) {
      s.downstream.closeConnection();
      s.localReply(408, 'stream timeout', 'stream_idle_timeout', Flag.SI);
      return;
    }
    socket.destroy();
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    // A head not complete in time (node:http's headersTimeout): Envoy's request_headers_timeout answer.
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return this.refuseConnection(socket, 408, 'Request Timeout', 'request header timeout', 'request_header_timeout', 0);
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    if (tooLarge) return this.refuseConnection(socket, 431, 'Request Header Fields Too Large', 'Request Header Fields Too Large', 'request_headers_too_large', Flag.DPE);
    this.refuseConnection(socket, 400, 'Bad Request', 'Bad Request', 'codec_error', Flag.DPE);
  }

  /** Answers a connection node:http could not make a request of, closes it, and logs the answer. */
  private refuseConnection(socket: Duplex, status: number, reason: string, body: string, details: string, flags: number): void {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nserver: istio-envoy\r\nconnection: close\r\n\r\n${body}`);
    const rec = new StreamRecord('HTTP/1.1', unmapped((socket as Socket).remoteAddress), performance.now());
    rec.listener = this.ctx.listener;
    rec.chain = this.ctx.chain;
    rec.responseCode = status;
    rec.flags = flags;
    rec.details = details;
    rec.bytesSent = body.length;
    rec.durationMs = 0;
    this.ctx.state.streamEnded(rec);
  }

  private track(socket: Duplex): void {
    this.detached.add(socket);
    socket.once('close', () => this.detached.delete(socket));
  }

  // --- HTTP/2 ------------------------------------------------------------------------------

  private onSession(session: ServerHttp2Session): void {
    this.sessions.add(session);
    this.load.set(session, { closed: 0, premature: 0 });
    session.once('close', () => this.sessions.delete(session));
    session.on('error', () => undefined);
    if (this.ctx.state.draining) session.close();
  }

  private onH2Stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, raw: string[]): void {
    // node:http2 enforces SETTINGS_MAX_HEADER_LIST_SIZE only once the client has acknowledged the
    // SETTINGS: a connection's first requests would get any size through. Same count, same reset.
    // More fields than Envoy's max_headers_count: the same reset Envoy's codec gives both.
    if (headerListSize(raw) > MAX_REQUEST_HEADER_BYTES || regularFieldCount(raw) > MAX_REQUEST_HEADERS_COUNT) {
      stream.on('error', () => undefined);
      stream.close(NGHTTP2_ENHANCE_YOUR_CALM);
      return;
    }
    const now = performance.now();
    const ds = new H2Stream(stream, headers, raw, flags, now);
    stream.on('error', () => undefined);
    // Read now: node:http2 unsets stream.session before it emits 'close'.
    const session = stream.session as ServerHttp2Session | undefined;
    stream.once('close', () => this.streamClosed(session, stream, ds));
    const s = new ActiveStream(this.ctx, ds);
    if (ds.method === 'CONNECT') return s.reject(403, 'connect_not_allowed', 0);
    s.start();
  }

  /**
   * Envoy's defence against rapid reset (CVE-2023-44487): a connection on which too many streams
   * were reset by the client right after opening is closed, without touching other connections.
   */
  private streamClosed(session: ServerHttp2Session | undefined, stream: ServerHttp2Stream, ds: H2Stream): void {
    if (session === undefined) return;
    const load = this.load.get(session);
    if (load === undefined) return;
    load.closed++;
    // As Envoy counts them: reset early, before any answer began (a stream with a response code is not premature).
    if (!ds.ended && !ds.headersSent && (stream.rstCode ?? 0) !== 0 && performance.now() - ds.openedMs < PREMATURE_RESET_MS) load.premature++;
    if (load.premature === 0) return;
    const over = load.closed < PREMATURE_RESET_WINDOW ? load.premature * 2 >= PREMATURE_RESET_WINDOW : load.premature * 2 >= load.closed;
    if (over && !session.destroyed) {
      session.goaway(NGHTTP2_ENHANCE_YOUR_CALM);
      session.destroy();
    }
  }

  // --- drain ---------------------------------------------------------------------------------

  /** Draining: HTTP/1.1 answers close their connections, HTTP/2 connections get GOAWAY. */
  drain(): void {
    for (const s of this.sessions) if (!s.closed) s.close();
    this.h1.closeIdleConnections();
  }

  closeIdle(): void {
    this.h1.closeIdleConnections();
  }

  /** The drain deadline passed: whatever is still open is cut. */
  destroyAll(): void {
    this.h1.closeAllConnections();
    for (const s of this.sessions) s.destroy();
    for (const d of this.detached) d.destroy();
  }

  /** Stops node:http's timers. */
  close(): void {
    this.h1.close(() => undefined);
  }
}

/** Header fields of a raw HTTP/2 list, pseudo-headers not counted (as HTTP/1.1 has none). */
function regularFieldCount(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.charCodeAt(0) !== 58 /* : */) n++;
  return n;
}
