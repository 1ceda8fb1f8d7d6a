import { writeFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { staticService, writeConfigDir, GATEWAY_ANY_HOST, virtualServiceYaml } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { startServe, type ServeProcess } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// The real `meshgate serve` process (dist/cli.js, built by `npm test`) and its signals:
// SIGTERM drains (keep-alive connections are closed after their answer, the process exits 0),
// SIGHUP reloads the config files (swapped in when valid, refused with the reason otherwise).

const GATEWAY = GATEWAY_ANY_HOST;

const virtualService = virtualServiceYaml;

const toBackend = [{ destination: { host: 'backend.test' } }];

let cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  const list = cleanups.reverse();
  cleanups = [];
  for (const c of list) await c().catch(() => undefined);
});

async function serve(extraArgs: string[] = []): Promise<{ gw: ServeProcess; backend: Upstream; dir: string; exited: Promise<number | null> }> {
  const backend = await startUpstream({ name: 'backend' });
  cleanups.push(() => backend.close());
  const dir = await writeConfigDir({
    'gateway.yaml': GATEWAY,
    'backend.yaml': staticService('backend.test', [backend.port]),
    'vs.yaml': virtualService('app', ['app.example.com'], [{ route: toBackend }]),
  });
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const gw = await startServe(['-c', dir, '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0', ...extraArgs]);
  const exited = new Promise<number | null>((resolve) => {
    if (gw.child.exitCode !== null || gw.child.signalCode !== null) resolve(gw.child.exitCode);
    gw.child.once('exit', (code) => resolve(code));
  });
  cleanups.push(async () => {
    if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill('SIGKILL');
    await exited;
  });
  // "ready" is logged a moment before serve installs its signal handlers; one round trip to the
  // process makes sure they are in place before a test signals it.
  expect((await request({ port: gw.statusPort, path: '/healthz/ready' })).status).toBe(200);
  return { gw, backend, dir, exited };
}

/** Resolves with the value, or with `fallback` after `ms`. */
function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(fallback), ms);
    void p.then((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}

/** Resolves when `cond` holds, or after `ms` (the caller asserts). */
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

/** Waits until the log matches, the process exits, or `ms` pass. */
async function logUntil(gw: ServeProcess, re: RegExp, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!re.test(gw.log()) && gw.child.exitCode === null && gw.child.signalCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe('SIGTERM drains', () => {
  it('--drain-delay: readiness 503 at once, new connections still answered (with connection: close) during the delay, refused after it; exit 0', async () => {
    const { gw, exited } = await serve(['--drain-delay', '2', '--drain-seconds', '1']);
    const port = gw.ports.get(80)!;
    gw.child.kill('SIGTERM');
    await logUntil(gw, /SIGTERM: draining/);
    expect(gw.log()).toMatch(/still accepting for 2 s/);
    expect((await request({ port: gw.statusPort, path: '/healthz/ready' })).status).toBe(503);
    // A new connection during the delay: answered, and told to close.
    const during = await request({ port, path: '/', headers: { host: 'app.example.com' } });
    expect(during.status).toBe(200);
    expect(during.headers.connection).toBe('close');
    const code = await within(exited, 10_000, 'still running 10 s after SIGTERM' as const);
    expect(code).toBe(0);
    await expect(request({ port, path: '/', headers: { host: 'app.example.com' } })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('--drain-seconds bounds the drain: a request still running at the deadline is cut, and the process exits 0', async () => {
    const { gw, backend, exited } = await serve(['--drain-seconds', '1']);
    const port = gw.ports.get(80)!;
    const sock = net.connect(port, '127.0.0.1');
    cleanups.push(async () => void sock.destroy());
    sock.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
    // 20 s upstream: without the flag the 25 s default drain would keep the process up past the bound below.
    sock.write('GET /delay/20000 HTTP/1.1\r\nHost: app.example.com\r\n\r\n');
    await until(() => backend.seen.length === 1);
    gw.child.kill('SIGTERM');
    await logUntil(gw, /SIGTERM: draining/);
    expect(gw.log()).toMatch(/at most 1 s after that/);
    const code = await within(exited, 10_000, 'still running 10 s after SIGTERM' as const);
    expect(code).toBe(0);
    await within(closed, 1000, null);
    expect(sock.destroyed || sock.readableEnded).toBe(true);
  });

  it('an answer sent during the drain carries connection: close (also for a request already running), and the process exits 0', async () => {
    const { gw, backend, exited } = await serve();
    const port = gw.ports.get(80)!;
    const sock = net.connect(port, '127.0.0.1');
    cleanups.push(async () => void sock.destroy());
    let received = '';
    sock.on('data', (c: Buffer) => (received += c.toString('latin1')));
    const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
    sock.on('error', () => undefined);
    const get = (p: string) => sock.write(`GET ${p} HTTP/1.1\r\nHost: app.example.com\r\n\r\n`);
    const answers = () => received.split(/(?=HTTP\/1\.1 )/).filter((a) => a !== '');

    get('/before');
    await until(() => answers().length === 1);
    // A slow request on the same keep-alive connection, and SIGTERM while it runs: its answer is
    // the first one sent during the drain, so it tells the client to close (as Envoy does).
    get('/delay/1000');
    await until(() => backend.seen.length === 2);
    gw.child.kill('SIGTERM');
    await logUntil(gw, /SIGTERM: draining/);

    const code = await within(exited, 8000, 'still running 8 s after SIGTERM' as const);
    expect(code).toBe(0);
    await within(closed, 1000, null);
    expect(sock.destroyed || sock.readableEnded).toBe(true);
    expect(backend.seen.map((s) => s.url)).toEqual(['/before', '/delay/1000']);
    const all = answers();
    expect(all).toHaveLength(2);
    for (const a of all) expect(a).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(all[0]!.toLowerCase()).toContain('\r\nconnection: keep-alive\r\n');
    expect(all[1]!.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(gw.log()).toMatch(/SIGTERM: draining/);
  });
});

describe('SIGHUP reloads the config', () => {
  it('a valid edit is swapped in while a request in flight completes on the old config', async () => {
    const { gw, backend, dir } = await serve();
    const port = gw.ports.get(80)!;
    expect((await request({ port, path: '/', headers: { host: 'new.example.com' } })).status).toBe(404);

    let done = false;
    const inFlight = request({ port, path: '/delay/800', headers: { host: 'app.example.com' } })
      .then(
        (a) => a.status,
        (e: Error) => e.message,
      )
      .finally(() => (done = true));
    await new Promise((r) => setTimeout(r, 200));
    await writeFile(path.join(dir, 'vs-new.yaml'), virtualService('added', ['new.example.com'], [{ route: toBackend }]));
    gw.child.kill('SIGHUP');
    await logUntil(gw, /config version \d+ live|reload refused/);
    expect(gw.log()).toMatch(/config version 2 live/);
    // It was still running when the new config went live, and it completes.
    expect(done).toBe(false);
    expect(await inFlight).toBe(200);
    const b = await request({ port, path: '/added', headers: { host: 'new.example.com' } });
    expect(b.status).toBe(200);
    expect(backend.seen.map((s) => [s.url, s.headers.host])).toEqual([
      ['/delay/800', 'app.example.com'],
      ['/added', 'new.example.com'],
    ]);
    expect((await request({ port, path: '/old', headers: { host: 'app.example.com' } })).status).toBe(200);
  });

  it('an invalid edit is refused with the problem named in the log; the old config keeps serving', async () => {
    const { gw, dir } = await serve();
    const port = gw.ports.get(80)!;
    await writeFile(
      path.join(dir, 'broken.yaml'),
      virtualService('broken', ['new.example.com'], [{ match: [{ uri: { regex: '/(?=lookahead)' } }], route: toBackend }]),
    );
    gw.child.kill('SIGHUP');
    await logUntil(gw, /config version \d+ live|reload refused/);
    expect([gw.child.exitCode, gw.child.signalCode]).toEqual([null, null]);
    expect(gw.log()).toMatch(/reload refused/);
    expect(gw.log()).toMatch(/error [^\n]*broken\.yaml:\d+:\d+: VirtualService default\/broken: [^\n]*uri\.regex: [^\n]*lookahead/);
    expect(gw.log()).not.toMatch(/config version 2 live/);
    expect((await request({ port, path: '/still', headers: { host: 'app.example.com' } })).status).toBe(200);
    expect((await request({ port, path: '/', headers: { host: 'new.example.com' } })).status).toBe(404);
  });
});

describe('signals right after start-up', () => {
  it('SIGTERM sent the moment "ready" is logged drains and exits 0 (not Node\'s default kill)', async () => {
    for (let i = 0; i < 3; i++) {
      const gw = await startServe(['-c', 'gateways', '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
      const code = await gw.stop();
      expect(code).toBe(0);
      expect(gw.log()).toMatch(/stopped/);
    }
  });
});
