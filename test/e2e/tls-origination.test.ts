import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigTexts } from '../../src/config/load.js';
import { createDevCa, issueServerCert, type Pem } from '../../src/tls/dev-certs.js';
import { clientPem, serverPem, testCa } from '../helpers/certs.js';
import { GATEWAY_ANY_HOST, startGateway, type TestGateway } from '../helpers/gateway.js';
import type { Answer } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// TLS origination toward upstreams, end to end: a client speaks plain HTTP to the gateway's
// port 80, and the DestinationRule's trafficPolicy.tls (Istio's ClientTLSSettings) makes the
// gateway open TLS to the upstream, as in Istio's "Egress TLS Origination" task. The upstreams
// are real node:https / node:http2 servers on loopback with certificates from the test CA (and
// from a second CA nobody trusts); they record what each connection looked like (SNI, ALPN,
// client certificate, HTTP version) and every TLS error, so a failure says whether the gateway
// sent plain HTTP to a TLS port ("http request" / "wrong version number" in tlsErrors).
//
// Istio's behaviour, from networking/v1alpha3/destination_rule.proto (ClientTLSSettings) and
// pilot's cluster_tls.go:
// - SIMPLE/MUTUAL: Envoy's UpstreamTlsContext with `sni` as given, the CA from caCertificates,
//   subjectAltNames as exact SAN matchers, no verification at all with insecureSkipVerify;
//   ALPN h2 only on clusters that speak HTTP/2 (ports HTTP2, GRPC).
// - A failed handshake is a connection failure: 503, flag UF, and Envoy's local reply
//   `upstream connect error or disconnect/reset before headers. reset reason: connection failure,
//   transport failure reason: TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end`.
// - subjectAltNames: when the rule names none, the ServiceEntry's subjectAltNames are checked
//   (the rule's replace them).
// - portLevelSettings override the top-level policy for their port; a subset's trafficPolicy
//   overrides the DestinationRule's.

type Doc = Record<string, unknown>;

const HOST = 'api.external.test';
const CONNECT_FAILURE = 'upstream connect error or disconnect/reset before headers. reset reason: connection failure';
const RESET_BEFORE_HEADERS = 'upstream connect error or disconnect/reset before headers.';

const yaml = (docs: Doc[]) => docs.map((d) => JSON.stringify(d)).join('\n---\n') + '\n';
const slug = (s: string) => s.replace(/[^a-z0-9]/g, '-');

// ---------------------------------------------------------------------------------------
// PEM files for the DestinationRule's file path fields (caCertificates, clientCertificate,
// privateKey): one directory for the whole file, removed in afterAll.

let pemDir = '';
let foreign: Pem; // a server certificate for HOST signed by a CA the gateway is never told about

interface PemPaths {
  ca: string;
  clientCert: string;
  clientKey: string;
}
let paths: PemPaths;

beforeAll(() => {
  pemDir = mkdtempSync(path.join(os.tmpdir(), 'meshgate-origination-'));
  const write = (name: string, text: string) => {
    const p = path.join(pemDir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const client = clientPem('meshgate-egress');
  paths = { ca: write('ca.pem', testCa().cert), clientCert: write('client.pem', client.cert), clientKey: write('client-key.pem', client.key) };
  const otherCa = createDevCa({ commonName: 'a CA the gateway does not trust' });
  foreign = issueServerCert(otherCa, [HOST]);
});

afterAll(() => {
  if (pemDir) rmSync(pemDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// TLS upstreams that record what they saw.

interface Seen {
  url: string;
  host: string | undefined;
  httpVersion: string;
  encrypted: boolean;
  /** The SNI the client sent (false: none). */
  servername: string | false | undefined;
  /** The ALPN protocol negotiated (false: none). */
  alpn: string | false | null | undefined;
  /** CN of the client certificate, when there was one. */
  peerCN: string | undefined;
  authorized: boolean;
}

interface TlsUpstream {
  name: string;
  port: number;
  seen: Seen[];
  /** Completed TLS handshakes: each is one connection from the gateway. */
  secureConnections: number;
  /** Every tlsClientError (OpenSSL's "http request" or "wrong version number": plain HTTP reached this TLS port). */
  tlsErrors: string[];
  /** Connections that offered no ALPN protocol this HTTP/2-only server speaks. */
  noH2: number;
  close(): Promise<void>;
}

interface TlsUpstreamOptions {
  name: string;
  pem?: Pem;
  /** Ask for a client certificate and refuse connections without one from the test CA. */
  mutual?: boolean;
  /** HTTP/2 only (http2.createSecureServer without allowHTTP1). */
  h2?: boolean;
}

function describeSocket(sock: tls.TLSSocket, req: { url?: string; headers: http.IncomingHttpHeaders; httpVersion: string }): Seen {
  const peer = sock.getPeerCertificate?.();
  const cn = peer && typeof peer.subject === 'object' && peer.subject !== null ? peer.subject.CN : undefined;
  return {
    url: req.url ?? '',
    host: (req.headers.host ?? req.headers[':authority']) as string | undefined,
    httpVersion: req.httpVersion,
    encrypted: sock.encrypted === true,
    servername: (sock as tls.TLSSocket & { servername?: string | false }).servername,
    alpn: sock.alpnProtocol,
    peerCN: Array.isArray(cn) ? cn.join(',') : cn,
    authorized: sock.authorized,
  };
}

async function startTlsUpstream(o: TlsUpstreamOptions): Promise<TlsUpstream> {
  const pem = o.pem ?? serverPem([HOST]);
  const seen: Seen[] = [];
  const tlsErrors: string[] = [];
  const sockets = new Set<net.Socket>();
  const state = { secureConnections: 0, noH2: 0 };
  const answer = (url: string) => `hello from ${o.name} ${url}`;
  const secure = {
    cert: pem.cert,
    key: pem.key,
    ...(o.mutual ? { requestCert: true, rejectUnauthorized: true, ca: testCa().cert } : {}),
  };

  let server: https.Server | http2.Http2SecureServer;
  if (o.h2) {
    const s = http2.createSecureServer({ ...secure, allowHTTP1: false }, (req, res) => {
      seen.push(describeSocket(req.stream.session!.socket as tls.TLSSocket, req));
      const body = answer(req.url);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': o.name });
        res.end(body);
      });
    });
    s.on('unknownProtocol', (sock: tls.TLSSocket) => {
      state.noH2++;
      sock.destroy();
    });
    server = s;
  } else {
    const s = https.createServer(secure, (req, res) => {
      seen.push(describeSocket(req.socket as tls.TLSSocket, req));
      const body = answer(req.url ?? '');
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-upstream': o.name });
        res.end(body);
      });
    });
    s.keepAliveTimeout = 30_000;
    server = s;
  }
  server.on('connection', (sock: net.Socket) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  server.on('secureConnection', () => state.secureConnections++);
  server.on('tlsClientError', (err: Error) => tlsErrors.push(err.message));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    name: o.name,
    port,
    seen,
    get secureConnections() {
      return state.secureConnections;
    },
    get noH2() {
      return state.noH2;
    },
    tlsErrors,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/** What went wrong, for assertion messages: the gateway's answer and what the upstream saw. */
function explain(a: Answer, up: TlsUpstream): string {
  return `gateway answered ${a.status} ${JSON.stringify(a.body.slice(0, 300))}; ${upstreamState(up)}`;
}

function upstreamState(up: TlsUpstream): string {
  return `${up.name} saw ${up.seen.length} request(s), ${up.secureConnections} TLS handshake(s), TLS errors: ${JSON.stringify(up.tlsErrors)}${up.noH2 ? `, ${up.noH2} connection(s) without ALPN h2` : ''}`;
}

function expectServedOverTls(a: Answer, up: TlsUpstream, url: string): Seen {
  expect(a.status, explain(a, up)).toBe(200);
  expect(a.body, explain(a, up)).toBe(`hello from ${up.name} ${url}`);
  expect(a.headers['x-upstream']).toBe(up.name);
  const s = up.seen.find((x) => x.url === url);
  expect(s, explain(a, up)).toBeDefined();
  expect(s!.encrypted).toBe(true);
  return s!;
}

/** A TLS failure toward the upstream: Envoy's 503 local reply, and the upstream's handler never ran. */
function expectConnectFailure(a: Answer, up: TlsUpstream, url: string, prefix = CONNECT_FAILURE): void {
  expect(a.status, explain(a, up)).toBe(503);
  expect(a.body.startsWith(prefix), explain(a, up)).toBe(true);
  expect(up.seen.some((s) => s.url === url), explain(a, up)).toBe(false);
}

// ---------------------------------------------------------------------------------------
// Config: Istio objects as JSON documents (JSON is YAML).

interface SePort {
  number: number;
  name: string;
  protocol: string;
  targetPort?: number;
}

/** A MESH_EXTERNAL ServiceEntry with STATIC loopback endpoints; `eps` maps port names to local ports. */
function serviceEntry(host: string, ports: SePort[], eps: { ports?: Record<string, number>; labels?: Record<string, string> }[], extra: Doc = {}): Doc {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: slug(host), namespace: 'default' },
    spec: {
      hosts: [host],
      location: 'MESH_EXTERNAL',
      resolution: 'STATIC',
      ports,
      endpoints: eps.map((e) => ({ address: '127.0.0.1', ...(e.ports ? { ports: e.ports } : {}), ...(e.labels ? { labels: e.labels } : {}) })),
      ...extra,
    },
  };
}

const httpsPort: SePort = { number: 443, name: 'https', protocol: 'HTTPS' };

/** A VirtualService on `gw` for `host` (or several hosts) with these HTTPRoutes. */
function virtualService(host: string | string[], routes: unknown[]): Doc {
  const hosts = typeof host === 'string' ? [host] : host;
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: slug(hosts[0]!), namespace: 'default' },
    spec: { hosts, gateways: ['gw'], http: routes },
  };
}

const toPort = (host: string, port: number, subset?: string) => ({ route: [{ destination: { host, port: { number: port }, ...(subset ? { subset } : {}) } }] });

function destinationRule(host: string, spec: Doc): Doc {
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: slug(host), namespace: 'default' }, spec: { host, ...spec } };
}

/** ClientTLSSettings SIMPLE with the test CA and the given extra fields. */
const simple = (extra: Doc = {}): Doc => ({ mode: 'SIMPLE', caCertificates: paths.ca, ...extra });

function start(docs: Doc[]): Promise<TestGateway> {
  return startGateway({ 'gateway.yaml': GATEWAY_ANY_HOST, 'config.yaml': yaml(docs) }, { gatewayPorts: [80] });
}

// ---------------------------------------------------------------------------------------

describe('SIMPLE: plain HTTP in, TLS to the upstream', () => {
  let gw: TestGateway;
  let api: TlsUpstream;
  let named: TlsUpstream;

  beforeAll(async () => {
    api = await startTlsUpstream({ name: 'api' });
    // A certificate for the name in `sni`, which is not the Host the client asked for.
    named = await startTlsUpstream({ name: 'named', pem: serverPem(['backend.internal.test']) });
    gw = await start([
      serviceEntry(HOST, [httpsPort], [{ ports: { https: api.port } }]),
      virtualService(HOST, [toPort(HOST, 443)]),
      destinationRule(HOST, { trafficPolicy: { tls: simple({ sni: HOST }) } }),
      serviceEntry('named.external.test', [httpsPort], [{ ports: { https: named.port } }]),
      virtualService('named.external.test', [toPort('named.external.test', 443)]),
      destinationRule('named.external.test', { trafficPolicy: { tls: simple({ sni: 'backend.internal.test' }) } }),
    ]);
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([api?.close(), named?.close()]);
  });

  it('the request reaches the HTTPS upstream over TLS and the client gets its answer', async () => {
    const a = await gw.get(HOST, '/simple/hello?x=1');
    const s = expectServedOverTls(a, api, '/simple/hello?x=1');
    expect(s.host).toBe(HOST);
    expect(s.httpVersion).toBe('1.1');
  });

  it("the upstream sees the DestinationRule's sni in the ClientHello", async () => {
    const a = await gw.get(HOST, '/simple/sni');
    const s = expectServedOverTls(a, api, '/simple/sni');
    expect(s.servername).toBe(HOST);
  });

  it('sni is sent as written, even when it is not the Host of the request', async () => {
    const a = await gw.get('named.external.test', '/simple/named');
    const s = expectServedOverTls(a, named, '/simple/named');
    expect(s.servername).toBe('backend.internal.test');
    // The Host header is still the client's: TLS origination does not rewrite it.
    expect(s.host).toBe('named.external.test');
  });

  it('a POST body crosses the TLS connection intact', async () => {
    const body = 'x'.repeat(100_000);
    const a = await gw.get(HOST, { path: '/simple/post', method: 'POST', body, headers: { 'content-type': 'text/plain' } });
    expectServedOverTls(a, api, '/simple/post');
  });
});

describe("the Istio task's shape: port 80 HTTP with a targetPort, TLS from portLevelSettings", () => {
  let gw: TestGateway;
  let api: TlsUpstream;
  let plain: Upstream;
  let both: TlsUpstream;

  beforeAll(async () => {
    api = await startTlsUpstream({ name: 'task' });
    plain = await startUpstream({ name: 'plain-80' });
    both = await startTlsUpstream({ name: 'tls-443' });
    gw = await start([
      // As in Istio's egress TLS origination task: the application calls http://HOST:80, the
      // ServiceEntry sends port 80 to the server's TLS port, and the DestinationRule's
      // portLevelSettings for port 80 originate TLS. Here the endpoint has no port of its own:
      // the targetPort is the upstream's port.
      serviceEntry(HOST, [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: api.port }], [{}]),
      virtualService(HOST, [toPort(HOST, 80)]),
      destinationRule(HOST, { trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, tls: simple({ sni: HOST }) }] } }),
      // Two ports: portLevelSettings for 443 leave port 80 in plain text.
      serviceEntry('two.external.test', [{ number: 80, name: 'http', protocol: 'HTTP' }, httpsPort], [{ ports: { http: plain.port, https: both.port } }]),
      virtualService('two.external.test', [
        { match: [{ uri: { prefix: '/plain' } }], ...toPort('two.external.test', 80) },
        toPort('two.external.test', 443),
      ]),
      destinationRule('two.external.test', { trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls: simple({ sni: HOST }) }] } }),
      // A top-level SIMPLE with portLevelSettings DISABLE for port 80: the port's setting wins.
      serviceEntry('over.external.test', [{ number: 80, name: 'http', protocol: 'HTTP' }, httpsPort], [{ ports: { http: plain.port, https: both.port } }]),
      virtualService('over.external.test', [
        { match: [{ uri: { prefix: '/plain' } }], ...toPort('over.external.test', 80) },
        toPort('over.external.test', 443),
      ]),
      destinationRule('over.external.test', {
        trafficPolicy: { tls: simple({ sni: HOST }), portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'DISABLE' } }] },
      }),
    ]);
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([api?.close(), plain?.close(), both?.close()]);
  });

  it('port 80 with portLevelSettings SIMPLE: TLS to the targetPort, with the sni', async () => {
    const a = await gw.get(HOST, '/task/get');
    const s = expectServedOverTls(a, api, '/task/get');
    expect(s.servername).toBe(HOST);
  });

  it('portLevelSettings for port 443 originate TLS on 443 only: port 80 of the same host stays plain text', async () => {
    const t = await gw.get('two.external.test', '/tls/two');
    expectServedOverTls(t, both, '/tls/two');
    const p = await gw.get('two.external.test', '/plain/two');
    expect(p.status, p.body).toBe(200);
    expect(p.headers['x-upstream']).toBe('plain-80');
    expect(plain.seen.some((s) => s.url === '/plain/two')).toBe(true);
  });

  it("a port's DISABLE overrides the top-level SIMPLE for that port, and only for it", async () => {
    const p = await gw.get('over.external.test', '/plain/over');
    expect(p.status, p.body).toBe(200);
    expect(p.headers['x-upstream']).toBe('plain-80');
    const t = await gw.get('over.external.test', '/tls/over');
    expectServedOverTls(t, both, '/tls/over');
  });
});

describe('verifying the upstream certificate', () => {
  let gw: TestGateway;
  let trusted: TlsUpstream;
  let untrusted: TlsUpstream;

  // One host per case, all on two upstreams: the test CA's certificate for HOST, and the
  // foreign CA's certificate for HOST.
  const cases: { host: string; to: 'trusted' | 'untrusted'; tls: () => Doc; se?: Doc }[] = [
    { host: 'foreign.external.test', to: 'untrusted', tls: () => simple({ sni: HOST }) },
    { host: 'wrong-san.external.test', to: 'trusted', tls: () => simple({ sni: HOST, subjectAltNames: ['other.test'] }) },
    { host: 'right-san.external.test', to: 'trusted', tls: () => simple({ sni: HOST, subjectAltNames: [HOST] }) },
    { host: 'one-san.external.test', to: 'trusted', tls: () => simple({ sni: HOST, subjectAltNames: ['other.test', HOST] }) },
    { host: 'skip.external.test', to: 'untrusted', tls: () => ({ mode: 'SIMPLE', sni: HOST, insecureSkipVerify: true }) },
    // No caCertificates: Envoy verifies against the system's roots, which do not include a test CA.
    { host: 'system-roots.external.test', to: 'trusted', tls: () => ({ mode: 'SIMPLE', sni: HOST }) },
    // The ServiceEntry's subjectAltNames are checked when the rule names none, and the rule's replace them.
    { host: 'se-san.external.test', to: 'trusted', tls: () => simple({ sni: HOST }), se: { subjectAltNames: ['other.test'] } },
    { host: 'se-san-override.external.test', to: 'trusted', tls: () => simple({ sni: HOST, subjectAltNames: [HOST] }), se: { subjectAltNames: ['other.test'] } },
  ];

  beforeAll(async () => {
    trusted = await startTlsUpstream({ name: 'trusted' });
    untrusted = await startTlsUpstream({ name: 'untrusted', pem: foreign });
    const docs: Doc[] = [];
    for (const c of cases) {
      const port = (c.to === 'trusted' ? trusted : untrusted).port;
      docs.push(
        serviceEntry(c.host, [httpsPort], [{ ports: { https: port } }], c.se),
        virtualService(c.host, [toPort(c.host, 443)]),
        destinationRule(c.host, { trafficPolicy: { tls: c.tls() } }),
      );
    }
    gw = await start(docs);
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([trusted?.close(), untrusted?.close()]);
  });

  it('a certificate from a CA not in caCertificates: 503 with CERTIFICATE_VERIFY_FAILED, and the upstream never sees the request', async () => {
    const a = await gw.get('foreign.external.test', '/verify/foreign');
    expectConnectFailure(a, untrusted, '/verify/foreign');
    expect(a.body, explain(a, untrusted)).toContain('CERTIFICATE_VERIFY_FAILED');
  });

  it('subjectAltNames that the certificate does not have: 503, the request never reaches the upstream', async () => {
    const a = await gw.get('wrong-san.external.test', '/verify/wrong-san');
    expectConnectFailure(a, trusted, '/verify/wrong-san');
  });

  it("subjectAltNames naming the certificate's SAN: 200", async () => {
    const a = await gw.get('right-san.external.test', '/verify/right-san');
    expectServedOverTls(a, trusted, '/verify/right-san');
  });

  it('subjectAltNames: one match among several is enough', async () => {
    const a = await gw.get('one-san.external.test', '/verify/one-san');
    expectServedOverTls(a, trusted, '/verify/one-san');
  });

  it("the ServiceEntry's subjectAltNames, when the rule has none: a certificate without them is refused (503)", async () => {
    const a = await gw.get('se-san.external.test', '/verify/se-san');
    expectConnectFailure(a, trusted, '/verify/se-san');
  });

  it("the rule's subjectAltNames override the ServiceEntry's: 200", async () => {
    const a = await gw.get('se-san-override.external.test', '/verify/se-san-override');
    expectServedOverTls(a, trusted, '/verify/se-san-override');
  });

  it('insecureSkipVerify: the untrusted certificate is accepted (200)', async () => {
    const a = await gw.get('skip.external.test', '/verify/skip');
    expectServedOverTls(a, untrusted, '/verify/skip');
  });

  it('insecureSkipVerify with caCertificates is refused, as Istio\'s webhook refuses it', () => {
    const text = JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'skip-ca', namespace: 'default' }, spec: { host: 'skip-ca.external.test', trafficPolicy: { tls: simple({ sni: HOST, insecureSkipVerify: true }) } } });
    const { objects, problems } = parseConfigTexts([{ file: 'dr.yaml', text }], { defaultNamespace: 'default' });
    expect(objects).toEqual([]);
    expect(problems.map((p) => `${p.severity} ${p.field}: ${p.message}`)).toEqual(['error spec.trafficPolicy.tls.insecureSkipVerify: cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true']);
  });

  it('without caCertificates the system roots decide: a test-CA certificate is refused (503)', async () => {
    const a = await gw.get('system-roots.external.test', '/verify/system-roots');
    expectConnectFailure(a, trusted, '/verify/system-roots');
    expect(a.body, explain(a, trusted)).toContain('CERTIFICATE_VERIFY_FAILED');
  });
});

describe('MUTUAL: the gateway presents a client certificate', () => {
  let gw: TestGateway;
  let mtls: TlsUpstream;

  beforeAll(async () => {
    mtls = await startTlsUpstream({ name: 'mtls', mutual: true });
    gw = await start([
      serviceEntry(HOST, [httpsPort], [{ ports: { https: mtls.port } }]),
      virtualService(HOST, [toPort(HOST, 443)]),
      destinationRule(HOST, {
        trafficPolicy: { tls: { mode: 'MUTUAL', clientCertificate: paths.clientCert, privateKey: paths.clientKey, caCertificates: paths.ca, sni: HOST } },
      }),
      // The same upstream with SIMPLE: no client certificate to show.
      serviceEntry('nocert.external.test', [httpsPort], [{ ports: { https: mtls.port } }]),
      virtualService('nocert.external.test', [toPort('nocert.external.test', 443)]),
      destinationRule('nocert.external.test', { trafficPolicy: { tls: simple({ sni: HOST }) } }),
    ]);
  });

  afterAll(async () => {
    await gw?.stop();
    await mtls?.close();
  });

  it("the upstream sees the certificate from clientCertificate/privateKey, and the gateway checked the upstream's", async () => {
    const a = await gw.get(HOST, '/mutual/hello');
    const s = expectServedOverTls(a, mtls, '/mutual/hello');
    expect(s.authorized).toBe(true);
    expect(s.peerCN).toBe('meshgate-egress');
    expect(s.servername).toBe(HOST);
  });

  it('SIMPLE toward an upstream that requires a client certificate: 503, the request never reaches it', async () => {
    const a = await gw.get('nocert.external.test', '/mutual/nocert');
    // With TLS 1.3 the server refuses the missing certificate after the client's Finished, so
    // Envoy may see it as a failed connection or a reset one: the prefix they share.
    expectConnectFailure(a, mtls, '/mutual/nocert', RESET_BEFORE_HEADERS);
    // Refused in the handshake for want of a certificate, not for plain text on a TLS port.
    expect(mtls.tlsErrors.some((e) => /did not return a certificate|certificate required/i.test(e)), explain(a, mtls)).toBe(true);
  });
});

describe('subset traffic policy', () => {
  let gw: TestGateway;
  let api: TlsUpstream;
  let plain: Upstream;

  beforeAll(async () => {
    api = await startTlsUpstream({ name: 'subset-tls' });
    plain = await startUpstream({ name: 'subset-plain' });
    gw = await start([
      serviceEntry(HOST, [{ number: 80, name: 'http', protocol: 'HTTP' }], [
        { ports: { http: api.port }, labels: { version: 'secure' } },
        { ports: { http: plain.port }, labels: { version: 'legacy' } },
      ]),
      virtualService(HOST, [
        { match: [{ uri: { prefix: '/secure' } }], ...toPort(HOST, 80, 'secure') },
        toPort(HOST, 80, 'legacy'),
      ]),
      destinationRule(HOST, {
        subsets: [
          { name: 'secure', labels: { version: 'secure' }, trafficPolicy: { tls: simple({ sni: HOST }) } },
          { name: 'legacy', labels: { version: 'legacy' } },
        ],
      }),
    ]);
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([api?.close(), plain?.close()]);
  });

  it("a subset's trafficPolicy.tls applies to that subset only", async () => {
    const t = await gw.get(HOST, '/secure/one');
    expectServedOverTls(t, api, '/secure/one');
    const p = await gw.get(HOST, '/legacy/one');
    expect(p.status, p.body).toBe(200);
    expect(p.headers['x-upstream']).toBe('subset-plain');
  });
});

describe('no TLS origination (regression guard)', () => {
  let gw: TestGateway;
  let plain: Upstream;

  beforeAll(async () => {
    plain = await startUpstream({ name: 'plain' });
    const http80: SePort = { number: 80, name: 'http', protocol: 'HTTP' };
    gw = await start([
      serviceEntry('disable.external.test', [http80], [{ ports: { http: plain.port } }]),
      virtualService('disable.external.test', [toPort('disable.external.test', 80)]),
      destinationRule('disable.external.test', { trafficPolicy: { tls: { mode: 'DISABLE' } } }),
      serviceEntry('notls.external.test', [http80], [{ ports: { http: plain.port } }]),
      virtualService('notls.external.test', [toPort('notls.external.test', 80)]),
      destinationRule('notls.external.test', { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }),
    ]);
  });

  afterAll(async () => {
    await gw?.stop();
    await plain?.close();
  });

  it.each(['disable.external.test', 'notls.external.test'])('%s: plain HTTP to a plain upstream', async (host) => {
    const url = `/plain/${host}`;
    const a = await gw.get(host, url);
    expect(a.status, a.body).toBe(200);
    expect(a.headers['x-upstream']).toBe('plain');
    expect(plain.seen.some((s) => s.url === url && s.headers.host === host)).toBe(true);
  });
});

describe('HTTP/2 over TLS to the upstream', () => {
  let gw: TestGateway;
  const ups: Record<string, TlsUpstream> = {};
  // REUSE: a third HTTP2 upstream of its own, for counting connections.
  const protocols = ['HTTP2', 'GRPC'] as const;
  const hostOf = (p: string) => `${p.toLowerCase()}.external.test`;

  beforeAll(async () => {
    const docs: Doc[] = [];
    for (const p of [...protocols, 'REUSE']) {
      const up = await startTlsUpstream({ name: `h2-${p.toLowerCase()}`, h2: true });
      ups[p] = up;
      const host = hostOf(p);
      const portName = `${p.toLowerCase()}-tls`;
      docs.push(
        serviceEntry(host, [{ number: 443, name: portName, protocol: p === 'REUSE' ? 'HTTP2' : p }], [{ ports: { [portName]: up.port } }]),
        virtualService(host, [toPort(host, 443)]),
        destinationRule(host, { trafficPolicy: { tls: simple({ sni: HOST }) } }),
      );
    }
    gw = await start(docs);
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all(Object.values(ups).map((u) => u.close()));
  });

  it.each(protocols)('a ServiceEntry port with protocol %s: the request arrives over HTTP/2 negotiated by ALPN', async (p) => {
    const up = ups[p]!;
    const url = `/h2/${p}`;
    const a = await gw.get(hostOf(p), url);
    const s = expectServedOverTls(a, up, url);
    expect(s.httpVersion).toBe('2.0');
    expect(s.alpn).toBe('h2');
    expect(s.servername).toBe(HOST);
    expect(s.host).toBe(hostOf(p));
  });

  it('sequential requests share one HTTP/2 connection', async () => {
    const up = ups.REUSE!;
    const a1 = await gw.get(hostOf('REUSE'), '/h2/reuse/1');
    expectServedOverTls(a1, up, '/h2/reuse/1');
    const a2 = await gw.get(hostOf('REUSE'), '/h2/reuse/2');
    expectServedOverTls(a2, up, '/h2/reuse/2');
    expect(up.seen.map((s) => s.httpVersion)).toEqual(['2.0', '2.0']);
    expect(up.secureConnections, explain(a2, up)).toBe(1);
  });
});

describe('connection reuse over TLS', () => {
  let gw: TestGateway;
  let api: TlsUpstream;

  beforeAll(async () => {
    api = await startTlsUpstream({ name: 'keepalive' });
    gw = await start([
      serviceEntry(HOST, [httpsPort], [{ ports: { https: api.port } }]),
      // Two hosts routed to the same cluster: with a fixed sni, one connection pool serves both.
      virtualService([HOST, 'alias.external.test'], [toPort(HOST, 443)]),
      destinationRule(HOST, { trafficPolicy: { tls: simple({ sni: HOST }) } }),
    ]);
  });

  afterAll(async () => {
    await gw?.stop();
    await api?.close();
  });

  it('two sequential requests ride one TLS connection to the upstream', async () => {
    // Each client request comes on a fresh downstream connection: only the upstream side is pooled.
    const a1 = await gw.get(HOST, '/reuse/1');
    expectServedOverTls(a1, api, '/reuse/1');
    const a2 = await gw.get(HOST, '/reuse/2');
    expectServedOverTls(a2, api, '/reuse/2');
    expect(api.secureConnections, explain(a2, api)).toBe(1);
  });

  it("requests with other Host headers keep that connection: the sni is the rule's, not the Host's", async () => {
    const before = api.secureConnections;
    for (const [i, host] of [HOST, 'alias.external.test', HOST, 'alias.external.test'].entries()) {
      const a = await gw.get(host, `/reuse/alias/${i}`);
      const s = expectServedOverTls(a, api, `/reuse/alias/${i}`);
      expect(s.host).toBe(host);
      expect(s.servername).toBe(HOST);
    }
    // An earlier test may have left a connection open: at most one is made here.
    expect(api.secureConnections - before, upstreamState(api)).toBeLessThanOrEqual(1);
  });
});
