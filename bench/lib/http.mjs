// HTTP helpers the benches share: free ports, a plain GET, waiting for a server to answer, and
// the upstream every case proxies to.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { HarnessError, startChild, tail, waitForOutput, which } from './procs.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
/** The upstream's answer: nginx's default index page size, as the anchor figures were taken. */
export const BODY_BYTES = 612;

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One GET with its own connection: { status, headers, bytes }. */
export function get(port, reqPath, host, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: reqPath, agent: false, headers: host ? { host } : {}, timeout: timeoutMs }, (res) => {
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, bytes }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function waitForHttp(child, port, what, timeoutMs = 10_000, probe = get) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new HarnessError(`${what} exited before answering\n${tail(child.output())}`);
    try {
      const r = await probe(port, '/index.html', null, 1000);
      if (r.status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new HarnessError(`${what} did not answer on 127.0.0.1:${port} within ${timeoutMs} ms\n${tail(child.output())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------------
// Upstream: nginx as anchors.sh runs it, else a node:http server with the same 612-byte body.

export async function startUpstream(work, core) {
  const useNginx = process.env.BENCH_UPSTREAM !== 'node' && which('nginx') !== null;
  if (process.env.BENCH_UPSTREAM === 'nginx' && !useNginx) throw new HarnessError('BENCH_UPSTREAM=nginx but nginx is not installed');
  if (useNginx) {
    const dir = path.join(work, 'nginx');
    const www = path.join(dir, 'www');
    fs.mkdirSync(www, { recursive: true, mode: 0o755 });
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(www, 0o755);
    fs.writeFileSync(path.join(www, 'index.html'), 'x'.repeat(BODY_BYTES), { mode: 0o644 });
    const port = await freePort();
    const conf = path.join(dir, 'nginx.conf');
    fs.writeFileSync(
      conf,
      `worker_processes 1; daemon off; master_process on; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:${port}; location / { root ${www}; index index.html; } } }
`,
    );
    const child = startChild('nginx', 'nginx', ['-p', `${dir}/`, '-c', conf, '-e', `${dir}/error.log`], { core });
    await waitForHttp(child, port, 'nginx upstream');
    const v = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
    const version = `${v.stderr ?? ''}${v.stdout ?? ''}`.trim().replace(/^nginx version: /, '') || 'nginx';
    return { port, child, description: `${version}, worker_processes 1, keepalive, ${BODY_BYTES}-byte index.html` };
  }
  const child = startChild('upstream', process.execPath, [path.join(HERE, 'servers/upstream.mjs')], { core });
  const m = await waitForOutput(child, /ready (\d+)/, 10_000, 'ready line');
  const port = Number(m[1]);
  await waitForHttp(child, port, 'node upstream');
  return { port, child, description: `node:http ${process.version} answering ${BODY_BYTES} bytes (nginx not installed)` };
}
