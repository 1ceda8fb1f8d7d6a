import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

/**
 * A real upstream server for tests. By default it answers with a JSON echo of what it
 * received; the request path can ask it to misbehave:
 *   /delay/MS        answer after MS milliseconds
 *   /status/CODE     answer with that status
 *   /reset           destroy the connection without answering
 *   /bytes/N         stream N bytes (in 64 KiB chunks, honouring backpressure)
 * A request body is counted, never kept: the echo reports `bodyBytes`.
 */
export interface Upstream {
  name: string;
  port: number;
  address: string;
  /** Requests seen, in order (method, url, headers). */
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  server: http.Server;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  name?: string;
  host?: string;
  /** Replace the default behaviour entirely. */
  handler?: http.RequestListener;
}

export async function startUpstream(opts: UpstreamOptions = {}): Promise<Upstream> {
  const name = opts.name ?? 'upstream';
  const seen: Upstream['seen'] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (opts.handler) return opts.handler(req, res);
    defaultHandler(name, req, res);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, opts.host ?? '127.0.0.1', resolve));
  const a = server.address() as AddressInfo;
  return {
    name,
    port: a.port,
    address: a.address,
    seen,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function defaultHandler(name: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '/';
  const delay = /\/delay\/(\d+)/.exec(url);
  const status = /\/status\/(\d{3})/.exec(url);
  const bytes = /\/bytes\/(\d+)/.exec(url);
  if (url.includes('/reset')) {
    req.socket.destroy();
    return;
  }
  let bodyBytes = 0;
  req.on('data', (c: Buffer) => (bodyBytes += c.length));
  req.on('end', () => {
    const answer = () => {
      if (res.destroyed) return;
      if (bytes) return streamBytes(res, Number(bytes[1]), name);
      const body = JSON.stringify({ name, method: req.method, url, headers: req.headers, bodyBytes });
      res.writeHead(status ? Number(status[1]) : 200, { 'content-type': 'application/json', 'x-upstream': name, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (delay) setTimeout(answer, Number(delay[1]));
    else answer();
  });
}

function streamBytes(res: http.ServerResponse, total: number, name: string): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total, 'x-upstream': name });
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const n = Math.min(chunk.length, total - sent);
      sent += n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

/** Several named replicas of the default upstream. */
export async function startReplicas(count: number, prefix = 'replica'): Promise<Upstream[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startUpstream({ name: `${prefix}-${i}` })));
}

/** A port on 127.0.0.1 where nothing listens: bound once to learn a free number, then closed. */
export async function deadPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
