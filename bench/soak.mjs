#!/usr/bin/env node
// `npm run soak`: meshgate under steady mixed traffic for a long while (10 min by default), its
// config rewritten every few seconds, to catch what a short bench or a test cannot: a request
// lost or misrouted during a reload, memory that grows with requests or with reloads, a worker that
// dies, a drain that does not end. Not part of `npm test`. See bench/README.md, "Soak".
//
// Environment: SOAK_SECONDS (600), SOAK_RELOAD_SECONDS (10), SOAK_WORKERS (1, passed as --workers),
// SOAK_CONNS (16 concurrent request loops).
//
// `node bench/soak.mjs --upstreams` is the upstreams' own child process (this same file, so the
// soak stays one file): the load generator must not share an event loop with the servers it loads.
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import { HarnessError, cleanup, installCleanupHooks, makeTempDir, startChild, tail, waitForOutput, wasInterrupted } from './lib/procs.mjs';
import { intEnv, UsageError } from './lib/env.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.resolve(HERE, '..');
const CLI = path.join(ROOT, 'dist/cli.js');

const APP_HOST = 'app.example.com';
const OTHER_HOST = 'other.example.com';
const UNKNOWN_HOST = 'unknown.example.com';
const POST_BYTES = 16 * 1024;
const SAMPLE_SECONDS = 10;
const REQUEST_TIMEOUT_MS = 10_000;
// meshgate drains for at most 25 s (--drain-seconds' default) after SIGTERM: past that plus a
// margin, it is not exiting on its own.
const EXIT_TIMEOUT_MS = 35_000;
// A write is applied ~50 ms after it lands (the watcher's settle time) plus a compile; a reload
// not live after this long is reported as not applied.
const APPLY_TIMEOUT_MS = 5_000;

// The config alternates between two phases. The app's split changes weights (the same two
// clusters), the other host changes destination: its answers then say, request by request,
// whether the gateway routes with the config it announced.
const PHASES = [
  { split: [50, 50], other: 'b' },
  { split: [80, 20], other: 'a' },
];

// What each request loop sends, in turn: mostly keep-alive GETs, as an edge sees them.
const SCHEDULE = [
  ...Array(11).fill('get'),
  ...Array(2).fill('post'),
  'new-conn',
  ...Array(3).fill('h2c'),
  'other',
  'unknown',
];
const KINDS = ['get', 'post', 'new-conn', 'h2c', 'other', 'unknown'];
const KIND_WHAT = {
  get: `HTTP/1.1 keep-alive GET, Host ${APP_HOST}`,
  post: `HTTP/1.1 keep-alive POST of ${POST_BYTES / 1024} KiB, Host ${APP_HOST}, upstream must have read it all`,
  'new-conn': `HTTP/1.1 GET on a new connection each (agent: false), Host ${APP_HOST}`,
  h2c: `HTTP/2 prior knowledge (h2c) GET, :authority ${APP_HOST}, one shared session`,
  other: `HTTP/1.1 keep-alive GET, Host ${OTHER_HOST}, must reach the upstream its config names`,
  unknown: `HTTP/1.1 keep-alive GET, Host ${UNKNOWN_HOST}, must be 404`,
};

/** Everything the summary needs, also when Ctrl-C cuts the run short. */
let state = null;

// ---------------------------------------------------------------------------------------------
// The upstreams' process: two node:http servers, `a` and `b`. Each answers 200 with its name and
// the number of request body bytes it read ("a 16384\n"), so the client can tell which upstream
// served it and that a POST body arrived whole.

function runUpstreams() {
  const make = (name) =>
    // Keep-alive as long as the bench's upstream: meshgate's pool, not the upstream's idle timer, is under test.
    http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      let n = 0;
      req.on('data', (c) => (n += c.length));
      req.on('end', () => {
        const body = `${name} ${n}\n`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
  const servers = [make('a'), make('b')];
  let listening = 0;
  for (const s of servers) {
    s.listen(0, '127.0.0.1', () => {
      if (++listening === servers.length) process.stdout.write(`ready ${servers.map((x) => x.address().port).join(' ')}\n`);
    });
  }
  // The soak stops this process on every way out it sees; if the soak itself is killed (SIGKILL),
  // its parent changes: go too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
  process.on('SIGTERM', () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Config.

function gatewayYaml(ports) {
  const se = (name, port) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}-svc, namespace: default}
spec:
  hosts: [${name}.svc]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${port}}}]
`;
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
${se('a', ports[0])}---
${se('b', ports[1])}`;
}

/** The file the soak rewrites: both VirtualServices, as `phase` has them. */
function routesYaml(phase, n) {
  const p = PHASES[phase];
  return `# written by bench/soak.mjs, write ${n}, phase ${phase}
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app, namespace: default}
spec:
  hosts: [${APP_HOST}]
  gateways: [gw]
  http:
  - route:
    - destination: {host: a.svc}
      weight: ${p.split[0]}
    - destination: {host: b.svc}
      weight: ${p.split[1]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: other, namespace: default}
spec:
  hosts: [${OTHER_HOST}]
  gateways: [gw]
  http:
  - route:
    - destination: {host: ${p.other}.svc}
`;
}

// ---------------------------------------------------------------------------------------------

const log = (s = '') => process.stdout.write(s + '\n');
const num = (n) => Math.round(n).toLocaleString('en-US');
const mib = (kb) => (kb === null ? '-' : (kb / 1024).toFixed(1));

/** VmRSS of a process in KiB, or null once it is gone. */
function rssKb(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function httpGetText(port, reqPath) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: reqPath, agent: false, timeout: 5000 }, (res) => {
      let s = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (s += c));
      res.on('end', () => resolve({ status: res.statusCode, text: s }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Sum of a Prometheus metric's samples (all label sets), or null when it is not there. */
function metricSum(text, name) {
  let sum = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    sum = (sum ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function runSoak() {
  installCleanupHooks((sig) => {
    process.stderr.write(`\n${sig}: stopping the soak's processes and removing its temp dir\n`);
    if (state) printSummary(state, { interrupted: sig });
  });
  let code = 0;
  try {
    code = await main();
  } catch (e) {
    if (wasInterrupted()) await new Promise(() => {}); // the signal handler cleans up and exits
    code = e instanceof UsageError ? 2 : 1;
    process.stderr.write(`\nsoak failed: ${e instanceof HarnessError || e instanceof UsageError ? e.message : (e?.stack ?? String(e))}\n`);
  }
  await cleanup();
  process.exit(code);
}

async function main() {
  const seconds = intEnv('SOAK_SECONDS', 600);
  const reloadSeconds = intEnv('SOAK_RELOAD_SECONDS', 10);
  const workers = intEnv('SOAK_WORKERS', 1);
  const conns = intEnv('SOAK_CONNS', 16);
  if (!fs.existsSync(CLI)) throw new HarnessError(`${path.relative(process.cwd(), CLI)} is missing: run \`npm run build\` (npm run soak does)`);

  const st = (state = {
    seconds,
    reloadSeconds,
    workers,
    conns,
    t0: 0,
    stats: Object.fromEntries(KINDS.map((k) => [k, { sent: 0, ok: 0, failed: 0 }])),
    failures: [], // the first few, with when and what
    failureReasons: new Map(), // reason -> count, all of them
    samples: [], // { t, rps, failed, rss: [kb per process] }
    procs: [], // { label, pid }
    writes: [], // { at, phase, liveAt }
    applied: 0, // "config version N live" lines
    partial: [], // "live in n of m worker(s)" with n < m
    refused: [], // "reload refused" lines
    problems: [], // the gateway's other warn/error lines
    lastVersion: 1,
    split: PHASES.map(() => ({ a: 0, b: 0 })),
    misrouted: 0,
    keepAliveConns: 0,
    h2Sessions: 0,
    h2Goaways: 0,
    h2DrainGoaway: false,
  });

  const work = makeTempDir('meshgate-soak-');
  const configDir = path.join(work, 'config');
  fs.mkdirSync(configDir);

  // Upstreams first: the config needs their ports.
  const up = startChild('upstreams', process.execPath, [new URL(import.meta.url).pathname, '--upstreams'], { cwd: ROOT });
  const upPorts = (await waitForOutput(up, /^ready (\d+) (\d+)$/m, 10_000, 'ready line')).slice(1, 3).map(Number);

  const routesFile = path.join(configDir, 'routes.yaml');
  fs.writeFileSync(path.join(configDir, 'gateway.yaml'), gatewayYaml(upPorts));
  fs.writeFileSync(routesFile, routesYaml(0, 0));

  // The gateway. Its stderr is read line by line here as well: startChild keeps only the last
  // 64 KiB, and a 10-minute run must count every reload line.
  const mg = startChild(
    'meshgate',
    process.execPath,
    [CLI, 'serve', '-c', configDir, '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0', '--access-log', 'off', '--workers', String(workers)],
    { cwd: ROOT },
  );
  // Routing is checked against the phase the gateway says is live: `appliedPhase` moves when its
  // "config version N live" line arrives, `epoch` on every write and every such line, so a request
  // that overlapped either is left out of the routing checks (it may rightly go either way).
  let appliedPhase = 0;
  let writtenPhase = 0;
  let pendingWrite = false;
  let epoch = 0;
  let lineBuf = '';
  mg.stderr.on('data', (d) => {
    lineBuf += d.toString();
    let i;
    while ((i = lineBuf.indexOf('\n')) >= 0) {
      const line = lineBuf.slice(0, i);
      lineBuf = lineBuf.slice(i + 1);
      let m;
      if ((m = / config version (\d+) live(?: in (\d+) of (\d+) worker)?/.exec(line))) {
        st.applied++;
        st.lastVersion = Number(m[1]);
        if (m[2] !== undefined && m[2] !== m[3]) st.partial.push(line);
        appliedPhase = writtenPhase;
        pendingWrite = false;
        epoch++;
        const w = st.writes.at(-1);
        if (w && w.liveAt === null) w.liveAt = performance.now();
      } else if (/ reload refused/.test(line)) {
        st.refused.push(line);
      } else if ((m = / worker (\d+) replaced \(pid (\d+)\)/.exec(line))) {
        // A worker died (its error line is kept below): sample its replacement from now on.
        const p = st.procs.find((x) => x.label === `w${m[1]}`);
        if (p) p.pid = Number(m[2]);
        st.problems.push(line);
      } else if (/^\S+ (warn|error) /.test(line)) {
        st.problems.push(line);
      }
    }
  });

  await waitForOutput(mg, /^\S+ info\s+ready$/m, 60_000, '"ready" log line');
  const out = mg.output();
  const portM = /listening: gateway port 80 on \S+:(\d+)/.exec(out);
  const statusM = /status on \S+:(\d+) \(/.exec(out);
  if (!portM || !statusM) throw new HarnessError(`meshgate: ready, but no "listening: gateway port 80" or "status on" line in its log\n${tail(out)}`);
  const port = Number(portM[1]);
  const statusPort = Number(statusM[1]);
  st.procs.push({ label: workers > 1 ? 'primary' : 'gateway', pid: mg.pid });
  if (workers > 1) {
    const wm = /(\d+) worker processes serving \(pids ([\d, ]+)\)/.exec(out);
    if (!wm) throw new HarnessError(`meshgate: --workers ${workers}, but no "worker processes serving" line in its log\n${tail(out)}`);
    wm[2].split(',').forEach((pid, i) => st.procs.push({ label: `w${i + 1}`, pid: Number(pid.trim()) }));
  }

  // --- Clients ---------------------------------------------------------------------------------
  let stopping = false; // set when the load ends: the loops finish their request and return
  // FIFO: every pooled connection is used in turn, none sits idle long enough for the gateway's
  // idle timeout (5 min) to close it under a request being sent (a client-side race, not a bug).
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns, scheduling: 'fifo' });
  const postBody = Buffer.alloc(POST_BYTES, 'p');

  function h1(host, { method = 'GET', body = null, keepAlive = true } = {}) {
    return new Promise((resolve, reject) => {
      const headers = { host };
      if (body) headers['content-length'] = body.length;
      const req = http.request({ host: '127.0.0.1', port, method, path: '/soak', headers, agent: keepAlive ? agent : false }, (res) => {
        if (keepAlive && !req.reusedSocket) st.keepAliveConns++;
        let s = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (s += c));
        res.on('end', () => resolve({ status: res.statusCode, text: s }));
        res.on('error', reject);
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(body ?? undefined);
    });
  }

  let h2session = null;
  function session() {
    if (h2session && !h2session.closed && !h2session.destroyed) return h2session;
    const s = http2.connect(`http://127.0.0.1:${port}`);
    st.h2Sessions++;
    // Its streams report the error; a GOAWAY is counted: the next request opens a new session.
    s.on('error', () => {});
    s.on('goaway', () => {
      // During the load a GOAWAY costs a new session (and maybe refused streams); on SIGTERM it is the drain's due.
      if (!stopping) st.h2Goaways++;
      else st.h2DrainGoaway = true;
      if (h2session === s) h2session = null;
    });
    s.on('close', () => {
      if (h2session === s) h2session = null;
    });
    h2session = s;
    return s;
  }

  function h2(authority) {
    return new Promise((resolve, reject) => {
      let req;
      try {
        req = session().request({ ':method': 'GET', ':path': '/soak', ':authority': authority });
      } catch (e) {
        reject(e);
        return;
      }
      let status = 0;
      let s = '';
      req.setEncoding('utf8');
      req.setTimeout(REQUEST_TIMEOUT_MS, () => {
        reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`));
        req.close(http2.constants.NGHTTP2_CANCEL);
      });
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (c) => (s += c));
      req.on('end', () => resolve({ status, text: s }));
      req.on('error', reject);
      req.end();
    });
  }

  const fail = (kind, reason) => {
    st.stats[kind].failed++;
    st.failureReasons.set(`${kind}: ${reason}`, (st.failureReasons.get(`${kind}: ${reason}`) ?? 0) + 1);
    if (st.failures.length < 10) st.failures.push(`${((performance.now() - st.t0) / 1000).toFixed(1)} s  ${kind}: ${reason}`);
  };

  async function one(kind) {
    const s = st.stats[kind];
    s.sent++;
    const ep = epoch;
    const stable0 = !pendingWrite;
    let r;
    try {
      if (kind === 'get') r = await h1(APP_HOST);
      else if (kind === 'post') r = await h1(APP_HOST, { method: 'POST', body: postBody });
      else if (kind === 'new-conn') r = await h1(APP_HOST, { keepAlive: false });
      else if (kind === 'h2c') r = await h2(APP_HOST);
      else if (kind === 'other') r = await h1(OTHER_HOST);
      else r = await h1(UNKNOWN_HOST);
    } catch (e) {
      fail(kind, e.code ? `${e.code} ${e.message}` : e.message);
      return;
    }
    if (kind === 'unknown') {
      if (r.status === 404) s.ok++;
      else fail(kind, `status ${r.status}, expected 404`);
      return;
    }
    const m = /^([ab]) (\d+)\n$/.exec(r.text);
    if (r.status !== 200 || !m) {
      fail(kind, `${r.status ? `status ${r.status}` : 'stream ended without a response'}, expected 200 from an upstream${r.text ? ` (body ${JSON.stringify(r.text.slice(0, 60))})` : ''}`);
      return;
    }
    const expectBytes = kind === 'post' ? POST_BYTES : 0;
    if (Number(m[2]) !== expectBytes) {
      fail(kind, `upstream ${m[1]} read ${m[2]} body bytes, expected ${expectBytes}`);
      return;
    }
    // Routing checks only for requests that overlapped no write and no reload.
    const stable = stable0 && ep === epoch && !pendingWrite;
    if (kind === 'other' && stable && m[1] !== PHASES[appliedPhase].other) {
      st.misrouted++;
      fail(kind, `answered by upstream ${m[1]}, but config phase ${appliedPhase} (live) routes ${OTHER_HOST} to ${PHASES[appliedPhase].other}`);
      return;
    }
    if ((kind === 'get' || kind === 'new-conn' || kind === 'h2c') && stable) st.split[appliedPhase][m[1]]++;
    s.ok++;
  }

  let seq = 0;
  async function loop() {
    while (!stopping) await one(SCHEDULE[seq++ % SCHEDULE.length]);
  }

  const total = () => KINDS.reduce((a, k) => a + st.stats[k].sent, 0);
  const failed = () => KINDS.reduce((a, k) => a + st.stats[k].failed, 0);

  // --- Header ----------------------------------------------------------------------------------
  log(`meshgate soak: ${seconds} s, ${conns} request loops, config rewritten every ${reloadSeconds} s, --workers ${workers}`);
  log(`  gateway     127.0.0.1:${port} (status ${statusPort}), ${st.procs.map((p) => `${p.label} pid ${p.pid}`).join(', ')}`);
  log(`  upstreams   a 127.0.0.1:${upPorts[0]}, b 127.0.0.1:${upPorts[1]} (node:http, own process pid ${up.pid})`);
  log(`  config      ${configDir}: routes.yaml alternates ${PHASES.map((p) => `${APP_HOST} ${p.split.join('/')} + ${OTHER_HOST} -> ${p.other}`).join(' | ')}`);
  log(`  traffic     per ${SCHEDULE.length} requests: ${KINDS.map((k) => `${SCHEDULE.filter((x) => x === k).length} ${k}`).join(', ')}`);
  log();
  log(`  elapsed     req/s     failed  reloads (written/live)  RSS MiB (${st.procs.map((p) => p.label).join(', ')})`);

  // One line per sample: `t` s since the load started, requests per second since the last sample.
  let lastSample = { t: 0, n: 0 };
  const sample = (t = (performance.now() - st.t0) / 1000, note = '') => {
    const n = total();
    const rps = t > lastSample.t ? (n - lastSample.n) / (t - lastSample.t) : 0;
    lastSample = { t, n };
    const rss = st.procs.map((p) => rssKb(p.pid));
    st.samples.push({ t, rps, failed: failed(), rss });
    log(
      `  ${`${t.toFixed(0)} s`.padStart(7)}  ${num(rps).padStart(8)}  ${String(failed()).padStart(8)}  ${`${st.writes.length}/${st.applied}`.padStart(22)}  ${rss.map(mib).join('  ')}${note}`,
    );
  };

  // --- Run -------------------------------------------------------------------------------------
  st.t0 = performance.now();
  sample(); // idle, before any request: the baseline
  const loops = Array.from({ length: conns }, () => loop());
  const sampler = setInterval(() => sample(), SAMPLE_SECONDS * 1000);
  const reloader = setInterval(() => {
    const prev = st.writes.at(-1);
    if (prev && prev.liveAt === null) prev.late = true; // no "live" line before the next write
    writtenPhase = (writtenPhase + 1) % PHASES.length;
    pendingWrite = true;
    epoch++;
    // In place (truncate and write), as an editor saving the file does: the watcher must cope.
    fs.writeFileSync(routesFile, routesYaml(writtenPhase, st.writes.length + 1));
    st.writes.push({ at: performance.now(), phase: writtenPhase, liveAt: null });
  }, reloadSeconds * 1000);
  // The run ends early if meshgate exits by itself: every request after that would fail alike.
  let endTimer;
  await Promise.race([
    new Promise((r) => (endTimer = setTimeout(r, seconds * 1000))),
    mg.exited.then(({ code: c, signal }) => {
      if (stopping || wasInterrupted()) return; // our SIGTERM: at the end, or on Ctrl-C
      st.died = `${signal ?? `code ${c}`} after ${((performance.now() - st.t0) / 1000).toFixed(1)} s`;
      log(`  meshgate exited during the run (${st.died}): stopping the load\n${tail(mg.output())}`);
    }),
  ]);
  clearTimeout(endTimer);
  clearInterval(reloader);
  stopping = true;
  await Promise.all(loops);
  clearInterval(sampler);
  const loadEnd = performance.now();

  // A write just before the end gets its chance to be applied.
  const last = st.writes.at(-1);
  while (last && last.liveAt === null && performance.now() - last.at < APPLY_TIMEOUT_MS) await new Promise((r) => setTimeout(r, 50));
  // The last partial interval, if any: its rate is over the load's time only.
  const tEnd = (loadEnd - st.t0) / 1000;
  if (tEnd - lastSample.t >= 1) sample(tEnd, '  (end of load)');

  // The gateway's own count, before it stops: every request the soak sent should be in it.
  if (!st.died) {
    try {
      const r = await httpGetText(statusPort, '/stats/prometheus');
      st.metrics = {
        requests: metricSum(r.text, 'istio_requests_total'),
        version: metricSum(r.text, 'meshgate_config_version'),
        refused: /meshgate_config_reloads_total\{result="refused"\} (\d+)/.exec(r.text)?.[1],
        restarts: metricSum(r.text, 'meshgate_worker_restarts_total'),
      };
    } catch (e) {
      st.metrics = { error: e.message };
    }
  }

  // SIGTERM with the keep-alive connections and the h2c session still open, as a load balancer
  // leaves them: the drain must close them and exit by itself, with code 0.
  if (!st.died) {
    const t1 = performance.now();
    mg.kill('SIGTERM');
    const killer = setTimeout(() => mg.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    const exit = await mg.exited;
    clearTimeout(killer);
    st.exit = { ...exit, ms: performance.now() - t1, killed: exit.signal === 'SIGKILL' };
  }
  agent.destroy();
  h2session?.destroy();

  return printSummary(st, {});
}

/** Prints the summary; returns the exit code: 1 if anything failed, else 0. */
function printSummary(st, { interrupted }) {
  const bad = [];
  const totalSent = KINDS.reduce((a, k) => a + st.stats[k].sent, 0);
  const totalFailed = KINDS.reduce((a, k) => a + st.stats[k].failed, 0);
  // Interrupted, a request still in flight is counted as sent, neither ok nor failed.
  const elapsed = st.t0 ? (performance.now() - st.t0) / 1000 : 0;
  log();
  log(interrupted ? `summary so far (${interrupted} after ${elapsed.toFixed(0)} s):` : 'summary:');
  log(`  requests   ${'sent'.padStart(10)} ${'ok'.padStart(10)} ${'failed'.padStart(7)}`);
  for (const k of KINDS) {
    const s = st.stats[k];
    log(`  ${k.padEnd(9)}  ${num(s.sent).padStart(10)} ${num(s.ok).padStart(10)} ${String(s.failed).padStart(7)}   ${KIND_WHAT[k]}`);
  }
  const totalOk = KINDS.reduce((a, k) => a + st.stats[k].ok, 0);
  const inFlight = totalSent - totalOk - totalFailed;
  log(`  ${'total'.padEnd(9)}  ${num(totalSent).padStart(10)} ${num(totalOk).padStart(10)} ${String(totalFailed).padStart(7)}${inFlight > 0 ? `   (${inFlight} in flight, neither ok nor failed)` : ''}`);
  if (totalFailed > 0) {
    bad.push(`${totalFailed} failed request(s)`);
    log(`  failures, first ${st.failures.length}:`);
    for (const f of st.failures) log(`    ${f}`);
    log(`  failures by reason:`);
    for (const [r, n] of [...st.failureReasons].sort((a, b) => b[1] - a[1]).slice(0, 10)) log(`    ${String(n).padStart(7)}  ${r}`);
  }
  log(
    `  connections: ${num(st.keepAliveConns)} keep-alive ones opened for ${st.conns} loops; ${st.h2Sessions} h2c session(s) opened, ${st.h2Goaways} GOAWAY(s) received under load` +
      (st.exit ? `, ${st.h2DrainGoaway ? 'one' : 'none'} on SIGTERM` : ''),
  );

  const split = st.split
    .map((c, i) => {
      const n = c.a + c.b;
      const share = n > 0 ? (100 * c.a) / n : NaN;
      const want = PHASES[i].split[0];
      // 10 points off with 1,000 answers is far past chance (about 1.6 points is one standard deviation at 50/50).
      const off = n >= 1000 && Math.abs(share - want) > 10;
      if (off) bad.push(`${APP_HOST} went ${share.toFixed(1)} % to a while ${PHASES[i].split.join('/')} was live`);
      return `${PHASES[i].split.join('/')} live: a ${Number.isFinite(share) ? share.toFixed(1) : '-'} % of ${num(n)}${off ? ' (OFF)' : ''}`;
    })
    .join('; ');
  log(`  routing:   ${APP_HOST} split, ${split}; ${OTHER_HOST} to the wrong upstream: ${st.misrouted}`);
  log(`             (requests that overlapped a write or a reload are left out of both; the split is by weighted choice, so near, not exact)`);

  const late = st.writes.filter((w) => w.liveAt === null || w.late);
  const lat = st.writes.filter((w) => w.liveAt !== null).map((w) => w.liveAt - w.at);
  log(
    `  reloads:   ${st.writes.length} written, ${st.applied} applied ("config version N live" lines, last version ${st.lastVersion})` +
      (lat.length ? `; write to live ${Math.round(Math.min(...lat))}-${Math.round(Math.max(...lat))} ms` : ''),
  );
  if (late.length > 0) bad.push(`${late.length} write(s) not applied within ${APPLY_TIMEOUT_MS / 1000} s or before the next write`);
  if (st.applied < st.writes.length) bad.push(`${st.writes.length} reload(s) written, ${st.applied} applied`);
  if (st.refused.length > 0) {
    bad.push(`${st.refused.length} reload(s) refused`);
    for (const l of st.refused.slice(0, 5)) log(`    ${l}`);
  }
  if (st.partial.length > 0) {
    bad.push(`${st.partial.length} reload(s) not live in every worker`);
    for (const l of st.partial.slice(0, 5)) log(`    ${l}`);
  }
  if (st.metrics) {
    if (st.metrics.error) log(`  metrics:   /stats/prometheus failed: ${st.metrics.error}`);
    else {
      const match = st.metrics.requests === totalSent;
      log(
        `  metrics:   istio_requests_total ${num(st.metrics.requests ?? NaN)} (${match ? 'the same as sent' : `sent ${num(totalSent)}: NOT the same`}), meshgate_config_version ${st.metrics.version}, reloads refused ${st.metrics.refused ?? '-'}` +
          (st.metrics.restarts !== null ? `, worker restarts ${st.metrics.restarts}` : ''),
      );
    }
  }

  // RSS: the idle baseline, then the figures under load. Growth is from the first sample under
  // load (after warm-up: JIT, pools, buffers) to the last; a leak shows as growth that keeps
  // going run after run, not as one step.
  const under = st.samples.slice(1);
  if (under.length > 0) {
    log(`  ${'RSS MiB'.padEnd(18)}${'idle'.padStart(7)} ${'first'.padStart(7)} ${'min'.padStart(7)} ${'max'.padStart(7)} ${'last'.padStart(7)}  growth first→last`);
    st.procs.forEach((p, i) => {
      const xs = under.map((s) => s.rss[i]).filter((x) => x !== null);
      if (xs.length === 0) return;
      const [first, lastV] = [xs[0], xs.at(-1)];
      const g = lastV - first;
      log(
        `  ${`${p.label} pid ${p.pid}`.padEnd(18)}${mib(st.samples[0].rss[i]).padStart(7)} ${mib(first).padStart(7)} ${mib(Math.min(...xs)).padStart(7)} ${mib(Math.max(...xs)).padStart(7)} ${mib(lastV).padStart(7)}  ${g >= 0 ? '+' : ''}${mib(g)} MiB (${g >= 0 ? '+' : ''}${((100 * g) / first).toFixed(1)} %)`,
      );
    });
  }
  if (st.problems.length > 0) {
    log(`  gateway warnings and errors (${st.problems.length}), first 10:`);
    for (const l of st.problems.slice(0, 10)) log(`    ${l}`);
  }
  if (st.died) bad.push(`meshgate exited during the run (${st.died})`);
  if (st.exit) {
    const e = st.exit;
    const ok = e.code === 0 && e.signal === null;
    log(`  exit:      SIGTERM → ${e.killed ? `no exit within ${EXIT_TIMEOUT_MS / 1000} s, SIGKILLed` : `exited ${e.signal ?? `code ${e.code}`}`} after ${(e.ms / 1000).toFixed(2)} s`);
    if (!ok) bad.push(`the gateway did not exit 0 on SIGTERM`);
  }
  if (interrupted) return 1;
  log();
  log(bad.length === 0 ? 'soak: PASS' : `soak: FAIL: ${bad.join('; ')}`);
  return bad.length === 0 ? 0 : 1;
}

if (process.argv[2] === '--upstreams') runUpstreams();
else await runSoak();
