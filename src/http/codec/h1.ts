import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { declaresBody, unmapped, type AbortListener, type DownstreamStream, type HeaderMap } from '../downstream.js';
import { tlsInfoOf } from '../../listener/tls-terminate.js';
import { STREAM_IDLE_MS } from '../limits.js';

const kOwner = Symbol('meshgate.abortListener');
type ResponseWithOwner = ServerResponse & { [kOwner]?: AbortListener };

/** A shared 'close' listener: the response closed before it finished means the client left. */
function onResponseClose(this: ResponseWithOwner): void {
  if (!this.writableFinished) this[kOwner]?.downstreamGone();
}

/** The request half both HTTP/1.1 streams read from node:http's IncomingMessage. */
abstract class H1Request {
  readonly protocol = 'HTTP/1.1' as const;

  constructor(protected readonly req: IncomingMessage) {}

  get method(): string {
    return this.req.method ?? 'GET';
  }

  get target(): string {
    return this.req.url ?? '/';
  }

  get authority(): string | undefined {
    return this.req.headers.host;
  }

  get rawHeaders(): readonly string[] {
    return this.req.rawHeaders;
  }

  get headers(): HeaderMap {
    return this.req.headers;
  }

  get remoteAddress(): string {
    return unmapped(this.req.socket.remoteAddress);
  }

  get clientCertDetails(): string | null {
    return tlsInfoOf(this.req.socket)?.clientCertDetails ?? null;
  }

  get body(): IncomingMessage {
    return this.req;
  }

  requestTrailers(): string[] | null {
    return null;
  }
}

/** An HTTP/1.1 request and response from node:http. */
export class H1Stream extends H1Request implements DownstreamStream {
  readonly upgrade = null;

  constructor(
    req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    super(req);
  }

  get hasBody(): boolean {
    return declaresBody(this.req.headers);
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  respond(status: number, headers: string[], end: boolean): void {
    this.res.writeHead(status, headers);
    if (end) this.res.end();
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  onceDrain(cb: () => void): void {
    this.res.once('drain', cb);
  }

  end(last: Buffer | string | null): void {
    if (last === null) this.res.end();
    else this.res.end(last);
  }

  reset(): void {
    this.res.destroy();
  }

  closeConnection(): void {
    this.res.shouldKeepAlive = false;
    (this.req.socket as unknown as Record<symbol, boolean>)[CLOSING] = true;
  }

  onAbort(owner: AbortListener): void {
    (this.res as ResponseWithOwner)[kOwner] = owner;
    this.res.on('close', onResponseClose);
  }
}

/**
 * A request node:http handed over as a bare connection (Upgrade, CONNECT): its answer is written
 * to the socket directly, and it is the last one on that connection.
 */
/** Set on a socket whose current answer is its last: requests pipelined behind it are not served. */
const CLOSING = Symbol('meshgate.closing');

/** Whether an earlier answer on this connection already said it is the last. */
export function connectionClosing(socket: unknown): boolean {
  return (socket as Record<symbol, boolean> | null)?.[CLOSING] === true;
}

export class H1RawStream extends H1Request implements DownstreamStream {
  private sent = false;
  private aborted: AbortListener | null = null;
  private finished = false;

  constructor(
    req: IncomingMessage,
    private readonly socket: Duplex,
    private readonly head: Buffer,
    readonly upgrade: string | null,
  ) {
    super(req);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => {
      if (!this.finished) this.aborted?.downstreamGone();
      this.finished = true;
    });
  }

  get hasBody(): boolean {
    return false;
  }

  get headersSent(): boolean {
    return this.sent;
  }

  respond(status: number, headers: string[], end: boolean): void {
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    let length = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const lower = name.toLowerCase();
      if (lower === 'connection') continue;
      if (lower === 'content-length') length = true;
      assertHeader(name, headers[i + 1]!);
      head += `${name}: ${headers[i + 1]}\r\n`;
    }
    // Nothing marks where a body without a length ends but the connection closing.
    if (end && !length) head += 'content-length: 0\r\n';
    this.sent = true;
    this.socket.write(head + 'connection: close\r\n\r\n', 'latin1');
    if (end) this.end(null);
  }

  write(chunk: Buffer): boolean {
    return this.socket.write(chunk);
  }

  onceDrain(cb: () => void): void {
    this.socket.once('drain', cb);
  }

  end(last: Buffer | string | null): void {
    this.finished = true;
    if (last === null) this.socket.end();
    else this.socket.end(last);
  }

  reset(): void {
    this.finished = true;
    this.socket.destroy();
  }

  closeConnection(): void {
    // Always the last answer on its connection.
  }

  onAbort(owner: AbortListener): void {
    this.aborted = owner;
  }

  tunnel(status: number, headers: string[], upstream: Duplex, done: (received: number, sent: number) => void): void {
    const client = this.socket;
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Switching Protocols'}\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    this.sent = true;
    this.finished = true;
    client.write(head + '\r\n', 'latin1');
    if (this.head.length > 0) upstream.write(this.head);
    let received = this.head.length;
    let sent = 0;
    client.on('data', (c: Buffer) => (received += c.length));
    upstream.on('data', (c: Buffer) => (sent += c.length));
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      client.destroy();
      upstream.destroy();
      done(received, sent);
    };
    // Either side closing closes the other: an upgraded connection has no other ending.
    upstream.on('close', close);
    client.on('close', close);
    upstream.on('error', close);
    // Past the 101, only the idle timeout bounds a tunnel.
    (client as Socket).setTimeout?.(STREAM_IDLE_MS, close);
    (upstream as Socket).setTimeout?.(STREAM_IDLE_MS, close);
    upstream.pipe(client);
    client.pipe(upstream);
  }
}

const BAD_VALUE = /[\0\r\n]|[^\t\x20-\xff]/;

/** node:http refuses these in a header; a raw writer must too, or it would split the answer. */
function assertHeader(name: string, value: string): void {
  if (BAD_VALUE.test(value) || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw new TypeError(`invalid response header ${JSON.stringify(name)}`);
}
