#!/usr/bin/env node
// `npm run bench:validate`: how long `meshgate validate` takes on a large config, and its peak
// memory (Istio users report `istioctl analyze` taking minutes on large meshes). The config is
// the shipped example plus a Gateway and N VirtualServices of 4 uri-prefix routes each
// (bench/lib/config.mjs, the route-table scenario of `npm run bench`); then the same with every
// route sent to a host nothing declares, a warning each (4 per VirtualService), all placed.
//
// Environment: VALIDATE_SIZES (comma-separated VirtualService counts, default 1000,10000),
// VALIDATE_RUNS (runs per size, default 3; the median time and the largest peak are shown).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeRouteTableConfig } from './lib/config.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.resolve(HERE, '..');
const CLI = path.join(ROOT, 'dist/cli.js');
const sizes = (process.env.VALIDATE_SIZES ?? '1000,10000').split(',').map((s) => Number(s.trim()));
const runs = Number(process.env.VALIDATE_RUNS ?? 3);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(runs) || runs < 1) {
  process.stderr.write('VALIDATE_SIZES must be whole numbers (e.g. 1000,10000) and VALIDATE_RUNS a whole number\n');
  process.exit(2);
}
if (!fs.existsSync('/usr/bin/time')) {
  process.stderr.write('needs /usr/bin/time (Debian package "time") for the peak memory\n');
  process.exit(2);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median wall seconds and largest peak RSS (MiB) of `validate -q` on `dir` over the runs; exit 0 or 1 (warnings) expected. */
function measure(dir, n, what) {
  const times = [];
  let peak = 0;
  for (let i = 0; i < runs; i++) {
    // %e: wall seconds, %M: peak RSS in KiB, written to stderr after the command's own.
    const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, CLI, 'validate', '-q', '-c', dir], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr);
    if (r.status !== 0 || m === null) {
      process.stderr.write(`validate on ${n} VirtualServices (${what}) exited ${r.status}:\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}\n`);
      process.exit(1);
    }
    times.push(Number(m[1]));
    peak = Math.max(peak, Number(m[2]) / 1024);
  }
  return { seconds: median(times), peak };
}

const rows = [];
for (const n of sizes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-validate-'));
  try {
    writeRouteTableConfig(path.join(ROOT, 'gateways'), dir, 18080, { hosts: n, routes: 4 });
    const bytes = fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
    const clean = measure(dir, n, 'no warnings');
    // The same routes to a host nothing declares (a dump of VirtualServices without their
    // services): a warning on each, every one placed at its line and column.
    const table = path.join(dir, 'zz-bench-route-table.yml');
    fs.writeFileSync(table, fs.readFileSync(table, 'utf8').replace(/^( +host: ).*$/gm, '$1missing.bench.svc'));
    const warned = measure(dir, n, 'a warning per route');
    rows.push({ n, mib: bytes / 1048576, ...clean, warnedSeconds: warned.seconds, warnedPeak: warned.peak });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(`meshgate validate, ${runs} run(s) per size (median time, largest peak RSS), node ${process.version}, ${os.availableParallelism()} CPU(s)\n`);
process.stdout.write('VirtualServices   config MiB   time s   peak RSS MiB   per 1,000 VS   warning per route: time s   peak RSS MiB\n');
for (const r of rows) {
  process.stdout.write(
    `${String(r.n).padStart(15)}   ${r.mib.toFixed(1).padStart(10)}   ${r.seconds.toFixed(2).padStart(6)}   ${r.peak.toFixed(0).padStart(12)}   ${((r.seconds * 1000) / r.n).toFixed(2).padStart(10)} s   ${r.warnedSeconds.toFixed(2).padStart(24)}   ${r.warnedPeak.toFixed(0).padStart(12)}\n`,
  );
}
