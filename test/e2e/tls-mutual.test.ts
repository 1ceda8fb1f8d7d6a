import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { SecureVersion } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDevCa, issueClientCert, type Pem } from '../../src/tls/dev-certs.js';
import { clientPem, serverPem, testCa, writeTlsDir } from '../helpers/certs.js';
import { startGateway, staticService, type TestGateway } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Mutual TLS at the edge, end to end: the real gateway on 127.0.0.1 with Gateway YAML as Istio
// users write it (tls.mode MUTUAL / OPTIONAL_MUTUAL, credentialName, subjectAltNames,
// verifyCertificateSpki, verifyCertificateHash), real client certificates from the test CA and
// from a CA the gateway does not trust, and a real upstream that shows what the gateway sent it,
// x-forwarded-client-cert above all (Envoy's SANITIZE_SET with Istio's Hash/Subject/URI/DNS).
// Credentials come from --tls-dir, from Kubernetes Secrets in the config, or from file paths.

const GOOD_URI = 'spiffe://cluster.local/ns/a/sa/good';
const OTHER_URI = 'spiffe://cluster.local/ns/a/sa/other';
const SPOOFED_XFCC = 'By=spiffe://cluster.local/ns/x/sa/admin;Hash=0000;Subject="CN=admin";URI=spiffe://cluster.local/ns/istio-system/sa/admin';

/** Certificates every test uses: a client of the test CA (and a second one), and one from a CA the gateway does not know. */
interface Clients {
  good: Pem;
  other: Pem;
  foreign: Pem;
}

let clients: Clients;

function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Envoy's urlEncodeQueryParameter of the PEM: all but A-Z a-z 0-9 - . _ ~ as %XX. */
function urlEncodedPem(pem: string): string {
  const x = new X509Certificate(pem).toString();
  return encodeURIComponent(x).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * What Istio's gateway Envoy sends upstream for this client certificate (SANITIZE_SET with
 * Subject, Cert, URI, DNS): Hash, Cert (url-encoded PEM), Subject, URI SANs (an empty URI= when
 * there is none), DNS SANs.
 */
function expectedXfcc(pem: Pem, cn: string, uris: string[], dns: string[]): string {
  const hash = sha256Hex(new X509Certificate(pem.cert).raw);
  const uri = uris.length === 0 ? ';URI=' : uris.map((u) => `;URI=${u}`).join('');
  return `Hash=${hash};Cert="${urlEncodedPem(pem.cert)}";Subject="CN=${cn}"${uri}${dns.map((d) => `;DNS=${d}`).join('')}`;
}

/** The answer to one HTTPS request, or the error that ended the connection without one. */
type Outcome = { ok: true; status: number; headers: Record<string, string | string[] | undefined>; body: string } | { ok: false; error: string };

interface HttpsCall {
  port: number;
  sni: string;
  client?: Pem | null;
  path?: string;
  headers?: Record<string, string>;
  maxVersion?: SecureVersion;
}

/** One HTTPS/1.1 request on a fresh connection, trusting the test CA; SNI and Host are `sni`. */
function httpsGet(c: HttpsCall): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: c.port,
        path: c.path ?? '/',
        servername: c.sni,
        headers: { host: c.sni, ...(c.headers ?? {}) },
        ca: testCa().cert,
        ...(c.client ? { cert: c.client.cert, key: c.client.key } : {}),
        ...(c.maxVersion ? { maxVersion: c.maxVersion } : {}),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => resolve({ ok: false, error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` }));
      },
    );
    req.on('error', (e) => resolve({ ok: false, error: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}` }));
    req.end();
  });
}

/** The headers the echo upstream received, from a successful outcome. */
function seenHeaders(o: Outcome): Record<string, string | string[] | undefined> {
  if (!o.ok) throw new Error(`expected an answer, got the error ${o.error}`);
  expect(o.status).toBe(200);
  return (JSON.parse(o.body) as { headers: Record<string, string | string[] | undefined> }).headers;
}

/** The call must end without any HTTP answer, and the upstream must never see it. */
async function expectRefused(up: Upstream, c: HttpsCall & { path: string }): Promise<string> {
  const o = await httpsGet(c);
  expect(o.ok ? `answered ${o.status}: ${o.body.slice(0, 200)}` : 'refused').toBe('refused');
  expect(up.seen.some((s) => s.url === c.path)).toBe(false);
  return o.ok ? '' : o.error;
}

function run(cmd: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

type LoggedGateway = TestGateway;

/** The real gateway in this process, every port on an ephemeral 127.0.0.1 port, its log lines kept. */
function startLogged(files: Record<string, string>, tlsDir: string, ports: number[]): Promise<LoggedGateway> {
  return startGateway(files, { tlsDir, gatewayPorts: ports, keepLog: true });
}

/** A VirtualService in `default` sending every host of `gateway` to echo.svc.test. */
function echoRoute(gateway: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo-${gateway.replace(/[^a-z0-9]/g, '-')}
  namespace: default
spec:
  hosts:
  - "*"
  gateways:
  - ${gateway}
  http:
  - route:
    - destination:
        host: echo.svc.test
`;
}

const pemBase64 = (s: string) => Buffer.from(s).toString('base64');

beforeAll(() => {
  const foreignCa = createDevCa({ commonName: 'a CA the gateway does not trust' });
  clients = {
    good: clientPem('client', { uris: [GOOD_URI], dnsNames: ['client.example.com'] }),
    other: clientPem('other-client', { uris: [OTHER_URI] }),
    foreign: issueClientCert(foreignCa, 'client', { uris: [GOOD_URI], dnsNames: ['client.example.com'] }),
  };
});

describe('credentialName from --tls-dir: MUTUAL, OPTIONAL_MUTUAL, SIMPLE and client certificate pins', () => {
  let up: Upstream;
  let gw: LoggedGateway;
  let port: number;
  let certDir: string;
  const goodHashHex = () => sha256Hex(new X509Certificate(clients.good.cert).raw);

  beforeAll(async () => {
    up = await startUpstream({ name: 'echo' });
    certDir = mkdtempSync(path.join(os.tmpdir(), 'meshgate-mtls-client-'));
    const hosts = ['*.example.com'];
    const tlsDir = await writeTlsDir({
      'mutual-cred': { hosts, mutual: true },
      'optional-cred': { hosts, mutual: true },
      'simple-cred': { hosts },
      'pinned-cred': { hosts, mutual: true },
      // A MUTUAL server whose credential has no CA anywhere: no noca-cred.ca.crt, no noca-cred-cacert.crt.
      'noca-cred': { hosts },
    });
    const good = new X509Certificate(clients.good.cert);
    const spki = createHash('sha256').update(good.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    const hex = goodHashHex();
    const colonHex = hex.toUpperCase().match(/../g)!.join(':');
    const gatewayYaml = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: mygateway
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "*"
  - port:
      number: 443
      name: https-mutual
      protocol: HTTPS
    tls:
      mode: MUTUAL
      credentialName: mutual-cred
    hosts:
    - mutual.example.com
  - port:
      number: 443
      name: https-simple
      protocol: HTTPS
    tls:
      mode: SIMPLE
      credentialName: simple-cred
    hosts:
    - simple.example.com
  - port:
      number: 443
      name: https-optional
      protocol: HTTPS
    tls:
      mode: OPTIONAL_MUTUAL
      credentialName: optional-cred
    hosts:
    - optional.example.com
  - port:
      number: 443
      name: https-san
      protocol: HTTPS
    tls:
      mode: MUTUAL
      credentialName: pinned-cred
      subjectAltNames:
      - ${GOOD_URI}
    hosts:
    - san.example.com
  - port:
      number: 443
      name: https-spki
      protocol: HTTPS
    tls:
      mode: MUTUAL
      credentialName: pinned-cred
      verifyCertificateSpki:
      - "${spki}"
    hosts:
    - spki.example.com
  - port:
      number: 443
      name: https-hash
      protocol: HTTPS
    tls:
      mode: MUTUAL
      credentialName: pinned-cred
      verifyCertificateHash:
      - ${hex}
    hosts:
    - hash.example.com
  - port:
      number: 443
      name: https-hash-colons
      protocol: HTTPS
    tls:
      mode: MUTUAL
      credentialName: pinned-cred
      verifyCertificateHash:
      - "${colonHex}"
    hosts:
    - hashcolons.example.com
  - port:
      number: 443
      name: https-noca
      protocol: HTTPS
    tls:
      mode: MUTUAL
      credentialName: noca-cred
    hosts:
    - noca.example.com
`;
    gw = await startLogged(
      {
        'gateway.yaml': gatewayYaml,
        'route.yaml': echoRoute('istio-system/mygateway'),
        'echo.yaml': staticService('echo.svc.test', [up.port]),
      },
      tlsDir,
      [80, 443],
    );
    port = gw.port(443);
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  describe('MUTUAL', () => {
    it('a client certificate from the trusted CA gets 200 from the upstream', async () => {
      const o = await httpsGet({ port, sni: 'mutual.example.com', client: clients.good, path: '/mutual/good' });
      expect(o.ok && o.status).toBe(200);
      expect(seenHeaders(o)['x-forwarded-proto']).toBe('https');
      expect(up.seen.some((s) => s.url === '/mutual/good')).toBe(true);
    });

    it('curl with --cert/--key gets 200 and the upstream sees the XFCC of that certificate', async () => {
      const files = { ca: path.join(certDir, 'ca.pem'), cert: path.join(certDir, 'client.pem'), key: path.join(certDir, 'client.key') };
      writeFileSync(files.ca, testCa().cert);
      writeFileSync(files.cert, clients.good.cert);
      writeFileSync(files.key, clients.good.key, { mode: 0o600 });
      const r = await run('curl', [
        '-sS', '--max-time', '10', '--cacert', files.ca, '--cert', files.cert, '--key', files.key,
        '--resolve', `mutual.example.com:${port}:127.0.0.1`, '-w', '\n%{http_code}', `https://mutual.example.com:${port}/mutual/curl`,
      ]);
      expect(r.stderr).toBe('');
      const body = r.stdout.slice(0, r.stdout.lastIndexOf('\n'));
      expect(r.stdout.slice(r.stdout.lastIndexOf('\n') + 1)).toBe('200');
      const headers = (JSON.parse(body) as { headers: Record<string, string> }).headers;
      expect(headers['x-forwarded-client-cert']).toBe(expectedXfcc(clients.good, 'client', [GOOD_URI], ['client.example.com']));
    });

    it('without a client certificate (TLS 1.3) no HTTP answer arrives and the connection fails', async () => {
      const error = await expectRefused(up, { port, sni: 'mutual.example.com', client: null, path: '/mutual/none' });
      expect(error).toMatch(/certificate required|ECONNRESET|socket hang up|EPIPE/i);
    });

    it('without a client certificate (TLS 1.2) the handshake itself fails', async () => {
      const error = await expectRefused(up, { port, sni: 'mutual.example.com', client: null, path: '/mutual/none12', maxVersion: 'TLSv1.2' });
      expect(error).toMatch(/handshake failure|alert|ECONNRESET|socket hang up/i);
    });

    it('openssl s_client without a certificate hears the certificate_required alert and gets no HTTP answer', async () => {
      const caFile = path.join(certDir, 'ca-s_client.pem');
      writeFileSync(caFile, testCa().cert);
      const r = await run(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'mutual.example.com', '-CAfile', caFile, '-verify_return_error', '-ign_eof'],
        'GET /mutual/s_client HTTP/1.1\r\nHost: mutual.example.com\r\nConnection: close\r\n\r\n',
      );
      expect(r.stdout).not.toMatch(/HTTP\/1\.1 \d{3}/);
      // The server certificate was fine (the client verified it); what failed is the missing client certificate.
      expect(r.stdout + r.stderr).toMatch(/certificate required|alert number 116/i);
      expect(up.seen.some((s) => s.url === '/mutual/s_client')).toBe(false);
    });

    it('openssl s_client with the client certificate gets the 200', async () => {
      const files = { ca: path.join(certDir, 'ca-s_client2.pem'), cert: path.join(certDir, 'client2.pem'), key: path.join(certDir, 'client2.key') };
      writeFileSync(files.ca, testCa().cert);
      writeFileSync(files.cert, clients.good.cert);
      writeFileSync(files.key, clients.good.key, { mode: 0o600 });
      const r = await run(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'mutual.example.com', '-CAfile', files.ca, '-verify_return_error', '-cert', files.cert, '-key', files.key, '-ign_eof', '-quiet'],
        'GET /mutual/s_client-ok HTTP/1.1\r\nHost: mutual.example.com\r\nConnection: close\r\n\r\n',
      );
      expect(r.stdout).toMatch(/^HTTP\/1\.1 200/m);
    });

    it('a client certificate from another CA is refused', async () => {
      await expectRefused(up, { port, sni: 'mutual.example.com', client: clients.foreign, path: '/mutual/foreign' });
    });

    it('a client certificate from another CA is refused over TLS 1.2 too', async () => {
      await expectRefused(up, { port, sni: 'mutual.example.com', client: clients.foreign, path: '/mutual/foreign12', maxVersion: 'TLSv1.2' });
    });
  });

  describe('x-forwarded-client-cert', () => {
    it('the upstream sees Hash (sha256 of the DER certificate), Subject, URI and DNS of the client certificate', async () => {
      const o = await httpsGet({ port, sni: 'mutual.example.com', client: clients.good, path: '/xfcc/plain' });
      const xfcc = seenHeaders(o)['x-forwarded-client-cert'];
      expect(xfcc).toBe(`Hash=${goodHashHex()};Cert="${urlEncodedPem(clients.good.cert)}";Subject="CN=client";URI=${GOOD_URI};DNS=client.example.com`);
      expect(xfcc).toMatch(/;Cert="-----BEGIN%20CERTIFICATE-----%0A[A-Za-z0-9%]+%0A-----END%20CERTIFICATE-----%0A";/);
    });

    it('a client-supplied XFCC on a MUTUAL server is replaced by the gateway\'s own, never passed on or appended to', async () => {
      const o = await httpsGet({ port, sni: 'mutual.example.com', client: clients.good, path: '/xfcc/spoof', headers: { 'x-forwarded-client-cert': SPOOFED_XFCC } });
      expect(seenHeaders(o)['x-forwarded-client-cert']).toBe(expectedXfcc(clients.good, 'client', [GOOD_URI], ['client.example.com']));
    });

    it('a different client certificate gives its own XFCC (no DNS SAN: no DNS part)', async () => {
      const o = await httpsGet({ port, sni: 'mutual.example.com', client: clients.other, path: '/xfcc/other', headers: { 'X-Forwarded-Client-Cert': SPOOFED_XFCC } });
      expect(seenHeaders(o)['x-forwarded-client-cert']).toBe(expectedXfcc(clients.other, 'other-client', [OTHER_URI], []));
    });

    it('over HTTP/2 on a MUTUAL server: the gateway\'s XFCC, not the client\'s', async () => {
      const session = http2.connect(`https://127.0.0.1:${port}`, { ca: testCa().cert, servername: 'mutual.example.com', cert: clients.good.cert, key: clients.good.key });
      try {
        const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          session.on('error', reject);
          const req = session.request({ ':path': '/xfcc/h2', ':authority': 'mutual.example.com', 'x-forwarded-client-cert': SPOOFED_XFCC });
          let status = 0;
          const chunks: Buffer[] = [];
          req.on('response', (h) => (status = Number(h[':status'])));
          req.on('data', (d: Buffer) => chunks.push(d));
          req.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }));
          req.on('error', reject);
          req.end();
        });
        expect(answer.status).toBe(200);
        const headers = (JSON.parse(answer.body) as { headers: Record<string, string> }).headers;
        expect(headers['x-forwarded-client-cert']).toBe(expectedXfcc(clients.good, 'client', [GOOD_URI], ['client.example.com']));
      } finally {
        session.destroy();
      }
    });

    it('a client certificate without URI SAN: the URI key is still there, empty (Envoy: "the URI key still exists even if the URI is empty")', async () => {
      const bare = clientPem('no-sans');
      const o = await httpsGet({ port, sni: 'mutual.example.com', client: bare, path: '/xfcc/no-sans' });
      expect(seenHeaders(o)['x-forwarded-client-cert']).toBe(`Hash=${sha256Hex(new X509Certificate(bare.cert).raw)};Cert="${urlEncodedPem(bare.cert)}";Subject="CN=no-sans";URI=`);
    });

    it('a client-supplied XFCC on a SIMPLE server is removed', async () => {
      const o = await httpsGet({ port, sni: 'simple.example.com', path: '/xfcc/simple', headers: { 'x-forwarded-client-cert': SPOOFED_XFCC } });
      const headers = seenHeaders(o);
      expect(headers['x-forwarded-proto']).toBe('https');
      expect(headers['x-forwarded-client-cert']).toBeUndefined();
    });

    it('a SIMPLE server does not ask for a client certificate: one offered anyway gives no XFCC', async () => {
      const o = await httpsGet({ port, sni: 'simple.example.com', client: clients.good, path: '/xfcc/simple-cert' });
      expect(seenHeaders(o)['x-forwarded-client-cert']).toBeUndefined();
    });

    it('a client-supplied XFCC on plain HTTP is removed', async () => {
      const a = await request({ port: gw.port(80), path: '/xfcc/http', headers: { host: 'plain.example.com', 'x-forwarded-client-cert': SPOOFED_XFCC } });
      expect(a.status).toBe(200);
      const headers = (JSON.parse(a.body) as { headers: Record<string, string> }).headers;
      expect(headers['x-forwarded-client-cert']).toBeUndefined();
    });
  });

  describe('OPTIONAL_MUTUAL', () => {
    it('no client certificate: 200 and no XFCC (a spoofed one is removed)', async () => {
      const o = await httpsGet({ port, sni: 'optional.example.com', path: '/optional/none', headers: { 'x-forwarded-client-cert': SPOOFED_XFCC } });
      expect(seenHeaders(o)['x-forwarded-client-cert']).toBeUndefined();
    });

    it('a valid client certificate: 200 with its XFCC', async () => {
      const o = await httpsGet({ port, sni: 'optional.example.com', client: clients.good, path: '/optional/good' });
      expect(seenHeaders(o)['x-forwarded-client-cert']).toBe(expectedXfcc(clients.good, 'client', [GOOD_URI], ['client.example.com']));
    });

    it('a client certificate from an untrusted CA is refused', async () => {
      await expectRefused(up, { port, sni: 'optional.example.com', client: clients.foreign, path: '/optional/foreign' });
    });
  });

  describe('subjectAltNames, verifyCertificateSpki, verifyCertificateHash', () => {
    it('subjectAltNames: the certificate with that URI SAN passes', async () => {
      const o = await httpsGet({ port, sni: 'san.example.com', client: clients.good, path: '/san/good' });
      expect(o.ok && o.status).toBe(200);
    });

    it('subjectAltNames: a certificate of the same CA with another URI SAN is refused', async () => {
      await expectRefused(up, { port, sni: 'san.example.com', client: clients.other, path: '/san/other' });
    });

    it('subjectAltNames: a certificate with the right URI SAN from an untrusted CA is refused', async () => {
      await expectRefused(up, { port, sni: 'san.example.com', client: clients.foreign, path: '/san/foreign' });
    });

    it('verifyCertificateSpki (base64 sha256 of the DER SubjectPublicKeyInfo): the pinned key passes, another is refused', async () => {
      const o = await httpsGet({ port, sni: 'spki.example.com', client: clients.good, path: '/spki/good' });
      expect(o.ok && o.status).toBe(200);
      await expectRefused(up, { port, sni: 'spki.example.com', client: clients.other, path: '/spki/other' });
    });

    it('verifyCertificateHash as lower-case hex: the pinned certificate passes, another is refused', async () => {
      const o = await httpsGet({ port, sni: 'hash.example.com', client: clients.good, path: '/hash/good' });
      expect(o.ok && o.status).toBe(200);
      await expectRefused(up, { port, sni: 'hash.example.com', client: clients.other, path: '/hash/other' });
    });

    it('verifyCertificateHash as colon-separated upper-case hex (as Envoy also accepts): same result', async () => {
      const o = await httpsGet({ port, sni: 'hashcolons.example.com', client: clients.good, path: '/hashcolons/good' });
      expect(o.ok && o.status).toBe(200);
      await expectRefused(up, { port, sni: 'hashcolons.example.com', client: clients.other, path: '/hashcolons/other' });
    });
  });

  describe('MUTUAL without a CA', () => {
    it('the server is taken out of service with an error naming the Gateway, the server and the credential', () => {
      const errors = gw.lines.filter((l) => / error /.test(l) && l.includes('noca-cred'));
      expect(errors).toHaveLength(1);
      const line = errors[0]!;
      expect(line).toContain('istio-system/mygateway');
      expect(line).toContain('servers[8]');
      expect(line).toContain('MUTUAL');
      expect(line).toMatch(/not served/);
      expect(gw.lines.some((l) => l.includes(' ready'))).toBe(true);
    });

    it('a client asking for that server gets no TLS server; the other servers of the port keep answering', async () => {
      const refused = await httpsGet({ port, sni: 'noca.example.com', client: clients.good, path: '/noca/good' });
      expect(refused.ok).toBe(false);
      expect(up.seen.some((s) => s.url === '/noca/good')).toBe(false);
      const o = await httpsGet({ port, sni: 'mutual.example.com', client: clients.good, path: '/noca/neighbour' });
      expect(o.ok && o.status).toBe(200);
      const s = await httpsGet({ port, sni: 'simple.example.com', path: '/noca/simple' });
      expect(s.ok && s.status).toBe(200);
    });
  });
});

describe('the log line of a refused handshake', () => {
  let gw: LoggedGateway;
  let up: Upstream;

  beforeAll(async () => {
    up = await startUpstream({ name: 'echo' });
    const tlsDir = await writeTlsDir({ 'mutual-cred': { hosts: ['*.example.com'], mutual: true } });
    gw = await startLogged(
      {
        'gateway.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: log-gateway
  namespace: istio-system
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    tls: {mode: MUTUAL, credentialName: mutual-cred}
    hosts: [mutual.example.com]
`,
        'route.yaml': echoRoute('istio-system/log-gateway'),
        'echo.yaml': staticService('echo.svc.test', [up.port]),
      },
      tlsDir,
      [443],
    );
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('a client without a certificate is logged as one line naming the SNI and the server', async () => {
    await expectRefused(up, { port: gw.port(443), sni: 'mutual.example.com', client: null, path: '/log/none' });
    const deadline = Date.now() + 5000;
    let entry: string | undefined;
    while (entry === undefined && Date.now() < deadline) {
      entry = gw.lines.find((l) => l.includes('TLS connection refused'));
      if (entry === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    expect(entry).toBeDefined();
    expect(entry).toContain('https.443.https.log-gateway.istio-system');
    expect(entry).toContain('the client sent SNI mutual.example.com');
    // One log entry is one line: an OpenSSL error string (with its own newline) must not split it.
    expect(entry!.slice(0, -1)).not.toContain('\n');
  });
});

describe('credentials from Kubernetes Secrets in the config and from file paths', () => {
  let up: Upstream;
  let gw: LoggedGateway;
  let port: number;
  let fileDir: string;
  let emptyTlsDir: string;

  beforeAll(async () => {
    up = await startUpstream({ name: 'echo' });
    const server = serverPem(['*.example.com']);
    const ca = testCa().cert;
    // A same-named Secret in another namespace with a certificate of a CA the client does not trust: the Gateway's own namespace wins.
    const foreignCa = createDevCa({ commonName: 'decoy CA' });
    const decoy = issueClientCert(foreignCa, 'decoy');
    fileDir = mkdtempSync(path.join(os.tmpdir(), 'meshgate-mtls-files-'));
    emptyTlsDir = mkdtempSync(path.join(os.tmpdir(), 'meshgate-mtls-empty-'));
    const files = { cert: path.join(fileDir, 'server.crt'), key: path.join(fileDir, 'server.key'), ca: path.join(fileDir, 'ca.crt') };
    writeFileSync(files.cert, server.cert);
    writeFileSync(files.key, server.key, { mode: 0o600 });
    writeFileSync(files.ca, ca);
    const indent = (text: string, n: number) => text.trimEnd().split('\n').map((l) => ' '.repeat(n) + l).join('\n');
    const secrets = `apiVersion: v1
kind: Secret
metadata:
  name: k8s-cred
  namespace: istio-system
type: kubernetes.io/tls
data:
  tls.crt: ${pemBase64(server.cert)}
  tls.key: ${pemBase64(server.key)}
---
apiVersion: v1
kind: Secret
metadata:
  name: k8s-cred-cacert
  namespace: istio-system
type: Opaque
data:
  cacert: ${pemBase64(ca)}
---
apiVersion: v1
kind: Secret
metadata:
  name: k8s-cred
  namespace: default
type: kubernetes.io/tls
data:
  tls.crt: ${pemBase64(decoy.cert)}
  tls.key: ${pemBase64(decoy.key)}
---
apiVersion: v1
kind: Secret
metadata:
  name: generic-cred
  namespace: istio-system
type: Opaque
data:
  cert: ${pemBase64(server.cert)}
  key: ${pemBase64(server.key)}
  cacert: ${pemBase64(ca)}
---
apiVersion: v1
kind: Secret
metadata:
  name: string-cred
  namespace: istio-system
type: kubernetes.io/tls
stringData:
  tls.crt: |
${indent(server.cert, 4)}
  tls.key: |
${indent(server.key, 4)}
  ca.crt: |
${indent(ca, 4)}
---
apiVersion: v1
kind: Secret
metadata:
  name: simple-k8s-cred
  namespace: istio-system
type: kubernetes.io/tls
data:
  tls.crt: ${pemBase64(server.cert)}
  tls.key: ${pemBase64(server.key)}
---
apiVersion: v1
kind: Secret
metadata:
  name: client-ca
  namespace: istio-system
type: Opaque
data:
  ca.crt: ${pemBase64(ca)}
`;
    const gatewayYaml = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: secret-gateway
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 443
      name: https-k8s
      protocol: HTTPS
    tls:
      mode: MUTUAL
      credentialName: k8s-cred
    hosts:
    - k8s.example.com
  - port:
      number: 443
      name: https-generic
      protocol: HTTPS
    tls:
      mode: MUTUAL
      credentialName: generic-cred
    hosts:
    - generic.example.com
  - port:
      number: 443
      name: https-string
      protocol: HTTPS
    tls:
      mode: MUTUAL
      credentialName: string-cred
    hosts:
    - string.example.com
  - port:
      number: 443
      name: https-files
      protocol: HTTPS
    tls:
      mode: MUTUAL
      serverCertificate: ${files.cert}
      privateKey: ${files.key}
      caCertificates: ${files.ca}
    hosts:
    - files.example.com
  - port:
      number: 443
      name: https-simple-k8s
      protocol: HTTPS
    tls:
      mode: MUTUAL
      credentialName: simple-k8s-cred
    hosts:
    - noca.example.com
  - port:
      number: 443
      name: https-simple
      protocol: HTTPS
    tls:
      mode: SIMPLE
      credentialName: simple-k8s-cred
    hosts:
    - simple.example.com
  - port:
      number: 443
      name: https-ca-credential
      protocol: HTTPS
    tls:
      mode: MUTUAL
      credentialName: simple-k8s-cred
      caCertCredentialName: client-ca
    hosts:
    - caname.example.com
`;
    gw = await startLogged(
      {
        'secrets.yaml': secrets,
        'gateway.yaml': gatewayYaml,
        'route.yaml': echoRoute('istio-system/secret-gateway'),
        'echo.yaml': staticService('echo.svc.test', [up.port]),
      },
      emptyTlsDir,
      [443],
    );
    port = gw.port(443);
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
    for (const d of [fileDir, emptyTlsDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  const cases: [string, string][] = [
    ['a kubernetes.io/tls Secret (data tls.crt/tls.key) in the Gateway\'s namespace plus a NAME-cacert Secret with cacert', 'k8s.example.com'],
    ['a generic Secret with cert/key/cacert', 'generic.example.com'],
    ['a Secret with stringData tls.crt/tls.key/ca.crt', 'string.example.com'],
    ['serverCertificate/privateKey/caCertificates file paths', 'files.example.com'],
    ['a CA-less credentialName whose client CA comes from the Secret named by caCertCredentialName', 'caname.example.com'],
  ];

  for (const [what, host] of cases) {
    it(`${what}: a trusted client certificate gets 200 with its XFCC`, async () => {
      const p = `/${host}/good`;
      const o = await httpsGet({ port, sni: host, client: clients.good, path: p });
      expect(seenHeaders(o)['x-forwarded-client-cert']).toBe(expectedXfcc(clients.good, 'client', [GOOD_URI], ['client.example.com']));
    });

    it(`${what}: no client certificate, or one of another CA, is refused`, async () => {
      await expectRefused(up, { port, sni: host, client: null, path: `/${host}/none` });
      await expectRefused(up, { port, sni: host, client: clients.foreign, path: `/${host}/foreign` });
    });
  }

  it('the config loads without errors for the good credentials, and the CA-less MUTUAL server is named in an error', async () => {
    const errors = gw.lines.filter((l) => / error /.test(l));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('istio-system/secret-gateway');
    expect(errors[0]).toContain('servers[4]');
    expect(errors[0]).toContain('simple-k8s-cred');
    expect(errors[0]).toContain('MUTUAL');
    // The same Secret without a CA serves the SIMPLE server on the same port.
    const o = await httpsGet({ port, sni: 'simple.example.com', path: '/simple-k8s' });
    expect(o.ok && o.status).toBe(200);
    const refused = await httpsGet({ port, sni: 'noca.example.com', client: clients.good, path: '/noca-k8s' });
    expect(refused.ok).toBe(false);
  });
});
