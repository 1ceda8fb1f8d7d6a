import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, startGateway, staticService, virtualServiceYaml, writeConfigDir, type TestGateway } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { startServe } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Clients that are slow on purpose or by accident: each is cut off after a bounded time, and
// none holds the gateway's resources for longer. Timeouts are shortened to 1 s here (Envoy's
// defaults: 60 s for a request head, 5 min of silence for a stream or connection).

const TIMEOUTS = { headersMs: 1000, idleMs: 1000 };

/** Opens a connection; resolves with what the gateway wrote and how long until it closed it. */
function watch(port: number): { sock: net.Socket; closed: Promise<{ afterMs: number; received: string }> } {
  const sock = net.connect(port, '127.0.0.1');
  const start = Date.now();
  let received = '';
  sock.on('data', (d: Buffer) => (received += d.toString('latin1')));
  sock.on('error', () => undefined);
  const closed = new Promise<{ afterMs: number; received: string }>((resolve) => sock.on('close', () => resolve({ afterMs: Date.now() - start, received })));
  return { sock, closed };
}

describe('slow and silent clients are cut off', () => {
  let up: Upstream;
  let gw: TestGateway;
  let aborted = 0;

  beforeAll(async () => {
    up = await startUpstream({
      name: 'app',
      handler: (req, res) => {
        req.on('aborted', () => aborted++);
        req.on('close', () => {
          if (!req.complete) aborted++;
        });
        req.resume();
        req.on('end', () => res.end('ok'));
      },
    });
    gw = await startGateway(
      {
        'gw.yaml': GATEWAY_ANY_HOST,
        'svc.yaml': staticService('app.svc', [up.port]),
        'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ route: [{ destination: { host: 'app.svc' } }] }]),
      },
      { timeouts: TIMEOUTS },
    );
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('a client trickling its request head (slowloris) gets 408 and is closed once the head is overdue', async () => {
    const { sock, closed } = watch(gw.port());
    sock.write('GET / HTTP/1.1\r\nHost: app.example.com\r\n');
    const trickle = setInterval(() => sock.writable && sock.write('x'), 100);
    sock.write('X-Slow: ');
    const { afterMs, received } = await closed;
    clearInterval(trickle);
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(received.endsWith('request header timeout')).toBe(true);
    expect(afterMs).toBeGreaterThanOrEqual(900);
    expect(afterMs).toBeLessThan(5000);
  });

  it('a connection that never sends a byte is closed', async () => {
    const { closed } = watch(gw.port());
    const { afterMs, received } = await closed;
    expect(received).toBe('');
    expect(afterMs).toBeLessThan(5000);
  });

  it('an idle keep-alive connection is closed after the idle timeout, having served its request', async () => {
    const { sock, closed } = watch(gw.port());
    sock.write('GET / HTTP/1.1\r\nHost: app.example.com\r\n\r\n');
    const { afterMs, received } = await closed;
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(afterMs).toBeGreaterThanOrEqual(900);
    expect(afterMs).toBeLessThan(5000);
  });

  it('an upload that stalls gets 408 stream timeout (SI) and is closed, and its request upstream is cut off', async () => {
    const before = aborted;
    const { sock, closed } = watch(gw.port());
    sock.write('POST /upload HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 100\r\n\r\n0123456789');
    const { afterMs, received } = await closed;
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(received.toLowerCase()).toContain('connection: close');
    expect(received.endsWith('stream timeout')).toBe(true);
    expect(afterMs).toBeGreaterThanOrEqual(900);
    expect(afterMs).toBeLessThan(5000);
    const end = Date.now() + 2000;
    while (aborted === before && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(aborted).toBeGreaterThan(before);
    expect((await gw.get('app.example.com', '/after')).status).toBe(200);
  });

  it('HTTP/2: a request with more than 100 header fields is reset; 100 are served', async () => {
    const session = http2.connect(`http://127.0.0.1:${gw.port()}`);
    session.on('error', () => undefined);
    const send = (n: number) =>
      new Promise<number | string>((resolve) => {
        const headers: Record<string, string> = { ':path': '/', ':authority': 'app.example.com' };
        for (let i = 0; i < n; i++) headers[`x-h${i}`] = 'v';
        const req = session.request(headers);
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        req.on('close', () => resolve(`reset ${req.rstCode}`));
        req.resume();
        req.end();
      });
    // n fields besides the pseudo-headers (node:http2 adds none of its own).
    expect(await send(100)).toBe(200);
    expect(String(await send(101))).toMatch(/ERR_HTTP2_STREAM_ERROR|^reset /);
    expect(await send(100)).toBe(200);
    session.close();
  });
});

describe('thousands of connections', () => {
  it('1,000 half-open requests are held in bounded memory, and the gateway keeps serving beside them', async () => {
    const up = await startUpstream({ name: 'app' });
    const dir = await writeConfigDir({
      'gw.yaml': GATEWAY_ANY_HOST,
      'svc.yaml': staticService('app.svc', [up.port]),
      'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ route: [{ destination: { host: 'app.svc' } }] }]),
    });
    const gw = await startServe(['-c', dir, '--workers', '1', '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0', '--access-log', 'off']);
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${gw.child.pid}/status`, 'utf8'))![1]) * 1024;
    const port = gw.ports.get(80)!;
    const socks: net.Socket[] = [];
    try {
      expect((await request({ port, headers: { host: 'app.example.com' } })).status).toBe(200);
      const before = rss();
      for (let i = 0; i < 1000; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        s.write(`GET /${i} HTTP/1.1\r\nHost: app.example.com\r\nX-Pending: `);
        socks.push(s);
        if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 500));
      const perConnection = (rss() - before) / 1000;
      // Node's socket and parser come to a few KiB; a buffer per connection would show here.
      expect(perConnection).toBeLessThan(64 * 1024);
      expect((await request({ port, headers: { host: 'app.example.com' } })).status).toBe(200);
    } finally {
      for (const s of socks) s.destroy();
      await gw.stop();
      await up.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
