import { rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { replayBytesReserved } from '../../src/http/router/body.js';
import type { StreamRecord } from '../../src/http/stream-record.js';
import { GATEWAY_ANY_HOST, staticService, startGateway, virtualServiceYaml, writeConfigDir } from '../helpers/gateway.js';
import { rawRequest, request } from '../helpers/http.js';
import { runCli, startServe } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Regression tests for the defects an outside review found in the HTTP/1.1 gateway. Each fails
// on the code before its fix.

let cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  const list = cleanups.reverse();
  cleanups = [];
  for (const c of list) await c().catch(() => undefined);
});

function later(fn: () => Promise<unknown>): void {
  cleanups.push(fn);
}

const BACKEND = 'backend.test';
const toBackend = [{ destination: { host: BACKEND } }];

async function upstream(opts: Parameters<typeof startUpstream>[0] = {}): Promise<Upstream> {
  const up = await startUpstream(opts);
  later(() => up.close());
  return up;
}

async function configDir(files: Record<string, string>): Promise<string> {
  const dir = await writeConfigDir(files);
  later(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The first line of a response head's header with this name, as raw bytes (latin1 string). */
function rawHeader(raw: string, name: string): string | undefined {
  const m = new RegExp(`^${name}: ([^\\r]*)\\r$`, 'im').exec(raw);
  return m?.[1];
}

const EURO_BYTES = Buffer.from('€', 'utf8').toString('latin1');

describe('1. configured header values: control characters refused, other bytes sent as UTF-8', () => {
  it('validate refuses CR, LF and NUL in a header value, naming file, line and field', async () => {
    const vs = (value: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app, namespace: default}
spec:
  hosts: [app.example.com]
  gateways: [gw]
  http:
  - route:
    - destination: {host: ${BACKEND}}
      headers:
        request:
          set:
            x-injected: "${value}"
    headers:
      response:
        add:
          x-other: "ok"
`;
    for (const [value, what] of [
      ['a\\r\\nSet-Cookie: stolen=1', 'CR (\\r)'],
      ['a\\nb', 'LF (\\n)'],
      ['a\\0b', 'NUL'],
    ] as const) {
      const dir = await configDir({ 'gateway.yaml': GATEWAY_ANY_HOST, 'backend.yaml': staticService(BACKEND, [1]), 'vs.yaml': vs(value) });
      const r = await runCli(['validate', '-c', dir]);
      expect(r.code).toBe(1);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^${path.join(dir, 'vs.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:13:13: error: VirtualService default/app: spec\\.http\\[0\\]\\.route\\[0\\]\\.headers\\.request\\.set\\["x-injected"\\]: .* contains ${what.replace(/[()\\]/g, '\\$&')}, which would split the header`));
      expect(lines.at(-1)).toBe('invalid: 1 error(s), 0 warning(s) in 3 file(s)');
    }
  });

  it('validate refuses a header name that is not a token, and a redirect path with a space', async () => {
    const vs = virtualServiceYaml('app', ['app.example.com'], [
      { match: [{ uri: { prefix: '/r' } }], redirect: { uri: '/new place' } },
      { route: toBackend, headers: { response: { set: { 'x bad': 'v' } } } },
    ]);
    const dir = await configDir({ 'gateway.yaml': GATEWAY_ANY_HOST, 'backend.yaml': staticService(BACKEND, [1]), 'vs.yaml': vs });
    const r = await runCli(['validate', '-c', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('spec.http[0].redirect.uri: "/new place": a path cannot contain spaces or control characters');
    expect(r.stdout).toContain('spec.http[1].headers.response.set["x bad"]: "x bad" is not a header name');
  });

  it('a € in configured headers passes validate and goes out as UTF-8 bytes on direct responses, redirects and forwarded requests; the process lives on', async () => {
    const seen: string[] = [];
    const backend = await upstream({
      name: 'backend',
      handler: (req, res) => {
        // The raw bytes of the header as they arrived (node:http reads header bytes as latin1).
        const i = req.rawHeaders.findIndex((h) => h.toLowerCase() === 'x-price');
        seen.push(req.rawHeaders[i + 1] ?? '');
        res.end('ok');
      },
    });
    const vs = virtualServiceYaml('app', ['app.example.com'], [
      { match: [{ uri: { prefix: '/direct' } }], directResponse: { status: 200, body: { string: 'hi' } }, headers: { response: { set: { 'x-price': '5 €' } } } },
      { match: [{ uri: { prefix: '/redirect' } }], redirect: { uri: '/prix/€', authority: 'shop.example.com' } },
      { route: toBackend, headers: { request: { set: { 'x-price': '7 €' } }, response: { add: { 'x-currency': '€' } } } },
    ]);
    const dir = await configDir({ 'gateway.yaml': GATEWAY_ANY_HOST, 'backend.yaml': staticService(BACKEND, [backend.port]), 'vs.yaml': vs });
    expect((await runCli(['validate', '-c', dir])).code).toBe(0);
    const gw = await startServe(['-c', dir, '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
    later(() => gw.stop());
    const port = gw.ports.get(80)!;
    const ask = (p: string) => rawRequest(port, `GET ${p} HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n`);

    const direct = await ask('/direct');
    expect(direct).toMatch(/^HTTP\/1\.1 200 /);
    expect(rawHeader(direct, 'x-price')).toBe(`5 ${EURO_BYTES}`);

    const redirect = await ask('/redirect');
    expect(redirect).toMatch(/^HTTP\/1\.1 301 /);
    expect(rawHeader(redirect, 'location')).toBe(`http://shop.example.com/prix/${EURO_BYTES}`);

    const forwarded = await ask('/forwarded');
    expect(forwarded).toMatch(/^HTTP\/1\.1 200 /);
    expect(rawHeader(forwarded, 'x-currency')).toBe(EURO_BYTES);
    expect(seen).toEqual([`7 ${EURO_BYTES}`]);

    // Still serving: nothing above threw.
    expect((await request({ port, path: '/direct', headers: { host: 'app.example.com' } })).status).toBe(200);
    expect(gw.child.exitCode).toBeNull();
  });
});

describe('2. the replay budget does not leak', () => {
  it('after 80 abandoned uploads on a retrying route, a request with a body is still retried, and nothing stays reserved', async () => {
    let calls = 0;
    const received: number[] = [];
    const backend = await upstream({
      name: 'backend',
      handler: (req, res) => {
        if (req.url === '/slow') return; // never answers; the uploads below are abandoned anyway
        calls++;
        let n = 0;
        req.on('data', (c: Buffer) => (n += c.length));
        req.on('end', () => {
          received.push(n);
          res.writeHead(calls === 1 ? 503 : 200).end();
        });
      },
    });
    const gw = await startGateway({
      'gateway.yaml': GATEWAY_ANY_HOST,
      'backend.yaml': staticService(BACKEND, [backend.port]),
      'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ route: toBackend, retries: { attempts: 2, retryOn: '5xx' } }]),
    });
    later(() => gw.stop());
    const before = replayBytesReserved();
    for (let i = 0; i < 80; i++) {
      // Declares 1 MiB, sends 1 KiB of it, then goes away.
      await new Promise<void>((resolve) => {
        const s = net.connect(gw.port(), '127.0.0.1', () => {
          s.write(`POST /slow HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: ${1024 * 1024}\r\n\r\n`);
          s.write(Buffer.alloc(1024, 0x61), () => setTimeout(() => s.destroy(), 5));
        });
        s.on('close', () => resolve());
        s.on('error', () => undefined);
      });
    }
    await expect.poll(() => replayBytesReserved(), { timeout: 2000 }).toBe(before);
    const body = Buffer.alloc(100 * 1024, 0x62);
    const a = await request({ port: gw.port(), method: 'POST', path: '/upload', headers: { host: 'app.example.com' }, body });
    expect(a.status).toBe(200);
    expect(received).toEqual([body.length, body.length]);
  });
});

describe('3 and 4. Upgrade: only websocket is tunnelled, and waiting for the 101 has the route timeout', () => {
  it('Upgrade: h2c loses its Upgrade and HTTP2-Settings headers and goes on as a plain request; the connection stays HTTP', async () => {
    const backend = await upstream({ name: 'backend' });
    const gw = await startGateway({
      'gateway.yaml': GATEWAY_ANY_HOST,
      'backend.yaml': staticService(BACKEND, [backend.port]),
      'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ match: [{ uri: { prefix: '/a' } }], route: toBackend }]),
    });
    later(() => gw.stop());
    const raw = await rawRequest(
      gw.port(),
      'GET /a HTTP/1.1\r\nHost: app.example.com\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n' +
        'GET /not-routed HTTP/1.1\r\nHost: app.example.com\r\n\r\n',
    );
    const answers = raw.split(/(?=HTTP\/1\.1 \d{3} )/);
    expect(answers.map((a) => a.slice(9, 12))).toEqual(['200', '404']);
    expect(backend.seen).toHaveLength(1);
    expect(backend.seen[0]!.url).toBe('/a');
    expect(backend.seen[0]!.headers.upgrade).toBeUndefined();
    expect(backend.seen[0]!.headers['http2-settings']).toBeUndefined();
    expect(String(backend.seen[0]!.headers.connection ?? '')).not.toMatch(/upgrade/i);
  });

  it('any other Upgrade is answered 403 and nothing reaches the upstream, not even a request after it', async () => {
    const backend = await upstream({ name: 'backend' });
    backend.server.on('upgrade', (_req, socket: net.Socket) => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo/1.0\r\nConnection: Upgrade\r\n\r\n'));
    const gw = await startGateway({
      'gateway.yaml': GATEWAY_ANY_HOST,
      'backend.yaml': staticService(BACKEND, [backend.port]),
      'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ match: [{ uri: { prefix: '/a' } }], route: toBackend }]),
    });
    later(() => gw.stop());
    const records: StreamRecord[] = [];
    gw.gateway.onStreamEnd((r) => records.push(r));
    const raw = await rawRequest(gw.port(), 'GET /a HTTP/1.1\r\nHost: app.example.com\r\nConnection: Upgrade\r\nUpgrade: foo/1.0\r\n\r\nGET /not-routed HTTP/1.1\r\nHost: app.example.com\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(raw.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(rawHeader(raw, 'server')).toBe('istio-envoy');
    expect(backend.seen).toEqual([]);
    expect(records.map((r) => [r.responseCode, r.details])).toEqual([[403, 'upgrade_failed']]);
  });

  it('a WebSocket Upgrade the upstream never answers gets 504 at the route timeout', async () => {
    const backend = await upstream({ name: 'backend' });
    const pending: net.Socket[] = [];
    backend.server.on('upgrade', (_req, socket: net.Socket) => pending.push(socket));
    later(async () => pending.forEach((s) => s.destroy()));
    const gw = await startGateway({
      'gateway.yaml': GATEWAY_ANY_HOST,
      'backend.yaml': staticService(BACKEND, [backend.port]),
      'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ route: toBackend, timeout: '0.3s' }]),
    });
    later(() => gw.stop());
    const records: StreamRecord[] = [];
    gw.gateway.onStreamEnd((r) => records.push(r));
    const raw = await rawRequest(
      gw.port(),
      'GET /ws HTTP/1.1\r\nHost: app.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      1500,
    );
    expect(raw).toMatch(/^HTTP\/1\.1 504 Gateway Timeout\r\n/);
    expect(raw.endsWith('\r\n\r\nupstream request timeout')).toBe(true);
    expect(pending).toHaveLength(1);
    expect(records).toHaveLength(1);
    expect(records[0]!.flagString).toBe('UT');
  });
});

describe('5. reloads are serialized', () => {
  it('three quick SIGHUPs: versions strictly increase, none is logged twice, and the newest files win', async () => {
    const vsWith = (body: string) => virtualServiceYaml('app', ['app.example.com'], [{ directResponse: { status: 200, body: { string: body } } }]);
    const dir = await configDir({ 'gateway.yaml': GATEWAY_ANY_HOST, 'vs.yaml': vsWith('A') });
    const gw = await startServe(['-c', dir, '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
    later(() => gw.stop());
    for (const body of ['B', 'C', 'D']) {
      await writeFile(path.join(dir, 'vs.yaml'), vsWith(body));
      gw.child.kill('SIGHUP');
    }
    await expect.poll(async () => (await request({ port: gw.ports.get(80)!, headers: { host: 'app.example.com' } })).body, { timeout: 5000 }).toBe('D');
    // Let any reload still queued finish before reading the log.
    await new Promise((r) => setTimeout(r, 300));
    const versions = [...gw.log().matchAll(/config version (\d+) live/g)].map((m) => Number(m[1]));
    expect(versions.length).toBeGreaterThanOrEqual(1);
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
    expect(versions[0]).toBe(2);
  });
});

describe('6. a bare --mesh-listen port binds loopback only', () => {
  it('binds 127.0.0.1 and says how to widen it', async () => {
    const dir = await configDir({ 'gateway.yaml': GATEWAY_ANY_HOST, 'backend.yaml': staticService(BACKEND, [1]) });
    const gw = await startServe(['-c', dir, '--listen', '80=127.0.0.1:0', '--mesh-listen', '0', '--status-port', '0', '--admin-port', '0']);
    later(() => gw.stop());
    const line = /listening: mesh on (\S+):(\d+)(.*)/.exec(gw.log());
    expect(line?.[1]).toBe('127.0.0.1');
    expect(line?.[3]).toContain('--mesh-listen 0.0.0.0:');
    // Not reachable on another local address.
    const other = await new Promise<string>((resolve) => {
      const s = net.connect(Number(line![2]), '::1');
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(other).not.toBe('connected');
  });

  it('in process too: the mesh listener of a bare port is on 127.0.0.1', async () => {
    const gw = await startGateway({ 'gateway.yaml': GATEWAY_ANY_HOST, 'backend.yaml': staticService(BACKEND, [1]) }, { meshListen: { port: 0 } });
    later(() => gw.stop());
    expect(gw.gateway.addressOf(0).host).toBe('127.0.0.1');
  });
});
