import { createHash } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StreamRecord } from '../../src/http/stream-record.js';
import { GATEWAY_ANY_HOST, startGateway, staticService, type TestGateway, virtualServiceYaml } from '../helpers/gateway.js';
import { rawRequest, request } from '../helpers/http.js';
import { startUpstream, type Upstream, deadPort } from '../helpers/upstream.js';

// Every request ends in exactly one stream record, handed to `onStreamEnd` subscribers, with the
// response flags, code details and facts Envoy's access log would show for it. The telemetry
// work (metrics, access log) reads nothing else.

let backend: Upstream;
let resetter: Upstream;
let mirror: Upstream;
let ws: Upstream;
let gw: TestGateway;
let dead: number;
let records: StreamRecord[] = [];
let calls503 = 0;

function dr(host: string, trafficPolicy: object): string {
  return JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: host.replace(/\W/g, '-'), namespace: 'default' }, spec: { host, trafficPolicy } });
}

beforeAll(async () => {
  backend = await startUpstream({
    name: 'backend',
    handler: (req, res) => {
      if (req.url === '/always-503') {
        calls503++;
        res.writeHead(503).end('busy');
        return;
      }
      if (req.url?.startsWith('/slow')) {
        setTimeout(() => res.writeHead(200).end('late'), 400);
        return;
      }
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`got ${n}`));
    },
  });
  resetter = await startUpstream({ name: 'resetter', handler: (req) => req.socket.destroy() });
  mirror = await startUpstream({ name: 'mirror' });
  ws = await startUpstream({ name: 'ws' });
  ws.server.on('upgrade', (req, socket) => {
    const accept = createHash('sha1').update(String(req.headers['sec-websocket-key']) + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });
  dead = await deadPort();
  const route = (prefix: string, extra: object) => ({ match: [{ uri: { prefix } }], ...extra });
  const to = (host: string) => [{ destination: { host } }];
  gw = await startGateway({
    'gateway.yaml': GATEWAY_ANY_HOST,
    'services.yaml': [
      staticService('backend.test', [backend.port]),
      staticService('resetter.test', [resetter.port]),
      staticService('dead.test', [dead]),
      staticService('mirror.test', [mirror.port]),
      staticService('ws.test', [ws.port]),
      staticService('limited.test', [backend.port]),
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: empty, namespace: default}
spec:
  hosts: [empty.test]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
`,
    ].join('---\n'),
    'dr.yaml': dr('limited.test', { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } } }),
    'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [
      route('/ok', { name: 'ok', route: to('backend.test') }),
      route('/empty', { route: to('empty.test') }),
      route('/dead', { route: to('dead.test') }),
      route('/reset', { route: to('resetter.test') }),
      route('/timeout', { route: to('backend.test'), rewrite: { uri: '/slow' }, timeout: '0.1s' }),
      route('/limited', { route: to('limited.test'), rewrite: { uri: '/slow' } }),
      route('/retry', { route: to('backend.test'), rewrite: { uri: '/always-503' }, retries: { attempts: 2, retryOn: '5xx', perTryTimeout: '1s' } }),
      route('/delay', { route: to('backend.test'), fault: { delay: { fixedDelay: '0.05s', percentage: { value: 100 } } } }),
      route('/abort', { route: to('backend.test'), fault: { abort: { httpStatus: 418, percentage: { value: 100 } } } }),
      route('/unknown', { route: to('not-in-registry.test') }),
      route('/direct', { directResponse: { status: 204 } }),
      route('/redirect', { redirect: { uri: '/elsewhere' } }),
      route('/hang', { route: to('backend.test'), rewrite: { uri: '/slow' } }),
      route('/mirrored', { route: to('backend.test'), mirror: { host: 'mirror.test' } }),
      route('/ws', { route: to('ws.test') }),
    ]),
  });
  gw.gateway.onStreamEnd((r) => records.push(r));
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([backend, resetter, mirror, ws].map((u) => u?.close()));
});

beforeEach(() => {
  records = [];
});

const get = (path: string, opts: Parameters<TestGateway['get']>[1] = {}) => gw.get('app.example.com', typeof opts === 'string' ? opts : { path, ...opts });

/** The one record of the request just made (waiting briefly: a record is emitted as its answer ends). */
async function only(): Promise<StreamRecord> {
  await expect.poll(() => records.length).toBe(1);
  await new Promise((r) => setTimeout(r, 20));
  expect(records).toHaveLength(1);
  return records[0]!;
}

describe('the stream record of an answered request', () => {
  it('a forwarded request: no flags, via_upstream, route, cluster, endpoint, bytes and times', async () => {
    const a = await get('/ok', { method: 'POST', body: 'x'.repeat(1000) });
    expect(a.status).toBe(200);
    const r = await only();
    expect(r).toMatchObject({
      protocol: 'HTTP/1.1',
      listener: 'gateway:80',
      chain: 'http.80',
      method: 'POST',
      authority: 'app.example.com',
      path: '/ok',
      route: 'ok',
      cluster: 'outbound|80||backend.test',
      upstreamHost: `127.0.0.1:${backend.port}`,
      attempts: 1,
      responseCode: 200,
      details: 'via_upstream',
      bytesReceived: 1000,
      bytesSent: a.body.length,
      downstreamAddress: '127.0.0.1',
      upgraded: false,
    });
    expect(r.flagString).toBe('-');
    expect(r.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.durationMs).toBeGreaterThanOrEqual(r.upstreamMs);
    expect(r.upstreamMs).toBeGreaterThanOrEqual(0);
  });

  it('a direct response and a redirect: no flags, direct_response', async () => {
    expect((await get('/direct')).status).toBe(204);
    expect(await only()).toMatchObject({ responseCode: 204, details: 'direct_response', flags: 0, cluster: null });
    records = [];
    expect((await get('/redirect')).status).toBe(301);
    expect(await only()).toMatchObject({ responseCode: 301, flags: 0, route: 'VirtualService default/app http[11]' });
  });

  it('a mirrored request is one record; the mirror makes none', async () => {
    expect((await get('/mirrored')).status).toBe(200);
    await expect.poll(() => mirror.seen.length).toBe(1);
    expect((await only()).cluster).toBe('outbound|80||backend.test');
  });
});

describe('response flags of each local reply, as Envoy sets them', () => {
  const cases: [string, string, number, string, string][] = [
    ['no route matches', '/nowhere', 404, 'NR', 'route_not_found'],
    ['no endpoint', '/empty', 503, 'UH', 'no_healthy_upstream'],
    ['connection refused', '/dead', 503, 'UF', 'upstream_reset_before_response_started{connection_failure}'],
    ['upstream resets before headers', '/reset', 503, 'UC', 'upstream_reset_before_response_started{connection_termination}'],
    ['route timeout', '/timeout', 504, 'UT', 'upstream_response_timeout'],
    ['fault abort', '/abort', 418, 'FI', 'fault_filter_abort'],
    ['destination outside the registry', '/unknown', 503, 'NC', 'cluster_not_found'],
  ];
  it.each(cases)('%s: %s answers %i, flags %s', async (_what, path, status, flags, details) => {
    expect((await get(path)).status).toBe(status);
    const r = await only();
    expect(r.responseCode).toBe(status);
    expect(r.flagString).toBe(flags);
    expect(r.details).toBe(details);
  });

  it('a fault delay: DI, and the answer still comes from the upstream', async () => {
    expect((await get('/delay')).status).toBe(200);
    expect(await only()).toMatchObject({ flagString: 'DI', details: 'via_upstream', responseCode: 200 });
  });

  it('retries exhausted on 503: URX, the upstream answer passed on, three attempts', async () => {
    calls503 = 0;
    expect((await get('/retry')).status).toBe(503);
    expect(calls503).toBe(3);
    expect(await only()).toMatchObject({ flagString: 'URX', details: 'via_upstream', attempts: 3, responseCode: 503 });
  });

  it('circuit breaker overflow: UO', async () => {
    const answers = await Promise.all([get('/limited'), get('/limited'), get('/limited')]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 503]);
    await expect.poll(() => records.length).toBe(3);
    const overflow = records.find((r) => r.responseCode === 503)!;
    expect(overflow.flagString).toBe('UO');
    expect(overflow.details).toBe('upstream_reset_before_response_started{overflow}');
  });

  it('the client goes away before the answer: DC', async () => {
    await new Promise<void>((resolve) => {
      const s = net.connect(gw.port(), '127.0.0.1', () => {
        s.write('GET /hang HTTP/1.1\r\nHost: app.example.com\r\n\r\n');
        setTimeout(() => s.destroy(), 50);
      });
      s.on('close', () => resolve());
    });
    const r = await only();
    expect(r.flagString).toBe('DC');
    expect(r.responseCode).toBe(0);
    expect(r.details).toBe('downstream_remote_disconnect');
  });

  it('requests the connection manager refuses: missing Host (DPE), HTTP/1.0 (426), CONNECT (403), a malformed request (DPE)', async () => {
    await rawRequest(gw.port(), 'GET /ok HTTP/1.1\r\n\r\n');
    await rawRequest(gw.port(), 'GET /ok HTTP/1.0\r\nHost: app.example.com\r\n\r\n');
    await rawRequest(gw.port(), 'CONNECT app.example.com:443 HTTP/1.1\r\nHost: app.example.com:443\r\n\r\n');
    await rawRequest(gw.port(), 'GET /ok HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n');
    await expect.poll(() => records.length).toBe(4);
    expect(records.map((r) => [r.responseCode, r.flagString, r.details])).toEqual([
      [400, 'DPE', 'missing_host_header'],
      [426, '-', 'low_version'],
      [403, '-', 'connect_not_allowed'],
      [400, 'DPE', 'codec_error'],
    ]);
  });
});

describe('a tunnel is one record for the life of the connection', () => {
  it('a WebSocket: code 101, upgraded, bytes both ways, emitted when the connection closes', async () => {
    const sock = net.connect(gw.port(), '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('GET /ws HTTP/1.1\r\nHost: app.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    await expect.poll(() => got.includes('\r\n\r\n')).toBe(true);
    sock.write('0123456789');
    await expect.poll(() => got.endsWith('0123456789')).toBe(true);
    expect(records).toEqual([]);
    sock.end();
    const r = await only();
    expect(r).toMatchObject({ responseCode: 101, upgraded: true, details: 'via_upstream', bytesReceived: 10, bytesSent: 10 });
    expect(r.flagString).toBe('-');
  });
});

describe('exactly one end event per stream', () => {
  it('50 mixed requests on keep-alive connections give 50 records', async () => {
    const paths = ['/ok', '/nowhere', '/direct', '/abort', '/empty'];
    await Promise.all(Array.from({ length: 50 }, (_, i) => request({ port: gw.port(), path: paths[i % paths.length], headers: { host: 'app.example.com' } })));
    await new Promise((r) => setTimeout(r, 50));
    expect(records).toHaveLength(50);
  });
});
