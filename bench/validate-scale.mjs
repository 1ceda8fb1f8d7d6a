#!/usr/bin/env node
// `npm run bench:validate`: how long `meshgate validate` takes on a large config, and its peak
// memory (Istio users report `istioctl analyze` taking minutes on large meshes). The config is
// the shipped example plus a Gateway and N VirtualServices of 4 uri-prefix routes each
// (bench/lib/config.mjs, the route-table scenario of `npm run bench`).
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
const rows = [];
for (const n of sizes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgate-validate-'));
  try {
    writeRouteTableConfig(path.join(ROOT, 'gateways'), dir, 18080, { hosts: n, routes: 4 });
    const bytes = fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
    const times = [];
    let peak = 0;
    for (let i = 0; i < runs; i++) {
      // %e: wall seconds, %M: peak RSS in KiB, written to stderr after the command's own.
      const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, CLI, 'validate', '-q', '-c', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr);
      if (r.status !== 0 || m === null) {
        process.stderr.write(`validate on ${n} VirtualServices exited ${r.status}:\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}\n`);
        process.exit(1);
      }
      times.push(Number(m[1]));
      peak = Math.max(peak, Number(m[2]) / 1024);
    }
    rows.push({ n, mib: bytes / 1048576, seconds: median(times), peak });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(`meshgate validate, ${runs} run(s) per size (median time, largest peak RSS), node ${process.version}, ${os.availableParallelism()} CPU(s)\n`);
process.stdout.write('VirtualServices   config MiB   time s   peak RSS MiB   per 1,000 VS\n');
for (const r of rows) {
  process.stdout.write(`${String(r.n).padStart(15)}   ${r.mib.toFixed(1).padStart(10)}   ${r.seconds.toFixed(2).padStart(6)}   ${r.peak.toFixed(0).padStart(12)}   ${((r.seconds * 1000) / r.n).toFixed(2).padStart(8)} s\n`);
}
