import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { ProxyAgent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamRecord } from '../../src/http/stream-record.js';
import { createDevCa, issueServerCert, type Pem } from '../../src/tls/dev-certs.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { deadPort } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

// The egress side end to end: the forward proxy on the mesh listener (--mesh-listen, what
// HTTP_PROXY/HTTPS_PROXY point at) and on egress gateways (a Gateway whose selector is
// `istio: egressgateway`), gated by the service registry as Istio's REGISTRY_ONLY outbound
// policy gates a sidecar. The "external" services are real HTTPS servers on 127.0.0.1 with
// certificates from a CA of their own, which the gateway never holds: a client that verifies
// them through a CONNECT tunnel or a TLS passthrough talked TLS with the service itself.
// Clients are the real ones: curl (-x, HTTPS_PROXY, --connect-to), undici's ProxyAgent, and raw
// sockets where the bytes matter. Refusals are checked at both ends: the answer (403 for
// CONNECT, 502 for plain HTTP), the log line naming host and port, and a listener behind that
// must see no connection at all.
//
// ALLOW_ANY is tested only through its refusals (loopback and link-local targets stay refused,
// with the reason changed): the only address every test machine has is loopback, so an
// undeclared host the proxy would reach does not exist here.

type Doc = Record<string, unknown>;

const API = 'api.external.test';
const CONNECT_FAILURE = 'upstream connect error or disconnect/reset before headers. reset reason: connection failure';
const TLS_VERIFY_FAILED = `${CONNECT_FAILURE}, transport failure reason: TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end`;

const yaml = (docs: Doc[]) => docs.map((d) => JSON.stringify(d)).join('\n---\n') + '\n';
const slug = (s: string) => s.replace(/[^a-z0-9]/g, '-');
const noop = () => undefined;

// ---------------------------------------------------------------------------------------
// Certificates: the external services' own CA (the gateway is told of it only where a
// DestinationRule originates TLS), and a CA nobody trusts.

let pemDir = '';
let caPath = '';
let externalCa: Pem;
let apiPem: Pem;
let roguePem: Pem;

beforeAll(() => {
  externalCa = createDevCa({ commonName: 'external services CA' });
  apiPem = issueServerCert(externalCa, [API]);
  roguePem = issueServerCert(createDevCa({ commonName: 'a CA nobody trusts' }), ['untrusted.external.test']);
  pemDir = mkdtempSync(path.join(os.tmpdir(), 'meshgate-egress-'));
  caPath = path.join(pemDir, 'external-ca.pem');
  writeFileSync(caPath, externalCa.cert, { mode: 0o600 });
});

afterAll(() => {
  if (pemDir) rmSync(pemDir, { recursive: true, force: true });
});

/** Things one describe block started, closed in its afterAll, last first. */
function cleanupScope(): (close: () => Promise<unknown>) => void {
  const list: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of list.reverse()) await c().catch(noop);
  });
  return (close) => void list.push(close);
}

// ---------------------------------------------------------------------------------------
// Upstreams.

interface HttpsSeen {
  url: string;
  host: string | undefined;
  servername: string | false | undefined;
}

/** A real HTTPS server: `hello from NAME URL`, and what it saw (path, Host, SNI). */
interface HttpsUpstream {
  name: string;
  port: number;
  seen: HttpsSeen[];
  /** TCP connections accepted (a handshake that fails still counts). */
  connections: number;
  tlsErrors: string[];
  close(): Promise<void>;
}

async function startHttpsUpstream(name: string, pem: Pem): Promise<HttpsUpstream> {
  const seen: HttpsSeen[] = [];
  const tlsErrors: string[] = [];
  const sockets = new Set<net.Socket>();
  const state = { connections: 0 };
  const server = https.createServer({ cert: pem.cert, key: pem.key }, (req, res) => {
    const sock = req.socket as tls.TLSSocket & { servername?: string | false };
    seen.push({ url: req.url ?? '', host: req.headers.host, servername: sock.servername });
    const body = `hello from ${name} ${req.url ?? ''}`;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-upstream': name });
      res.end(body);
    });
  });
  server.on('connection', (s: net.Socket) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', (e: Error) => tlsErrors.push(e.message));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    seen,
    get connections() {
      return state.connections;
    },
    tlsErrors,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** A listener that must stay untouched: it counts the connections it accepts. */
interface Counter {
  port: number;
  connections: number;
  close(): Promise<void>;
}

async function startCounter(): Promise<Counter> {
  const state = { connections: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', noop);
    s.end('counted\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

const GREETING = 'hello from the tcp upstream\n';

/** One connection a TCP echo upstream accepted. */
interface EchoConn {
  bytes: number;
  sawEnd: boolean;
  isClosed: boolean;
  closed: Promise<void>;
}

/**
 * A plain TCP upstream (half-open allowed): greets each connection unasked, echoes what it
 * receives, destroys the connection on `CLOSE`, and when the client ends its side answers
 * `bye after N bytes` and ends its own.
 */
interface TcpEcho {
  port: number;
  conns: EchoConn[];
  /** The next connection it accepts. */
  next(): Promise<EchoConn>;
  close(): Promise<void>;
}

async function startTcpEcho(): Promise<TcpEcho> {
  const conns: EchoConn[] = [];
  const sockets = new Set<net.Socket>();
  const events = new EventEmitter();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', noop);
    let onClose!: () => void;
    const c: EchoConn = { bytes: 0, sawEnd: false, isClosed: false, closed: new Promise<void>((r) => (onClose = r)) };
    s.on('close', () => {
      sockets.delete(s);
      c.isClosed = true;
      onClose();
    });
    conns.push(c);
    events.emit('conn', c);
    s.write(GREETING);
    s.on('data', (d: Buffer) => {
      c.bytes += d.length;
      if (d.includes('CLOSE')) return void s.destroy();
      s.write(d);
    });
    s.on('end', () => {
      c.sawEnd = true;
      s.end(`bye after ${c.bytes} bytes\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    conns,
    next: () => new Promise<EchoConn>((r) => events.once('conn', r)),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

// ---------------------------------------------------------------------------------------
// Clients.

interface CurlResult {
  /** curl's exit code (0: the transfer worked). */
  exit: number;
  /** %{http_code}: the final answer's status, 0 when there was none. */
  status: number;
  /** %{http_connect}: the proxy's answer to CONNECT, 0 when none was sent. */
  connectStatus: number;
  body: string;
  stderr: string;
}

/** Runs curl with only PATH (and `env`) in its environment, so no proxy setting of the host leaks in. */
function curl(args: string[], env: Record<string, string> = {}): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sS', '--max-time', '20', '-w', '\n%{http_code} %{http_connect}', ...args],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } },
      (err, stdout, stderr) => {
        const i = stdout.lastIndexOf('\n');
        const [status, connect] = stdout.slice(i + 1).split(' ');
        const code = err === null ? 0 : (err as { code?: unknown }).code;
        resolve({ exit: typeof code === 'number' ? code : -1, status: Number(status), connectStatus: Number(connect), body: stdout.slice(0, Math.max(i, 0)), stderr });
      },
    );
  });
}

function curlSays(r: CurlResult): string {
  return `curl exit ${r.exit}, status ${r.status}, CONNECT answer ${r.connectStatus}, body ${JSON.stringify(r.body.slice(0, 300))}, stderr ${JSON.stringify(r.stderr.trim())}`;
}

/** A raw client connection: every byte it receives, and whether the other side ended or closed it. */
class Conn {
  private buf = Buffer.alloc(0);
  private offset = 0;
  private readonly events = new EventEmitter();
  sawEnd = false;
  isClosed = false;
  readonly closed: Promise<void>;

  constructor(readonly socket: net.Socket) {
    this.events.setMaxListeners(100);
    let onClose!: () => void;
    this.closed = new Promise<void>((r) => (onClose = r));
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.events.emit('update');
    });
    socket.on('end', () => {
      this.sawEnd = true;
      this.events.emit('update');
    });
    socket.on('error', noop);
    socket.on('close', () => {
      this.isClosed = true;
      onClose();
      this.events.emit('update');
    });
  }

  /** What arrived after the proxy's answer head (everything, before the head is taken). */
  received(): Buffer {
    return this.buf.subarray(this.offset);
  }

  text(): string {
    return this.received().toString('latin1');
  }

  /** Resolves once `cond` holds; rejects if the connection closes first. */
  until(cond: () => boolean, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (cond()) {
          this.events.off('update', check);
          resolve();
        } else if (this.isClosed) {
          this.events.off('update', check);
          reject(new Error(`the connection closed before ${what}; it received ${JSON.stringify(this.text().slice(0, 300))}`));
        }
      };
      this.events.on('update', check);
      check();
    });
  }

  /** Takes the answer head off the front: what follows is the tunnel's (or the answer's body). */
  async takeHead(): Promise<{ statusLine: string; head: string }> {
    await this.until(() => this.buf.includes('\r\n\r\n'), 'an answer head');
    const end = this.buf.indexOf('\r\n\r\n');
    const head = this.buf.subarray(0, end).toString('latin1');
    this.offset = end + 4;
    return { statusLine: head.split('\r\n')[0] ?? '', head: head.toLowerCase() };
  }
}

function dial(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => resolve(new Conn(s)));
    s.once('error', reject);
  });
}

/** Sends `CONNECT target` (or any raw request head) and reads the answer head. */
async function proxyConnect(port: number, target: string): Promise<{ statusLine: string; head: string; conn: Conn }> {
  const conn = await dial(port);
  conn.socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nUser-Agent: egress-test\r\n\r\n`);
  return { ...(await conn.takeHead()), conn };
}

/** A whole raw exchange on a fresh connection: the status line, head and body of the answer. */
async function rawExchange(port: number, requestText: string): Promise<{ statusLine: string; head: string; body: string }> {
  const conn = await dial(port);
  conn.socket.write(requestText);
  const h = await conn.takeHead();
  const len = /\r\ncontent-length: *(\d+)/.exec(`\r\n${h.head}`);
  if (len !== null) await conn.until(() => conn.received().length >= Number(len[1]), 'the whole body');
  else await conn.closed;
  conn.socket.destroy();
  return { ...h, body: conn.text() };
}

/** Absolute-form GET through a forward proxy (what curl and HTTP_PROXY clients send). */
function proxyGet(port: number, url: string): Promise<{ statusLine: string; head: string; body: string }> {
  const u = new URL(url);
  return rawExchange(port, `GET ${url} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: egress-test\r\nConnection: close\r\n\r\n`);
}

// ---------------------------------------------------------------------------------------
// Config: Istio objects as JSON documents (JSON is YAML).

interface SePort {
  number: number;
  name: string;
  protocol: string;
}

interface SeOptions {
  name?: string;
  resolution?: 'STATIC' | 'DNS' | 'NONE';
  /** STATIC: one endpoint, 127.0.0.1, with these ports by port name. */
  endpointPorts?: Record<string, number>;
  addresses?: string[];
}

function serviceEntry(host: string, ports: SePort[], o: SeOptions = {}): Doc {
  const resolution = o.resolution ?? (o.endpointPorts ? 'STATIC' : 'NONE');
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: o.name ?? slug(host), namespace: 'default' },
    spec: {
      hosts: [host],
      location: 'MESH_EXTERNAL',
      resolution,
      ports,
      ...(o.addresses ? { addresses: o.addresses } : {}),
      ...(o.endpointPorts ? { endpoints: [{ address: '127.0.0.1', ports: o.endpointPorts }] } : {}),
    },
  };
}

const httpPort = (number = 80): SePort => ({ number, name: 'http', protocol: 'HTTP' });
const tlsPort = (number = 443): SePort => ({ number, name: 'https', protocol: 'TLS' });
const tcpPort = (number: number): SePort => ({ number, name: 'tcp', protocol: 'TCP' });

/** DestinationRule: TLS origination (SIMPLE, the external CA) on port 80 only. */
function originateOn80(host: string): Doc {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: slug(host), namespace: 'default' },
    spec: { host, trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'SIMPLE', caCertificates: caPath } }] } },
  };
}

/** Istio's egress gateway: selector istio: egressgateway, HTTP on 80 (the forward proxy), optionally TLS passthrough on 443. */
function egressGateway(passthroughHosts: string[] = []): Doc {
  const servers: Doc[] = [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }];
  if (passthroughHosts.length > 0) servers.push({ port: { number: 443, name: 'tls', protocol: 'TLS' }, hosts: passthroughHosts, tls: { mode: 'PASSTHROUGH' } });
  return { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'istio-egressgateway', namespace: 'default' }, spec: { selector: { istio: 'egressgateway' }, servers } };
}

const ingressGateway: Doc = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { name: 'ingress', namespace: 'default' },
  spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] },
};

function sidecar(spec: Doc): Doc {
  return { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'istio-system' }, spec };
}

interface EgressGateway extends TestGateway {
  /** Local port of the mesh listener (what HTTP_PROXY points at). */
  mesh: number;
}

/** The gateway with a mesh listener on 127.0.0.1 and the egress gateway's ports, logging into `lines`. */
async function startEgress(docs: Doc[], track: (c: () => Promise<unknown>) => void, gatewayPorts = [80]): Promise<EgressGateway> {
  const gw = await startGateway({ 'egress.yaml': yaml(docs) }, { meshListen: { host: '127.0.0.1', port: 0 }, gatewayPorts, keepLog: true });
  track(() => gw.stop());
  return Object.assign(gw, { mesh: gw.gateway.addressOf(0).port });
}

/** The refusal line for host:port, if the gateway logged one. */
function refusalLine(gw: TestGateway, host: string, port: number): string | undefined {
  return gw.lines.find((l) => l.includes(`egress refused: ${host}:${port} from 127.0.0.1: `));
}

async function expectRefusalLogged(gw: TestGateway, host: string, port: number, reason: RegExp): Promise<string> {
  await waitFor(() => refusalLine(gw, host, port) !== undefined, 2000);
  const line = refusalLine(gw, host, port);
  expect(line, `no "egress refused: ${host}:${port}" line; the log:\n${gw.lines.join('\n')}`).toBeDefined();
  expect(line!).toMatch(reason);
  expect(line!).toContain('nothing was connected');
  return line!;
}

function recordStreams(gw: TestGateway): StreamRecord[] {
  const out: StreamRecord[] = [];
  gw.gateway.onStreamEnd((r) => out.push(r));
  return out;
}

// ---------------------------------------------------------------------------------------

describe('a declared external HTTPS service, reached every way a workload reaches it', () => {
  const track = cleanupScope();
  let gw: EgressGateway;
  let api: HttpsUpstream;
  let untrusted: HttpsUpstream;
  let mismatch: HttpsUpstream;

  beforeAll(async () => {
    api = await startHttpsUpstream('api', apiPem);
    track(() => api.close());
    // A certificate from a CA the gateway is not told about.
    untrusted = await startHttpsUpstream('untrusted', roguePem);
    track(() => untrusted.close());
    // A certificate from the trusted CA, for another name (api.external.test).
    mismatch = await startHttpsUpstream('mismatch', apiPem);
    track(() => mismatch.close());
    gw = await startEgress(
      [
        // Port 443 for the tunnels and the passthrough, port 80 for plain HTTP with TLS origination:
        // both go to the service's one TLS port.
        serviceEntry(API, [tlsPort(443), httpPort(80)], { endpointPorts: { https: api.port, http: api.port } }),
        originateOn80(API),
        serviceEntry('untrusted.external.test', [httpPort(80)], { endpointPorts: { http: untrusted.port } }),
        originateOn80('untrusted.external.test'),
        serviceEntry('mismatch.external.test', [httpPort(80)], { endpointPorts: { http: mismatch.port } }),
        originateOn80('mismatch.external.test'),
        egressGateway([API]),
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'api-through-egress-gateway', namespace: 'default' },
          spec: {
            hosts: [API],
            gateways: ['istio-egressgateway'],
            tls: [{ match: [{ gateways: ['istio-egressgateway'], port: 443, sniHosts: [API] }], route: [{ destination: { host: API, port: { number: 443 } }, weight: 100 }] }],
          },
        },
        ingressGateway,
      ],
      track,
      [80, 443, 8080],
    );
  });

  /** The answer came from the service itself, over TLS the client verified against the service's CA, with SNI API. */
  function expectServed(status: number, body: string, url: string, says: string): void {
    expect(status, says).toBe(200);
    expect(body, says).toBe(`hello from api ${url}`);
    const s = api.seen.find((x) => x.url === url);
    expect(s, says).toBeDefined();
    expect(s!.servername).toBe(API);
    expect(s!.host).toBe(API);
  }

  it('curl -x http://MESH --cacert CA https://api.external.test/: a CONNECT tunnel to the service', async () => {
    const r = await curl(['-x', `http://127.0.0.1:${gw.mesh}`, '--cacert', caPath, `https://${API}/curl-x`]);
    expect(r.connectStatus, curlSays(r)).toBe(200);
    expectServed(r.status, r.body, '/curl-x', curlSays(r));
  });

  it('curl with HTTPS_PROXY=http://MESH in its environment', async () => {
    const r = await curl(['--cacert', caPath, `https://${API}/https-proxy-env`], { HTTPS_PROXY: `http://127.0.0.1:${gw.mesh}` });
    expect(r.connectStatus, curlSays(r)).toBe(200);
    expectServed(r.status, r.body, '/https-proxy-env', curlSays(r));
  });

  it("a Node client through undici's ProxyAgent", async () => {
    const dispatcher = new ProxyAgent({ uri: `http://127.0.0.1:${gw.mesh}`, requestTls: { ca: externalCa.cert } });
    track(() => dispatcher.close());
    const res = await undiciRequest(`https://${API}/undici`, { dispatcher });
    const body = await res.body.text();
    expect(res.headers['x-upstream']).toBe('api');
    expectServed(res.statusCode, body, '/undici', `undici: ${res.statusCode} ${body}`);
  });

  it("CONNECT through the egress gateway's HTTP server (curl -x http://EGRESS:80)", async () => {
    const r = await curl(['-x', `http://127.0.0.1:${gw.port(80)}`, '--cacert', caPath, `https://${API}/egress-gateway-connect`]);
    expect(r.connectStatus, curlSays(r)).toBe(200);
    expectServed(r.status, r.body, '/egress-gateway-connect', curlSays(r));
  });

  it("TLS passthrough on the egress gateway's 443, routed by SNI to the ServiceEntry host", async () => {
    const r = await curl(['--connect-to', `${API}:443:127.0.0.1:${gw.port(443)}`, '--cacert', caPath, `https://${API}/passthrough`]);
    expect(r.exit, curlSays(r)).toBe(0);
    expectServed(r.status, r.body, '/passthrough', curlSays(r));
  });

  it('TLS origination: plain http:// in through the mesh listener (absolute form), HTTPS out (DestinationRule SIMPLE)', async () => {
    const before = api.seen.length;
    const r = await curl(['-x', `http://127.0.0.1:${gw.mesh}`, `http://${API}/originated`]);
    // No CONNECT: curl sends GET http://api.external.test/originated to the proxy.
    expect(r.connectStatus, curlSays(r)).toBe(0);
    expectServed(r.status, r.body, '/originated', curlSays(r));
    expect(api.seen.length).toBe(before + 1);
  });

  it('TLS origination to a certificate from an untrusted CA: 503 with Envoy\'s CERTIFICATE_VERIFY_FAILED text, nothing reaches the service', async () => {
    const r = await curl(['-x', `http://127.0.0.1:${gw.mesh}`, 'http://untrusted.external.test/untrusted']);
    expect(r.status, curlSays(r)).toBe(503);
    expect(r.body, curlSays(r)).toBe(TLS_VERIFY_FAILED);
    expect(untrusted.seen).toEqual([]);
  });

  it("TLS origination to a trusted certificate for another name (SAN mismatch): the same 503", async () => {
    const r = await curl(['-x', `http://127.0.0.1:${gw.mesh}`, 'http://mismatch.external.test/mismatch']);
    expect(r.status, curlSays(r)).toBe(503);
    expect(r.body, curlSays(r)).toBe(TLS_VERIFY_FAILED);
    expect(mismatch.seen).toEqual([]);
  });

  it("CONNECT to a declared host whose endpoint refuses connections: 503 with Envoy's connection-failure text", async () => {
    const dead = await deadPort();
    const gw2 = await startEgress([serviceEntry('down.external.test', [tlsPort(443)], { endpointPorts: { https: dead } })], track);
    const { statusLine, conn } = await proxyConnect(gw2.mesh, 'down.external.test:443');
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 503 Service Unavailable');
    expect(conn.text()).toBe(CONNECT_FAILURE);
  });

  it('CONNECT on an ingress gateway (no egressgateway selector) is still 403, and nothing is connected', async () => {
    const before = api.connections;
    const { statusLine, head, conn } = await proxyConnect(gw.port(8080), `${API}:443`);
    conn.socket.destroy();
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(head).toContain('\r\nserver: istio-envoy');
    expect(api.connections).toBe(before);
  });

  it.each([
    ['no port', API],
    ['port 0', `${API}:0`],
    ['port out of range', `${API}:70000`],
    ['a URL', `http://${API}:443/`],
    ['userinfo', `user@${API}:443`],
    ['a path after the port', `${API}:443/x`],
  ])('a malformed CONNECT target (%s) is a 400, nothing connected', async (_what, target) => {
    const before = api.connections;
    const { statusLine, conn } = await proxyConnect(gw.mesh, target);
    conn.socket.destroy();
    expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
    expect(api.connections).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------

describe('tunnel bytes', () => {
  const track = cleanupScope();
  let gw: EgressGateway;
  let echo: TcpEcho;
  const target = 'tcp.external.test:9000';

  beforeAll(async () => {
    echo = await startTcpEcho();
    track(() => echo.close());
    gw = await startEgress([serviceEntry('tcp.external.test', [tcpPort(9000)], { endpointPorts: { tcp: echo.port } })], track);
  });

  async function openTunnel(): Promise<{ conn: Conn; up: EchoConn }> {
    const next = echo.next();
    const { statusLine, conn } = await proxyConnect(gw.mesh, target);
    expect(statusLine).toBe('HTTP/1.1 200 Connection established');
    const up = await next;
    // Upstream to client, unasked.
    await conn.until(() => conn.text() === GREETING, 'the greeting');
    return { conn, up };
  }

  it('carries bytes both ways, unchanged (1 MiB there and back)', async () => {
    const records = recordStreams(gw);
    const { conn, up } = await openTunnel();
    const payload = randomBytes(1024 * 1024);
    conn.socket.write(payload);
    await conn.until(() => conn.received().length >= GREETING.length + payload.length, 'the echo of 1 MiB');
    const back = conn.received().subarray(GREETING.length);
    expect(back.length).toBe(payload.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(up.bytes).toBe(payload.length);
    conn.socket.destroy();
    await up.closed;
    expect(await waitFor(() => records.some((r) => r.method === 'CONNECT'))).toBe(true);
    const rec = records.find((r) => r.method === 'CONNECT')!;
    expect(rec.listener).toBe('mesh');
    expect(rec.authority).toBe(target);
    expect(rec.responseCode).toBe(200);
    expect(rec.upstreamHost).toBe(`127.0.0.1:${echo.port}`);
  });

  it("the client's end reaches the upstream, and the upstream's last words and close reach the client", async () => {
    const { conn, up } = await openTunnel();
    conn.socket.write('ping\n');
    await conn.until(() => conn.text().endsWith('ping\n'), 'the echo');
    conn.socket.end();
    await up.closed;
    expect(up.sawEnd).toBe(true);
    await conn.until(() => conn.text().includes('bye after 5 bytes\n'), "the upstream's answer to the end");
    await conn.closed;
    expect(conn.sawEnd).toBe(true);
  });

  it('a client that goes away closes the upstream connection', async () => {
    const { conn, up } = await openTunnel();
    conn.socket.destroy();
    await up.closed;
    expect(up.isClosed).toBe(true);
  });

  it('an upstream that closes closes the client connection', async () => {
    const { conn, up } = await openTunnel();
    conn.socket.write('CLOSE\n');
    await up.closed;
    await conn.closed;
    expect(conn.isClosed).toBe(true);
  });
});

describe('draining', () => {
  const track = cleanupScope();

  it('stop(deadline) closes open tunnels by the deadline, both sides', async () => {
    const echo = await startTcpEcho();
    track(() => echo.close());
    const gw = await startGateway(
      { 'egress.yaml': yaml([serviceEntry('tcp.external.test', [tcpPort(9000)], { endpointPorts: { tcp: echo.port } })]) },
      { meshListen: { host: '127.0.0.1', port: 0 }, gatewayPorts: [80] },
    );
    track(() => rm(gw.dir, { recursive: true, force: true }));
    const next = echo.next();
    const { statusLine, conn } = await proxyConnect(gw.gateway.addressOf(0).port, 'tcp.external.test:9000');
    expect(statusLine).toBe('HTTP/1.1 200 Connection established');
    const up = await next;
    await conn.until(() => conn.text() === GREETING, 'the greeting');
    // A tunnel that stays open (not idle: it just carried bytes), through the drain.
    await gw.gateway.stop(300);
    await conn.closed;
    await up.closed;
    expect(conn.isClosed).toBe(true);
    expect(up.isClosed).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------
// Refusals. Each test has a gateway of its own: refusal lines are limited to one a second.

describe('refusals: nothing is forwarded, the answer is 403 (CONNECT) or 502 (plain HTTP), a log line names host and port', () => {
  const track = cleanupScope();
  let counter: Counter;
  let api: HttpsUpstream;

  beforeAll(async () => {
    counter = await startCounter();
    track(() => counter.close());
    api = await startHttpsUpstream('api', apiPem);
    track(() => api.close());
  });

  /** api.external.test declared on 443, its endpoint the service. */
  const declared = () => serviceEntry(API, [tlsPort(443)], { endpointPorts: { https: api.port } });

  it.each([
    ['an undeclared name', 'undeclared.external.test', 443],
    ['an undeclared address (the counting listener itself)', '127.0.0.1', -1],
  ])('CONNECT to %s: 403, one log line, nothing connected', async (_what, host, p) => {
    const port = p === -1 ? counter.port : p;
    const gw = await startEgress([declared()], track);
    const before = { counter: counter.connections, api: api.connections };
    const { statusLine, head, conn } = await proxyConnect(gw.mesh, `${host}:${port}`);
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(head).toContain('\r\nserver: istio-envoy');
    expect(counter.connections).toBe(before.counter);
    expect(api.connections).toBe(before.api);
    await expectRefusalLogged(gw, host, port, new RegExp(`no ServiceEntry declares ${host.replace(/\./g, '\\.')} port ${port}`));
  });

  it('curl -x to an undeclared name fails on the 403 CONNECT answer', async () => {
    const gw = await startEgress([declared()], track);
    const r = await curl(['-x', `http://127.0.0.1:${gw.mesh}`, '--cacert', caPath, 'https://undeclared.external.test/']);
    expect(r.connectStatus, curlSays(r)).toBe(403);
    expect(r.exit, curlSays(r)).not.toBe(0);
    await expectRefusalLogged(gw, 'undeclared.external.test', 443, /no ServiceEntry declares undeclared\.external\.test port 443/);
  });

  it('CONNECT on the egress gateway to an undeclared name: 403 and a log line', async () => {
    const gw = await startEgress([declared(), egressGateway()], track);
    const { statusLine, conn } = await proxyConnect(gw.port(80), 'undeclared.external.test:443');
    conn.socket.destroy();
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    await expectRefusalLogged(gw, 'undeclared.external.test', 443, /no ServiceEntry declares/);
  });

  it('plain HTTP (absolute form) to an undeclared address: 502, one log line, nothing connected', async () => {
    const gw = await startEgress([declared()], track);
    const before = counter.connections;
    const a = await proxyGet(gw.mesh, `http://127.0.0.1:${counter.port}/`);
    expect(a.statusLine).toBe('HTTP/1.1 502 Bad Gateway');
    expect(counter.connections).toBe(before);
    await expectRefusalLogged(gw, '127.0.0.1', counter.port, new RegExp(`no ServiceEntry declares 127\\.0\\.0\\.1 port ${counter.port}`));
  });

  it('plain HTTP (absolute form) to an undeclared name: 502 and a log line', async () => {
    const gw = await startEgress([declared()], track);
    const a = await proxyGet(gw.mesh, 'http://undeclared.external.test/x');
    expect(a.statusLine).toBe('HTTP/1.1 502 Bad Gateway');
    await expectRefusalLogged(gw, 'undeclared.external.test', 80, /no ServiceEntry declares undeclared\.external\.test port 80/);
  });

  // `localhost` declared (with the address it resolves to named in the entry) on one port:
  // without the port check, a request for another port would go straight to the counting listener.
  const localhostOn = (port: number) => serviceEntry('localhost', [{ number: port, name: 'tcp', protocol: 'TCP' }], { addresses: ['127.0.0.1'] });

  it('CONNECT to a declared name on an undeclared port: 403, one log line, nothing connected', async () => {
    const gw = await startEgress([localhostOn(counter.port + 1 > 65535 ? counter.port - 1 : counter.port + 1)], track);
    const before = counter.connections;
    const { statusLine, conn } = await proxyConnect(gw.mesh, `localhost:${counter.port}`);
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(counter.connections).toBe(before);
    // The entry declares the name, so the line says which ports it does declare.
    await expectRefusalLogged(gw, 'localhost', counter.port, new RegExp(`ServiceEntry \\S+ declares localhost on port\\(s\\) \\d+, not ${counter.port}`));
  });

  it('the same entry on the port asked for: the tunnel opens (control for the test above)', async () => {
    const gw = await startEgress([localhostOn(counter.port)], track);
    const before = counter.connections;
    const { statusLine, conn } = await proxyConnect(gw.mesh, `localhost:${counter.port}`);
    expect(statusLine).toBe('HTTP/1.1 200 Connection established');
    await conn.until(() => conn.text() === 'counted\n', "the counting listener's line");
    conn.socket.destroy();
    expect(counter.connections).toBe(before + 1);
  });

  it('plain HTTP to a declared host on an undeclared port: 502, one log line, nothing connected', async () => {
    const gw = await startEgress([serviceEntry('plain.external.test', [httpPort(80)], { endpointPorts: { http: counter.port } })], track);
    const before = counter.connections;
    const a = await proxyGet(gw.mesh, 'http://plain.external.test:8081/');
    expect(a.statusLine).toBe('HTTP/1.1 502 Bad Gateway');
    expect(counter.connections).toBe(before);
    await expectRefusalLogged(gw, 'plain.external.test', 8081, /ServiceEntry \S+ declares plain\.external\.test on port\(s\) 80, not 8081/);
  });

  it('CONNECT to a declared name that resolves to loopback (resolution NONE, no address named): 403, a log line saying so, nothing connected', async () => {
    const gw = await startEgress([serviceEntry('localhost', [tcpPort(counter.port)])], track);
    const before = counter.connections;
    const { statusLine, conn } = await proxyConnect(gw.mesh, `localhost:${counter.port}`);
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(counter.connections).toBe(before);
    const line = await expectRefusalLogged(gw, 'localhost', counter.port, /resolves to 127\.0\.0\.1/);
    expect(line).toMatch(/loopback/);
  });

  it('CONNECT to a name resolving to loopback (resolution DNS): 403, a log line, nothing connected', async () => {
    const gw = await startEgress([serviceEntry('localhost', [tcpPort(counter.port)], { resolution: 'DNS' })], track);
    const before = counter.connections;
    const { statusLine, conn } = await proxyConnect(gw.mesh, `localhost:${counter.port}`);
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(counter.connections).toBe(before);
    await expectRefusalLogged(gw, 'localhost', counter.port, /loopback/);
  });

  it('plain HTTP to a declared name that resolves to loopback (resolution DNS): 502, a log line, nothing connected', async () => {
    const gw = await startEgress([serviceEntry('localhost', [httpPort(counter.port)], { resolution: 'DNS' })], track);
    const before = counter.connections;
    const a = await proxyGet(gw.mesh, `http://localhost:${counter.port}/`);
    expect(counter.connections).toBe(before);
    expect(a.statusLine, `answer ${a.statusLine} ${JSON.stringify(a.body)}`).toBe('HTTP/1.1 502 Bad Gateway');
    await expectRefusalLogged(gw, 'localhost', counter.port, /loopback/);
  });

  it("another ServiceEntry naming 127.0.0.1 does not lift the guard for this one's name", async () => {
    const gw = await startEgress(
      [
        serviceEntry('localhost', [tcpPort(counter.port)]),
        // Names 127.0.0.1 itself, for its own host only.
        serviceEntry('other.external.test', [tlsPort(443)], { endpointPorts: { https: api.port } }),
      ],
      track,
    );
    const before = counter.connections;
    const { statusLine, conn } = await proxyConnect(gw.mesh, `localhost:${counter.port}`);
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(counter.connections).toBe(before);
    await expectRefusalLogged(gw, 'localhost', counter.port, /loopback/);
  });

  it('the entry that names the loopback address itself (addresses) does reach it', async () => {
    const gw = await startEgress([serviceEntry('localhost', [tcpPort(counter.port)], { addresses: ['127.0.0.1'] })], track);
    const before = counter.connections;
    const { statusLine, conn } = await proxyConnect(gw.mesh, `localhost:${counter.port}`);
    expect(statusLine).toBe('HTTP/1.1 200 Connection established');
    await conn.until(() => conn.text() === 'counted\n', "the counting listener's line");
    conn.socket.destroy();
    expect(counter.connections).toBe(before + 1);
    expect(refusalLine(gw, 'localhost', counter.port)).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------

describe("CONNECT to the gateway's own ports is refused even when declared", () => {
  const track = cleanupScope();

  type Own = 'mesh listener' | 'egress gateway port 80' | 'status port' | 'admin port';
  const ownPort = (gw: EgressGateway, which: Own): number => {
    switch (which) {
      case 'mesh listener':
        return gw.mesh;
      case 'egress gateway port 80':
        return gw.port(80);
      case 'status port':
        return gw.gateway.statusAddress!.port;
      case 'admin port':
        return gw.gateway.adminAddress!.port;
    }
  };

  /** A gateway with an egress gateway on 80, then a ServiceEntry (added by reload) whose endpoint is one of its own ports. */
  async function declaringOwnPort(which: Own, entry: (port: number) => Doc): Promise<{ gw: EgressGateway; port: number; records: StreamRecord[] }> {
    const gw = await startEgress([egressGateway()], track);
    const port = ownPort(gw, which);
    await writeFile(path.join(gw.dir, 'self.yaml'), yaml([entry(port)]));
    expect(await gw.gateway.reload(), gw.lines.join('\n')).toBe(true);
    return { gw, port, records: recordStreams(gw) };
  }

  it.each<Own>(['mesh listener', 'egress gateway port 80', 'status port', 'admin port'])(
    'a STATIC endpoint 127.0.0.1 on the %s: 403 and a log line',
    async (which) => {
      const { gw, records } = await declaringOwnPort(which, (port) => serviceEntry('self.external.test', [tcpPort(9000)], { endpointPorts: { tcp: port } }));
      const { statusLine, conn } = await proxyConnect(gw.mesh, 'self.external.test:9000');
      await conn.closed;
      expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
      await expectRefusalLogged(gw, 'self.external.test', 9000, /own port/);
      // Only the refused CONNECT: no stream came back into the gateway through a tunnel.
      expect(await waitFor(() => records.length >= 1)).toBe(true);
      expect(records.map((r) => `${r.method} ${r.responseCode}`)).toEqual(['CONNECT 403']);
    },
  );

  it('a name whose entry names 127.0.0.1 itself, on the mesh listener port (resolution NONE): 403 and a log line', async () => {
    const { gw, port, records } = await declaringOwnPort('mesh listener', (p) => serviceEntry('localhost', [tcpPort(p)], { addresses: ['127.0.0.1'] }));
    const { statusLine, conn } = await proxyConnect(gw.mesh, `localhost:${port}`);
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    await expectRefusalLogged(gw, 'localhost', port, /own port/);
    expect(records.map((r) => `${r.method} ${r.responseCode}`)).toEqual(['CONNECT 403']);
  });

  it('through the egress gateway, to the mesh listener: 403 and a log line', async () => {
    const { gw } = await declaringOwnPort('mesh listener', (port) => serviceEntry('self.external.test', [tcpPort(9000)], { endpointPorts: { tcp: port } }));
    const { statusLine, conn } = await proxyConnect(gw.port(80), 'self.external.test:9000');
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    await expectRefusalLogged(gw, 'self.external.test', 9000, /own port/);
  });
});

// ---------------------------------------------------------------------------------------

describe('Sidecar in istio-system: outboundTrafficPolicy ALLOW_ANY and egress.hosts', () => {
  const track = cleanupScope();
  let counter: Counter;
  let api: HttpsUpstream;

  beforeAll(async () => {
    counter = await startCounter();
    track(() => counter.close());
    api = await startHttpsUpstream('api', apiPem);
    track(() => api.close());
  });

  const allowAny = () => sidecar({ outboundTrafficPolicy: { mode: 'ALLOW_ANY' } });

  it('ALLOW_ANY: an undeclared loopback address stays refused, and the reason is now the address, not the registry', async () => {
    const gw = await startEgress([allowAny()], track);
    const before = counter.connections;
    const { statusLine, conn } = await proxyConnect(gw.mesh, `127.0.0.1:${counter.port}`);
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(counter.connections).toBe(before);
    const line = await expectRefusalLogged(gw, '127.0.0.1', counter.port, /loopback/);
    expect(line).not.toMatch(/no ServiceEntry declares/);
  });

  it('ALLOW_ANY: an undeclared name resolving to loopback stays refused', async () => {
    const gw = await startEgress([allowAny()], track);
    const before = counter.connections;
    const { statusLine, conn } = await proxyConnect(gw.mesh, `localhost:${counter.port}`);
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(counter.connections).toBe(before);
    const line = await expectRefusalLogged(gw, 'localhost', counter.port, /resolves to 127\.0\.0\.1.*loopback/);
    expect(line).not.toMatch(/no ServiceEntry declares/);
  });

  it('ALLOW_ANY: plain HTTP (absolute form) to an undeclared loopback address stays refused: 502, a log line, nothing connected', async () => {
    const gw = await startEgress([allowAny()], track);
    const before = counter.connections;
    const a = await proxyGet(gw.mesh, `http://127.0.0.1:${counter.port}/allow-any`);
    expect(counter.connections).toBe(before);
    expect(a.statusLine, `answer ${a.statusLine} ${JSON.stringify(a.body)}`).toBe('HTTP/1.1 502 Bad Gateway');
    await expectRefusalLogged(gw, '127.0.0.1', counter.port, /loopback/);
  });

  it('ALLOW_ANY: the cloud metadata address (link-local) stays refused', async () => {
    const gw = await startEgress([allowAny()], track);
    const { statusLine, conn } = await proxyConnect(gw.mesh, '169.254.169.254:80');
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    await expectRefusalLogged(gw, '169.254.169.254', 80, /link-local/);
  });

  it('ALLOW_ANY: a declared host is reached as before', async () => {
    const gw = await startEgress([allowAny(), serviceEntry(API, [tlsPort(443)], { endpointPorts: { https: api.port } })], track);
    const r = await curl(['-x', `http://127.0.0.1:${gw.mesh}`, '--cacert', caPath, `https://${API}/allow-any-declared`]);
    expect(r.connectStatus, curlSays(r)).toBe(200);
    expect(r.status, curlSays(r)).toBe(200);
    expect(r.body).toBe('hello from api /allow-any-declared');
  });

  /** Two declared hosts, egress.hosts naming one of them. */
  const narrowed = () => [
    sidecar({ egress: [{ hosts: [`default/${API}`] }] }),
    serviceEntry(API, [tlsPort(443)], { endpointPorts: { https: api.port } }),
    serviceEntry('other.external.test', [tlsPort(443), httpPort(80)], { endpointPorts: { https: counter.port, http: counter.port } }),
  ];

  it('egress.hosts: the host it names is reached', async () => {
    const gw = await startEgress(narrowed(), track);
    const r = await curl(['-x', `http://127.0.0.1:${gw.mesh}`, '--cacert', caPath, `https://${API}/narrowed-in`]);
    expect(r.connectStatus, curlSays(r)).toBe(200);
    expect(r.body).toBe('hello from api /narrowed-in');
  });

  it('egress.hosts: CONNECT to a declared host it leaves out is 403, nothing connected, a log line naming host and port', async () => {
    const gw = await startEgress(narrowed(), track);
    const before = counter.connections;
    const { statusLine, conn } = await proxyConnect(gw.mesh, 'other.external.test:443');
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect(counter.connections).toBe(before);
    await expectRefusalLogged(gw, 'other.external.test', 443, /Sidecar istio-system\/default/);
  });

  it("egress.hosts: the refusal line says the Sidecar's egress.hosts leaves the host out, not that no ServiceEntry declares it", async () => {
    const gw = await startEgress(narrowed(), track);
    const { statusLine, conn } = await proxyConnect(gw.mesh, 'other.external.test:443');
    await conn.closed;
    expect(statusLine).toBe('HTTP/1.1 403 Forbidden');
    const line = await expectRefusalLogged(gw, 'other.external.test', 443, /egress\.hosts/);
    // ServiceEntry default/other-external-test does declare it: an operator reading this line must not be sent looking for one.
    expect(line).not.toMatch(/no ServiceEntry declares/);
  });

  it('egress.hosts: plain HTTP to a declared host it leaves out is 502, nothing connected, a log line naming host and port', async () => {
    const gw = await startEgress(narrowed(), track);
    const before = counter.connections;
    const a = await proxyGet(gw.mesh, 'http://other.external.test/narrowed-out');
    expect(counter.connections, `the answer was ${a.statusLine}: the request went to the host egress.hosts leaves out`).toBe(before);
    expect(a.statusLine).toBe('HTTP/1.1 502 Bad Gateway');
    await expectRefusalLogged(gw, 'other.external.test', 80, /Sidecar istio-system\/default/);
  });
});

// ---------------------------------------------------------------------------------------

describe("Istio's egress-gateway task YAML as published: the VirtualService is bound to mesh too", () => {
  const track = cleanupScope();
  let gw: EgressGateway;
  let api: HttpsUpstream;

  beforeAll(async () => {
    api = await startHttpsUpstream('api', apiPem);
    track(() => api.close());
    gw = await startEgress(
      [
        serviceEntry(API, [tlsPort(443), httpPort(80)], { endpointPorts: { https: api.port, http: api.port } }),
        originateOn80(API),
        egressGateway([API]),
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'DestinationRule',
          metadata: { name: 'egressgateway-for-api', namespace: 'default' },
          spec: { host: 'istio-egressgateway.istio-system.svc.cluster.local', subsets: [{ name: 'api' }] },
        },
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'VirtualService',
          metadata: { name: 'direct-api-through-egress-gateway', namespace: 'default' },
          spec: {
            hosts: [API],
            gateways: ['mesh', 'istio-egressgateway'],
            tls: [
              {
                match: [{ gateways: ['mesh'], port: 443, sniHosts: [API] }],
                route: [{ destination: { host: 'istio-egressgateway.istio-system.svc.cluster.local', subset: 'api', port: { number: 443 } } }],
              },
              { match: [{ gateways: ['istio-egressgateway'], port: 443, sniHosts: [API] }], route: [{ destination: { host: API, port: { number: 443 } }, weight: 100 }] },
            ],
          },
        },
      ],
      track,
      [80, 443],
    );
  });

  it('TLS passthrough on the egress gateway works', async () => {
    const r = await curl(['--connect-to', `${API}:443:127.0.0.1:${gw.port(443)}`, '--cacert', caPath, `https://${API}/task-passthrough`]);
    expect(r.status, curlSays(r)).toBe(200);
    expect(r.body).toBe('hello from api /task-passthrough');
  });

  it("a VirtualService with only tls routes takes no plain-HTTP route away: http://api.external.test/ through the mesh listener is still originated", async () => {
    const r = await curl(['-x', `http://127.0.0.1:${gw.mesh}`, `http://${API}/task-originated`]);
    expect(r.status, curlSays(r)).toBe(200);
    expect(r.body).toBe('hello from api /task-originated');
  });
});

// ---------------------------------------------------------------------------------------
// Last in the file: what this catches (a request forwarded back into the gateway, again and
// again) loads the process until the client gives up.

describe("plain HTTP to a declared host whose endpoint is the gateway's own port", () => {
  const track = cleanupScope();

  it('is refused (502 and a log line), not forwarded back into the gateway', async () => {
    const gw = await startEgress([], track);
    await writeFile(path.join(gw.dir, 'self.yaml'), yaml([serviceEntry('self.external.test', [httpPort(80)], { endpointPorts: { http: gw.mesh } })]));
    expect(await gw.gateway.reload(), gw.lines.join('\n')).toBe(true);
    const records = recordStreams(gw);
    const conn = await dial(gw.mesh);
    track(async () => conn.socket.destroy());
    conn.socket.write('GET http://self.external.test/loop HTTP/1.1\r\nHost: self.external.test\r\nConnection: close\r\n\r\n');
    // Bounded only so that a request that never gets an answer fails this test instead of hanging it.
    let answered = false;
    const guard = new Promise<void>((r) => setTimeout(r, 5000));
    await Promise.race([conn.until(() => conn.text().includes('\r\n\r\n'), 'an answer').then(() => (answered = true), noop), guard]);
    conn.socket.destroy();
    expect(answered, `no answer; the gateway forwarded the request to itself (${records.length} stream(s) ended so far)`).toBe(true);
    expect(conn.text().split('\r\n')[0]).toBe('HTTP/1.1 502 Bad Gateway');
    await expectRefusalLogged(gw, 'self.external.test', 80, /own port/);
  });
});
