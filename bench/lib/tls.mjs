// The HTTPS case: the credential both TLS servers use, the OpenSSL setting that turns session
// resumption off in meshgate's process, and the preflight clients (node:https, node:tls).
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { spawnSync } from 'node:child_process';
import { HarnessError } from './procs.mjs';

/**
 * `meshgate certs --out DIR --hosts HOST --name NAME`: a development CA (DIR/ca.crt) and an RSA 2048
 * server credential DIR/NAME.crt + DIR/NAME.key, the layout `serve --tls-dir DIR` reads.
 */
export function makeCredential(cli, root, dir, host, name) {
  const r = spawnSync(process.execPath, [cli, 'certs', '--out', dir, '--hosts', host, '--name', name], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const files = { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  if (r.status !== 0 || !Object.values(files).every((f) => fs.existsSync(f))) {
    throw new HarnessError(`meshgate certs --out ${dir} --hosts ${host} --name ${name} failed (${r.signal ?? r.status})\n${`${r.stdout ?? ''}${r.stderr ?? ''}`.trim()}`);
  }
  // The nginx master reads the key as root; its workers never do. The temp dir is removed after the run.
  return { ...files, caPem: fs.readFileSync(files.ca) };
}

/**
 * An OpenSSL config for meshgate's node process (`node --openssl-config=FILE`): no TLS 1.3 session
 * tickets are issued (NumTickets = 0), so no client can resume and every new connection is a full
 * handshake. nginx gets the same setting with `ssl_conf_command NumTickets 0`. Node reads the
 * `nodejs_conf` section; `system_default` applies to every SSL_CTX, meshgate's included.
 */
export function writeNoTicketsConfig(file) {
  fs.writeFileSync(
    file,
    [
      '# Written by bench/run.mjs: TLS 1.3 session tickets off, as nginx-https (ssl_conf_command NumTickets 0).',
      'nodejs_conf = bench_init',
      '[bench_init]',
      'ssl_conf = bench_ssl',
      '[bench_ssl]',
      'system_default = bench_tls',
      '[bench_tls]',
      'NumTickets = 0',
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * One GET over HTTPS on its own connection, the certificate checked against the dev CA for
 * `servername`: { status, headers, bytes, tls: { protocol, cipher, group, certBits, alpn } }.
 */
export function httpsGet(port, reqPath, host, { ca, servername, timeoutMs = 5000 }) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: reqPath, agent: false, ca, servername, headers: host ? { host } : {}, timeout: timeoutMs },
      (res) => {
        const s = res.socket;
        const info = { protocol: s.getProtocol(), cipher: s.getCipher()?.name, group: s.getEphemeralKeyInfo()?.name, certBits: s.getPeerCertificate()?.bits, alpn: s.alpnProtocol };
        let bytes = 0;
        res.on('data', (c) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes, tls: info }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * What the handshake runs rely on, checked with `n` connections one after the other, each
 * `GET path` with `Connection: close`, each offering the session (ticket) the previous one got,
 * as wrk does (it keeps the session across its reconnects):
 * the server answers 200 and closes the connection itself (so wrk opens a new one per request),
 * and it issues tickets and resumes, or not. Returns { tickets, reused, protocol } over the `n`.
 */
export async function checkNewConnections(port, reqPath, host, { ca, servername, n = 3, timeoutMs = 5000 }) {
  let session;
  let tickets = 0;
  let reused = 0;
  let protocol = null;
  for (let i = 0; i < n; i++) {
    await new Promise((resolve, reject) => {
      let data = '';
      const s = tls.connect({ host: '127.0.0.1', port, servername, ca, session, ALPNProtocols: ['http/1.1'] });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connection ${i + 1} of ${n}: the server did not close it within ${timeoutMs} ms after answering a "Connection: close" request${data ? ` (it answered ${JSON.stringify(data.split('\r\n')[0])})` : ''}`));
      }, timeoutMs);
      s.on('session', (x) => {
        tickets++;
        session = x;
      });
      s.on('secureConnect', () => {
        protocol = s.getProtocol();
        if (s.isSessionReused()) reused++;
        s.write(`GET ${reqPath} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      });
      s.setEncoding('latin1');
      s.on('data', (d) => (data += d));
      s.on('end', () => {
        clearTimeout(timer);
        const status = /^HTTP\/1\.1 (\d{3})/.exec(data)?.[1];
        if (status !== '200') reject(new Error(`connection ${i + 1} of ${n}: answered ${JSON.stringify(data.split('\r\n')[0])}, expected HTTP/1.1 200`));
        else resolve();
      });
      s.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }
  return { tickets, reused, protocol };
}
