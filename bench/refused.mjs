#!/usr/bin/env node
// `npm run bench:refused`: meshgate's memory while every upstream refuses, on a large config, side
// by side with the same gateway left to V8's own heap growth (`node --heap-growing-percent=0`) in
// the same run. A config of REFUSED_VS VirtualServices (bench/lib/config.mjs, as bench:scale)
// names an upstream port nothing listens on; each pass requests every host once over
// REFUSED_CONNS keep-alive connections (each answered 503 after a refused connect), and the
// gateway's RSS is read after each pass and every 100 ms during them. The two gateways run in
// turn, REFUSED_ROUNDS times each, pinned to one core, the requests on another.
//
// Environment: REFUSED_VS (30000), REFUSED_PASSES (5), REFUSED_CONNS (16), REFUSED_ROUNDS (2),
// REFUSED_ALSO (other growths to run beside them, in percent: 50,100), BENCH_PIN=0 (no taskset).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { writeScaleConfig } from './lib/config.mjs';
import { freePort, get } from './lib/http.mjs';
import { HarnessError, allowedCpus, cleanup, cpuSeconds, installCleanupHooks, makeTempDir, pinProcess, startChild, stopChild, tail, wasInterrupted } from './lib/procs.mjs';
import { intEnv, UsageError } from './lib/env.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.resolve(HERE, '..');
const CLI = path.join(ROOT, 'dist/cli.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s = '') => process.stdout.write(s + '\n');
const pad = (n) => String(n).padStart(5, '0');

function rssMiB(pid) {
  try {
    const m = /^VmRSS:\s*(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function waitReady(child, statusPort) {
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      if ((await get(statusPort, '/healthz/ready', null, 1000)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
  throw new HarnessError(`${child.benchName} not ready\n${tail(child.output())}`);
}

/** One request to each host, `conns` at a time: { ms, codes }. */
async function pass(port, vs, conns) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  const codes = {};
  let next = 0;
  const one = (k) =>
    new Promise((resolve) => {
      const host = `h-${pad(k)}.scale.example`;
      const req = http.request({ port, host: '127.0.0.1', path: `/app-${pad(k)}/r1/x`, headers: { host }, agent }, (res) => {
        codes[res.statusCode] = (codes[res.statusCode] ?? 0) + 1;
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', (e) => {
        codes[e.code] = (codes[e.code] ?? 0) + 1;
        resolve();
      });
      req.end();
    });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conns }, async () => {
    while (next < vs) await one(next++);
  }));
  agent.destroy();
  return { ms: performance.now() - t0, codes };
}

async function runGateway(variant, dir, { vs, passes, conns, cores }) {
  const [gwPort, statusPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const args = [...variant.nodeArgs, CLI, 'serve', '-c', dir, '--workers', '1', '--access-log', 'off', '--drain-seconds', '0',
    '--listen', `80=127.0.0.1:${gwPort}`, '--status-port', String(statusPort), '--admin-port', String(adminPort)];
  const child = startChild(`gateway (${variant.name})`, process.execPath, args, { cwd: ROOT });
  try {
    await waitReady(child, statusPort);
    if (cores !== null) pinProcess(child.pid, cores.gateway);
    const readyMiB = rssMiB(child.pid);
    let maxMiB = readyMiB;
    const sampler = setInterval(() => (maxMiB = Math.max(maxMiB, rssMiB(child.pid))), 100);
    const after = [];
    const ms = [];
    const cpu = [];
    try {
      for (let i = 0; i < passes; i++) {
        const c0 = cpuSeconds(child.pid);
        const p = await pass(gwPort, vs, conns);
        cpu.push(cpuSeconds(child.pid) - c0);
        if (p.codes[503] !== vs) throw new HarnessError(`${child.benchName}: expected ${vs} answers 503 (upstream refused), got ${JSON.stringify(p.codes)}`);
        ms.push(p.ms);
        after.push(rssMiB(child.pid));
      }
    } finally {
      clearInterval(sampler);
    }
    return { readyMiB, after, maxMiB: Math.max(maxMiB, ...after), ms, cpu };
  } finally {
    await stopChild(child);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const vs = intEnv('REFUSED_VS', 30000);
  const passes = intEnv('REFUSED_PASSES', 5);
  const conns = intEnv('REFUSED_CONNS', 16);
  const rounds = intEnv('REFUSED_ROUNDS', 2);
  const alsoText = process.env.REFUSED_ALSO ?? '';
  const also = alsoText === '' ? [] : alsoText.split(',');
  if (also.some((p) => !/^\d+$/.test(p))) throw new UsageError(`REFUSED_ALSO=${JSON.stringify(alsoText)}: expected whole percents, e.g. 50,100`);
  const cpus = process.env.BENCH_PIN === '0' ? [] : allowedCpus();
  const cores = cpus.length >= 2 ? { gateway: cpus[1], load: cpus[0] } : null;
  if (cores !== null) pinProcess(process.pid, cores.load);

  const work = makeTempDir('meshgate-refused-');
  // A port taken and given back: nothing listens there, so every connect is refused.
  const refusedPort = await freePort();
  writeScaleConfig(path.join(work, 'config'), refusedPort, { vs });
  const dir = path.join(work, 'config');

  const variants = [
    { name: 'meshgate', nodeArgs: [] },
    { name: "V8's own growth", nodeArgs: ['--heap-growing-percent=0'] },
    ...also.map((p) => ({ name: `growth ${p} %`, nodeArgs: [`--heap-growing-percent=${p}`] })),
  ];
  log(`meshgate under refused upstreams: ${vs} VirtualServices, ${passes} passes of a request to every host, ${conns} connections, ${rounds} round(s)`);
  log(cores ? `  gateway pinned to core ${cores.gateway}, requests from core ${cores.load}` : '  not pinned');
  const results = new Map(variants.map((v) => [v.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      if (wasInterrupted()) return;
      const res = await runGateway(v, dir, { vs, passes, conns, cores });
      results.get(v.name).push(res);
      log(`  ${v.name.padEnd(16)} ready ${res.readyMiB.toFixed(0)} MiB; after each pass ${res.after.map((x) => x.toFixed(0)).join(', ')} MiB; max ${res.maxMiB.toFixed(0)} MiB; passes ${res.ms.map((x) => (x / 1000).toFixed(1)).join(', ')} s, CPU ${res.cpu.map((x) => x.toFixed(1)).join(', ')} s`);
    }
  }
  log();
  log('| gateway | RSS at ready | RSS after passes | RSS max | pass, median | CPU per pass, median | RSS max vs V8\'s own | pass time vs V8\'s own | CPU vs V8\'s own |');
  log('|---|---|---|---|---|---|---|---|---|');
  const base = results.get(variants[1].name);
  const baseMax = median(base.map((x) => x.maxMiB));
  const baseMs = median(base.flatMap((x) => x.ms));
  const baseCpu = median(base.flatMap((x) => x.cpu));
  for (const v of variants) {
    const rs = results.get(v.name);
    const after = rs.flatMap((x) => x.after);
    const max = median(rs.map((x) => x.maxMiB));
    const ms = median(rs.flatMap((x) => x.ms));
    const cpu = median(rs.flatMap((x) => x.cpu));
    log(`| ${v.name} | ${median(rs.map((x) => x.readyMiB)).toFixed(0)} MiB | ${Math.min(...after).toFixed(0)}-${Math.max(...after).toFixed(0)} MiB | ${max.toFixed(0)} MiB | ${(ms / 1000).toFixed(2)} s | ${cpu.toFixed(2)} s | ${(max / baseMax).toFixed(2)} | ${(ms / baseMs).toFixed(2)} | ${(cpu / baseCpu).toFixed(2)} |`);
  }
}

installCleanupHooks();
main()
  .catch((e) => {
    process.exitCode = e instanceof UsageError ? 2 : 1;
    console.error(e instanceof HarnessError || e instanceof UsageError ? `bench:refused: ${e.message}` : e);
  })
  .finally(cleanup);
