#!/usr/bin/env node
// `npm run bench`: meshgate against a direct upstream and hand-written undici proxies, in one run,
// interleaved rounds, plus the 1,000-VirtualService route table against the seed config, plus the
// h2c case (h2load, meshgate against nginx as an h2c reverse proxy) and the HTTPS case (wrk, meshgate
// terminating TLS against nginx doing the same: keep-alive, and a new handshake per request) in the same rounds.
// See bench/README.md for what is measured and how to read it.
//
// Environment: DUR (s per run, default 5), ROUNDS (3), CONNS (64), BENCH_QUICK=1 (~45 s smoke run),
// BENCH_HOSTS (VirtualServices in the route table, 1000), BENCH_LOADGEN=wrk|autocannon,
// BENCH_UPSTREAM=nginx|node, BENCH_PIN=0 (no taskset), BENCH_JSON=FILE (also write the results as JSON),
// H2_CONNS (h2c connections, 4), H2_STREAMS (concurrent streams per connection, 32), BENCH_H2C=0 (no h2c case),
// BENCH_TLS=0 (no HTTPS case), BENCH_TLS_RESUME=1 (HTTPS handshakes resume TLS sessions: tickets on, both servers' default).
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { writeHttpsConfig, writeRouteTableConfig, writeSeedConfig } from './lib/config.mjs';
import { pickH2LoadGenerator, pickLoadGenerator } from './lib/load.mjs';
import {
  HarnessError,
  allowedCpus,
  cleanup,
  cpuSeconds,
  machineBusySeconds,
  ownCpuSeconds,
  installCleanupHooks,
  makeTempDir,
  startChild,
  tail,
  tcpPassiveOpens,
  waitForOutput,
  wasInterrupted,
  which,
} from './lib/procs.mjs';
import { checkNewConnections, httpsGet, makeCredential, writeNoTicketsConfig } from './lib/tls.mjs';
import { BODY_BYTES, freePort, get, startUpstream, waitForHttp } from './lib/http.mjs';
import { intEnv, UsageError } from './lib/env.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.resolve(HERE, '..');
const CLI = path.join(ROOT, 'dist/cli.js');
const PATH = '/index.html';
const SEED_HOST = 'mynginx.example.com';
const CREDENTIAL = 'bench-credential';

const log = (s = '') => process.stdout.write(s + '\n');
const median = (xs) => {
  const a = xs.filter((x) => Number.isFinite(x)).sort((p, q) => p - q);
  if (a.length === 0) return NaN;
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');

/** One GET over h2c (HTTP/2 with prior knowledge), its own session: { status, headers, bytes }. */
function h2get(port, reqPath, authority, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const fail = (e) => {
      clearTimeout(timer);
      session.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error('timeout')), timeoutMs);
    session.on('error', fail);
    const req = session.request({ ':method': 'GET', ':path': reqPath, ...(authority ? { ':authority': authority } : {}) });
    let headers = {};
    let bytes = 0;
    req.on('response', (h) => (headers = h));
    req.on('data', (c) => (bytes += c.length));
    req.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve({ status: Number(headers[':status']), headers, bytes });
    });
    req.on('error', fail);
    req.end();
  });
}

async function getJson(port, reqPath) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: reqPath, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString()));
        } catch (e) {
          reject(e);
        }
      });
    }).on('error', reject);
  });
}


// ---------------------------------------------------------------------------------------------
// Proxies under test.

/**
 * The h2c reference: nginx as a reverse proxy taking HTTP/2 with prior knowledge (`listen … http2`
 * on a cleartext port, nginx 1.22 syntax) in front of the same upstream, over HTTP/1.1 keep-alive.
 * Its upstream `keepalive` (idle connections kept) is 64, or the h2c concurrency when that is
 * higher: nginx releases a burst of upstream connections at once when an HTTP/2 read brings a batch
 * of streams, and with 128 streams in flight and `keepalive 64` it closed and reopened an upstream
 * connection every ~8 requests, which meshgate (whose pool keeps them all) does not do.
 */
async function startNginxH2c(work, upstreamPort, core, streams, concurrency) {
  const keepalive = Math.max(64, concurrency);
  const { port, child } = await startNginxProxy(work, 'nginx-h2c', upstreamPort, core, {
    http: `http2_max_concurrent_streams ${Math.max(128, streams)};`,
    listen: 'http2',
    keepalive,
    probe: h2get,
  });
  return { port, child, keepalive };
}

/**
 * nginx as a reverse proxy to the upstream, HTTP/1.1 keep-alive upstream (`keepalive` idle
 * connections), one worker, no access log, in its own temp dir; `listen` and `http` add what
 * the case needs (h2c, TLS). Waits until `probe` gets an answer through it.
 */
async function startNginxProxy(work, name, upstreamPort, core, { http = '', listen, server = '', keepalive, probe }) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t}_temp;`).join(' ');
  fs.writeFileSync(
    conf,
    `worker_processes 1; daemon off; master_process on; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; ${http} ${temps}
  upstream bench_upstream { server 127.0.0.1:${upstreamPort}; keepalive ${keepalive}; keepalive_requests 1000000; }
  server { listen 127.0.0.1:${port} ${listen};${server}
    location / { proxy_pass http://bench_upstream; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`,
  );
  const child = startChild(name, 'nginx', ['-p', `${dir}/`, '-c', conf, '-e', `${dir}/error.log`], { core });
  await waitForHttp(child, port, name, 10_000, probe);
  return { port, child };
}

/**
 * The HTTPS reference: nginx as a TLS-terminating reverse proxy (`listen … ssl`, HTTP/1.1, the
 * credential meshgate serves) in front of the same upstream, over HTTP/1.1 keep-alive as the other
 * nginx proxies. Resumption off unless `resume`: `ssl_conf_command NumTickets 0`, no TLS 1.3 session
 * ticket issued, as meshgate's process gets through its OpenSSL config (lib/tls.mjs); the session
 * cache is nginx's default (none). With `resume`, nginx's defaults (tickets on), as meshgate's.
 */
async function startNginxHttps(work, upstreamPort, core, cred, { resume, keepalive }) {
  const { port, child } = await startNginxProxy(work, 'nginx-https', upstreamPort, core, {
    listen: 'ssl',
    server: ` ssl_certificate ${cred.cert}; ssl_certificate_key ${cred.key}; ssl_protocols TLSv1.2 TLSv1.3;${resume ? '' : ' ssl_conf_command NumTickets 0;'}`,
    keepalive,
    probe: (p, reqPath, host, timeoutMs) => httpsGet(p, reqPath, host, { ca: cred.caPem, servername: SEED_HOST, timeoutMs }),
  });
  return { port, child, keepalive };
}

async function startReferenceProxy(name, script, upstreamPort, core) {
  const child = startChild(name, process.execPath, [path.join(HERE, 'lib/servers', script), String(upstreamPort)], { core, cwd: ROOT });
  const m = await waitForOutput(child, /ready (\d+)/, 10_000, 'ready line');
  return { child, port: Number(m[1]) };
}

/**
 * `meshgate serve --workers 1`, gateway port 80 on an ephemeral port; `args` adds serve options
 * (more `--listen`s, `--tls-dir`), `nodeArgs` node options, `gatewayPorts` the ports to read back.
 */
async function startMeshgate(name, configDir, core, { nodeArgs = [], args = [], gatewayPorts = [80] } = {}) {
  const t0 = performance.now();
  const child = startChild(
    name,
    process.execPath,
    [...nodeArgs, CLI, 'serve', '-c', configDir, '--listen', '80=127.0.0.1:0', ...args, '--status-port', '0', '--admin-port', '0', '--workers', '1', '--access-log', 'off'],
    { core, cwd: ROOT },
  );
  await waitForOutput(child, /^\S+ info\s+ready$/m, 120_000, '"ready" log line');
  const readyMs = performance.now() - t0;
  const out = child.output();
  const ports = {};
  for (const gp of gatewayPorts) {
    const m = new RegExp(`listening: gateway port ${gp} on \\S+:(\\d+)`).exec(out);
    if (!m) throw new HarnessError(`${name}: ready, but no "listening: gateway port ${gp}" line in its log\n${tail(out)}`);
    ports[gp] = Number(m[1]);
  }
  const admin = /admin on 127\.0\.0\.1:(\d+)/.exec(out);
  if (!admin) throw new HarnessError(`${name}: ready, but no admin line in its log\n${tail(out)}`);
  const warnings = out.split('\n').filter((l) => / (warn|error) /.test(l));
  return { child, port: ports[80], ports, adminPort: Number(admin[1]), readyMs, warnings };
}

/** Checks, through /config_dump, that the request lands on the last route of a host in the middle of the table. */
async function verifyRouteTable(adminPort, rt) {
  const dump = await getJson(adminPort, '/config_dump');
  const listener = dump.listeners?.find((l) => l.name === 'gateway:80');
  if (!listener) throw new HarnessError('route table: no gateway:80 listener in /config_dump');
  const table = listener.chains?.find((c) => c.type === 'http')?.routes;
  if (!table) throw new HarnessError('route table: gateway:80 has no HTTP filter chain in /config_dump');
  const hosts = Object.keys(table.exact).length;
  const vhost = table.exact[rt.host];
  if (!vhost) throw new HarnessError(`route table: ${rt.host} is not among the ${hosts} exact hosts of gateway:80`);
  const hit = vhost.routes.findIndex((r) => r.matches === null || r.matches.some((m) => m.uri === null || (m.uri.kind === 1 && rt.path.startsWith(m.uri.value))));
  if (vhost.routes.length !== rt.routes || hit !== rt.routes - 1) {
    throw new HarnessError(`route table: ${rt.host}${rt.path} hits route ${hit + 1} of ${vhost.routes.length}, expected ${rt.routes} of ${rt.routes}`);
  }
  const routes = Object.values(table.exact).reduce((s, v) => s + v.routes.length, 0);
  return { hosts, routes };
}

async function preflight(t) {
  if (t.proto === 'https' || t.proto === 'https-new') return preflightHttps(t);
  const h2 = t.proto === 'h2c';
  const req = `${h2 ? 'h2c ' : ''}GET ${PATH}${t.host ? ` (${h2 ? ':authority' : 'Host'}: ${t.host})` : ''}`;
  let r;
  try {
    r = await (h2 ? h2get : get)(t.port, PATH, t.host);
  } catch (e) {
    throw new HarnessError(`${t.key}: ${req} failed: ${e.message}`);
  }
  if (r.status !== 200 || r.bytes !== BODY_BYTES) {
    throw new HarnessError(`${t.key}: ${req} answered ${r.status} with ${r.bytes} bytes, expected 200 with ${BODY_BYTES}`);
  }
  if (t.meshgate && r.headers.server !== 'istio-envoy') throw new HarnessError(`${t.key}: the answer did not come through meshgate (server: ${r.headers.server})`);
}

/**
 * HTTPS paths, with the dev CA and SNI mynginx.example.com (wrk checks no certificate and sends the
 * URL's 127.0.0.1 as SNI: its own requests are checked after its warm-up). Keep-alive: one GET over
 * node:https, 200 with 612 bytes, TLS 1.3. New connection per request: three connections one after
 * the other, `Connection: close`, each offering the previous one's session as wrk does; the server
 * must answer 200 and close the connection itself (so wrk reconnects, a new handshake per request)
 * and, resumption off, issue no session ticket (no handshake can then be resumed); with
 * BENCH_TLS_RESUME=1 it must issue tickets and resume.
 */
async function preflightHttps(t) {
  const o = { ca: t.tls.cred.caPem, servername: SEED_HOST };
  if (t.proto === 'https') {
    let r;
    try {
      r = await httpsGet(t.port, PATH, t.host, o);
    } catch (e) {
      throw new HarnessError(`${t.key}: HTTPS GET ${PATH} (SNI ${SEED_HOST}, Host: ${t.host}) failed: ${e.message}`);
    }
    if (r.status !== 200 || r.bytes !== BODY_BYTES) {
      throw new HarnessError(`${t.key}: HTTPS GET ${PATH} (Host: ${t.host}) answered ${r.status} with ${r.bytes} bytes, expected 200 with ${BODY_BYTES}`);
    }
    if (t.meshgate && r.headers.server !== 'istio-envoy') throw new HarnessError(`${t.key}: the answer did not come through meshgate (server: ${r.headers.server})`);
    if (r.tls.protocol !== 'TLSv1.3') throw new HarnessError(`${t.key}: negotiated ${r.tls.protocol}, expected TLSv1.3`);
    t.tlsInfo = r.tls;
    return;
  }
  const n = 3;
  let r;
  try {
    r = await checkNewConnections(t.port, PATH, t.host, { ...o, n });
  } catch (e) {
    throw new HarnessError(`${t.key}: ${n} HTTPS requests with "Connection: close", one connection each: ${e.message}`);
  }
  if (r.protocol !== 'TLSv1.3') throw new HarnessError(`${t.key}: negotiated ${r.protocol}, expected TLSv1.3`);
  if (!t.tls.resume && (r.tickets > 0 || r.reused > 0)) {
    throw new HarnessError(`${t.key}: session resumption is meant to be off, but the server issued ${r.tickets} ticket(s) and resumed ${r.reused} of ${n} connections`);
  }
  if (t.tls.resume && (r.tickets === 0 || r.reused < n - 1)) {
    throw new HarnessError(`${t.key}: BENCH_TLS_RESUME=1, but the server issued ${r.tickets} ticket(s) and resumed ${r.reused} of the ${n - 1} connections that offered one`);
  }
  t.resumeCheck = r;
}

/** The h2c load generator's own requests must be routed too (its :authority), not only node:http2's. */
async function preflightH2load(t, h2gen) {
  const n = 8;
  const r = await h2gen.run({ url: `http://127.0.0.1:${t.port}${PATH}`, authority: t.host, requests: n, conns: 1, streams: 1 });
  if (r.succeeded !== n || r.non2xx > 0 || r.errors > 0) {
    throw new HarnessError(`${t.key}: h2load -n${n}${t.host ? ` (:authority: ${t.host})` : ''}: ${r.succeeded} of ${n} succeeded (${r.non2xx} 4xx/5xx, ${r.errors} errors)`);
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const quick = ['1', 'true', 'yes'].includes(String(process.env.BENCH_QUICK ?? '').toLowerCase());
  const dur = intEnv('DUR', quick ? 2 : 5);
  const rounds = intEnv('ROUNDS', quick ? 1 : 3);
  const conns = intEnv('CONNS', 64);
  const hostsN = intEnv('BENCH_HOSTS', 1000);
  const h2Conns = intEnv('H2_CONNS', 4);
  const h2Streams = intEnv('H2_STREAMS', 32);
  const routesN = 10;
  const warmupS = 1;

  if (!fs.existsSync(CLI)) throw new HarnessError(`${path.relative(process.cwd(), CLI)} is missing: run \`npm run build\` (npm run bench does)`);

  const cpus = allowedCpus();
  const pin = process.env.BENCH_PIN !== '0' && which('taskset') !== null && cpus.length >= 2;
  const loadCore = pin ? cpus[0] : null;
  const proxyCore = pin ? cpus[1] : null;

  const work = makeTempDir();
  const loadgen = await pickLoadGenerator(loadCore);
  const upstream = await startUpstream(work, loadCore);
  // The h2c case: skipped without h2load; without nginx, meshgate-h2c runs without its reference.
  const h2gen = process.env.BENCH_H2C === '0' ? null : pickH2LoadGenerator(loadCore);
  const h2Skipped =
    process.env.BENCH_H2C === '0' ? 'skipped (BENCH_H2C=0)' : h2gen === null ? 'skipped: h2load is not installed (apt-get install -y nghttp2-client)' : null;
  const h2Nginx = h2gen !== null && which('nginx') !== null;
  // The HTTPS case: wrk only (https URLs, Connection: close); without nginx, meshgate runs without its reference.
  const tlsOn = ['1', 'true', 'yes'];
  const tlsSkipped =
    process.env.BENCH_TLS === '0' ? 'skipped (BENCH_TLS=0)' : loadgen.name !== 'wrk' ? 'skipped: it runs on wrk only (apt-get install -y wrk), not autocannon' : null;
  const tlsResume = tlsOn.includes(String(process.env.BENCH_TLS_RESUME ?? '').toLowerCase());
  const tlsNginx = tlsSkipped === null && which('nginx') !== null;
  let cred = null;
  let httpsDir = null;
  let noTickets = null;
  if (tlsSkipped === null) {
    cred = makeCredential(CLI, ROOT, path.join(work, 'tls'), SEED_HOST, CREDENTIAL);
    httpsDir = path.join(work, 'config-https');
    writeHttpsConfig(path.join(ROOT, 'gateways'), httpsDir, upstream.port, { host: SEED_HOST, credentialName: CREDENTIAL });
    noTickets = tlsResume ? null : writeNoTicketsConfig(path.join(work, 'openssl-no-tickets.cnf'));
  }

  const seedDir = path.join(work, 'config-seed');
  const tableDir = path.join(work, 'config-route-table');
  const seedInfo = writeSeedConfig(path.join(ROOT, 'gateways'), seedDir, upstream.port);
  const rt = writeRouteTableConfig(path.join(ROOT, 'gateways'), tableDir, upstream.port, { hosts: hostsN, routes: routesN });

  const [undici, dispatch, mg, mgTable, nginxH2c, mgHttps, nginxHttps] = await Promise.all([
    startReferenceProxy('undici-request', 'undici-request.mjs', upstream.port, proxyCore),
    startReferenceProxy('undici-dispatch', 'undici-dispatch.mjs', upstream.port, proxyCore),
    startMeshgate('meshgate', seedDir, proxyCore),
    startMeshgate('meshgate-table', tableDir, proxyCore),
    h2Nginx ? startNginxH2c(work, upstream.port, proxyCore, h2Streams, h2Conns * h2Streams) : null,
    tlsSkipped === null
      ? startMeshgate('meshgate-https', httpsDir, proxyCore, {
          nodeArgs: noTickets ? [`--openssl-config=${noTickets}`] : [],
          args: ['--listen', '443=127.0.0.1:0', '--tls-dir', path.dirname(cred.cert)],
          gatewayPorts: [80, 443],
        })
      : null,
    tlsNginx ? startNginxHttps(work, upstream.port, proxyCore, cred, { resume: tlsResume, keepalive: Math.max(64, conns) }) : null,
  ]);
  const table = await verifyRouteTable(mgTable.adminPort, rt);

  const targets = [
    { key: 'direct', what: `${loadgen.name} → upstream, no proxy`, port: upstream.port, host: null, child: upstream.child },
    { key: 'undici-request', what: 'node:http + undici Pool.request + body.pipe(res) (anchors.sh)', port: undici.port, host: null, child: undici.child },
    { key: 'undici-dispatch', what: 'node:http + undici Pool.dispatch, handler writes to res (node-ceiling/dispatch.mjs)', port: dispatch.port, host: null, child: dispatch.child },
    { key: 'meshgate', what: `meshgate serve --workers 1, seed config (Host: ${SEED_HOST}, 1 route)`, port: mg.port, host: SEED_HOST, child: mg.child, meshgate: true },
    {
      key: `meshgate-${hostsN >= 1000 && hostsN % 1000 === 0 ? `${hostsN / 1000}k` : hostsN}x${routesN}`,
      what: `meshgate, seed + ${hostsN} VirtualServices × ${routesN} uri-prefix routes (Host: ${rt.host}, route ${routesN} of ${routesN})`,
      port: mgTable.port,
      host: rt.host,
      child: mgTable.child,
      meshgate: true,
    },
  ];
  const tableKey = targets[4].key;
  // The h2c case, in the same rounds: h2load, many streams over few connections, same upstream.
  const h2Targets = [];
  if (nginxH2c) {
    h2Targets.push({ key: 'nginx-h2c', what: `nginx reverse proxy, listen … http2 (h2c), HTTP/1.1 upstream, keepalive ${nginxH2c.keepalive}`, port: nginxH2c.port, host: null, child: nginxH2c.child, proto: 'h2c' });
  }
  if (h2gen) {
    h2Targets.push({ key: 'meshgate-h2c', what: `the meshgate process above, seed config (:authority: ${SEED_HOST})`, port: mg.port, host: SEED_HOST, child: mg.child, meshgate: true, proto: 'h2c' });
  }
  // The HTTPS case, in the same rounds: wrk over TLS, keep-alive and then a new connection (a new
  // handshake) per request, against meshgate's HTTPS server and nginx terminating TLS, same upstream.
  const tlsTargets = [];
  if (tlsSkipped === null) {
    const tlsOpts = { cred, resume: tlsResume };
    const nginxWhat = nginxHttps ? `nginx reverse proxy, listen … ssl, HTTP/1.1 upstream, keepalive ${nginxHttps.keepalive}` : '';
    const mgWhat = `meshgate serve --workers 1, seed + HTTPS server on gateway port 443 (SIMPLE, hosts *; Host: ${SEED_HOST})`;
    if (nginxHttps) tlsTargets.push({ key: 'nginx-https', what: nginxWhat, port: nginxHttps.port, host: SEED_HOST, child: nginxHttps.child, proto: 'https', tls: tlsOpts });
    tlsTargets.push({ key: 'meshgate-https', what: mgWhat, port: mgHttps.ports[443], host: SEED_HOST, child: mgHttps.child, meshgate: true, proto: 'https', tls: tlsOpts });
    if (nginxHttps) tlsTargets.push({ key: 'nginx-https-new', what: 'the nginx-https process, a new connection per request', port: nginxHttps.port, host: SEED_HOST, child: nginxHttps.child, proto: 'https-new', tls: tlsOpts });
    tlsTargets.push({ key: 'meshgate-https-new', what: 'the meshgate-https process, a new connection per request', port: mgHttps.ports[443], host: SEED_HOST, child: mgHttps.child, meshgate: true, proto: 'https-new', tls: tlsOpts });
  }
  const allTargets = [...targets, ...h2Targets, ...tlsTargets];
  for (const t of allTargets) await preflight(t);
  for (const t of h2Targets) await preflightH2load(t, h2gen);
  /** One load run on a path, with the load generator of its protocol. */
  const runLoad = (t, durationS) =>
    t.proto === 'h2c'
      ? h2gen.run({ url: `http://127.0.0.1:${t.port}${PATH}`, authority: t.host, durationS, conns: h2Conns, streams: h2Streams })
      : t.proto === 'https' || t.proto === 'https-new'
        ? loadgen.run({ url: `https://127.0.0.1:${t.port}${PATH}`, host: t.host, durationS, conns, close: t.proto === 'https-new' })
        : loadgen.run({ url: `http://127.0.0.1:${t.port}${PATH}`, host: t.host, durationS, conns });

  const cpuModel = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  log(`meshgate bench, ${new Date().toISOString().slice(0, 10)}, ${os.hostname()}`);
  log(`  machine     ${cpuModel}, ${os.cpus().length} CPU(s), allowed ${cpus.join(',')}; ${os.type()} ${os.release()}; node ${process.version}`);
  log(`  load        ${loadgen.description.replace('CONNS', String(conns))}, ${rounds} interleaved round(s) of ${dur} s per path, ${warmupS} s warm-up each`);
  log(`  upstream    ${upstream.description}, 127.0.0.1:${upstream.port}`);
  log(
    `  pinning     ${pin ? `taskset: load generator + upstream on CPU ${loadCore}, each proxy on CPU ${proxyCore} (one loaded at a time)` : `none (${process.env.BENCH_PIN === '0' ? 'BENCH_PIN=0' : which('taskset') ? `only ${cpus.length} CPU allowed` : 'taskset not installed'}): load generator, upstream and proxy share the CPUs`}`,
  );
  log(`  request     GET ${PATH}, ${BODY_BYTES}-byte answer, keep-alive`);
  log(`  meshgate    seed config ready in ${fmt(mg.readyMs / 1000, 1)} s; route table (${table.hosts} hosts, ${table.routes} routes on gateway:80) ready in ${fmt(mgTable.readyMs / 1000, 1)} s`);
  for (const w of (mgHttps?.warnings ?? []).slice(0, 3)) log(`  meshgate-https log: ${w.trim()}`);
  if (seedInfo.droppedEndpoints > 0) log(`              (the seed's ${seedInfo.droppedEndpoints} Endpoints object(s) replaced by one pointing at the upstream)`);
  for (const w of [...new Set([...mg.warnings, ...mgTable.warnings])].slice(0, 5)) log(`  meshgate log: ${w.trim()}`);
  if (!h2Skipped) {
    log(`  h2c         ${h2gen.version}, -t1 -c${h2Conns} -m${h2Streams} (${h2Conns} connection(s) × ${h2Streams} concurrent streams), in the same rounds`);
    if (!nginxH2c) log(`              nginx-h2c reference skipped: nginx is not installed (apt-get install -y nginx)`);
  }
  if (tlsSkipped === null) {
    const i = tlsTargets.find((t) => t.tlsInfo)?.tlsInfo;
    log(`  https       wrk -t1 -c${conns} over ${i ? `${i.protocol} (${i.cipher}, ${i.group}), RSA ${i.certBits}` : 'TLS'} (meshgate certs), HTTP/1.1 (wrk offers no ALPN), SNI 127.0.0.1; keep-alive, and a new connection per request`);
    log(
      `              session resumption ${tlsResume ? 'ON (BENCH_TLS_RESUME=1): both servers issue tickets, wrk offers them on reconnect' : 'off on both: no session ticket issued (nginx ssl_conf_command NumTickets 0; meshgate node --openssl-config, NumTickets = 0), every handshake full'}`,
    );
    if (!nginxHttps) log(`              nginx-https reference skipped: nginx is not installed (apt-get install -y nginx)`);
  }
  log();

  // Warm-up (JIT, upstream pools), then interleaved rounds; the order rotates each round.
  for (const t of allTargets) {
    const w = await runLoad(t, warmupS);
    checkAlive(t);
    // wrk's own HTTPS requests (SNI 127.0.0.1, no certificate check) must be served and routed too.
    if ((t.proto === 'https' || t.proto === 'https-new') && (w.requests === 0 || w.non2xx > 0)) {
      throw new HarnessError(`${t.key}: wrk's warm-up over TLS (SNI 127.0.0.1, Host: ${t.host}): ${w.requests} answers, ${w.non2xx} non-2xx, ${w.errors} socket errors; expected all 2xx`);
    }
  }
  const results = Object.fromEntries(allTargets.map((t) => [t.key, []]));
  const hung = [];
  for (let r = 0; r < rounds; r++) {
    const order = allTargets.map((_, i) => allTargets[(i + r) % allTargets.length]);
    const line = [];
    for (const t of order) {
      const cpu0 = cpuSeconds(t.child.pid);
      const [busy0, own0, wall0, opens0] = [machineBusySeconds(), ownCpuSeconds(), performance.now(), tcpPassiveOpens()];
      const res = await runLoad(t, dur);
      const [busy1, own1, wall1, opens1] = [machineBusySeconds(), ownCpuSeconds(), performance.now(), tcpPassiveOpens()];
      const cpu1 = cpuSeconds(t.child.pid);
      // Connections accepted on the machine per completed request: about 1 when each request had its own.
      if (t.proto === 'https-new') res.connPerReq = opens0 !== null && opens1 !== null && res.requests > 0 ? (opens1 - opens0) / res.requests : NaN;
      // Other work on the machine during the run (other users, other sessions), in cores.
      res.backgroundCores = busy0 !== null && own0 !== null ? Math.max(0, (busy1 - busy0 - (own1 - own0)) / ((wall1 - wall0) / 1000)) : NaN;
      checkAlive(t);
      // CPU time of the process under test (with its children: nginx's worker) per completed request.
      res.cpuUsPerReq = cpu0 !== null && cpu1 !== null && res.requests > 0 ? ((cpu1 - cpu0) * 1e6) / res.requests : NaN;
      results[t.key][r] = res;
      const bg = res.backgroundCores >= 0.1 ? ` [bg ${fmt(res.backgroundCores, 1)}]` : '';
      if (res.requests === 0) hung.push(`${t.key} (round ${r + 1})`);
      const errs = t.proto === 'h2c' ? `${res.non2xx} 4xx/5xx, ${res.errors} stream errors/timeouts` : `${res.non2xx} non-2xx, ${res.errors} socket errors`;
      line.push(`${t.key} ${Math.round(res.rps)}${res.requests === 0 ? ' NO ANSWERS' : ''}${bg}${res.non2xx + res.errors > 0 ? ` (${errs})` : ''}`);
    }
    log(`round ${r + 1}/${rounds} req/s: ${line.join(', ')}`);
  }
  const bgAll = Object.values(results).flat().map((x) => x.backgroundCores).filter(Number.isFinite);
  if (bgAll.length > 0) {
    const bgMax = Math.max(...bgAll);
    log(
      `background load (CPU used on this machine by anything but the bench, per run): median ${fmt(median(bgAll), 2)}, max ${fmt(bgMax, 2)} cores` +
        (bgMax >= 0.1 ? `; runs marked [bg N] had N cores of it: their figures are not clean` : ''),
    );
  }
  log();

  // Table 1: paths side by side.
  const summary = targets.map((t) => {
    const rs = results[t.key];
    return {
      key: t.key,
      what: t.what,
      rps: median(rs.map((x) => x.rps)),
      p50Ms: median(rs.map((x) => x.p50Ms)),
      p99Ms: median(rs.map((x) => x.p99Ms)),
      cpuUsPerReq: median(rs.map((x) => x.cpuUsPerReq)),
      runs: rs.map((x) => Math.round(x.rps)),
      bad: rs.reduce((s, x) => s + x.non2xx + x.errors, 0),
    };
  });
  const ref = summary.find((s) => s.key === 'undici-request').rps;
  const direct = summary.find((s) => s.key === 'direct').rps;
  const rows = [['path', 'req/s', 'p50 ms', 'p99 ms', 'vs undici', 'vs direct', 'CPU µs/req', 'runs (req/s)']];
  for (const s of summary) {
    rows.push([s.key, String(Math.round(s.rps)), fmt(s.p50Ms), fmt(s.p99Ms), fmt(s.rps / ref), fmt(s.rps / direct), fmt(s.cpuUsPerReq, 1), s.runs.join(' ') + (s.bad ? `  (${s.bad} errors)` : '')]);
  }
  printTable(rows);
  log();
  for (const s of summary) log(`  ${s.key.padEnd(18)} ${s.what}`);
  log(`  (medians over ${rounds} round(s); "vs undici" = req/s ÷ undici-request's, the anchors.sh reference; "vs direct" = req/s ÷ direct's;`);
  log(`   "CPU µs/req" = user+system CPU time of the process under test ÷ completed requests; for direct, nginx's own)`);
  log();

  // Table 2: route table size, meshgate only, rounds paired.
  const seedRuns = results.meshgate;
  const tableRuns = results[tableKey];
  const perRound = seedRuns.map((s, i) => s.rps / tableRuns[i].rps);
  const costRatio = median(perRound);
  const perRoundCpu = seedRuns.map((s, i) => tableRuns[i].cpuUsPerReq / s.cpuUsPerReq);
  const cpuRatio = median(perRoundCpu);
  const seedSum = summary.find((s) => s.key === 'meshgate');
  const tableSum = summary.find((s) => s.key === tableKey);
  log(`route table: ${hostsN} VirtualServices × ${routesN} routes vs the seed's 1 route (meshgate, same upstream)`);
  printTable([
    ['config', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req'],
    ['seed (1 host, 1 route)', String(Math.round(seedSum.rps)), fmt(seedSum.p50Ms), fmt(seedSum.p99Ms), fmt(seedSum.cpuUsPerReq, 1)],
    [`${table.hosts} hosts, ${table.routes} routes`, String(Math.round(tableSum.rps)), fmt(tableSum.p50Ms), fmt(tableSum.p99Ms), fmt(tableSum.cpuUsPerReq, 1)],
  ]);
  log(`per-request cost ratio, table ÷ seed (median of per-round ratios):`);
  log(`  by CPU µs/req: ${fmt(cpuRatio, 3)}   rounds: ${perRoundCpu.map((x) => fmt(x, 3)).join(' ')}`);
  log(`  by req/s:      ${fmt(costRatio, 3)}   rounds: ${perRound.map((x) => fmt(x, 3)).join(' ')}`);
  log(`  ~1.0 means host lookup by map and a short per-host route list; a scan over the table would show up as a ratio well above 1.`);

  // Table 3: the h2c case.
  const summaryH2 = h2Targets.map((t) => {
    const rs = results[t.key];
    return {
      key: t.key,
      what: t.what,
      rps: median(rs.map((x) => x.rps)),
      meanMs: median(rs.map((x) => x.meanMs)),
      sdMs: median(rs.map((x) => x.sdMs)),
      cpuUsPerReq: median(rs.map((x) => x.cpuUsPerReq)),
      runs: rs.map((x) => Math.round(x.rps)),
      bad: rs.reduce((s, x) => s + x.non2xx + x.errors, 0),
    };
  });
  log();
  if (h2Skipped) log(`h2c: ${h2Skipped}`);
  else {
    log(`h2c: HTTP/2 with prior knowledge downstream (h2load -c${h2Conns} -m${h2Streams}), HTTP/1.1 keep-alive to the same upstream`);
    const refH2 = summaryH2.find((s) => s.key === 'nginx-h2c')?.rps ?? NaN;
    const rowsH2 = [['path', 'req/s', 'mean ms', 'sd ms', 'vs nginx-h2c', 'CPU µs/req', 'runs (req/s)']];
    for (const s of summaryH2) {
      rowsH2.push([s.key, String(Math.round(s.rps)), fmt(s.meanMs), fmt(s.sdMs), fmt(s.rps / refH2), fmt(s.cpuUsPerReq, 1), s.runs.join(' ') + (s.bad ? `  (${s.bad} errors)` : '')]);
    }
    printTable(rowsH2);
    log();
    for (const s of summaryH2) log(`  ${s.key.padEnd(18)} ${s.what}`);
    log(`  (medians over ${rounds} round(s); "mean ms", "sd ms" = h2load's "time for request" mean and standard deviation (it prints no percentiles);`);
    log(`   "vs nginx-h2c" = req/s ÷ nginx-h2c's; "CPU µs/req" as above, nginx: master + worker)`);
    const h2Mg = summaryH2.find((s) => s.key === 'meshgate-h2c');
    if (h2Mg) log(`  meshgate CPU µs/req, h2c ÷ HTTP/1.1 (same process, same run): ${fmt(h2Mg.cpuUsPerReq / seedSum.cpuUsPerReq, 2)}`);
  }

  // Table 4: the HTTPS case.
  const summaryTls = tlsTargets.map((t) => {
    const rs = results[t.key];
    return {
      key: t.key,
      what: t.what,
      rps: median(rs.map((x) => x.rps)),
      p50Ms: median(rs.map((x) => x.p50Ms)),
      p99Ms: median(rs.map((x) => x.p99Ms)),
      cpuUsPerReq: median(rs.map((x) => x.cpuUsPerReq)),
      ...(t.proto === 'https-new' ? { connPerReq: median(rs.map((x) => x.connPerReq)) } : {}),
      runs: rs.map((x) => Math.round(x.rps)),
      bad: rs.reduce((s, x) => s + x.non2xx + x.errors, 0),
    };
  });
  log();
  if (tlsSkipped) log(`https: ${tlsSkipped}`);
  else {
    const byKey = (k) => summaryTls.find((s) => s.key === k);
    const runsCol = (s) => s.runs.join(' ') + (s.bad ? `  (${s.bad} errors)` : '');
    log(`https: TLS terminated by the proxy, HTTP/1.1 keep-alive to the same upstream; keep-alive (wrk -c${conns}, as above, over TLS)`);
    const refKa = byKey('nginx-https')?.rps ?? NaN;
    const rowsKa = [['path', 'req/s', 'p50 ms', 'p99 ms', 'vs nginx-https', 'CPU µs/req', 'runs (req/s)']];
    for (const s of summaryTls.filter((x) => !x.key.endsWith('-new'))) {
      rowsKa.push([s.key, String(Math.round(s.rps)), fmt(s.p50Ms), fmt(s.p99Ms), fmt(s.rps / refKa), fmt(s.cpuUsPerReq, 1), runsCol(s)]);
    }
    printTable(rowsKa);
    log();
    log(`new connection per request (wrk -c${conns} -H 'Connection: close'): one TLS handshake per request, ${tlsResume ? 'resumed (BENCH_TLS_RESUME=1)' : 'full (no session resumption)'}`);
    const refNew = byKey('nginx-https-new')?.rps ?? NaN;
    const rowsNew = [['path', 'handshakes/s', 'vs nginx-https-new', 'CPU µs/handshake', 'conn/req', 'runs (handshakes/s)']];
    for (const s of summaryTls.filter((x) => x.key.endsWith('-new'))) {
      rowsNew.push([s.key, String(Math.round(s.rps)), fmt(s.rps / refNew), fmt(s.cpuUsPerReq, 1), fmt(s.connPerReq), runsCol(s)]);
    }
    printTable(rowsNew);
    log();
    for (const s of summaryTls) log(`  ${s.key.padEnd(18)} ${s.what}`);
    log(`  (medians over ${rounds} round(s); "vs nginx-https…" = req/s ÷ nginx's in the same mode; "CPU µs/…" as above, nginx: master + worker;`);
    log(`   handshakes/s = completed requests/s, each on its own connection; wrk's latency leaves out connect and handshake, so none is shown;`);
    log(`   "conn/req" = TCP connections accepted on this machine (/proc/net/snmp PassiveOpens) ÷ completed requests: about 1 = one connection each, more = other activity)`);
    const mgKa = byKey('meshgate-https');
    if (mgKa) log(`  meshgate CPU µs/req, HTTPS keep-alive ÷ HTTP/1.1 (meshgate-https ÷ meshgate, same run): ${fmt(mgKa.cpuUsPerReq / seedSum.cpuUsPerReq, 2)}`);
  }

  if (hung.length > 0) log(`\nnote: no request completed in a whole run for ${hung.join(', ')}: that path stopped answering (its 0 counts in the medians)`);
  const bad = [...summary, ...summaryH2, ...summaryTls].filter((s) => s.bad > 0);
  if (bad.length > 0) log(`\nnote: errors under load on ${bad.map((s) => `${s.key} (${s.bad})`).join(', ')}; their req/s count only completed requests`);

  if (process.env.BENCH_JSON) {
    fs.writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          machine: { cpu: cpuModel, cpus: os.cpus().length, allowed: cpus, node: process.version, os: `${os.type()} ${os.release()}` },
          settings: { dur, rounds, conns, warmupS, loadgen: loadgen.name, upstream: upstream.description, pinned: pin, loadCore, proxyCore },
          summary,
          results: Object.fromEntries(targets.map((t) => [t.key, results[t.key]])),
          h2c: {
            skipped: h2Skipped,
            settings: h2Skipped ? null : { loadgen: h2gen.version, conns: h2Conns, streams: h2Streams, latency: "h2load's time for request: mean, sd (ms)" },
            summary: summaryH2,
            results: Object.fromEntries(h2Targets.map((t) => [t.key, results[t.key]])),
          },
          https: {
            skipped: tlsSkipped,
            settings: tlsSkipped
              ? null
              : {
                  loadgen: loadgen.name,
                  conns,
                  tls: tlsTargets.find((t) => t.tlsInfo)?.tlsInfo ?? null,
                  sni: '127.0.0.1 (wrk sends the URL host); the meshgate server has hosts *',
                  resumption: tlsResume ? 'on: both servers issue tickets (their defaults), wrk resumes' : 'off: no tickets issued (NumTickets 0 on both), full handshakes',
                  newConnection: "wrk -H 'Connection: close'; connPerReq = machine-wide TCP PassiveOpens ÷ completed requests",
                  preflight: Object.fromEntries(tlsTargets.filter((t) => t.resumeCheck).map((t) => [t.key, t.resumeCheck])),
                },
            summary: summaryTls,
            results: Object.fromEntries(tlsTargets.map((t) => [t.key, results[t.key]])),
          },
          routeTable: { hosts: table.hosts, routes: table.routes, request: `${rt.host}${rt.path}`, costRatio, perRound, cpuRatio, perRoundCpu, readyMs: mgTable.readyMs, seedReadyMs: mg.readyMs },
        },
        null,
        2,
      ) + '\n',
    );
    log(`\nresults written to ${process.env.BENCH_JSON}`);
  }
}

function checkAlive(t) {
  if (t.child.exitCode !== null || t.child.signalCode !== null) {
    throw new HarnessError(`${t.key} exited during the run (${t.child.signalCode ?? t.child.exitCode})\n${tail(t.child.output())}`);
  }
}

function printTable(rows) {
  const w = [];
  for (const r of rows) r.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, c.length)));
  for (const [n, r] of rows.entries()) {
    log(r.map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ').trimEnd());
    if (n === 0) log(w.map((x) => '-'.repeat(x)).join('  '));
  }
}

installCleanupHooks(() => process.stderr.write('\ninterrupted: stopping the bench processes and removing temp dirs\n'));
let code = 0;
try {
  await main();
} catch (e) {
  if (wasInterrupted()) {
    // the signal handler cleans up and exits
    await new Promise(() => {});
  }
  code = e instanceof UsageError ? 2 : 1;
  process.stderr.write(`\nbench failed: ${e instanceof HarnessError || e instanceof UsageError ? e.message : (e?.stack ?? String(e))}\n`);
}
await cleanup();
// Then the scale case (bench/scale.mjs), in its own process, unless BENCH_SCALE=0; its JSON goes next to this one's.
if (code === 0 && process.env.BENCH_SCALE !== '0') {
  const env = { ...process.env, ...(process.env.BENCH_JSON ? { BENCH_JSON: process.env.BENCH_JSON.replace(/(\.json)?$/i, '.scale.json') } : {}) };
  log();
  const scale = spawn(process.execPath, [path.join(HERE, 'scale.mjs')], { stdio: 'inherit', env });
  process.on('exit', () => scale.kill('SIGTERM'));
  const [scaleCode, scaleSignal] = await new Promise((resolve) => scale.on('exit', (c, s) => resolve([c, s])));
  code = scaleCode ?? (scaleSignal === 'SIGINT' ? 130 : 143);
}
process.exit(code);
