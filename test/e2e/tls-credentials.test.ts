import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Gateway } from '../../src/runtime/gateway.js';
import { defaultServeOptions } from '../../src/runtime/options.js';
import { createLogger } from '../../src/telemetry/log.js';
import { writeAtomically, writeCredential } from '../../src/tls/dev-certs.js';
import { serverPem, testCa, writeTlsDir, type Pem, type TlsDirEntry } from '../helpers/certs.js';
import { staticService, virtualServiceYaml, writeConfigDir } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { runCli } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// TLS credentials end to end, through the real gateway on 127.0.0.1 with real handshakes:
// - a bad credential (missing, key not matching, expired, not yet valid) takes only its own
//   server out: the gateway starts, the other server on the port answers, the bad one's SNI is
//   refused, and the log (and `meshgate validate`) names the Gateway, the server, the credential
//   and what is wrong; a certificate whose names miss the server's hosts is only a warning;
// - certificates rotate without a restart: --tls-dir files are watched, a Secret in the config
//   changes on reload; new connections get the new certificate, open keep-alive connections
//   carry on with the one they handshook with;
// - a credential that breaks on reload does not take its server out: the previous certificate
//   keeps serving, with a warning saying so;
// - no log line ever carries private key material.
// `meshgate validate` runs dist/cli.js (npm run build first).

const A = 'a.example.com';
const B = 'b.example.com';

let upstream: Upstream;
beforeAll(async () => {
  upstream = await startUpstream({ name: 'backend' });
});
afterAll(async () => {
  await upstream.close();
});

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  const list = cleanups.reverse();
  cleanups = [];
  for (const c of list) await c().catch(() => undefined);
});

// ---------------------------------------------------------------------------------------------
// Config

interface ServerDef {
  host: string;
  portName: string;
  tls: Record<string, unknown>;
}

function gatewayYaml(servers: ServerDef[]): string {
  return JSON.stringify({
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: 'default' },
    spec: { servers: servers.map((s) => ({ port: { number: 443, name: s.portName, protocol: 'HTTPS' }, hosts: [s.host], tls: s.tls })) },
  });
}

function secretYaml(name: string, pem: { cert: string; key: string }): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'default' },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': Buffer.from(pem.cert).toString('base64'), 'tls.key': Buffer.from(pem.key).toString('base64') },
  });
}

/** Gateway `default/gw` on 443 with these servers, every host routed to the test upstream. */
function configFiles(servers: ServerDef[], extra: Record<string, string> = {}): Record<string, string> {
  return {
    'gateway.yaml': gatewayYaml(servers),
    'backend.yaml': staticService('backend.test', [upstream.port]),
    'vs.yaml': virtualServiceYaml('app', servers.map((s) => s.host), [{ route: [{ destination: { host: 'backend.test' } }] }]),
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// The gateway, in this process, with its log captured

interface RunningGateway {
  gateway: Gateway;
  dir: string;
  port: number;
  /** Every log line so far. */
  lines: string[];
}

async function startTlsGateway(files: Record<string, string>, tlsDir: string, lines: string[] = []): Promise<RunningGateway> {
  const dir = await writeConfigDir(files);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const opts = defaultServeOptions();
  opts.configPaths = [dir];
  opts.statusPort = 0;
  opts.adminPort = 0;
  opts.tlsDir = tlsDir;
  opts.listen.set(443, { host: '127.0.0.1', port: 0 });
  const gateway = await Gateway.start(
    opts,
    createLogger('text', (l) => lines.push(l)),
  );
  cleanups.push(() => gateway.stop(1000));
  return { gateway, dir, port: gateway.addressOf(443).port, lines };
}

async function tlsDirWith(entries: Record<string, TlsDirEntry>): Promise<string> {
  const dir = await writeTlsDir(entries);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Clients

interface HttpsAnswer {
  status: number;
  body: string;
  /** Serial number of the certificate the server presented (upper-case hex). */
  serial: string;
  /** Whether the request went on a connection the agent already had. */
  reused: boolean;
  socket: TLSSocket;
}

/** One HTTPS request with SNI and Host `host`, trusting only the test CA; `agent: false` opens a fresh connection. */
function httpsGet(port: number, host: string, opts: { agent?: https.Agent | false; checkNames?: boolean } = {}): Promise<HttpsAnswer> {
  const options: https.RequestOptions & ConnectionOptions = {
    host: '127.0.0.1',
    port,
    path: '/',
    servername: host,
    headers: { host },
    ca: testCa().cert,
    agent: opts.agent ?? false,
    // Say HTTP/1.1 in ALPN: how a client without ALPN is served is tls-https.test.ts's subject, not this file's.
    ALPNProtocols: ['http/1.1'],
    ...(opts.checkNames === false ? { checkServerIdentity: () => undefined } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = https.request(
      options,
      (res) => {
        const socket = res.socket as TLSSocket;
        const serial = socket.getPeerCertificate().serialNumber?.toUpperCase() ?? '';
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), serial, reused: req.reusedSocket, socket }));
        res.on('error', reject);
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

const serialOf = (pem: Pem | string) => new X509Certificate(typeof pem === 'string' ? pem : pem.cert).serialNumber.toUpperCase();

async function until<T>(probe: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last = await probe();
  while (!done(last) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  return last;
}

/** The serial a fresh connection sees, polled until it is `serial` or the deadline passes. */
async function waitForSerial(port: number, host: string, serial: string): Promise<string> {
  const seen = await until(
    () => httpsGet(port, host).then((a) => a.serial, (e: Error) => `error: ${e.message}`),
    (s) => s === serial,
  );
  return seen;
}

async function waitForLine(lines: string[], re: RegExp, timeoutMs = 5000): Promise<string | undefined> {
  const found = await until(
    async () => lines.join('').split('\n').find((l) => re.test(l)),
    (l) => l !== undefined,
    timeoutMs,
  );
  return found;
}

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.end();
  });
}

/** `curl` over HTTPS to `host` on the local port, trusting the CA file. */
function curl(port: number, host: string, caFile: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('curl', ['-sS', '--max-time', '5', '--cacert', caFile, '--resolve', `${host}:${port}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_code}', `https://${host}:${port}/`]);
}

/** The serial of the certificate `openssl s_client` is shown for this SNI. */
async function opensslSerial(port: number, host: string): Promise<string> {
  const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', host]);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout);
  if (!pem) throw new Error(`openssl s_client showed no certificate (exit ${r.code}): ${r.stderr}`);
  return serialOf(pem[0]);
}

function errorLines(lines: string[]): string[] {
  return lines.join('').split('\n').filter((l) => /^\S+ error /.test(l));
}

// ---------------------------------------------------------------------------------------------

interface BadCase {
  what: string;
  entry: TlsDirEntry | null;
  reason: RegExp;
}

const BAD: BadCase[] = [
  { what: 'a credentialName that names nothing', entry: null, reason: /no Secret named b-cred in the config and no \S+b-cred\.crt \+ \S+b-cred\.key/ },
  { what: 'a key that does not match the certificate', entry: { cert: serverPem([B]).cert, key: serverPem(['other.example.com']).key }, reason: /b-cred\.crt: the private key does not match the certificate/ },
  {
    what: 'an expired certificate',
    entry: { hosts: [B], opts: { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') } },
    reason: /b-cred\.crt: the certificate expired on Jan {2}1 00:00:00 2021 GMT/,
  },
  {
    what: 'a certificate not valid yet',
    entry: { hosts: [B], opts: { notBefore: new Date('2040-01-01T00:00:00Z'), notAfter: new Date('2041-01-01T00:00:00Z') } },
    reason: /b-cred\.crt: the certificate is not valid before Jan {2}1 00:00:00 2040 GMT/,
  },
];

const TWO_SERVERS: ServerDef[] = [
  { host: A, portName: 'https-a', tls: { mode: 'SIMPLE', credentialName: 'a-cred' } },
  { host: B, portName: 'https-b', tls: { mode: 'SIMPLE', credentialName: 'b-cred' } },
];

describe('a bad credential takes only its own server out', () => {
  it.each(BAD)('$what: server A answers, B is refused, the log and validate say why', async ({ entry, reason }) => {
    const tlsDir = await tlsDirWith(entry === null ? { 'a-cred': { hosts: [A] } } : { 'a-cred': { hosts: [A] }, 'b-cred': entry });
    const field = 'spec.servers[1].tls.credentialName';
    const named = 'b-cred';
    const gw = await startTlsGateway(configFiles(TWO_SERVERS), tlsDir);
    const validated = runCli(['validate', '-c', gw.dir, '--tls-dir', tlsDir]);

    const a = await httpsGet(gw.port, A);
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body).name).toBe('backend');
    expect(a.serial).toBe(serialOf(serverPem([A])));
    // B's name has no chain on the port: the connection is refused before any certificate.
    await expect(httpsGet(gw.port, B, { checkNames: false })).rejects.toThrow();
    const c = await curl(gw.port, B, path.join(tlsDir, 'ca.crt'));
    expect(c.code).not.toBe(0);
    expect((await curl(gw.port, A, path.join(tlsDir, 'ca.crt'))).stdout).toBe('200');

    const errors = errorLines(gw.lines);
    expect(errors, gw.lines.join('')).toHaveLength(1);
    const line = errors[0]!;
    expect(line).toContain(path.join(gw.dir, 'gateway.yaml'));
    expect(line).toContain('Gateway default/gw');
    expect(line).toContain(`: ${field}: `);
    expect(line).toContain(named);
    expect(line).toMatch(reason);
    expect(line).toContain('default/gw servers[1] is not served');
    expect(await waitForLine(gw.lines, /TLS connection refused on gateway port 443: no server on this port has that host; the client sent SNI b\.example\.com/)).toBeDefined();

    const v = await validated;
    expect(v.code, v.stdout + v.stderr).toBe(1);
    const vErrors = v.stdout.split('\n').filter((l) => l.includes(': error: '));
    expect(vErrors, v.stdout).toHaveLength(1);
    expect(vErrors[0]).toMatch(new RegExp(`^${escape(path.join(gw.dir, 'gateway.yaml'))}:\\d+:\\d+: error: Gateway default/gw: ${escape(field)}: .*${named}`));
    expect(vErrors[0]).toMatch(reason);
    expect(v.stdout).toMatch(/^invalid: 1 error\(s\)/m);

    // Mended in --tls-dir, B is served without a restart.
    await writeCredential(tlsDir, 'b-cred', serverPem([B]));
    expect(await waitForSerial(gw.port, B, serialOf(serverPem([B])))).toBe(serialOf(serverPem([B])));
    expect((await httpsGet(gw.port, B)).status).toBe(200);
  });

  it('SIMPLE with no credential at all is refused as Istio\'s webhook refuses it: the gateway does not start, validate names the field', async () => {
    const tlsDir = await tlsDirWith({ 'a-cred': { hosts: [A] } });
    const files = configFiles([TWO_SERVERS[0]!, { ...TWO_SERVERS[1]!, tls: { mode: 'SIMPLE' } }]);
    await expect(startTlsGateway(files, tlsDir)).rejects.toThrow(/Gateway default\/gw: spec\.servers\[1\]\.tls\.serverCertificate: SIMPLE TLS requires a server certificate \(or set credentialName\)/);
    const dir = await writeConfigDir(files);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const v = await runCli(['validate', '-c', dir, '--tls-dir', tlsDir]);
    expect(v.code, v.stdout + v.stderr).toBe(1);
    expect(v.stdout).toMatch(/gateway\.yaml:\d+:\d+: error: Gateway default\/gw: spec\.servers\[1\]\.tls\.privateKey: SIMPLE TLS requires a private key/);
  });

  it("a port whose only server has no certificate yet still listens, and serves once the credential appears", async () => {
    const tlsDir = await tlsDirWith({});
    const gw = await startTlsGateway(configFiles([TWO_SERVERS[1]!]), tlsDir);
    expect(errorLines(gw.lines)).toHaveLength(1);
    await expect(httpsGet(gw.port, B)).rejects.toThrow();
    await writeCredential(tlsDir, 'b-cred', serverPem([B]));
    expect(await waitForSerial(gw.port, B, serialOf(serverPem([B])))).toBe(serialOf(serverPem([B])));
    expect(gw.lines.join('')).not.toMatch(/reload refused/);
  });

  it('a certificate whose names cover none of the server hosts is only a warning: validate passes, the server serves it', async () => {
    const tlsDir = await tlsDirWith({ 'a-cred': { hosts: ['elsewhere.example.org'] } });
    const gw = await startTlsGateway(configFiles([TWO_SERVERS[0]!]), tlsDir);
    const validated = runCli(['validate', '-c', gw.dir, '--tls-dir', tlsDir]);
    expect(errorLines(gw.lines)).toEqual([]);
    const warning = gw.lines.join('').split('\n').find((l) => / warn {2}.*cover none of the server's hosts/.test(l));
    expect(warning, gw.lines.join('')).toBeDefined();
    expect(warning).toContain('Gateway default/gw');
    expect(warning).toContain('spec.servers[0].tls.credentialName');
    expect(warning).toContain('a-cred');
    expect(warning).toContain('DNS:elsewhere.example.org');

    // Served: a client that does not check names gets its answer; one that does refuses the certificate.
    const a = await httpsGet(gw.port, A, { checkNames: false });
    expect(a.status).toBe(200);
    expect(a.serial).toBe(serialOf(serverPem(['elsewhere.example.org'])));
    await expect(httpsGet(gw.port, A)).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });

    const v = await validated;
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/: warning: Gateway default\/gw: spec\.servers\[0\]\.tls\.credentialName: .*a-cred\.crt: the certificate's names .* cover none of the server's hosts/);
    expect(v.stdout).toMatch(/^valid: .*1 warning\(s\)/m);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------

describe('certificates rotate without a restart', () => {
  it('--tls-dir: rewritten files are served to new connections; an open keep-alive connection keeps its certificate', async () => {
    const v1 = serverPem([A], { commonName: 'rotation v1' });
    const v2 = serverPem([A], { commonName: 'rotation v2' });
    const tlsDir = await tlsDirWith({ 'a-cred': { cert: v1.cert, key: v1.key } });
    const gw = await startTlsGateway(configFiles([TWO_SERVERS[0]!]), tlsDir);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());

    const first = await httpsGet(gw.port, A, { agent });
    expect(first.status).toBe(200);
    expect(first.serial).toBe(serialOf(v1));

    await writeCredential(tlsDir, 'a-cred', v2);
    expect(await waitForSerial(gw.port, A, serialOf(v2))).toBe(serialOf(v2));
    expect(await opensslSerial(gw.port, A)).toBe(serialOf(v2));
    expect(await waitForLine(gw.lines, /certificate files changed: reloading/)).toBeDefined();

    const again = await httpsGet(gw.port, A, { agent });
    expect(again.status).toBe(200);
    expect(again.reused).toBe(true);
    expect(again.socket).toBe(first.socket);
    expect(again.serial).toBe(serialOf(v1));
    expect(errorLines(gw.lines)).toEqual([]);
  });

  it('--tls-dir folder NAME/ mounted as Kubernetes does (..data symlink swapped): new connections get the new certificate', async () => {
    const v1 = serverPem([A], { commonName: 'mounted v1' });
    const v2 = serverPem([A], { commonName: 'mounted v2' });
    const tlsDir = await tlsDirWith({});
    const folder = path.join(tlsDir, 'a-cred');
    // What the kubelet's atomic writer leaves: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/.
    const writeVersion = async (name: string, pem: Pem) => {
      await mkdir(path.join(folder, name), { recursive: true });
      await writeFile(path.join(folder, name, 'tls.crt'), pem.cert);
      await writeFile(path.join(folder, name, 'tls.key'), pem.key);
      await symlink(name, path.join(folder, '..data_tmp'));
      await rename(path.join(folder, '..data_tmp'), path.join(folder, '..data'));
    };
    await writeVersion('..2024_01_01_00_00_00.1', v1);
    await symlink('..data/tls.crt', path.join(folder, 'tls.crt'));
    await symlink('..data/tls.key', path.join(folder, 'tls.key'));
    const gw = await startTlsGateway(configFiles([TWO_SERVERS[0]!]), tlsDir);
    expect((await httpsGet(gw.port, A)).serial).toBe(serialOf(v1));

    await writeVersion('..2024_01_01_00_00_00.2', v2);
    expect(await waitForSerial(gw.port, A, serialOf(v2))).toBe(serialOf(v2));
    expect(errorLines(gw.lines)).toEqual([]);
  });

  it('a Secret in the config: a changed Secret is served after reload(); an open keep-alive connection keeps its certificate', async () => {
    const v1 = serverPem([A], { commonName: 'secret v1' });
    const v2 = serverPem([A], { commonName: 'secret v2' });
    const tlsDir = await tlsDirWith({});
    const gw = await startTlsGateway(configFiles([TWO_SERVERS[0]!], { 'secret.yaml': secretYaml('a-cred', v1) }), tlsDir);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());

    const first = await httpsGet(gw.port, A, { agent });
    expect(first.status).toBe(200);
    expect(first.serial).toBe(serialOf(v1));

    await writeFile(path.join(gw.dir, 'secret.yaml'), secretYaml('a-cred', v2));
    expect(await gw.gateway.reload()).toBe(true);
    const fresh = await httpsGet(gw.port, A);
    expect(fresh.status).toBe(200);
    expect(fresh.serial).toBe(serialOf(v2));

    const again = await httpsGet(gw.port, A, { agent });
    expect(again.status).toBe(200);
    expect(again.reused).toBe(true);
    expect(again.socket).toBe(first.socket);
    expect(again.serial).toBe(serialOf(v1));
    expect(errorLines(gw.lines)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('a credential that breaks on reload keeps the previous certificate', () => {
  const KEPT = /default\/gw servers\[0\] keeps serving the certificate it had/;

  it.each([
    {
      what: 'the key rewritten so that it no longer matches',
      breakIt: (dir: string) => writeAtomically(path.join(dir, 'a-cred.key'), serverPem(['other.example.com']).key, 0o600),
      why: /the private key does not match the certificate/,
    },
    {
      what: 'the files deleted',
      breakIt: async (dir: string) => {
        await rm(path.join(dir, 'a-cred.crt'));
        await rm(path.join(dir, 'a-cred.key'));
      },
      why: /no Secret named a-cred in the config/,
    },
  ])('--tls-dir, $what: new connections still get the old certificate, with a warning; a fixed credential is then served', async ({ breakIt, why }) => {
    const v1 = serverPem([A], { commonName: 'kept v1' });
    const v2 = serverPem([A], { commonName: 'kept v2' });
    const tlsDir = await tlsDirWith({ 'a-cred': { cert: v1.cert, key: v1.key } });
    const gw = await startTlsGateway(configFiles([TWO_SERVERS[0]!]), tlsDir);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(async () => agent.destroy());
    const first = await httpsGet(gw.port, A, { agent });
    expect(first.serial).toBe(serialOf(v1));

    await breakIt(tlsDir);
    const kept = await waitForLine(gw.lines, KEPT);
    expect(kept, gw.lines.join('')).toBeDefined();
    expect(kept).toMatch(/^\S+ (warn |error)/);
    expect(kept).toContain('Gateway default/gw');
    expect(kept).toContain('spec.servers[0].tls');
    expect(kept).toContain('a-cred');
    expect(kept).toMatch(why);

    const fresh = await httpsGet(gw.port, A);
    expect(fresh.status).toBe(200);
    expect(fresh.serial).toBe(serialOf(v1));
    const again = await httpsGet(gw.port, A, { agent });
    expect(again.status).toBe(200);
    expect(again.reused).toBe(true);
    expect(again.serial).toBe(serialOf(v1));

    // Mended: the new certificate is served, the old one no longer.
    await writeCredential(tlsDir, 'a-cred', v2);
    expect(await waitForSerial(gw.port, A, serialOf(v2))).toBe(serialOf(v2));
  });

  it('a Secret whose key no longer matches, then reload(): the old certificate keeps serving, with a warning', async () => {
    const v1 = serverPem([A], { commonName: 'secret kept v1' });
    const tlsDir = await tlsDirWith({});
    const gw = await startTlsGateway(configFiles([TWO_SERVERS[0]!], { 'secret.yaml': secretYaml('a-cred', v1) }), tlsDir);
    expect((await httpsGet(gw.port, A)).serial).toBe(serialOf(v1));

    await writeFile(path.join(gw.dir, 'secret.yaml'), secretYaml('a-cred', { cert: v1.cert, key: serverPem(['other.example.com']).key }));
    await gw.gateway.reload();
    const kept = gw.lines.join('').split('\n').find((l) => KEPT.test(l));
    expect(kept, gw.lines.join('')).toBeDefined();
    expect(kept).toContain('Secret default/a-cred: the private key does not match the certificate');
    const fresh = await httpsGet(gw.port, A);
    expect(fresh.status).toBe(200);
    expect(fresh.serial).toBe(serialOf(v1));
  });
});

// ---------------------------------------------------------------------------------------------

describe('private keys are never logged', () => {
  it('through start-up errors, rotation, broken credentials, reloads, validate and the admin dump', async () => {
    const keys: string[] = [];
    const remember = (p: Pem) => (keys.push(p.key), p);
    const good = remember(serverPem([A], { commonName: 'leak v1' }));
    const next = remember(serverPem([A], { commonName: 'leak v2' }));
    const stranger = remember(serverPem(['other.example.com']));
    const bCert = remember(serverPem([B]));
    const secretPem = remember(serverPem(['c.example.com'], { commonName: 'leak secret' }));

    const servers: ServerDef[] = [...TWO_SERVERS, { host: 'c.example.com', portName: 'https-c', tls: { mode: 'SIMPLE', credentialName: 'c-cred' } }];
    // b-cred: key of another certificate; c-cred: a Secret in the config whose key does not match either.
    const tlsDir = await tlsDirWith({ 'a-cred': { cert: good.cert, key: good.key }, 'b-cred': { cert: bCert.cert, key: stranger.key } });
    const lines: string[] = [];
    const gw = await startTlsGateway(configFiles(servers, { 'secret.yaml': secretYaml('c-cred', { cert: secretPem.cert, key: bCert.key }) }), tlsDir, lines);
    expect(errorLines(lines).length).toBe(2);
    await expect(httpsGet(gw.port, B)).rejects.toThrow();

    // Rotation, then a broken key (kept certificate), then the key file holding a certificate.
    await writeCredential(tlsDir, 'a-cred', next);
    expect(await waitForSerial(gw.port, A, serialOf(next))).toBe(serialOf(next));
    await writeAtomically(path.join(tlsDir, 'a-cred.key'), stranger.key, 0o600);
    expect(await waitForLine(lines, /keeps serving the certificate it had/)).toBeDefined();
    await writeAtomically(path.join(tlsDir, 'a-cred.key'), next.cert, 0o600);
    await writeAtomically(path.join(tlsDir, 'a-cred.crt'), next.key, 0o644);
    expect(await waitForLine(lines, /is not a PEM X\.509 certificate/)).toBeDefined();
    // A Secret whose YAML is broken on reload: the reload is refused.
    await writeFile(path.join(gw.dir, 'secret.yaml'), `apiVersion: v1\nkind: Secret\nmetadata: {name: c-cred, namespace: default}\nstringData:\n  tls.key: |\n${secretPem.key.split('\n').map((l) => `    ${l}`).join('\n')}\n  tls.crt: [unclosed\n`);
    expect(await gw.gateway.reload()).toBe(false);
    // A Secret with the key as clear text in stringData, mismatched.
    await writeFile(path.join(gw.dir, 'secret.yaml'), JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'c-cred', namespace: 'default' }, stringData: { 'tls.crt': secretPem.cert, 'tls.key': good.key } }));
    await gw.gateway.reload();
    await expect(httpsGet(gw.port, 'c.example.com')).rejects.toThrow();

    const v = await runCli(['validate', '-c', gw.dir, '--tls-dir', tlsDir]);
    // The admin port shows what is served; it must not show keys either.
    const admin = gw.gateway.adminAddress!;
    const dump = await request({ port: admin.port, path: '/config_dump' });
    const routes = await request({ port: admin.port, path: '/routes' });
    expect(dump.status).toBe(200);
    expect(dump.body).toContain('a-cred');
    const everything = [...lines.join('').split('\n'), ...v.stdout.split('\n'), ...v.stderr.split('\n'), ...dump.body.split('\n'), ...routes.body.split('\n')];
    expect(everything.length).toBeGreaterThan(10);
    expect(everything.some((l) => l.includes('the private key does not match the certificate'))).toBe(true);

    const keyLines = keys.flatMap((k) => k.split('\n')).filter((l) => l.length >= 16 && !l.startsWith('-----'));
    for (const l of everything) {
      expect(l).not.toContain('PRIVATE KEY');
      for (const k of keyLines) expect(l.includes(k), `a log line carries key material: ${l}`).toBe(false);
    }
  });
});
