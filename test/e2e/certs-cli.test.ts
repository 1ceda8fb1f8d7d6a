import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/process.js';

// The built CLI (dist/cli.js), run as a user runs it. `npm run build` first.

const HOST = 'mynginx.example.com';
let root: string;
let n = 0;
/** A fresh --out directory that does not exist yet (the command creates it). */
const freshDir = () => path.join(root, `tls-${++n}`);

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'meshgate-certs-cli-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const read = (dir: string, file: string) => readFile(path.join(dir, file), 'utf8');
const mode = async (dir: string, file: string) => (await stat(path.join(dir, file))).mode & 0o777;

describe('meshgate certs: files', () => {
  let dir: string;
  let first: Awaited<ReturnType<typeof runCli>>;
  beforeAll(async () => {
    dir = freshDir();
    first = await runCli(['certs', '--out', dir, '--hosts', `${HOST},*.apps.example.com,127.0.0.1`, '--client', 'client']);
  });

  it('writes the CA, the server credential and the client certificate; keys are 0600', async () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['ca.crt', 'ca.key', 'client.crt', 'client.key', `${HOST}.ca.crt`, `${HOST}.crt`, `${HOST}.key`].sort());
    for (const key of ['ca.key', `${HOST}.key`, 'client.key']) expect(await mode(dir, key)).toBe(0o600);
    for (const crt of ['ca.crt', `${HOST}.crt`, `${HOST}.ca.crt`, 'client.crt']) expect(await mode(dir, crt)).toBe(0o644);
    expect(await read(dir, `${HOST}.ca.crt`)).toBe(await read(dir, 'ca.crt'));
  });

  it('signs both certificates with the CA, for the hosts asked', async () => {
    const ca = new X509Certificate(await read(dir, 'ca.crt'));
    const server = new X509Certificate(await read(dir, `${HOST}.crt`));
    const client = new X509Certificate(await read(dir, 'client.crt'));
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(server.subjectAltName).toBe(`DNS:${HOST}, DNS:*.apps.example.com, IP Address:127.0.0.1`);
    expect(client.subject).toBe('CN=client');
    expect(Date.parse(server.validTo) - Date.parse(server.validFrom)).toBe(825 * 86_400_000);
  });

  it('says what it wrote and how to try it', () => {
    expect(first.stdout).toContain(`CA: created ${path.join(dir, 'ca.crt')} and ${path.join(dir, 'ca.key')}`);
    expect(first.stdout).toContain(`server credential "${HOST}" for ${HOST}, *.apps.example.com, 127.0.0.1`);
    expect(first.stdout).toContain(`  ${path.join(dir, `${HOST}.key`)}\n`);
    expect(first.stdout).toContain(`credentialName: ${HOST}`);
    expect(first.stdout).toContain(`meshgate serve --tls-dir ${dir}`);
    expect(first.stdout).toContain(
      `curl --cacert ${path.join(dir, 'ca.crt')} --cert ${path.join(dir, 'client.crt')} --key ${path.join(dir, 'client.key')} --resolve ${HOST}:8443:127.0.0.1 https://${HOST}:8443/`,
    );
    expect(first.stdout).not.toContain('PRIVATE KEY');
  });

  it('run again, leaves existing credentials alone and exits 0', async () => {
    const before = await Promise.all(['ca.crt', `${HOST}.crt`, `${HOST}.key`, 'client.crt'].map((f) => read(dir, f)));
    const r = await runCli(['certs', '--out', dir, '--hosts', HOST, '--client', 'client']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`server credential "${HOST}": ${path.join(dir, `${HOST}.crt`)} exists, left as it is (--force replaces it)`);
    expect(r.stdout).toContain(`client certificate "client": ${path.join(dir, 'client.crt')} exists, left as it is`);
    expect(r.stdout).not.toContain('note:');
    expect(await Promise.all(['ca.crt', `${HOST}.crt`, `${HOST}.key`, 'client.crt'].map((f) => read(dir, f)))).toEqual(before);
  });

  it('a credential left alone that does not cover the hosts asked for gets a note', async () => {
    const r = await runCli(['certs', '--out', dir, '--hosts', 'other.test', '--name', HOST]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('note: it does not cover other.test; --force issues a new one');
  });

  it('reuses the CA for a new credential, wildcard named "wildcard"', async () => {
    const ca = await read(dir, 'ca.crt');
    const r = await runCli(['certs', '--out', dir, '--hosts', '*.shop.test']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`CA: reusing ${path.join(dir, 'ca.crt')}`);
    expect(r.stdout).toContain(`--resolve www.shop.test:8443:127.0.0.1 https://www.shop.test:8443/`);
    expect(await read(dir, 'ca.crt')).toBe(ca);
    const x = new X509Certificate(await read(dir, 'wildcard.shop.test.crt'));
    expect(x.verify(new X509Certificate(ca).publicKey)).toBe(true);
    expect(x.checkHost('www.shop.test')).toBe('*.shop.test');
  });

  it('--force replaces the credential and keeps the CA', async () => {
    const ca = await read(dir, 'ca.crt');
    const oldKey = await read(dir, `${HOST}.key`);
    const r = await runCli(['certs', '--out', dir, '--hosts', `${HOST},www.example.com`, '--force', '--days', '30']);
    expect(r.code).toBe(0);
    expect(await read(dir, `${HOST}.key`)).not.toBe(oldKey);
    expect(await mode(dir, `${HOST}.key`)).toBe(0o600);
    expect(await read(dir, 'ca.crt')).toBe(ca);
    const x = new X509Certificate(await read(dir, `${HOST}.crt`));
    expect(x.checkHost('www.example.com')).toBe('www.example.com');
    expect(x.verify(new X509Certificate(ca).publicKey)).toBe(true);
    expect(Date.parse(x.validTo) - Date.parse(x.validFrom)).toBe(30 * 86_400_000);
  });

  it('refuses to replace a CA it cannot use without --force (exit 1), replaces it with --force', async () => {
    const d = freshDir();
    expect((await runCli(['certs', '--out', d, '--client', 'c'])).code).toBe(0);
    await rm(path.join(d, 'ca.key'));
    const r = await runCli(['certs', '--out', d, '--hosts', 'a.test']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ca.key is missing');
    expect(r.stderr).toContain('--force');
    expect(existsSync(path.join(d, 'a.test.crt'))).toBe(false);
    const f = await runCli(['certs', '--out', d, '--hosts', 'a.test', '--force']);
    expect(f.code).toBe(0);
    expect(f.stdout).toContain('in place of the old');
    const x = new X509Certificate(await read(d, 'a.test.crt'));
    expect(x.verify(new X509Certificate(await read(d, 'ca.crt')).publicKey)).toBe(true);
  });
});

describe('meshgate certs: usage', () => {
  it('without --out: exit 2, one clear line, nothing written', async () => {
    const r = await runCli(['certs', '--hosts', HOST], { cwd: root });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('meshgate certs: --out DIR is required: the directory the gateway reads credentials from (meshgate serve --tls-dir, default ./tls)\n');
    expect(existsSync(path.join(root, 'tls'))).toBe(false);
  });

  it('without --hosts or --client, with a bad host, a bad name or an unknown flag: exit 2', async () => {
    const cases: [string[], string][] = [
      [[], 'meshgate certs: --hosts H1,H2 is required'],
      [['--hosts', 'foo*.example.com'], 'meshgate certs: --hosts: "foo*.example.com": a wildcard is allowed only as the whole first label'],
      [['--hosts', 'a.test', '--name', '../up'], 'meshgate certs: --name: "../up" is not a usable credential name'],
      [['--hosts', 'a.test', '--name', 'ca'], 'meshgate certs: --name: "ca" is taken by the CA'],
      [['--hosts', 'a.test', '--days', 'ten'], 'meshgate certs: --days: "ten" is not a positive whole number'],
      [['--hosts', 'a.test', '--bogus'], 'meshgate certs: unknown option --bogus (see meshgate certs --help)'],
    ];
    const dir = freshDir();
    for (const [args, message] of cases) {
      const r = await runCli(['certs', '--out', dir, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('--help prints the options and exits 0; the main help lists the command', async () => {
    const r = await runCli(['certs', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: meshgate certs --out DIR --hosts H1,H2/);
    for (const flag of ['--out', '--hosts', '--name', '--client', '--days', '--force']) expect(r.stdout).toContain(flag);
    expect((await runCli(['--help'])).stdout).toMatch(/^ {2}certs {6}/m);
  });
});

describe('meshgate certs: real TLS handshakes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = freshDir();
    const r = await runCli(['certs', '--out', dir, '--hosts', HOST, '--client', 'client']);
    expect(r.code).toBe(0);
  });

  it('a server with NAME.crt/NAME.key is trusted by a client that trusts only ca.crt, for the host', async () => {
    const server = await listen({ cert: await read(dir, `${HOST}.crt`), key: await read(dir, `${HOST}.key`) });
    try {
      const ok = await get(server.port, { servername: HOST, ca: await read(dir, 'ca.crt') });
      expect(ok).toEqual({ status: 200, body: 'hello, anonymous' });
      // The same certificate under another name, or without the CA, is refused.
      await expect(get(server.port, { servername: 'other.example.com', ca: await read(dir, 'ca.crt') })).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      await expect(get(server.port, { servername: HOST })).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    } finally {
      await server.close();
    }
  });

  it('mutual TLS: a server trusting NAME.ca.crt accepts the --client certificate, and refuses a client without one', async () => {
    const server = await listen({
      cert: await read(dir, `${HOST}.crt`),
      key: await read(dir, `${HOST}.key`),
      ca: await read(dir, `${HOST}.ca.crt`),
      requestCert: true,
      rejectUnauthorized: true,
    });
    try {
      const ca = await read(dir, 'ca.crt');
      const ok = await get(server.port, { servername: HOST, ca, cert: await read(dir, 'client.crt'), key: await read(dir, 'client.key') });
      expect(ok).toEqual({ status: 200, body: 'hello, client' });
      await expect(get(server.port, { servername: HOST, ca })).rejects.toThrow();
    } finally {
      await server.close();
    }
  });
});

interface Listening {
  port: number;
  close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1 that greets the client certificate's CN, if any. */
function listen(opts: https.ServerOptions): Promise<Listening> {
  const server = https.createServer(opts, (req, res) => {
    const peer = (req.socket as import('node:tls').TLSSocket).getPeerCertificate();
    res.end(`hello, ${peer?.subject?.CN ?? 'anonymous'}`);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => {
          server.closeAllConnections();
          return new Promise<void>((r) => server.close(() => r()));
        },
      }),
    );
  });
}

function get(port: number, tls: { servername: string; ca?: string; cert?: string; key?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/', headers: { host: tls.servername }, agent: false, ...tls }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
