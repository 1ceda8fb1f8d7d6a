#!/usr/bin/env node
// `npm run bench:scale`: meshgate on large configs, side by side with a 1-VirtualService config in
// the same run. For each size (SCALE_SIZES VirtualServices, after the 1-VirtualService baseline):
// the config's size, `meshgate validate` time and peak RSS, `meshgate serve` time to ready (with the
// machine's cores, in a start of its own pinned to one, and with serve's default of a worker per
// core) and steady RSS, a one-file edit + SIGHUP applied (time to the `config version N live`
// line, peak RSS), and req/s of one request
// (the last route of the middle VirtualService) with the ratio to the baseline's. See
// bench/README.md, "Scale", for what is measured and how to read it.
//
// Environment: SCALE_SIZES (comma-separated VirtualService counts, default 1000,10000,30000),
// DUR (s of load per size, default 5), SCALE_CONNS (load connections, 32), SCALE_WILDCARD=1
// (wildcard hosts, *.h-NNNNN.scale.example, instead of exact ones), SCALE_FEATURES=1 (each route
// with a timeout, retries, header edits and, but for the requested one, a rewrite), SCALE_WARMUP (s of
// warm-up load before each size's measured run, 3), BENCH_QUICK=1
// (SCALE_SIZES 1000, DUR 2), BENCH_LOADGEN=wrk|autocannon, BENCH_UPSTREAM=nginx|node,
// BENCH_PIN=0 (no taskset), BENCH_JSON=FILE (also write the results as JSON).
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeScaleConfig } from './lib/config.mjs';
import { pickLoadGenerator } from './lib/load.mjs';
import { BODY_BYTES, get, startUpstream } from './lib/http.mjs';
import {
  HarnessError,
  allowedCpus,
  cleanup,
  cpuSeconds,
  installCleanupHooks,
  machineBusySeconds,
  makeTempDir,
  ownCpuSeconds,
  pinProcess,
  startChild,
  stopChild,
  tail,
  waitForOutput,
  wasInterrupted,
  which,
} from './lib/procs.mjs';
import { intEnv, UsageError } from './lib/env.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.resolve(HERE, '..');
const CLI = path.join(ROOT, 'dist/cli.js');
const TIME = '/usr/bin/time';
const MiB = 1048576;
const READY_POLL_MS = 20;
const STEADY_AFTER_MS = 2000;
const FIRST_REQUEST_SETTLE_MS = 1000;
/** After the first `live` line of the reload, output quiet this long = every reload it set off is done. */
const RELOAD_QUIET_MS = 1000;

const log = (s = '') => process.stdout.write(s + '\n');
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `k` distinct free ports on 127.0.0.1: listen(0) probes, all held open until every one is known. */
async function freePorts(k) {
  const servers = [];
  try {
    for (let i = 0; i < k; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise((resolve, reject) => {
        s.on('error', reject);
        s.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r()))));
  }
}

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM), or NaN. */
function procStatusKiB(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}
const procMiB = (pid, field) => procStatusKiB(pid, field) / 1024;

function dirBytes(dir) {
  return fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
}

function isAlive(child) {
  return child.exitCode === null && child.signalCode === null;
}


// ---------------------------------------------------------------------------------------------
// One size.

/** `meshgate validate -q -c DIR` under /usr/bin/time (as bench/validate-scale.mjs): { seconds, peakMiB }. */
async function runValidate(n, dir) {
  const args = [CLI, 'validate', '-q', '-c', dir];
  const timed = fs.existsSync(TIME);
  const t0 = performance.now();
  // %e: wall seconds, %M: peak RSS in KiB, written to stderr after the command's own output.
  const child = timed
    ? startChild(`validate-${n}`, TIME, ['-f', 'TIME %e %M', process.execPath, ...args], { cwd: ROOT })
    : startChild(`validate-${n}`, process.execPath, args, { cwd: ROOT });
  const { code, signal } = await child.exited;
  const wallS = (performance.now() - t0) / 1000;
  const m = timed ? /TIME ([\d.]+) (\d+)\s*$/.exec(child.output()) : null;
  if (code !== 0 || (timed && m === null)) {
    throw new HarnessError(`validate on ${n} VirtualService(s) exited ${signal ?? code}:\n${tail(child.output())}`);
  }
  return timed ? { seconds: Number(m[1]), peakMiB: Number(m[2]) / 1024 } : { seconds: wallS, peakMiB: NaN };
}

/** Polls /healthz/ready every READY_POLL_MS until it answers 200: performance.now() at that answer. */
async function waitReady(child, statusPort, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (!isAlive(child)) throw new HarnessError(`${child.benchName} exited (${child.signalCode ?? child.exitCode}) before it was ready\n${tail(child.output())}`);
    try {
      const r = await get(statusPort, '/healthz/ready', null, 1000);
      if (r.status === 200) return performance.now();
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new HarnessError(`${child.benchName}: /healthz/ready not 200 within ${timeoutMs} ms\n${tail(child.output())}`);
    await sleep(READY_POLL_MS);
  }
}

async function expectSeed(port, seed, what) {
  let r;
  try {
    r = await get(port, seed.path, seed.host);
  } catch (e) {
    throw new HarnessError(`${what}: GET ${seed.path} (Host: ${seed.host}) failed: ${e.message}`);
  }
  if (r.status !== 200 || r.bytes !== BODY_BYTES) {
    throw new HarnessError(`${what}: GET ${seed.path} (Host: ${seed.host}) answered ${r.status} with ${r.bytes} bytes, expected 200 with ${BODY_BYTES}`);
  }
  if (r.headers.server !== 'istio-envoy') throw new HarnessError(`${what}: the answer did not come through meshgate (server: ${r.headers.server})`);
}

/**
 * The one-file edit: the host of the first VirtualService of the file before the middle one
 * (vs-00049.yaml at 10,000: it does not hold the seed request's VirtualService), renamed to
 * `…-edited`; in a one-file config, where that VirtualService is the seed's, a second host is
 * added instead so the seed request keeps its route. Returns what to check after the reload.
 */
function editOneFile(files, seed) {
  const file = files[Math.max(0, Math.floor(files.length / 2) - 1)];
  const text = fs.readFileSync(file, 'utf8');
  const re = /^ {2}hosts: \[(?:"\*\.)?(h-\d+\.scale\.example)"?\]$/m;
  const m = re.exec(text);
  if (!m) throw new HarnessError(`${path.basename(file)}: no "hosts: [h-NNNNN.scale.example]" line to edit (bench/lib/config.mjs changed?)`);
  // SCALE_WILDCARD=1: the hosts are `*.h-NNNNN…`, requested as `x.h-NNNNN…`.
  const wild = m[0].includes('"*.');
  const written = (name) => (wild ? `"*.${name}"` : name);
  const oldName = m[1];
  const newName = oldName.replace('.scale.example', '-edited.scale.example');
  const oldHost = wild ? `x.${oldName}` : oldName;
  const newHost = wild ? `x.${newName}` : newName;
  const keepOld = oldHost === seed.host;
  const next = text.replace(re, `  hosts: [${keepOld ? `${written(oldName)}, ` : ''}${written(newName)}]`);
  return {
    file,
    oldHost,
    newHost,
    keepOld,
    write: () => fs.writeFileSync(file, next),
    description: `${path.basename(file)}: ${keepOld ? `host ${newHost} added to` : `host ${oldHost} renamed ${newHost} in`} its first VirtualService`,
  };
}

/**
 * Whether a reload is still running or queued, from the log lines: each `SIGHUP: reloading` or
 * `… changed: reloading` line asks for one; meshgate runs one at a time, and asks made while one
 * runs share a single queued run (CoalescingRunner); each run ends with a `live` or `refused` line.
 */
function reloadsPending(text) {
  let running = false;
  let queued = false;
  for (const m of text.matchAll(/SIGHUP: reloading|changed: reloading|config version \d+ live|reload refused/g)) {
    if (m[0].endsWith('reloading')) {
      if (!running) running = true;
      else queued = true;
    } else if (queued) queued = false;
    else running = false;
  }
  return running || queued;
}

/**
 * Edits one file, sends SIGHUP, and times from the write to the first `config version N live`
 * line (N >= 2); the config watcher sees the same edit and may apply it too (one more version).
 * Then waits for the log to go quiet (every reload set off is done), and reads VmHWM.
 */
async function reloadOneFile(gw, files, seed) {
  const edit = editOneFile(files, seed);
  const pid = gw.child.pid;
  let text = '';
  let lastDataAt = performance.now();
  const onData = (d) => {
    text += d.toString();
    lastDataAt = performance.now();
  };
  gw.child.stdout.on('data', onData);
  gw.child.stderr.on('data', onData);
  let sampledKiB = 0;
  const sampler = setInterval(() => {
    sampledKiB = Math.max(sampledKiB, procStatusKiB(pid, 'VmRSS') || 0);
  }, 10);
  try {
    const t0 = performance.now();
    edit.write();
    gw.child.kill('SIGHUP');
    const liveRe = /config version (\d+) live[^\n]*/g;
    const refusedRe = /reload refused[^\n]*/;
    const timeoutMs = 120_000;
    let firstLive = null;
    while (firstLive === null) {
      const m = [...text.matchAll(liveRe)].find((x) => Number(x[1]) >= 2);
      if (m) {
        firstLive = { ms: performance.now() - t0, version: Number(m[1]) };
        break;
      }
      const refused = refusedRe.exec(text);
      if (refused) throw new HarnessError(`${gw.child.benchName}: ${refused[0]}\n${tail(text)}`);
      if (!isAlive(gw.child)) throw new HarnessError(`${gw.child.benchName} exited during the reload\n${tail(gw.child.output())}`);
      if (performance.now() - t0 > timeoutMs) throw new HarnessError(`${gw.child.benchName}: no "config version N live" line within ${timeoutMs} ms of the edit and SIGHUP\n${tail(text)}`);
      // The data handler runs between these short sleeps: the line's arrival is seen within ~1 ms.
      await sleep(1);
    }
    // Other reloads the edit set off (the watcher's, queued behind the SIGHUP's): wait until every
    // one asked for has ended and the log has been quiet for RELOAD_QUIET_MS.
    while ((reloadsPending(text) || performance.now() - lastDataAt < RELOAD_QUIET_MS) && performance.now() - t0 < timeoutMs) await sleep(50);
    if (reloadsPending(text)) throw new HarnessError(`${gw.child.benchName}: a reload still running ${timeoutMs} ms after the edit\n${tail(text)}`);
    const lives = [...text.matchAll(liveRe)];
    const lastLive = lives.at(-1);
    const settledMs = lastDataAt - t0;
    const refused = refusedRe.exec(text);
    if (refused) throw new HarnessError(`${gw.child.benchName}: ${refused[0]}\n${tail(text)}`);
    sampledKiB = Math.max(sampledKiB, procStatusKiB(pid, 'VmRSS') || 0);
    return {
      edit: edit.description,
      ms: firstLive.ms,
      firstVersion: firstLive.version,
      versions: lives.map((x) => Number(x[1])),
      lastLine: lastLive ? lastLive[0] : null,
      settledMs,
      triggers: (text.match(/SIGHUP: reloading|changed: reloading/g) ?? []).length,
      watcherFired: /changed: reloading/.test(text),
      sampledMaxRssMiB: sampledKiB / 1024,
      hwmAfterMiB: procMiB(pid, 'VmHWM'),
      log: text.trimEnd().split('\n'),
      check: edit,
    };
  } finally {
    clearInterval(sampler);
    gw.child.stdout.off('data', onData);
    gw.child.stderr.off('data', onData);
  }
}

/** After the reload: the edited host routes (and the renamed one no longer does), the seed still does. */
async function checkEdit(port, seed, edit, what) {
  const r = await get(port, seed.path, edit.newHost).catch((e) => ({ status: e.message }));
  if (r.status !== 200) throw new HarnessError(`${what}: after the reload, Host: ${edit.newHost} answered ${r.status}, expected 200 (the edit was not applied)`);
  if (!edit.keepOld) {
    const o = await get(port, seed.path, edit.oldHost).catch((e) => ({ status: e.message }));
    if (o.status !== 404) throw new HarnessError(`${what}: after the reload, the renamed Host: ${edit.oldHost} answered ${o.status}, expected 404`);
  }
  await expectSeed(port, seed, `${what}, after the reload`);
}

/** DUR seconds of the seed request on one gateway: { rps, cpuUsPerReq, backgroundCores, load }. */
async function measureLoad({ name, child, port, seed }, { loadgen, dur, conns }) {
  const cpu0 = cpuSeconds(child.pid);
  const [busy0, own0, wall0] = [machineBusySeconds(), ownCpuSeconds(), performance.now()];
  const res = await loadgen.run({ url: `http://127.0.0.1:${port}${seed.path}`, host: seed.host, durationS: dur, conns });
  const [busy1, own1, wall1] = [machineBusySeconds(), ownCpuSeconds(), performance.now()];
  const cpu1 = cpuSeconds(child.pid);
  if (!isAlive(child)) throw new HarnessError(`${name} exited during the load run\n${tail(child.output())}`);
  return {
    load: res,
    rps: res.rps,
    // CPU time of meshgate per completed request, and other work on the machine meanwhile, in cores.
    cpuUsPerReq: cpu0 !== null && cpu1 !== null && res.requests > 0 ? ((cpu1 - cpu0) * 1e6) / res.requests : NaN,
    backgroundCores: busy0 !== null && own0 !== null ? Math.max(0, (busy1 - busy0 - (own1 - own0)) / ((wall1 - wall0) / 1000)) : NaN,
  };
}

/** Every measurement of one size; `keep`: leave this gateway running as the baseline of the next sizes. */
/** `serve`'s default number of workers on this machine: one per core. */
const DEFAULT_WORKERS = os.availableParallelism();

async function measureSize(n, ctx, keep = false) {
  const { work, upstream, loadgen, proxyCore, conns } = ctx;
  let kept = false;
  const name = `meshgate-${n}`;
  const dir = path.join(work, `config-${n}`);
  const row = { vs: n };
  try {
    const seed = writeScaleConfig(dir, upstream.port, { vs: n, perFile: 100, wildcard: ctx.wildcard, features: ctx.features });
    row.files = seed.files.length + 1; // and 00-gateway.yaml
    row.configMiB = dirBytes(dir) / MiB;
    row.request = `${seed.host}${seed.path}`;

    const v = await runValidate(n, dir);
    row.validateS = v.seconds;
    row.validatePeakMiB = v.peakMiB;

    const [port, statusPort, adminPort] = await freePorts(3);
    const serveArgs = [CLI, 'serve', '-c', dir, '--workers', '1', '--listen', `80=127.0.0.1:${port}`, '--status-port', String(statusPort), '--admin-port', String(adminPort), '--access-log', 'off'];
    const readyTimeoutMs = Math.max(120_000, n * 10);
    if (proxyCore !== null) {
      // Start-up on one core, as the gateway runs for the load below: V8's garbage-collector
      // and compiler threads then share that core with the main thread.
      const t1 = performance.now();
      const oneCore = startChild(`${name} (1 core)`, process.execPath, serveArgs, { core: proxyCore, cwd: ROOT });
      try {
        row.readyOneCoreS = ((await waitReady(oneCore, statusPort, readyTimeoutMs)) - t1) / 1000;
      } finally {
        await stopChild(oneCore);
      }
    }
    if (DEFAULT_WORKERS > 1) {
      // `serve` as it starts by default: a worker per core, and the primary.
      const t2 = performance.now();
      const workersArgs = serveArgs.map((a, i) => (serveArgs[i - 1] === '--workers' ? String(DEFAULT_WORKERS) : a));
      const multi = startChild(`${name} (${DEFAULT_WORKERS} workers)`, process.execPath, workersArgs, { core: null, cwd: ROOT });
      try {
        row.readyWorkersS = ((await waitReady(multi, statusPort, readyTimeoutMs)) - t2) / 1000;
      } finally {
        await stopChild(multi, 10_000);
      }
    }
    // Start-up with the machine's cores, as validate runs (and as the gateway starts in a pod);
    // pinned once ready, for the reload and the load.
    const t0 = performance.now();
    const child = startChild(name, process.execPath, serveArgs, { core: null, cwd: ROOT });
    const gw = { child, port };
    try {
      row.readyS = ((await waitReady(child, statusPort, readyTimeoutMs)) - t0) / 1000;
      if (proxyCore !== null) pinProcess(child.pid, proxyCore);
      await sleep(STEADY_AFTER_MS);
      if (!isAlive(child)) throw new HarnessError(`${name} exited after it was ready\n${tail(child.output())}`);
      row.steadyRssMiB = procMiB(child.pid, 'VmRSS');
      row.warnings = child.output().split('\n').filter((l) => / (warn|error) /.test(l)).length;
      // The first proxied request sets up the upstream side: RSS climbs by ~35 MiB for ~250 ms after
      // it, then falls back. That is over before the reload starts, and inside "before reload".
      await expectSeed(port, seed, name);
      await sleep(FIRST_REQUEST_SETTLE_MS);
      row.rssBeforeReloadMiB = procMiB(child.pid, 'VmRSS');
      row.hwmBeforeMiB = procMiB(child.pid, 'VmHWM');

      const rl = await reloadOneFile(gw, seed.files, seed);
      await checkEdit(port, seed, rl.check, name);
      row.reload = { ...rl, check: undefined };
      row.reloadMs = rl.ms;
      row.peakRssMiB = rl.hwmAfterMiB;

      // Load: a warm-up (JIT, upstream pool), then DUR seconds measured; for the larger configs,
      // the baseline gateway (still running, warm) gets DUR seconds right before, for the ratio.
      const target = { name, child, port, seed };
      await loadgen.run({ url: `http://127.0.0.1:${port}${seed.path}`, host: seed.host, durationS: ctx.warmupS, conns });
      if (ctx.baseline) row.pairedBaseline = await measureLoad(ctx.baseline, ctx);
      Object.assign(row, await measureLoad(target, ctx));
      row.rssAfterLoadMiB = procMiB(child.pid, 'VmRSS');
      if (keep) {
        ctx.baseline = target;
        kept = true;
      }
    } finally {
      if (!kept) await stopChild(child);
    }
  } finally {
    if (!kept) fs.rmSync(dir, { recursive: true, force: true });
  }
  return row;
}

// ---------------------------------------------------------------------------------------------

function printTable(rows) {
  const w = [];
  for (const r of rows) r.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, c.length)));
  for (const [n, r] of rows.entries()) {
    log(r.map((c, i) => c.padStart(w[i])).join('  ').trimEnd());
    if (n === 0) log(w.map((x) => '-'.repeat(x)).join('  '));
  }
}

async function main() {
  const quick = ['1', 'true', 'yes'].includes(String(process.env.BENCH_QUICK ?? '').toLowerCase());
  const sizesText = process.env.SCALE_SIZES || (quick ? '1000' : '1000,10000,30000');
  const sizes = sizesText.split(',').map((s) => s.trim());
  if (sizes.some((s) => !/^\d+$/.test(s) || Number(s) < 1)) throw new UsageError(`SCALE_SIZES=${JSON.stringify(sizesText)}: expected whole numbers >= 1, e.g. 1000,10000`);
  // The baseline first, then the sizes asked for, each once.
  const all = [...new Set([1, ...sizes.map(Number)])];
  const dur = intEnv('DUR', quick ? 2 : 5);
  const conns = intEnv('SCALE_CONNS', 32);
  const warmupS = intEnv('SCALE_WARMUP', 3);
  const wildcard = ['1', 'true', 'yes'].includes(String(process.env.SCALE_WILDCARD ?? '').toLowerCase());
  const features = ['1', 'true', 'yes'].includes(String(process.env.SCALE_FEATURES ?? '').toLowerCase());

  if (!fs.existsSync(CLI)) throw new HarnessError(`${path.relative(process.cwd(), CLI)} is missing: run \`npm run build\` (npm run bench:scale does)`);

  const cpus = allowedCpus();
  const pin = process.env.BENCH_PIN !== '0' && which('taskset') !== null && cpus.length >= 2;
  const loadCore = pin ? cpus[0] : null;
  const proxyCore = pin ? cpus[1] : null;

  const work = makeTempDir('meshgate-scale-');
  const loadgen = await pickLoadGenerator(loadCore);
  const upstream = await startUpstream(work, loadCore);

  const cpuModel = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  log(`meshgate scale bench, ${new Date().toISOString().slice(0, 10)}, ${os.hostname()}`);
  log(`  machine     ${cpuModel}, ${os.cpus().length} CPU(s), allowed ${cpus.join(',')}; ${os.type()} ${os.release()}; node ${process.version}`);
  log(`  sizes       ${all.join(', ')} VirtualService(s) (the first is the baseline), 4 uri-prefix routes each, 100 per file with their ServiceEntry and DestinationRule`);
  log(`  routes      ${features ? 'each with timeout 5s, retries (2, perTryTimeout 2s, retryOn 5xx,reset,connect-failure), a request header set and a response header removed; all but the catch-all rewrite their URI (SCALE_FEATURES=1)' : 'a match and a destination each (SCALE_FEATURES=1 adds a timeout, retries, header edits and a rewrite)'}`);
  log(`  hosts       ${wildcard ? 'one wildcard host each, *.h-NNNNN.scale.example (SCALE_WILDCARD=1), requested as x.h-NNNNN.scale.example' : 'one exact host each, h-NNNNN.scale.example'}`);
  log(`  load        ${loadgen.description.replace('CONNS', String(conns))}, ${warmupS} s warm-up then ${dur} s per size`);
  log(`  upstream    ${upstream.description}, 127.0.0.1:${upstream.port}`);
  log(
    `  pinning     ${pin ? `taskset: load generator + upstream on CPU ${loadCore}, meshgate serve on CPU ${proxyCore} once ready (all its threads); validate and the start-up not pinned, but "ready s, 1 core" from a start of its own pinned from spawn` : `none (${process.env.BENCH_PIN === '0' ? 'BENCH_PIN=0' : which('taskset') ? `only ${cpus.length} CPU allowed` : 'taskset not installed'})`}`,
  );
  log(`  validate    node dist/cli.js validate -q -c DIR${fs.existsSync(TIME) ? ', under /usr/bin/time -f "%e %M"' : ' (no /usr/bin/time: wall time from the harness, no peak; apt-get install -y time)'}`);
  log(`  serve       node dist/cli.js serve -c DIR --workers 1 --access-log off; ready = spawn to first 200 from /healthz/ready (polled every ${READY_POLL_MS} ms)`);
  if (DEFAULT_WORKERS > 1) log(`              "ready s, ${DEFAULT_WORKERS} workers": a start of its own with --workers ${DEFAULT_WORKERS}, serve's default here (a worker per core, and the primary)`);
  log();

  const ctx = { work, upstream, loadgen, proxyCore, dur, conns, warmupS, wildcard, features };
  const rows = [];
  for (const [i, n] of all.entries()) {
    const r = await measureSize(n, ctx, i === 0);
    rows.push(r);
    const bg = r.backgroundCores >= 0.1 ? ` [bg ${fmt(r.backgroundCores, 1)}]` : '';
    log(
      `${String(n).padStart(6)} VS: ${fmt(r.configMiB, 1)} MiB; validate ${fmt(r.validateS)} s; ready ${fmt(r.readyS)} s${r.readyOneCoreS === undefined ? '' : ` (${fmt(r.readyOneCoreS)} s on 1 core)`}${r.readyWorkersS === undefined ? '' : ` (${fmt(r.readyWorkersS)} s with ${DEFAULT_WORKERS} workers)`}, ${fmt(r.steadyRssMiB, 0)} MiB; ` +
        `reload ${fmt(r.reloadMs, 0)} ms (version${r.reload.versions.length > 1 ? 's' : ''} ${r.reload.versions.join(', ')} live); ${Math.round(r.rps)} req/s${bg}` +
        (r.pairedBaseline ? ` (1 VS right before: ${Math.round(r.pairedBaseline.rps)}${r.pairedBaseline.backgroundCores >= 0.1 ? ` [bg ${fmt(r.pairedBaseline.backgroundCores, 1)}]` : ''})` : '') +
        (r.load.non2xx + r.load.errors > 0 ? ` (${r.load.non2xx} non-2xx, ${r.load.errors} socket errors)` : ''),
    );
  }
  log();

  const base = rows[0];
  const noisy = (r) => r.backgroundCores >= 0.1 || r.pairedBaseline?.backgroundCores >= 0.1;
  const header = [
    'VirtualServices',
    'config MiB',
    'validate s',
    'validate peak MiB',
    'ready s',
    'ready s, 1 core',
    `ready s, ${DEFAULT_WORKERS} workers`,
    'steady RSS MiB',
    'one-file reload ms',
    'peak RSS before reload MiB',
    'peak RSS MiB',
    'RSS max in reload MiB',
    'req/s',
    'req/s vs 1 VS',
    'CPU µs/req',
  ];
  const table = [header];
  for (const r of rows) {
    const b = r.pairedBaseline ?? base;
    r.rpsVsBaseline = r.rps / b.rps;
    r.cpuVsBaseline = r.cpuUsPerReq / b.cpuUsPerReq;
    table.push([
      r.vs.toLocaleString('en-US'),
      fmt(r.configMiB, 1),
      fmt(r.validateS),
      fmt(r.validatePeakMiB, 0),
      fmt(r.readyS),
      r.readyOneCoreS === undefined ? '-' : fmt(r.readyOneCoreS),
      r.readyWorkersS === undefined ? '-' : fmt(r.readyWorkersS),
      fmt(r.steadyRssMiB, 0),
      fmt(r.reloadMs, 0),
      fmt(r.hwmBeforeMiB, 0),
      fmt(r.peakRssMiB, 0),
      fmt(r.reload.sampledMaxRssMiB, 0),
      String(Math.round(r.rps)) + (noisy(r) ? '*' : ''),
      fmt(r.rpsVsBaseline, 3),
      fmt(r.cpuUsPerReq, 1),
    ]);
  }
  printTable(table);
  log();
  log(`  one-file reload: ${rows.map((r) => `${r.vs}: ${r.reload.edit}`).join('; ')}`);
  log(`    ms = from the write + SIGHUP to the first "config version N live" line (N >= 2); the config watcher reacts to the same edit,`);
  log(`    so a second version may follow: ${rows.map((r) => `${r.vs}: version(s) ${r.reload.versions.join(', ')}, last after ${fmt(r.reload.settledMs, 0)} ms`).join('; ')}`);
  log(`  peak RSS = VmHWM (lifetime peak) after the reload; "before reload" = VmHWM just before the edit (after ready + 2 s and one proxied request);`);
  log(`    "RSS max in reload" = the highest VmRSS sampled every 10 ms from the edit until the log was quiet for ${RELOAD_QUIET_MS} ms (the reload alone)`);
  log(`  req/s: GET ${rows.map((r) => r.request).join(', ')}: the middle VirtualService, the last of its 4 routes;`);
  log(`    "vs 1 VS" = req/s ÷ the 1-VirtualService gateway's in a run of its own right before (it keeps running, warm, for that):`);
  log(`    ${rows.slice(1).map((r) => `${r.vs}: ${Math.round(r.rps)} ÷ ${Math.round(r.pairedBaseline.rps)}`).join(', ') || '(no other size)'}; the 1 VS row is its first run`);
  log(`  CPU µs/req: meshgate's user+system CPU during the load run ÷ completed requests; ÷ the same 1 VS run's: ${rows.slice(1).map((r) => `${r.vs}: ${fmt(r.cpuVsBaseline, 3)}`).join(', ') || '-'}`);
  const largest = rows.at(-1);
  if (rows.length > 1) {
    const off = largest.rpsVsBaseline - 1;
    log(
      `  per-request cost at ${largest.vs.toLocaleString('en-US')} VirtualServices: req/s ${fmt(Math.abs(off) * 100, 1)} % ${off < 0 ? 'below' : 'above'} the 1-VirtualService config's, ` +
        `${Math.abs(off) <= 0.05 ? 'within' : 'OUTSIDE'} ±5 % (CPU µs/req ratio ${fmt(largest.cpuVsBaseline, 3)})`,
    );
  }
  const noisyRows = rows.filter(noisy);
  if (noisyRows.length > 0) {
    const bgText = (r) => `${r.vs}: ${fmt(r.backgroundCores, 2)}${r.pairedBaseline ? ` (1 VS run: ${fmt(r.pairedBaseline.backgroundCores, 2)})` : ''} cores`;
    log(`  * background load during the load runs (other work on the machine): ${noisyRows.map(bgText).join(', ')}; req/s there is not clean`);
  }
  const errs = (l) => l.non2xx + l.errors;
  const bad = rows.filter((r) => errs(r.load) + (r.pairedBaseline ? errs(r.pairedBaseline.load) : 0) > 0);
  if (bad.length > 0) log(`  note: non-2xx answers or socket errors under load at ${bad.map((r) => `${r.vs} (${errs(r.load)}${r.pairedBaseline ? `, its 1 VS run ${errs(r.pairedBaseline.load)}` : ''})`).join(', ')}`);
  const warned = rows.filter((r) => r.warnings > 0);
  if (warned.length > 0) log(`  note: warnings/errors in meshgate's startup log at ${warned.map((r) => `${r.vs} (${r.warnings})`).join(', ')}`);

  if (process.env.BENCH_JSON) {
    fs.writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          machine: { cpu: cpuModel, cpus: os.cpus().length, allowed: cpus, node: process.version, os: `${os.type()} ${os.release()}` },
          settings: { sizes: all, dur, conns, warmupS, loadgen: loadgen.name, upstream: upstream.description, pinned: pin, loadCore, proxyCore },
          rows,
        },
        null,
        2,
      ) + '\n',
    );
    log(`\nresults written to ${process.env.BENCH_JSON}`);
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
  process.stderr.write(`\nscale bench failed: ${e instanceof HarnessError || e instanceof UsageError ? e.message : (e?.stack ?? String(e))}\n`);
}
await cleanup();
process.exit(code);
