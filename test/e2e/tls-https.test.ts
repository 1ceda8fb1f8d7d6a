import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCa, writeTlsDir } from '../helpers/certs.js';
import { startGateway, staticService, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { h2request } from '../helpers/h2.js';
import { echo, rawRequest, request, type Answer } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

// TLS at the edge, end to end: Gateway servers with protocol HTTPS and tls.mode SIMPLE, their
// certificates read by credentialName from --tls-dir, real TLS clients (node:tls, node:https,
// node:http2, curl, openssl s_client) on 127.0.0.1, real upstreams behind VirtualServices.
// Each TLS server of a port is its own filter chain chosen by SNI, with its own certificate,
// protocol versions, cipher suites and route table, as Istio builds them for Envoy.

// --- a gateway whose log lines the test can read -------------------------------------------

type TlsGateway = TestGateway;

/** The real gateway in this process, every Gateway port on an ephemeral 127.0.0.1 port, credentials from `tlsDir`, its log kept. */
function startTlsGateway(files: Record<string, string>, tlsDir: string, ports: number[] = [80, 443]): Promise<TlsGateway> {
  return startGateway(files, { tlsDir, gatewayPorts: ports, keepLog: true });
}

/** Config problems the gateway logged at start: none is expected of these configs. */
function configProblems(g: TlsGateway): string[] {
  return g.lines.filter((l) => / (warn|error) /.test(l));
}


function refusals(g: TlsGateway): string[] {
  return g.lines.filter((l) => l.includes('TLS connection refused'));
}

// --- clients ----------------------------------------------------------------------------------

const firstOf = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

interface Handshake {
  ok: boolean;
  error?: string;
  protocol?: string | null;
  cipher?: string;
  alpn?: string | false | null;
  cn?: string;
  san?: string;
  fingerprint?: string;
}

/** One TLS handshake with 127.0.0.1:port (trusting testCa()); what was negotiated, or why it failed. */
function handshake(port: number, opts: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: testCa().cert, ...opts });
    let done = false;
    const finish = (h: Handshake) => {
      if (done) return;
      done = true;
      s.destroy();
      resolve(h);
    };
    s.once('secureConnect', () => {
      const cert = s.getPeerCertificate();
      finish({ ok: true, protocol: s.getProtocol(), cipher: s.getCipher().name, alpn: s.alpnProtocol, cn: firstOf(cert.subject?.CN), san: cert.subjectaltname, fingerprint: cert.fingerprint256 });
    });
    s.once('error', (e) => finish({ ok: false, error: e.message }));
    s.once('close', () => finish({ ok: false, error: 'closed before the handshake completed' }));
  });
}

interface HttpsAnswer extends Answer {
  cn: string | undefined;
  san: string | undefined;
  protocol: string | null;
  alpn: string | false | null;
  httpVersion: string;
}

interface HttpsOptions {
  /** SNI; '' sends none. */
  servername: string;
  /** Host header; defaults to servername. */
  host?: string;
  path?: string;
  headers?: Record<string, string>;
  ALPNProtocols?: string[];
  checkServerIdentity?: typeof tls.checkServerIdentity;
}

/** One HTTPS/1.1 request to 127.0.0.1:port on a fresh connection, trusting testCa(). */
function httpsGet(port: number, o: HttpsOptions): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: o.path ?? '/',
        servername: o.servername,
        ca: testCa().cert,
        agent: false,
        headers: { host: o.host ?? o.servername, ...(o.headers ?? {}) },
        ...(o.ALPNProtocols ? { ALPNProtocols: o.ALPNProtocols } : {}),
        ...(o.checkServerIdentity ? { checkServerIdentity: o.checkServerIdentity } : {}),
      },
      (res) => {
        const sock = res.socket as TLSSocket;
        const cert = sock.getPeerCertificate();
        const protocol = sock.getProtocol();
        const alpn = sock.alpnProtocol;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            cn: firstOf(cert.subject?.CN),
            san: cert.subjectaltname,
            protocol,
            alpn,
            httpVersion: res.httpVersion,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** An HTTP/2 connection over TLS (ALPN h2) to 127.0.0.1:port with this SNI, once the handshake is done. */
async function h2tls(port: number, servername: string): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca: testCa().cert, servername });
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  session.on('error', () => undefined);
  return session;
}

function closeSession(s: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    if (s.closed || s.destroyed) return resolve();
    s.close(() => resolve());
  });
}

/** Sends `data` on a fresh plain connection and waits (at most `boundMs`) for the server to close it. */
function sendAndAwaitClose(port: number, data: string, boundMs = 5000): Promise<{ closed: boolean; received: string }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ closed: false, received: Buffer.concat(chunks).toString('latin1') });
    }, boundMs);
    sock.on('connect', () => sock.write(data));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, received: Buffer.concat(chunks).toString('latin1') });
    });
  });
}

/**
 * A TCP relay to 127.0.0.1:target that passes the client's first bytes (its ClientHello) on in
 * 16-byte writes, one per event-loop turn, then everything as it comes.
 */
async function startTricklingRelay(target: number): Promise<{ port: number; chunks(): number; close(): Promise<void> }> {
  let trickled = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const up = net.connect(target, '127.0.0.1');
    sockets.add(client);
    sockets.add(up);
    client.setNoDelay(true);
    up.setNoDelay(true);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
    up.on('data', (c: Buffer) => client.write(c));
    let first = true;
    const queue: Buffer[] = [];
    let pumping = false;
    const pump = () => {
      const next = queue.shift();
      if (next === undefined) {
        pumping = false;
        return;
      }
      up.write(next);
      trickled++;
      setTimeout(pump, 1);
    };
    client.on('data', (c: Buffer) => {
      if (!first) return void (pumping ? queue.push(c) : up.write(c));
      first = false;
      for (let i = 0; i < c.length; i += 16) queue.push(c.subarray(i, i + 16));
      pumping = true;
      pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    chunks: () => trickled,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
    // openssl s_client reads stdin: closing it is `</dev/null`.
    child.stdin?.end();
  });
}

// --- config -----------------------------------------------------------------------------------

/** ServiceEntries for the upstreams, one host each: alpha.internal → alpha, ... */
function services(ups: Upstream[]): Record<string, string> {
  return Object.fromEntries(ups.map((u) => [`se-${u.name}.yaml`, staticService(`${u.name}.internal`, [u.port])]));
}

function routeTo(name: string, hosts: string[], upstream: string): string {
  return virtualServiceYaml(name, hosts, [{ route: [{ destination: { host: `${upstream}.internal`, port: { number: 80 } } }] }]);
}

// Three HTTPS servers with their own certificates, and two more sharing one wildcard
// certificate (as a browser reuses a connection whenever the certificate covers the next host).
const MULTI_GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: default
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 443
      name: https-a
      protocol: HTTPS
    hosts:
    - a.example.com
    tls:
      mode: SIMPLE
      credentialName: a-cred
  - port:
      number: 443
      name: https-b
      protocol: HTTPS
    hosts:
    - b.example.com
    tls:
      mode: SIMPLE
      credentialName: b-cred
  - port:
      number: 443
      name: https-c
      protocol: HTTPS
    hosts:
    - c.example.com
    tls:
      mode: SIMPLE
      credentialName: c-cred
  - port:
      number: 443
      name: https-x
      protocol: HTTPS
    hosts:
    - x.shared.example.com
    tls:
      mode: SIMPLE
      credentialName: shared-cred
  - port:
      number: 443
      name: https-y
      protocol: HTTPS
    hosts:
    - y.shared.example.com
    tls:
      mode: SIMPLE
      credentialName: shared-cred
`;

const MULTI_SERVES = ['a.example.com', 'b.example.com', 'c.example.com', 'x.shared.example.com', 'y.shared.example.com'];

let alpha: Upstream;
let beta: Upstream;
let gamma: Upstream;
let star: Upstream;
let tlsDir: string;
let caFile: string;
let multiFiles: Record<string, string>;

beforeAll(async () => {
  [alpha, beta, gamma, star] = await Promise.all(['alpha', 'beta', 'gamma', 'star'].map((name) => startUpstream({ name })));
  tlsDir = await writeTlsDir({
    'a-cred': { hosts: ['a.example.com'] },
    'b-cred': { hosts: ['b.example.com'] },
    'c-cred': { hosts: ['c.example.com'] },
    'shared-cred': { hosts: ['*.shared.example.com'] },
    'catch-cred': { hosts: ['catchall.example.com', '127.0.0.1'] },
    'tlsv-cred': { hosts: ['*.tlsv.example.com'] },
    'secure-cred': { hosts: ['secure.example.com'] },
  });
  caFile = path.join(tlsDir, 'ca.crt');
  multiFiles = {
    'gateway.yaml': MULTI_GATEWAY,
    ...services([alpha, beta, gamma, star]),
    'vs-a.yaml': routeTo('vs-a', ['a.example.com'], 'alpha'),
    'vs-b.yaml': routeTo('vs-b', ['b.example.com'], 'beta'),
    'vs-c.yaml': routeTo('vs-c', ['c.example.com'], 'gamma'),
    'vs-x.yaml': routeTo('vs-x', ['x.shared.example.com'], 'alpha'),
    'vs-y.yaml': routeTo('vs-y', ['y.shared.example.com'], 'beta'),
  };
});

afterAll(async () => {
  await Promise.all([alpha, beta, gamma, star].map((u) => u?.close()));
  if (tlsDir) await rm(tlsDir, { recursive: true, force: true });
});

// --- SIMPLE, several servers by SNI, HTTP/2, misdirected requests, curl and openssl ------------

describe('HTTPS servers on port 443 chosen by SNI (tls.mode SIMPLE, credentialName)', () => {
  let gw: TlsGateway;
  let port: number;

  beforeAll(async () => {
    gw = await startTlsGateway(multiFiles, tlsDir, [443]);
    port = gw.port(443);
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('loads the five servers without a config warning', () => {
    expect(configProblems(gw)).toEqual([]);
  });

  it('routes an HTTPS request by VirtualService to the upstream, with x-forwarded-proto: https and the credential’s certificate', async () => {
    // A client's own x-forwarded-proto is not trusted (xff_num_trusted_hops 0): the gateway says what the connection was.
    const a = await httpsGet(port, { servername: 'a.example.com', path: '/hello/world?x=1&y=two', headers: { 'x-forwarded-proto': 'http' } });
    expect(a.status).toBe(200);
    const e = echo(a);
    expect(e.name).toBe('alpha');
    expect(e.url).toBe('/hello/world?x=1&y=two');
    expect(e.headers['x-forwarded-proto']).toBe('https');
    expect(e.headers.host).toBe('a.example.com');
    expect(a.cn).toBe('a.example.com');
    expect(a.san).toBe('DNS:a.example.com');
  });

  it('gives each SNI its own certificate and its own routes', async () => {
    const want: Record<string, string> = { 'a.example.com': 'alpha', 'b.example.com': 'beta', 'c.example.com': 'gamma' };
    const prints = new Set<string>();
    for (const [host, upstream] of Object.entries(want)) {
      const h = await handshake(port, { servername: host });
      expect(h.ok, `${host}: ${h.error}`).toBe(true);
      expect(h.cn).toBe(host);
      expect(h.san).toBe(`DNS:${host}`);
      prints.add(h.fingerprint!);
      const a = await httpsGet(port, { servername: host, path: `/who/${host}` });
      expect(a.status).toBe(200);
      expect(a.cn).toBe(host);
      expect(echo(a).name).toBe(upstream);
      expect(echo(a).url).toBe(`/who/${host}`);
    }
    expect(prints.size).toBe(3);
  });

  it('matches SNI without regard to case, as Envoy lower-cases it', async () => {
    const h = await handshake(port, { servername: 'B.Example.COM' });
    expect(h.ok, h.error).toBe(true);
    expect(h.cn).toBe('b.example.com');
  });

  it('reads a ClientHello that arrives a few bytes at a time', async () => {
    const relay = await startTricklingRelay(port);
    try {
      const h = await handshake(relay.port, { servername: 'c.example.com' });
      expect(h.ok, h.error).toBe(true);
      expect(h.cn).toBe('c.example.com');
      expect(relay.chunks()).toBeGreaterThan(10);
    } finally {
      await relay.close();
    }
  });

  it('serves one shared wildcard credential to both servers that name it', async () => {
    const x = await handshake(port, { servername: 'x.shared.example.com' });
    const y = await handshake(port, { servername: 'y.shared.example.com' });
    expect(x.ok && y.ok).toBe(true);
    expect(x.cn).toBe('*.shared.example.com');
    expect(y.fingerprint).toBe(x.fingerprint);
    expect(echo(await httpsGet(port, { servername: 'x.shared.example.com' })).name).toBe('alpha');
    expect(echo(await httpsGet(port, { servername: 'y.shared.example.com' })).name).toBe('beta');
  });

  it('keeps a server’s routes to its own hosts: SNI a.example.com with Host nowhere.example.com is 404', async () => {
    const a = await httpsGet(port, { servername: 'a.example.com', host: 'nowhere.example.com', path: '/nr' });
    expect(a.status).toBe(404);
    expect(alpha.seen.some((s) => s.url === '/nr')).toBe(false);
  });

  describe('HTTP/2 over TLS', () => {
    it('negotiates h2 by ALPN and routes exactly as HTTP/1.1 does', async () => {
      const s = await h2tls(port, 'b.example.com');
      try {
        expect(s.alpnProtocol).toBe('h2');
        const sock = s.socket as TLSSocket;
        expect(sock.getPeerCertificate().subject.CN).toBe('b.example.com');
        const h2 = await h2request(s, { authority: 'b.example.com', path: '/same/route?q=1' });
        const h1 = await httpsGet(port, { servername: 'b.example.com', path: '/same/route?q=1' });
        expect(h2.status).toBe(200);
        expect(h1.status).toBe(200);
        const e2 = JSON.parse(h2.body) as ReturnType<typeof echo>;
        const e1 = echo(h1);
        expect(e2.name).toBe('beta');
        expect(e1.name).toBe('beta');
        expect(e2.url).toBe(e1.url);
        expect(e2.headers['x-forwarded-proto']).toBe('https');
        expect(e2.headers.host).toBe('b.example.com');
        expect(h2.headers['x-upstream']).toBe(h1.headers['x-upstream']);
      } finally {
        await closeSession(s);
      }
    });

    it('takes HTTP/2 with prior knowledge over TLS from a client that offers no ALPN, as Envoy’s AUTO codec does by the preface', async () => {
      const sock = tls.connect({ host: '127.0.0.1', port, servername: 'a.example.com', ca: testCa().cert });
      await new Promise<void>((resolve, reject) => {
        sock.once('secureConnect', () => resolve());
        sock.once('error', reject);
      });
      expect(sock.alpnProtocol).toBe(false);
      const s = http2.connect('https://a.example.com', { createConnection: () => sock });
      s.on('error', () => undefined);
      try {
        const a = await h2request(s, { authority: 'a.example.com', path: '/prior-knowledge' });
        expect(a.status).toBe(200);
        expect(JSON.parse(a.body).name).toBe('alpha');
      } finally {
        s.destroy();
      }
    });

    it('answers a client offering only http/1.1 (or no ALPN at all) with HTTP/1.1', async () => {
      const only = await httpsGet(port, { servername: 'c.example.com', ALPNProtocols: ['http/1.1'] });
      expect(only.alpn).toBe('http/1.1');
      expect(only.httpVersion).toBe('1.1');
      expect(only.status).toBe(200);
      expect(echo(only).name).toBe('gamma');
      const none = await httpsGet(port, { servername: 'c.example.com' });
      expect(none.alpn).toBe(false);
      expect(none.httpVersion).toBe('1.1');
      expect(echo(none).name).toBe('gamma');
      const hs = await handshake(port, { servername: 'c.example.com', ALPNProtocols: ['http/1.1'] });
      expect(hs.alpn).toBe('http/1.1');
    });
  });

  describe('misdirected HTTP/2 requests (a connection reused for a host another server serves)', () => {
    it('answers 421 on a connection whose certificate covers both hosts (one shared wildcard credential), 200 on its own connection', async () => {
      const x = await h2tls(port, 'x.shared.example.com');
      const y = await h2tls(port, 'y.shared.example.com');
      try {
        const own = await h2request(x, { authority: 'x.shared.example.com', path: '/x' });
        expect(own.status).toBe(200);
        expect(JSON.parse(own.body).name).toBe('alpha');
        const misdirected = await h2request(x, { authority: 'y.shared.example.com', path: '/misdirected-y' });
        expect(misdirected.status).toBe(421);
        expect(beta.seen.some((r) => r.url === '/misdirected-y')).toBe(false);
        const right = await h2request(y, { authority: 'y.shared.example.com', path: '/misdirected-y' });
        expect(right.status).toBe(200);
        expect(JSON.parse(right.body).name).toBe('beta');
        // The connection that got 421 still serves its own host.
        expect((await h2request(x, { authority: 'x.shared.example.com', path: '/x-again' })).status).toBe(200);
      } finally {
        await Promise.all([closeSession(x), closeSession(y)]);
      }
    });

    it('answers 421 with SNI a.example.com and :authority b.example.com (separate certificates), 200 with SNI b.example.com', async () => {
      const a = await h2tls(port, 'a.example.com');
      const b = await h2tls(port, 'b.example.com');
      try {
        expect((await h2request(a, { authority: 'b.example.com', path: '/cross' })).status).toBe(421);
        const right = await h2request(b, { authority: 'b.example.com', path: '/cross' });
        expect(right.status).toBe(200);
        expect(JSON.parse(right.body).name).toBe('beta');
      } finally {
        await Promise.all([closeSession(a), closeSession(b)]);
      }
    });

    it('answers 404 (not 421) for an :authority no server of the port serves', async () => {
      const a = await h2tls(port, 'a.example.com');
      try {
        expect((await h2request(a, { authority: 'unserved.example.com', path: '/' })).status).toBe(404);
        expect((await h2request(a, { authority: 'z.shared.example.com', path: '/' })).status).toBe(404);
      } finally {
        await closeSession(a);
      }
    });
  });

  describe('command-line clients', () => {
    it('curl --cacert --resolve gets 200 over HTTP/1.1 and over HTTP/2', async () => {
      const url = `https://a.example.com:${port}/curl?via=curl`;
      const base = ['-sS', '--max-time', '10', '--cacert', caFile, '--resolve', `a.example.com:${port}:127.0.0.1`, '-w', '\n%{http_code} %{http_version}'];
      const h1 = await run('curl', [...base, '--http1.1', url]);
      expect(h1.stderr).toBe('');
      const [body1, status1] = splitCurl(h1.stdout);
      expect(status1).toBe('200 1.1');
      expect(JSON.parse(body1).name).toBe('alpha');
      expect(JSON.parse(body1).url).toBe('/curl?via=curl');
      const h2 = await run('curl', [...base, '--http2', url]);
      expect(h2.stderr).toBe('');
      const [body2, status2] = splitCurl(h2.stdout);
      expect(status2).toBe('200 2');
      expect(JSON.parse(body2).headers['x-forwarded-proto']).toBe('https');
    });

    it('openssl s_client -servername sees the credential’s subject and a verified chain', async () => {
      const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'b.example.com', '-CAfile', caFile]);
      expect(r.stdout).toMatch(/subject=\s*CN\s*=\s*b\.example\.com/);
      expect(r.stdout).toContain('Verify return code: 0 (ok)');
    });
  });
});

function splitCurl(out: string): [string, string] {
  const i = out.lastIndexOf('\n');
  return [out.slice(0, i), out.slice(i + 1)];
}

// --- refused handshakes and what the log says ------------------------------------------------

describe('a port without a `*` server refuses clients it has no certificate for, and says why', () => {
  // Each test has a gateway of its own: the refusal log is one line per second per listener.
  it('refuses an unknown SNI and logs the name sent and the names served', async () => {
    const gw = await startTlsGateway(multiFiles, tlsDir, [443]);
    try {
      const h = await handshake(gw.port(443), { servername: 'unknown.example.org' });
      expect(h.ok).toBe(false);
      expect(await waitFor(() => refusals(gw).length > 0)).toBe(true);
      const line = refusals(gw)[0]!;
      expect(line).toContain('gateway port 443');
      expect(line).toContain('SNI unknown.example.org');
      for (const name of MULTI_SERVES) expect(line).toContain(name);
      // The port still serves the names it has.
      expect((await handshake(gw.port(443), { servername: 'a.example.com' })).cn).toBe('a.example.com');
    } finally {
      await gw.stop();
    }
  });

  it('refuses a client that sends no SNI and logs that it sent none', async () => {
    const gw = await startTlsGateway(multiFiles, tlsDir, [443]);
    try {
      // By IP, no servername: node:tls sends no SNI.
      const h = await handshake(gw.port(443), { checkServerIdentity: () => undefined });
      expect(h.ok).toBe(false);
      expect(await waitFor(() => refusals(gw).length > 0)).toBe(true);
      const line = refusals(gw)[0]!;
      expect(line).toContain('no SNI');
      for (const name of MULTI_SERVES) expect(line).toContain(name);
    } finally {
      await gw.stop();
    }
  });

  it('logs a client that refuses the certificate in words, and says nothing of a client that just goes away', async () => {
    const gw = await startTlsGateway(multiFiles, tlsDir, [443]);
    try {
      // A client that resets mid-handshake (a load generator stopping, a port scan) refused nothing.
      await new Promise<void>((resolve) => {
        const c = net.connect(gw.port(443), '127.0.0.1', () => {
          const t = tls.connect({ socket: c, servername: 'a.example.com', ca: testCa().cert });
          t.on('error', () => undefined);
          c.resetAndDestroy();
          resolve();
        });
      });
      // curl without --cacert does not trust the dev CA: it sends an unknown_ca alert, which is logged.
      const port = gw.port(443);
      const r = await run('curl', ['-sS', '-m', '5', '--resolve', `a.example.com:${port}:127.0.0.1`, `https://a.example.com:${port}/`]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/certificate/i);
      expect(await waitFor(() => refusals(gw).length > 0)).toBe(true);
      expect(refusals(gw)).toHaveLength(1);
      expect(refusals(gw)[0]).toMatch(/the client refused this server's certificate \(it does not trust the CA that signed it, or the names do not match\); the client sent SNI a\.example\.com/);
    } finally {
      await gw.stop();
    }
  });

  it('closes a plain-text HTTP request on the TLS port (no hang) and logs it as plain text to a TLS port', async () => {
    const gw = await startTlsGateway(multiFiles, tlsDir, [443]);
    try {
      const r = await sendAndAwaitClose(gw.port(443), 'GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n');
      expect(r.closed).toBe(true);
      expect(r.received).not.toContain('HTTP/1.1 200');
      expect(await waitFor(() => refusals(gw).length > 0)).toBe(true);
      expect(refusals(gw)[0]).toMatch(/plain text to a TLS port/);
      expect(alpha.seen.some((s) => s.headers.host === 'a.example.com' && s.url === '/' && s.headers['x-forwarded-proto'] === 'http')).toBe(false);
    } finally {
      await gw.stop();
    }
  });
});

describe('a server whose hosts include `*` takes clients without SNI and names no other server serves', () => {
  let gw: TlsGateway;
  let port: number;

  beforeAll(async () => {
    gw = await startTlsGateway(
      {
        'gateway.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: default
spec:
  servers:
  - port:
      number: 443
      name: https-a
      protocol: HTTPS
    hosts:
    - a.example.com
    tls:
      mode: SIMPLE
      credentialName: a-cred
  - port:
      number: 443
      name: https-any
      protocol: HTTPS
    hosts:
    - "*"
    tls:
      mode: SIMPLE
      credentialName: catch-cred
`,
        ...services([alpha, star]),
        'vs-a.yaml': routeTo('vs-a', ['a.example.com'], 'alpha'),
        'vs-catch.yaml': routeTo('vs-catch', ['catchall.example.com'], 'star'),
      },
      tlsDir,
      [443],
    );
    port = gw.port(443);
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('loads without a config warning', () => {
    expect(configProblems(gw)).toEqual([]);
  });

  it('answers a client that sends no SNI (connecting by IP) with the `*` server’s certificate and routes', async () => {
    const h = await handshake(port, {});
    expect(h.ok, h.error).toBe(true);
    expect(h.cn).toBe('catchall.example.com');
    const a = await httpsGet(port, { servername: '', host: 'catchall.example.com', path: '/no-sni' });
    expect(a.status).toBe(200);
    expect(a.cn).toBe('catchall.example.com');
    expect(echo(a).name).toBe('star');
    expect(echo(a).headers['x-forwarded-proto']).toBe('https');
  });

  it('answers an SNI no other server has with the `*` server’s certificate', async () => {
    const h = await handshake(port, { servername: 'other.example.org', checkServerIdentity: () => undefined });
    expect(h.ok, h.error).toBe(true);
    expect(h.cn).toBe('catchall.example.com');
  });

  it('still gives the exact SNI its own server’s certificate', async () => {
    const h = await handshake(port, { servername: 'a.example.com' });
    expect(h.cn).toBe('a.example.com');
    expect(echo(await httpsGet(port, { servername: 'a.example.com' })).name).toBe('alpha');
  });
});

// --- protocol versions and cipher suites -------------------------------------------------------

describe('minProtocolVersion, maxProtocolVersion and cipherSuites', () => {
  let gw: TlsGateway;
  let port: number;

  const server = (name: string, host: string, extra: string) => `  - port:
      number: 443
      name: ${name}
      protocol: HTTPS
    hosts:
    - ${host}
    tls:
      mode: SIMPLE
      credentialName: tlsv-cred
${extra}`;

  beforeAll(async () => {
    gw = await startTlsGateway(
      {
        'gateway.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: default
spec:
  servers:
${server('https-default', 'default.tlsv.example.com', '')}
${server('https-tls13', 'tls13.tlsv.example.com', '      minProtocolVersion: TLSV1_3\n')}
${server('https-tls12', 'tls12.tlsv.example.com', '      maxProtocolVersion: TLSV1_2\n')}
${server('https-cipher', 'cipher.tlsv.example.com', '      maxProtocolVersion: TLSV1_2\n      cipherSuites:\n      - ECDHE-RSA-AES256-GCM-SHA384\n')}
${server('https-legacy', 'legacy.tlsv.example.com', '      minProtocolVersion: TLSV1_0\n')}
`,
        ...services([alpha]),
        'vs.yaml': routeTo('vs-tlsv', ['*.tlsv.example.com'], 'alpha'),
      },
      tlsDir,
      [443],
    );
    port = gw.port(443);
  });
  afterAll(async () => {
    await gw?.stop();
  });

  // A TLS 1.1 client: OpenSSL 3 offers TLS 1.1 only at security level 0.
  const tls11: tls.ConnectionOptions = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' };

  it('loads with only Istio\'s warning that TLS below 1.2 needs ciphers named', () => {
    const problems = configProblems(gw);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/ warn .*Gateway default\/gw: spec\.servers\[4\]\.tls\.minProtocolVersion: TLS version below TLSV1_2 require setting compatible ciphers/);
  });

  it('refuses TLS 1.1 by default (Istio’s minimum is TLS 1.2) and negotiates TLS 1.3 with a modern client', async () => {
    const old = await handshake(port, { servername: 'default.tlsv.example.com', ...tls11 });
    expect(old.ok).toBe(false);
    const modern = await handshake(port, { servername: 'default.tlsv.example.com' });
    expect(modern.ok, modern.error).toBe(true);
    expect(modern.protocol).toBe('TLSv1.3');
  });

  it('accepts the same TLS 1.1 client when minProtocolVersion is TLSV1_0', async () => {
    const h = await handshake(port, { servername: 'legacy.tlsv.example.com', ...tls11 });
    expect(h.ok, h.error).toBe(true);
    expect(h.protocol).toBe('TLSv1.1');
  });

  it('minProtocolVersion TLSV1_3 refuses a TLS 1.2-only client and accepts TLS 1.3', async () => {
    const v12 = await handshake(port, { servername: 'tls13.tlsv.example.com', maxVersion: 'TLSv1.2' });
    expect(v12.ok).toBe(false);
    const v13 = await handshake(port, { servername: 'tls13.tlsv.example.com', minVersion: 'TLSv1.3' });
    expect(v13.ok, v13.error).toBe(true);
    expect(v13.protocol).toBe('TLSv1.3');
    // The same TLS 1.2-only client is fine on a server without the minimum.
    expect((await handshake(port, { servername: 'default.tlsv.example.com', maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
  });

  it('maxProtocolVersion TLSV1_2 makes a TLS 1.3-capable client negotiate TLS 1.2, and HTTP still flows', async () => {
    const h = await handshake(port, { servername: 'tls12.tlsv.example.com' });
    expect(h.ok, h.error).toBe(true);
    expect(h.protocol).toBe('TLSv1.2');
    const a = await httpsGet(port, { servername: 'tls12.tlsv.example.com', path: '/over-1.2' });
    expect(a.protocol).toBe('TLSv1.2');
    expect(a.status).toBe(200);
    expect(echo(a).name).toBe('alpha');
  });

  it('cipherSuites decides the negotiated cipher and refuses a client without it', async () => {
    // Node's client prefers ECDHE-RSA-AES128-GCM-SHA256 among TLS 1.2 suites: without the
    // setting that is what a TLS 1.2 server picks.
    const plain = await handshake(port, { servername: 'tls12.tlsv.example.com' });
    expect(plain.cipher).toBe('ECDHE-RSA-AES128-GCM-SHA256');
    const h = await handshake(port, { servername: 'cipher.tlsv.example.com' });
    expect(h.ok, h.error).toBe(true);
    expect(h.protocol).toBe('TLSv1.2');
    expect(h.cipher).toBe('ECDHE-RSA-AES256-GCM-SHA384');
    const other = await handshake(port, { servername: 'cipher.tlsv.example.com', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    expect(other.ok).toBe(false);
  });
});

// --- httpsRedirect ----------------------------------------------------------------------------

describe('tls.httpsRedirect on a plain HTTP server', () => {
  let gw: TlsGateway;

  beforeAll(async () => {
    gw = await startTlsGateway(
      {
        'gateway.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: default
spec:
  servers:
  - port:
      number: 80
      name: http-secure
      protocol: HTTP
    hosts:
    - secure.example.com
    tls:
      httpsRedirect: true
  - port:
      number: 80
      name: http-plain
      protocol: HTTP
    hosts:
    - plain.example.com
  - port:
      number: 443
      name: https-secure
      protocol: HTTPS
    hosts:
    - secure.example.com
    tls:
      mode: SIMPLE
      credentialName: secure-cred
`,
        ...services([alpha, beta]),
        'vs-secure.yaml': routeTo('vs-secure', ['secure.example.com'], 'alpha'),
        'vs-plain.yaml': routeTo('vs-plain', ['plain.example.com'], 'beta'),
      },
      tlsDir,
      [80, 443],
    );
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('loads without a config warning', () => {
    expect(configProblems(gw)).toEqual([]);
  });

  it('answers 301 to https://HOST with the path and query kept, forwarding nothing', async () => {
    const a = await request({ port: gw.port(80), path: '/redirect/me?x=1&y=two', headers: { host: 'secure.example.com' } });
    expect(a.status).toBe(301);
    expect(a.headers.location).toBe('https://secure.example.com/redirect/me?x=1&y=two');
    expect(alpha.seen.some((s) => s.url.startsWith('/redirect/me'))).toBe(false);
  });

  it('keeps a port in Host as Envoy’s require_tls does (https://HOST:PORT)', async () => {
    const a = await request({ port: gw.port(80), path: '/p?q=1', headers: { host: 'secure.example.com:8080' } });
    expect(a.status).toBe(301);
    expect(a.headers.location).toBe('https://secure.example.com:8080/p?q=1');
  });

  it('keeps the query of an absolute-form request target', async () => {
    const raw = await rawRequest(gw.port(80), 'GET http://secure.example.com/abs/path?k=v HTTP/1.1\r\nHost: secure.example.com\r\nConnection: close\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 301 /);
    expect(raw).toMatch(/\r\nlocation: https:\/\/secure\.example\.com\/abs\/path\?k=v\r\n/i);
  });

  it('redirects to the normalised path Envoy routes on (dot segments resolved), the query kept', async () => {
    const a = await request({ port: gw.port(80), path: '/a/../b/./c?z=1', headers: { host: 'secure.example.com' } });
    expect(a.status).toBe(301);
    expect(a.headers.location).toBe('https://secure.example.com/b/c?z=1');
  });

  it('serves the redirect target over HTTPS, and a host without httpsRedirect over plain HTTP', async () => {
    const s = await httpsGet(gw.port(443), { servername: 'secure.example.com', path: '/redirect/target?x=1' });
    expect(s.status).toBe(200);
    expect(echo(s).name).toBe('alpha');
    expect(echo(s).headers['x-forwarded-proto']).toBe('https');
    const p = await request({ port: gw.port(80), path: '/plain', headers: { host: 'plain.example.com' } });
    expect(p.status).toBe(200);
    expect(echo(p).name).toBe('beta');
    expect(echo(p).headers['x-forwarded-proto']).toBe('http');
  });
});
