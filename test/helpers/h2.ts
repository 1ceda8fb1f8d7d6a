import { createHash } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';

// HTTP/2 with prior knowledge (h2c) for tests: a client request helper, and an upstream server
// that echoes what it received. The upstream takes HTTP/1.1 on the same port too (it tells them
// apart by the client preface, as the gateway does), so a test sees which protocol the gateway
// chose for a cluster from the echo's `httpVersion`.

export interface H2Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  /** The body as UTF-8 text. */
  body: string;
  /** The body as bytes. */
  raw: Buffer;
  /** Trailers, when the server sent any. */
  trailers: http2.IncomingHttpHeaders | null;
}

export interface H2RequestOptions {
  method?: string;
  path?: string;
  /** `:authority`: the Host the gateway routes on. */
  authority?: string;
  headers?: http2.OutgoingHttpHeaders;
  body?: string | Buffer;
  /** Request trailers, sent after the body (the body is then sent even when empty). */
  trailers?: Record<string, string>;
}

const settled = new WeakSet<http2.ClientHttp2Session>();

/** An h2c connection to 127.0.0.1:port. Errors are left to the requests that meet them. */
export function h2connect(port: number, options: http2.ClientSessionOptions = {}): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`, options);
  session.on('error', () => undefined);
  session.once('remoteSettings', () => settled.add(session));
  return session;
}

/** Waits until the session has the server's SETTINGS (from then on the client keeps to its limits). */
export function h2ready(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    if (settled.has(session)) return resolve();
    if (session.destroyed) return reject(new Error('session destroyed'));
    session.once('remoteSettings', () => resolve());
    session.once('close', () => reject(new Error('session closed before SETTINGS')));
  });
}

/** One request on an h2 session; resolves with the whole answer, rejects when the stream is reset. */
export function h2request(session: http2.ClientHttp2Session, opts: H2RequestOptions = {}): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': opts.method ?? 'GET',
      ':path': opts.path ?? '/',
      ...(opts.authority !== undefined ? { ':authority': opts.authority } : {}),
      ...(opts.headers ?? {}),
    };
    const withBody = opts.body !== undefined || opts.trailers !== undefined;
    let req: http2.ClientHttp2Stream;
    try {
      req = session.request(headers, { endStream: !withBody, waitForTrailers: opts.trailers !== undefined });
    } catch (e) {
      return reject(e as Error);
    }
    let status = 0;
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
      resHeaders = h;
    });
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      resolve({ status, headers: resHeaders, body: raw.toString('utf8'), raw, trailers });
    });
    // A reset stream rejects with its RST_STREAM code as `rstCode` (NGHTTP2_REFUSED_STREAM, ...).
    req.on('error', (e: Error) => reject(Object.assign(e, { rstCode: req.rstCode })));
    req.on('close', () => {
      if (req.rstCode !== undefined && req.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
        reject(Object.assign(new Error(`stream reset with code ${req.rstCode}`), { rstCode: req.rstCode }));
      }
    });
    if (opts.trailers !== undefined) req.once('wantTrailers', () => req.sendTrailers(opts.trailers!));
    if (withBody) req.end(opts.body ?? '');
  });
}

/** What the echo upstream received, as it reports it in its JSON answer. */
export interface H2Echo {
  name: string;
  /** '2.0' for HTTP/2 (h2c), '1.1' for HTTP/1.1. */
  httpVersion: string;
  method: string;
  url: string;
  /** For HTTP/2 these include the pseudo-headers the upstream stream carried. */
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  sha256: string;
  trailers: Record<string, string | string[] | undefined>;
}

export interface EchoUpstream {
  name: string;
  port: number;
  /** Every request seen, in order of arrival. */
  seen: H2Echo[];
  /** HTTP/2 connections (sessions) accepted so far. */
  h2Sessions: number;
  /** HTTP/1.1 connections accepted so far. */
  h1Connections: number;
  /** Requests being answered right now, and the most there ever were at once. */
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

export interface EchoUpstreamOptions {
  name?: string;
  /** Accept HTTP/1.1 as well (default true); false: HTTP/2 only, anything else is dropped. */
  http1?: boolean;
}

type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * An echo upstream on 127.0.0.1 speaking h2c (and HTTP/1.1 unless told not to). It reads the
 * whole request (body hashed, trailers kept), then answers a JSON echo of it. The path steers it:
 *   /status/CODE     answer with that status
 *   /delay/MS        answer after MS milliseconds
 *   /trailers        add response trailers `x-upstream-trailer: NAME` and `grpc-status: 0`
 *   /echo-body       answer the request body itself (application/octet-stream)
 *   /hold/MS         send the head and a first chunk of the body at once, the rest after MS milliseconds
 */
export async function startEchoUpstream(opts: EchoUpstreamOptions = {}): Promise<EchoUpstream> {
  const name = opts.name ?? 'echo';
  const acceptH1 = opts.http1 ?? true;
  const sockets = new Set<net.Socket>();
  const up: EchoUpstream = {
    name,
    port: 0,
    seen: [],
    h2Sessions: 0,
    h1Connections: 0,
    inFlight: 0,
    maxInFlight: 0,
    close: async () => undefined,
  };
  const onRequest = (req: AnyRequest, res: AnyResponse) => handle(up, req, res);
  // Header limits well above the gateway's 60 KiB, so that the gateway's own limit is what a test meets.
  const h1 = http.createServer({ keepAliveTimeout: 30_000, maxHeaderSize: 256 * 1024 }, onRequest);
  const h2 = http2.createServer({ settings: { maxHeaderListSize: 256 * 1024 } }, onRequest);
  h2.on('session', (s: http2.ServerHttp2Session) => {
    up.h2Sessions++;
    s.on('error', () => undefined);
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const h2 = seen.compare(PREFACE, 0, n, 0, n) === 0;
      if (h2 && seen.length < PREFACE.length) return;
      socket.off('data', onData);
      socket.pause();
      socket.unshift(seen);
      if (h2) return hand(true);
      if (!acceptH1) return socket.destroy();
      hand(false);
    };
    const hand = (isH2: boolean) => {
      if (isH2) h2.emit('connection', socket);
      else {
        up.h1Connections++;
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  up.port = (server.address() as AddressInfo).port;
  up.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      h1.closeAllConnections();
    });
  return up;
}

function handle(up: EchoUpstream, req: AnyRequest, res: AnyResponse): void {
  const url = req.url ?? '/';
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let bodyBytes = 0;
  up.inFlight++;
  up.maxInFlight = Math.max(up.maxInFlight, up.inFlight);
  let counted = true;
  const done = () => {
    if (counted) up.inFlight--;
    counted = false;
  };
  res.on('close', done);
  req.on('data', (c: Buffer) => {
    bodyBytes += c.length;
    hash.update(c);
    if (url.includes('/echo-body')) chunks.push(c);
  });
  req.on('end', () => {
    const echo: H2Echo = {
      name: up.name,
      httpVersion: req.httpVersion,
      method: req.method ?? '',
      url,
      headers: { ...req.headers },
      bodyBytes,
      sha256: hash.digest('hex'),
      trailers: { ...req.trailers },
    };
    up.seen.push(echo);
    const status = /\/status\/(\d{3})/.exec(url);
    const delay = /\/delay\/(\d+)/.exec(url);
    const answer = () => {
      done();
      if (res.destroyed || res.writableEnded) return;
      const r = res as http.ServerResponse;
      const hold = /\/hold\/(\d+)/.exec(url);
      if (hold) {
        r.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': up.name });
        r.write('first,');
        const t = setTimeout(() => {
          if (!r.destroyed) r.end('rest');
        }, Number(hold[1]));
        r.on('close', () => clearTimeout(t));
        return;
      }
      if (url.includes('/echo-body')) {
        const body = Buffer.concat(chunks);
        r.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'x-upstream': up.name });
        r.end(body);
        return;
      }
      const body = JSON.stringify(echo);
      const trailers = url.includes('/trailers');
      // With trailers the length is left out: an HTTP/1.1 answer is then chunked, as trailers need.
      r.writeHead(status ? Number(status[1]) : 200, {
        'content-type': 'application/json',
        'x-upstream': up.name,
        ...(trailers ? { trailer: 'x-upstream-trailer, grpc-status' } : { 'content-length': Buffer.byteLength(body) }),
      });
      if (trailers) r.addTrailers({ 'x-upstream-trailer': up.name, 'grpc-status': '0' });
      r.end(body);
    };
    if (delay) setTimeout(answer, Number(delay[1]));
    else answer();
  });
}

/** The echo in an answer's body. */
export function echoOf(a: { body: string }): H2Echo {
  return JSON.parse(a.body) as H2Echo;
}
