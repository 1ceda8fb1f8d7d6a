import http from 'node:http';
import net from 'node:net';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions {
  port: number;
  host?: string;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Use a fresh connection (no keep-alive pool), e.g. to count connections. */
  agent?: http.Agent | false;
}

/** One HTTP/1.1 request with node:http, which (unlike fetch) lets a test set the Host header. */
export function request(opts: RequestOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: opts.host ?? '127.0.0.1',
        port: opts.port,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/',
        headers: opts.headers,
        agent: opts.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends raw bytes on a fresh connection and returns everything the server wrote until it closed or went quiet. */
export function rawRequest(port: number, data: string | Buffer, quietMs = 300): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(done, quietMs);
    };
    sock.on('connect', () => {
      sock.write(data);
      arm();
    });
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      arm();
    });
    sock.on('end', done);
    sock.on('error', (e) => (chunks.length ? done() : reject(e)));
  });
}

/** The JSON echo of the default test upstream. */
export function echo(a: Answer): { name: string; method: string; url: string; headers: http.IncomingHttpHeaders; bodyBytes: number } {
  return JSON.parse(a.body);
}
