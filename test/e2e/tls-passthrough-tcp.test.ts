import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamRecord } from '../../src/http/stream-record.js';
import { testCa, serverPem, writeTlsDir, type Pem } from '../helpers/certs.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { deadPort, startUpstream, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

// The gateway's layer-4 paths end to end, over real sockets and real TLS: Gateway servers of
// protocol TLS with tls.mode PASSTHROUGH routed by VirtualService `tls` routes on the SNI
// (the client talks TLS with the upstream itself, so it sees the upstream's certificate),
// protocol TLS with tls.mode SIMPLE (the gateway terminates, VirtualService `tcp` routes carry
// the decrypted bytes to a plain TCP upstream), protocol TCP servers with `tcp` routes, weighted
// destinations, the refusals (unknown SNI, no route, dead upstream, plain text on a TLS port),
// DestinationRule connectionPool.tcp (maxConnections, connectTimeout) and one port 443 that
// passes some names through and terminates HTTPS for another.

const noop = () => undefined;


const fingerprint = (pem: Pem) => new X509Certificate(pem.cert).fingerprint256;

// --- upstreams ---------------------------------------------------------------------------

/** A real TLS server: greets every connection with a JSON line {name, sni}, then echoes; `BYE` in the data closes it. */
interface TlsBackend {
  name: string;
  port: number;
  pem: Pem;
  /** The SNI of each connection it accepted, in order. */
  snis: (string | false | null)[];
  close(): Promise<void>;
}

async function startTlsBackend(name: string, pem: Pem): Promise<TlsBackend> {
  const snis: TlsBackend['snis'] = [];
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ key: pem.key, cert: pem.cert }, (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', noop);
    snis.push(s.servername ?? null);
    s.write(`${JSON.stringify({ name, sni: s.servername ?? null })}\n`);
    s.on('data', (d: Buffer) => {
      if (d.includes('BYE')) s.end('bye\n');
      else s.write(d);
    });
  });
  server.on('tlsClientError', noop);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    pem,
    snis,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const BIG_BYTES = 8 * 1024 * 1024;

/** One connection a plain TCP upstream accepted. */
interface TcpConn {
  received: string;
  sawEnd: boolean;
  closed: boolean;
}

/**
 * A plain TCP echo server (half-open allowed): echoes what it receives; `CLOSE` makes it answer
 * `closing` and end the connection; `BIG` makes it send BIG_BYTES bytes and end the connection; when the client ends its side it answers `bye after N bytes`
 * and then ends its own.
 */
interface TcpBackend {
  name: string;
  port: number;
  conns: TcpConn[];
  close(): Promise<void>;
}

async function startTcpBackend(name: string): Promise<TcpBackend> {
  const conns: TcpConn[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    const c: TcpConn = { received: '', sawEnd: false, closed: false };
    conns.push(c);
    s.on('error', noop);
    s.on('data', (d: Buffer) => {
      c.received += d.toString();
      if (d.includes('CLOSE')) s.end('closing');
      else if (d.includes('BIG')) s.end(Buffer.alloc(BIG_BYTES, 0x62));
      else s.write(d);
    });
    s.on('end', () => {
      c.sawEnd = true;
      if (!s.writableEnded) s.end(`bye after ${c.received.length} bytes`);
    });
    s.once('close', () => {
      c.closed = true;
      sockets.delete(s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    conns,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A port on 127.0.0.1 where connections neither complete nor fail: a child process listens with
 * a backlog of 1 and never accepts (its event loop is blocked); two connections fill the accept
 * queue, after which Linux drops further SYNs, so a connect there hangs until someone gives up.
 */
interface Blackhole {
  port: number;
  stop(): void;
}

async function startBlackhole(): Promise<Blackhole> {
  const script = `
const net = require('net'), fs = require('fs');
const s = net.createServer();
s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  fs.writeSync(1, s.address().port + '\\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000);
});`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    child.once('error', reject);
  });
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', noop);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    fillers.push(s);
  }
  return {
    port,
    stop: () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}

// --- clients -----------------------------------------------------------------------------

/** A client connection and everything that happened to it. */
interface Client {
  socket: net.Socket;
  data: string;
  ended: boolean;
  closed: boolean;
  error: string | null;
  /** TLS only: the handshake completed. */
  secure: boolean;
  /** TLS only: the certificate the other side presented. */
  peer: X509Certificate | null;
}

function track(socket: net.Socket, c: Omit<Client, 'socket' | 'data' | 'ended' | 'closed' | 'error'>): Client {
  const client: Client = { socket, data: '', ended: false, closed: false, error: null, ...c };
  socket.on('data', (d: Buffer) => (client.data += d.toString()));
  socket.on('end', () => (client.ended = true));
  socket.on('close', () => (client.closed = true));
  socket.on('error', (e: NodeJS.ErrnoException) => (client.error = e.code ?? e.message));
  return client;
}

/** A plain TCP connection to the gateway, once connected. */
async function tcpConnect(port: number, opts: { allowHalfOpen?: boolean } = {}): Promise<Client> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: opts.allowHalfOpen ?? false });
  const client = track(socket, { secure: false, peer: null });
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  return client;
}

/**
 * A TLS connection to the gateway with this SNI (none: null), trusting the test CA: resolves when
 * the handshake completes, or when the connection closes before it does.
 */
async function tlsConnect(port: number, servername: string | null, socket?: net.Socket): Promise<Client> {
  const t = tls.connect({
    ...(socket ? { socket } : { host: '127.0.0.1', port }),
    ...(servername === null ? {} : { servername }),
    ca: testCa().cert,
    // Without SNI there is no name to check the certificate against; the tests look at it themselves.
    checkServerIdentity: () => undefined,
  });
  const client = track(t, { secure: false, peer: null });
  await new Promise<void>((resolve) => {
    t.once('secureConnect', () => {
      client.secure = true;
      client.peer = t.getPeerX509Certificate() ?? null;
      resolve();
    });
    t.once('close', resolve);
  });
  return client;
}

/** The first line a TLS backend sent: its greeting. */
async function greeting(c: Client): Promise<{ name: string; sni: string | null }> {
  expect(await waitFor(() => c.data.includes('\n') || c.closed), 'a greeting from the upstream').toBe(true);
  expect(c.data).toContain('\n');
  return JSON.parse(c.data.slice(0, c.data.indexOf('\n'))) as { name: string; sni: string | null };
}

/** A round trip: `text` out, the same text back (the echo upstreams). */
async function roundTrip(c: Client, text: string): Promise<void> {
  const before = c.data.length;
  c.socket.write(text);
  expect(await waitFor(() => c.data.length >= before + text.length || c.closed), `echo of ${text}`).toBe(true);
  expect(c.data.slice(before)).toBe(text);
}

/** Runs a command-line client (curl, openssl) with `input` on its stdin; never rejects. */
function run(file: string, args: string[], input = ''): Promise<{ failed: boolean; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: 10_000 }, (err, stdout, stderr) => resolve({ failed: err !== null, stdout, stderr }));
    child.stdin!.end(input);
  });
}

// --- config ------------------------------------------------------------------------------

/** A ServiceEntry with STATIC endpoints on 127.0.0.1 for one service port. */
function serviceEntry(host: string, port: number, protocol: string, endpointPorts: number[]): string {
  const eps = endpointPorts.map((p) => `  - address: 127.0.0.1\n    ports: {main: ${p}}`).join('\n');
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${host.replace(/[^a-z0-9]/g, '-')}, namespace: default}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: main, protocol: ${protocol}}]
  endpoints:
${eps}
`;
}

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 443, name: tls-ab, protocol: TLS}
    hosts: [a.example.com, b.example.com, nomatch.example.com, "*.wild.example.com"]
    tls: {mode: PASSTHROUGH}
  - port: {number: 443, name: tls-weighted, protocol: TLS}
    hosts: [w.example.com, z.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 443, name: tls-p, protocol: TLS}
    hosts: [p.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 443, name: https-t, protocol: HTTPS}
    hosts: [t.example.com]
    tls: {mode: SIMPLE, credentialName: t-cred}
  - port: {number: 9443, name: tls-terminate, protocol: TLS}
    hosts: [tls.example.com]
    tls: {mode: SIMPLE, credentialName: tcp-cred}
  - port: {number: 31400, name: tcp-echo, protocol: TCP}
    hosts: [tcp.example.com]
  - port: {number: 31401, name: tcp-dead, protocol: TCP}
    hosts: [tcp.example.com]
  - port: {number: 31402, name: tcp-noroute, protocol: TCP}
    hosts: [tcp.example.com]
  - port: {number: 31403, name: tcp-limited, protocol: TCP}
    hosts: [tcp.example.com]
  - port: {number: 31404, name: tcp-blackhole, protocol: TCP}
    hosts: [tcp.example.com]
  - port: {number: 31405, name: tcp-weighted, protocol: TCP}
    hosts: [tcp.example.com]
`;

const vs = (name: string, spec: object) => JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' }, spec: { gateways: ['gw'], ...spec } });
const dest = (host: string, port: number, weight?: number) => ({ destination: { host, port: { number: port } }, ...(weight === undefined ? {} : { weight }) });

const VS_PASSTHROUGH = vs('passthrough', {
  hosts: ['a.example.com', 'b.example.com', '*.wild.example.com', 'w.example.com', 'z.example.com', 'p.example.com'],
  tls: [
    // Another port's route: never taken on 443, though it names b.example.com first.
    { match: [{ sniHosts: ['b.example.com'], port: 8443 }], route: [dest('a.backend.test', 8443)] },
    { match: [{ sniHosts: ['a.example.com'], port: 443 }], route: [dest('a.backend.test', 8443)] },
    { match: [{ sniHosts: ['b.example.com', '*.wild.example.com'], port: 443 }], route: [dest('b.backend.test', 8443)] },
    { match: [{ sniHosts: ['w.example.com'], port: 443 }], route: [dest('w1.backend.test', 8443, 50), dest('w2.backend.test', 8443, 50)] },
    { match: [{ sniHosts: ['z.example.com'], port: 443 }], route: [dest('z1.backend.test', 8443, 100), dest('z2.backend.test', 8443, 0)] },
    { match: [{ sniHosts: ['p.example.com'], port: 443 }], route: [dest('p.backend.test', 8443)] },
  ],
});

const VS_HTTPS_T = vs('https-t', { hosts: ['t.example.com'], http: [{ route: [dest('web.backend.test', 80)] }] });

const VS_TERMINATED = vs('terminated', { hosts: ['tls.example.com'], tcp: [{ route: [dest('plain.backend.test', 9000)] }] });

const VS_TCP = vs('tcp', {
  hosts: ['tcp.example.com'],
  tcp: [
    { match: [{ port: 31400 }], route: [dest('echo.backend.test', 9000)] },
    { match: [{ port: 31401 }], route: [dest('dead.backend.test', 9000)] },
    { match: [{ port: 31403 }], route: [dest('limited.backend.test', 9000)] },
    { match: [{ port: 31404 }], route: [dest('blackhole.backend.test', 9000)] },
    { match: [{ port: 31405 }], route: [dest('t1.backend.test', 9000, 50), dest('t2.backend.test', 9000, 50)] },
  ],
});

const DR_LIMITED = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: limited, namespace: default}
spec:
  host: limited.backend.test
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
`;

const DR_BLACKHOLE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: blackhole, namespace: default}
spec:
  host: blackhole.backend.test
  trafficPolicy:
    connectionPool:
      tcp: {connectTimeout: 500ms}
`;

const GATEWAY_PORTS = [443, 9443, 31400, 31401, 31402, 31403, 31404, 31405];

// --- the fixture -------------------------------------------------------------------------

let gw: TestGateway;
let tlsDir: string;
const tlsBackends: Record<string, TlsBackend> = {};
const tcpBackends: Record<string, TcpBackend> = {};
let web: Upstream;
let blackhole: Blackhole;
let deadUpstreamPort: number;
const records: StreamRecord[] = [];

/** Stream records of one chain that ended after `from` (an index into `records`), optionally only those `also` takes. */
const recordsOf = (chain: string, from = 0, also: (r: StreamRecord) => boolean = () => true) => records.slice(from).filter((r) => r.chain === chain && also(r));

/**
 * The first record of `chain` after `from` that `also` takes. Connections of an earlier test may
 * end (and be recorded) after this one started, hence the predicate where they could be mistaken.
 */
async function recordOf(chain: string, from: number, also?: (r: StreamRecord) => boolean): Promise<StreamRecord> {
  expect(await waitFor(() => recordsOf(chain, from, also).length > 0), `a stream record on ${chain}`).toBe(true);
  return recordsOf(chain, from, also)[0]!;
}

beforeAll(async () => {
  const aPem = serverPem(['a.example.com'], { commonName: 'upstream a' });
  const bPem = serverPem(['b.example.com', '*.wild.example.com'], { commonName: 'upstream b' });
  const poolPem = serverPem(['w.example.com', 'z.example.com'], { commonName: 'weighted upstreams' });
  const pPem = serverPem(['p.example.com'], { commonName: 'upstream p' });
  const started = await Promise.all([
    startTlsBackend('a', aPem),
    startTlsBackend('b', bPem),
    startTlsBackend('w1', poolPem),
    startTlsBackend('w2', poolPem),
    startTlsBackend('z1', poolPem),
    startTlsBackend('z2', poolPem),
    startTlsBackend('p', pPem),
  ]);
  for (const b of started) tlsBackends[b.name] = b;
  for (const name of ['plain', 'echo', 'limited', 't1', 't2']) tcpBackends[name] = await startTcpBackend(name);
  web = await startUpstream({ name: 'web' });
  blackhole = await startBlackhole();
  deadUpstreamPort = await deadPort();
  tlsDir = await writeTlsDir({ 't-cred': { hosts: ['t.example.com'] }, 'tcp-cred': { hosts: ['tls.example.com'] } });
  const tb = tlsBackends;
  const tc = tcpBackends;
  gw = await startGateway(
    {
      'gateway.yaml': GATEWAY,
      'vs.yaml': [VS_PASSTHROUGH, VS_HTTPS_T, VS_TERMINATED, VS_TCP].join('\n---\n'),
      'dr.yaml': `${DR_LIMITED}---\n${DR_BLACKHOLE}`,
      'services.yaml': [
        serviceEntry('a.backend.test', 8443, 'TLS', [tb.a!.port]),
        serviceEntry('b.backend.test', 8443, 'TLS', [tb.b!.port]),
        serviceEntry('w1.backend.test', 8443, 'TLS', [tb.w1!.port]),
        serviceEntry('w2.backend.test', 8443, 'TLS', [tb.w2!.port]),
        serviceEntry('z1.backend.test', 8443, 'TLS', [tb.z1!.port]),
        serviceEntry('z2.backend.test', 8443, 'TLS', [tb.z2!.port]),
        serviceEntry('p.backend.test', 8443, 'TLS', [tb.p!.port]),
        serviceEntry('web.backend.test', 80, 'HTTP', [web.port]),
        serviceEntry('plain.backend.test', 9000, 'TCP', [tc.plain!.port]),
        serviceEntry('echo.backend.test', 9000, 'TCP', [tc.echo!.port]),
        serviceEntry('dead.backend.test', 9000, 'TCP', [deadUpstreamPort]),
        serviceEntry('limited.backend.test', 9000, 'TCP', [tc.limited!.port]),
        serviceEntry('blackhole.backend.test', 9000, 'TCP', [blackhole.port]),
        serviceEntry('t1.backend.test', 9000, 'TCP', [tc.t1!.port]),
        serviceEntry('t2.backend.test', 9000, 'TCP', [tc.t2!.port]),
      ].join('---\n'),
    },
    { gatewayPorts: GATEWAY_PORTS, tlsDir },
  );
  gw.gateway.onStreamEnd((r) => records.push(r));
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([...Object.values(tlsBackends), ...Object.values(tcpBackends)].map((b) => b.close()));
  await web?.close();
  blackhole?.stop();
});

describe('the config', () => {
  it('compiles without errors, with one chain per TLS server on 443 and a TCP chain on each TCP port', () => {
    const errors = gw.gateway.snapshot.problems.filter((p) => p.severity === 'error');
    expect(errors, JSON.stringify(errors)).toEqual([]);
    const l443 = gw.gateway.snapshot.listeners.find((l) => l.name === 'gateway:443')!;
    expect(l443.chains.map((c) => c.name).sort()).toEqual(
      ['https.443.https-t.gw.default', 'passthrough.443.tls-ab.gw.default', 'passthrough.443.tls-p.gw.default', 'passthrough.443.tls-weighted.gw.default'].sort(),
    );
    const l31400 = gw.gateway.snapshot.listeners.find((l) => l.name === 'gateway:31400')!;
    expect(l31400.chains.map((c) => [c.name, c.type])).toEqual([['tcp.31400', 'tcp']]);
  });
});

// --- 1. PASSTHROUGH ----------------------------------------------------------------------

describe('TLS PASSTHROUGH: routed by SNI, the TLS session is the upstream\'s', () => {
  it('a.example.com reaches upstream a and the client sees upstream a\'s certificate, not one of the gateway\'s', async () => {
    const from = records.length;
    const c = await tlsConnect(gw.port(443), 'a.example.com');
    expect(c.secure, `handshake (error: ${c.error})`).toBe(true);
    expect(c.peer!.fingerprint256).toBe(fingerprint(tlsBackends.a!.pem));
    expect(c.peer!.subject).toContain('CN=upstream a');
    expect(c.peer!.checkHost('a.example.com')).toBe('a.example.com');
    // The upstream saw the client's own ClientHello: the SNI came through untouched.
    expect(await greeting(c)).toEqual({ name: 'a', sni: 'a.example.com' });
    await roundTrip(c, 'ping through the tunnel');
    c.socket.end();
    const rec = await recordOf('passthrough.443.tls-ab.gw.default', from, (r) => r.authority === 'a.example.com');
    expect(rec.protocol).toBe('TCP');
    expect(rec.route).toBe('VirtualService default/passthrough tls[1]');
    expect(rec.cluster).toBe('outbound|8443||a.backend.test');
    expect(rec.upstreamHost).toBe(`127.0.0.1:${tlsBackends.a!.port}`);
    expect(rec.flagString).toBe('-');
  });

  it('b.example.com on the same port and server reaches upstream b, with b\'s certificate', async () => {
    const c = await tlsConnect(gw.port(443), 'b.example.com');
    expect(c.secure, `handshake (error: ${c.error})`).toBe(true);
    expect(c.peer!.fingerprint256).toBe(fingerprint(tlsBackends.b!.pem));
    expect(await greeting(c)).toEqual({ name: 'b', sni: 'b.example.com' });
    c.socket.destroy();
  });

  it('server names are case-insensitive: an upper-case SNI takes the same chain and route', async () => {
    const c = await tlsConnect(gw.port(443), 'A.Example.COM');
    expect(c.secure, `handshake (error: ${c.error})`).toBe(true);
    expect(c.peer!.fingerprint256).toBe(fingerprint(tlsBackends.a!.pem));
    expect((await greeting(c)).name).toBe('a');
    c.socket.destroy();
  });

  it('a wildcard server host and a wildcard sniHosts route take a matching name', async () => {
    const c = await tlsConnect(gw.port(443), 'x.wild.example.com');
    expect(c.secure, `handshake (error: ${c.error})`).toBe(true);
    expect(c.peer!.fingerprint256).toBe(fingerprint(tlsBackends.b!.pem));
    expect(await greeting(c)).toEqual({ name: 'b', sni: 'x.wild.example.com' });
    c.socket.destroy();
  });

  it('an SNI the server takes but no tls route matches: the connection is closed, nothing reaches an upstream', async () => {
    const from = records.length;
    const seenBefore = Object.values(tlsBackends).reduce((n, b) => n + b.snis.length, 0);
    const c = await tlsConnect(gw.port(443), 'nomatch.example.com');
    expect(await waitFor(() => c.closed)).toBe(true);
    expect(c.secure).toBe(false);
    const rec = await recordOf('passthrough.443.tls-ab.gw.default', from, (r) => r.authority === 'nomatch.example.com');
    expect(rec.flagString).toBe('NR');
    expect(rec.details).toBe('filter_chain_not_found');
    expect(rec.cluster).toBeNull();
    expect(Object.values(tlsBackends).reduce((n, b) => n + b.snis.length, 0)).toBe(seenBefore);
  });

  it('an SNI no server on the port has, and a ClientHello without SNI: closed before any handshake', async () => {
    for (const sni of ['c.example.com', 'a.example.com.evil.test', null]) {
      const c = await tlsConnect(gw.port(443), sni);
      expect(await waitFor(() => c.closed), `closed for SNI ${sni}`).toBe(true);
      expect(c.secure, `no handshake for SNI ${sni}`).toBe(false);
      expect(c.data).toBe('');
    }
  });

  it('plain text on the TLS port is closed without an answer', async () => {
    const c = await tcpConnect(gw.port(443));
    c.socket.write('GET / HTTP/1.1\r\nhost: a.example.com\r\n\r\n');
    expect(await waitFor(() => c.closed)).toBe(true);
    expect(c.data).toBe('');
  });

  it('a ClientHello that arrives a few bytes at a time is still read, and the connection passed through intact', async () => {
    // A relay in front of the gateway that forwards the client's bytes 16 at a time, a few milliseconds apart.
    const relay = net.createServer((inbound) => {
      const out = net.connect({ host: '127.0.0.1', port: gw.port(443), noDelay: true });
      let chain = Promise.resolve();
      inbound.on('data', (d: Buffer) => {
        for (let i = 0; i < d.length; i += 16) {
          const piece = d.subarray(i, i + 16);
          chain = chain.then(() => new Promise<void>((r) => setTimeout(() => (out.destroyed ? r() : out.write(piece, () => r())), 2)));
        }
      });
      out.on('data', (d: Buffer) => inbound.write(d));
      out.on('close', () => inbound.destroy());
      inbound.on('close', () => out.destroy());
      out.on('error', noop);
      inbound.on('error', noop);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    try {
      const c = await tlsConnect((relay.address() as AddressInfo).port, 'a.example.com');
      expect(c.secure, `handshake (error: ${c.error})`).toBe(true);
      expect(c.peer!.fingerprint256).toBe(fingerprint(tlsBackends.a!.pem));
      expect(await greeting(c)).toEqual({ name: 'a', sni: 'a.example.com' });
      await roundTrip(c, 'slowly');
      c.socket.destroy();
    } finally {
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });

  it('the upstream closing the TLS session closes the client', async () => {
    const c = await tlsConnect(gw.port(443), 'a.example.com');
    expect(c.secure).toBe(true);
    await greeting(c);
    c.socket.write('BYE');
    expect(await waitFor(() => c.closed)).toBe(true);
    expect(c.data).toContain('bye\n');
  });
});

// --- 2. weighted destinations ------------------------------------------------------------

describe('weighted tls and tcp route destinations', () => {
  it('weights 100/0: every connection goes to the first destination', async () => {
    const z2Before = tlsBackends.z2!.snis.length;
    const z1Before = tlsBackends.z1!.snis.length;
    for (let i = 0; i < 20; i++) {
      const c = await tlsConnect(gw.port(443), 'z.example.com');
      expect(c.secure, `handshake ${i} (error: ${c.error})`).toBe(true);
      expect((await greeting(c)).name).toBe('z1');
      c.socket.destroy();
    }
    expect(tlsBackends.z1!.snis.length - z1Before).toBe(20);
    expect(tlsBackends.z2!.snis.length).toBe(z2Before);
  });

  it('weights 50/50 on a tls route: 40 connections reach both destinations', async () => {
    const names: string[] = [];
    for (let i = 0; i < 40; i++) {
      const c = await tlsConnect(gw.port(443), 'w.example.com');
      expect(c.secure, `handshake ${i} (error: ${c.error})`).toBe(true);
      names.push((await greeting(c)).name);
      c.socket.destroy();
    }
    expect(new Set(names)).toEqual(new Set(['w1', 'w2']));
  });

  it('weights 50/50 on a tcp route: 40 connections reach both destinations', async () => {
    const t1Before = tcpBackends.t1!.conns.length;
    const t2Before = tcpBackends.t2!.conns.length;
    for (let i = 0; i < 40; i++) {
      const c = await tcpConnect(gw.port(31405));
      await roundTrip(c, `hello ${i}`);
      c.socket.destroy();
    }
    const t1 = tcpBackends.t1!.conns.length - t1Before;
    const t2 = tcpBackends.t2!.conns.length - t2Before;
    expect(t1 + t2).toBe(40);
    expect(t1).toBeGreaterThan(0);
    expect(t2).toBeGreaterThan(0);
  });
});

// --- 3. TLS terminated, tcp routes -------------------------------------------------------

describe('protocol TLS with tls.mode SIMPLE: terminated at the gateway, tcp routes carry the plain bytes', () => {
  it('the client sees the gateway\'s certificate and the upstream receives the decrypted bytes', async () => {
    const from = records.length;
    const before = tcpBackends.plain!.conns.length;
    const c = await tlsConnect(gw.port(9443), 'tls.example.com');
    expect(c.secure, `handshake (error: ${c.error})`).toBe(true);
    expect(c.peer!.fingerprint256).toBe(fingerprint(serverPem(['tls.example.com'])));
    // No HTTP ALPN offered to a TCP chain.
    expect((c.socket as tls.TLSSocket).alpnProtocol).toBe(false);
    await roundTrip(c, 'decrypted hello');
    expect(tcpBackends.plain!.conns.length).toBe(before + 1);
    const conn = tcpBackends.plain!.conns[before]!;
    // The upstream got the plain text, not a TLS record.
    expect(conn.received).toBe('decrypted hello');
    c.socket.write('CLOSE');
    expect(await waitFor(() => c.closed)).toBe(true);
    expect(c.data).toBe('decrypted helloclosing');
    const rec = await recordOf('tls.9443.tls-terminate.gw.default', from);
    expect(rec.protocol).toBe('TCP');
    expect(rec.route).toBe('VirtualService default/terminated tcp[0]');
    expect(rec.cluster).toBe('outbound|9000||plain.backend.test');
  });

  it('an SNI the terminating server does not have is refused', async () => {
    const c = await tlsConnect(gw.port(9443), 'other.example.com');
    expect(await waitFor(() => c.closed)).toBe(true);
    expect(c.secure).toBe(false);
  });

  it('curl through the terminating TLS port: the decrypted request reaches the plain TCP upstream', async () => {
    const before = tcpBackends.plain!.conns.length;
    // The echo upstream answers with the bytes it got, which are no HTTP response; curl fails, but the upstream's view is what counts.
    const r = await run('curl', ['-sS', '-m', '3', '--cacert', path.join(tlsDir, 'ca.crt'), '--resolve', `tls.example.com:${gw.port(9443)}:127.0.0.1`, '--http1.1', `https://tls.example.com:${gw.port(9443)}/via-curl`]);
    expect(r.stderr).not.toMatch(/certificate|SSL/i);
    expect(await waitFor(() => tcpBackends.plain!.conns.length > before)).toBe(true);
    expect(await waitFor(() => tcpBackends.plain!.conns[before]!.received.includes('\r\n\r\n'))).toBe(true);
    expect(tcpBackends.plain!.conns[before]!.received).toMatch(/^GET \/via-curl HTTP\/1\.1\r\nHost: tls\.example\.com:\d+\r\n/);
  });
});

// --- 4. TCP servers ----------------------------------------------------------------------

describe('protocol TCP servers with tcp routes', () => {
  it('bytes go both ways, and the route matched by port is the one taken', async () => {
    const from = records.length;
    const before = tcpBackends.echo!.conns.length;
    const c = await tcpConnect(gw.port(31400));
    await roundTrip(c, 'first');
    await roundTrip(c, 'second');
    const big = 'x'.repeat(256 * 1024);
    await roundTrip(c, big);
    expect(tcpBackends.echo!.conns[before]!.received).toBe(`firstsecond${big}`);
    c.socket.destroy();
    const rec = await recordOf('tcp.31400', from, (r) => r.bytesReceived > 1000);
    expect(rec.route).toBe('VirtualService default/tcp tcp[0]');
    expect(rec.cluster).toBe('outbound|9000||echo.backend.test');
    expect(rec.bytesReceived).toBe(11 + big.length);
    // The client's close reaches the gateway as a FIN, which is passed on as a half-close: the
    // echo upstream answers it with its goodbye, and the gateway sends that on too.
    expect(rec.bytesSent).toBe(11 + big.length + `bye after ${11 + big.length} bytes`.length);
  });

  it('the client ending its side: the upstream sees the end', async () => {
    const before = tcpBackends.echo!.conns.length;
    const c = await tcpConnect(gw.port(31400), { allowHalfOpen: true });
    await roundTrip(c, 'half');
    c.socket.end();
    expect(await waitFor(() => tcpBackends.echo!.conns[before]?.sawEnd === true)).toBe(true);
    expect(await waitFor(() => c.closed)).toBe(true);
  });

  it('half-close: what the upstream sends after the client ended its side still reaches the client (as Envoy\'s tcp_proxy does)', async () => {
    const before = tcpBackends.echo!.conns.length;
    const c = await tcpConnect(gw.port(31400), { allowHalfOpen: true });
    await roundTrip(c, 'half');
    c.socket.end();
    expect(await waitFor(() => tcpBackends.echo!.conns[before]?.sawEnd === true)).toBe(true);
    expect(await waitFor(() => c.closed)).toBe(true);
    expect(c.data).toBe('halfbye after 4 bytes');
    expect(c.ended).toBe(true);
  });

  it('the upstream closing its side closes the client, after what it sent', async () => {
    const c = await tcpConnect(gw.port(31400));
    await roundTrip(c, 'hi');
    c.socket.write('CLOSE');
    expect(await waitFor(() => c.closed)).toBe(true);
    expect(c.data).toBe('hiclosing');
    expect(c.ended).toBe(true);
  });

  it('an upstream that sends a lot and closes at once: a client that reads slowly still gets every byte before the close', async () => {
    const c = await tcpConnect(gw.port(31400));
    let got = 0;
    c.socket.removeAllListeners('data');
    c.socket.on('data', (d: Buffer) => (got += d.length));
    c.socket.write('BIG');
    // A slow reader: a little at a time, so the bytes pile up in the gateway while the upstream is done.
    c.socket.pause();
    while (!c.closed) {
      await new Promise((r) => setTimeout(r, 3));
      c.socket.resume();
      await new Promise((r) => setImmediate(r));
      c.socket.pause();
    }
    expect(await waitFor(() => c.closed, 10_000)).toBe(true);
    expect(c.error).toBeNull();
    expect(got).toBe(BIG_BYTES);
    expect(c.ended).toBe(true);
  }, 15_000);

  it('the client going away closes the upstream connection', async () => {
    const before = tcpBackends.echo!.conns.length;
    const c = await tcpConnect(gw.port(31400));
    await roundTrip(c, 'bye');
    c.socket.destroy();
    expect(await waitFor(() => tcpBackends.echo!.conns[before]?.closed === true)).toBe(true);
  });

  it('curl telnet:// (a raw byte stream) reaches the echo upstream and gets its bytes back', async () => {
    const before = tcpBackends.echo!.conns.length;
    // curl's telnet:// keeps the connection until its -m limit: the exchange is done long before.
    const r = await run('curl', ['-s', '-m', '1', `telnet://127.0.0.1:${gw.port(31400)}`], 'through curl\n');
    expect(r.stdout).toContain('through curl');
    expect(tcpBackends.echo!.conns[before]!.received).toBe('through curl\n');
  });
});

// --- 5. refusals -------------------------------------------------------------------------

describe('TCP refusals close the client connection', () => {
  it('an upstream that refuses connections: the client connection is closed, the record says UF', async () => {
    const from = records.length;
    const c = await tcpConnect(gw.port(31401));
    c.socket.write('anyone there?');
    expect(await waitFor(() => c.closed)).toBe(true);
    expect(c.data).toBe('');
    const rec = await recordOf('tcp.31401', from);
    expect(rec.flagString).toBe('UF');
    expect(rec.details).toBe('upstream_connect_failure');
    expect(rec.upstreamHost).toBe(`127.0.0.1:${deadUpstreamPort}`);
  });

  it('a TCP server no tcp route matches: the connection is closed, the record says NR', async () => {
    const from = records.length;
    const c = await tcpConnect(gw.port(31402));
    c.socket.write('hello?');
    expect(await waitFor(() => c.closed)).toBe(true);
    expect(c.data).toBe('');
    const rec = await recordOf('tcp.31402', from);
    expect(rec.flagString).toBe('NR');
  });
});

// --- 6. connectionPool.tcp ---------------------------------------------------------------

describe('DestinationRule connectionPool.tcp on a TCP upstream', () => {
  it('maxConnections 1: a second concurrent connection is closed at once (UO), the first keeps working, and the slot frees when it ends', async () => {
    const from = records.length;
    const before = tcpBackends.limited!.conns.length;
    const first = await tcpConnect(gw.port(31403));
    await roundTrip(first, 'one');
    const second = await tcpConnect(gw.port(31403));
    second.socket.write('two');
    expect(await waitFor(() => second.closed)).toBe(true);
    expect(second.data).toBe('');
    const overflow = await recordOf('tcp.31403', from);
    expect(overflow.flagString).toBe('UO');
    expect(tcpBackends.limited!.conns.length).toBe(before + 1);
    await roundTrip(first, 'still one');
    first.socket.destroy();
    expect(await waitFor(() => tcpBackends.limited!.conns[before]!.closed)).toBe(true);
    expect(await waitFor(() => recordsOf('tcp.31403', from).length === 2)).toBe(true);
    const third = await tcpConnect(gw.port(31403));
    await roundTrip(third, 'three');
    third.socket.destroy();
    expect(tcpBackends.limited!.conns.length).toBe(before + 2);
    // The slot is back once the gateway has seen the close: the next test starts from a free pool.
    expect(await waitFor(() => recordsOf('tcp.31403', from).length === 3)).toBe(true);
  });

  it('maxConnections 1: each connection gives its slot back, so sequential connections all get through', async () => {
    for (let i = 0; i < 5; i++) {
      const from = records.length;
      const c = await tcpConnect(gw.port(31403));
      await roundTrip(c, `seq ${i}`);
      c.socket.destroy();
      expect(await waitFor(() => recordsOf('tcp.31403', from).length === 1)).toBe(true);
    }
  });

  it('connectTimeout 500ms: an upstream that never answers the SYN is given up on, the client closed, the record says UF upstream_connect_timeout', async () => {
    const from = records.length;
    const c = await tcpConnect(gw.port(31404));
    c.socket.write('into the void');
    // The default connectTimeout is 10 s: within 5 s only the configured one can have fired.
    expect(await waitFor(() => c.closed, 5000)).toBe(true);
    expect(c.data).toBe('');
    const rec = await recordOf('tcp.31404', from);
    expect(rec.flagString).toBe('UF');
    expect(rec.details).toBe('upstream_connect_timeout');
    expect(rec.durationMs).toBeGreaterThanOrEqual(450);
  }, 10_000);
});

// --- 7. one port, passthrough and HTTPS ----------------------------------------------------

describe('port 443 with a PASSTHROUGH server and an HTTPS server: each SNI gets its own treatment', () => {
  it('t.example.com is terminated by the gateway (its credential) and routed over HTTP', async () => {
    const answer = await new Promise<{ status: number; body: string; peer: X509Certificate; upstream: string | undefined }>((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: gw.port(443), servername: 't.example.com', path: '/over-https', headers: { host: 't.example.com' }, ca: testCa().cert, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peer: (res.socket as tls.TLSSocket).getPeerX509Certificate()!, upstream: res.headers['x-upstream'] as string | undefined }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(200);
    expect(answer.upstream).toBe('web');
    expect(answer.peer.fingerprint256).toBe(fingerprint(serverPem(['t.example.com'])));
    expect(JSON.parse(answer.body).url).toBe('/over-https');
    expect(web.seen.at(-1)!.headers['x-forwarded-proto']).toBe('https');
  });

  it('curl to t.example.com verifies the gateway certificate against the CA and gets the upstream\'s answer', async () => {
    const r = await run('curl', ['-s', '-m', '5', '--cacert', path.join(tlsDir, 'ca.crt'), '--resolve', `t.example.com:${gw.port(443)}:127.0.0.1`, '-o', '-', '-w', '\n%{http_code} %{ssl_verify_result}', `https://t.example.com:${gw.port(443)}/curl`]);
    expect(r.stderr).toBe('');
    expect(r.failed).toBe(false);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('200 0');
    expect(r.stdout).toContain('"url":"/curl"');
  });

  it('p.example.com is passed through: openssl s_client verifies upstream p\'s certificate and talks to p itself', async () => {
    const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${gw.port(443)}`, '-servername', 'p.example.com', '-CAfile', path.join(tlsDir, 'ca.crt'), '-verify_return_error', '-verify_hostname', 'p.example.com', '-ign_eof'], 'BYE\n');
    expect(r.failed, r.stderr).toBe(false);
    expect(r.stdout).toContain('Verify return code: 0 (ok)');
    expect(r.stdout).toMatch(/subject=CN ?= ?upstream p/);
    expect(r.stdout).toContain('{"name":"p","sni":"p.example.com"}');
    expect(r.stdout).toContain('bye');
  });

  it('HTTPS to p.example.com does not land on the gateway\'s HTTP routes: the client speaks to upstream p', async () => {
    const c = await tlsConnect(gw.port(443), 'p.example.com');
    expect(c.secure).toBe(true);
    expect(c.peer!.fingerprint256).toBe(fingerprint(tlsBackends.p!.pem));
    expect(c.peer!.fingerprint256).not.toBe(fingerprint(serverPem(['t.example.com'])));
    c.socket.destroy();
  });
});
