#!/usr/bin/env node
// `npm run bench:shapes`: `meshgate validate` on large configs of other shapes than bench:scale's
// (bench/lib/shapes.mjs: many files, Kubernetes Services with Endpoints, many Gateways on one
// port, one huge VirtualService, routes with timeouts and retries, routes matching regexes), beside bench:scale's 30,000
// VirtualServices in the same run: median time and largest peak RSS of SHAPES_RUNS runs each,
// and the time as a ratio to that baseline's. A ratio far above the config's size ratio is a
// cost that grows faster than the config.
//
// Environment: SHAPES (comma-separated names, default all), SHAPES_RUNS (default 3).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHAPES } from './lib/shapes.mjs';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(ROOT, 'dist/cli.js');
const runs = Number(process.env.SHAPES_RUNS ?? 3);
const asked = (process.env.SHAPES ?? Object.keys(SHAPES).join(',')).split(',').map((s) => s.trim());
const unknown = asked.filter((s) => !(s in SHAPES));
if (unknown.length > 0 || !Number.isInteger(runs) || runs < 1) {
  process.stderr.write(`SHAPES takes ${Object.keys(SHAPES).join(', ')} (got ${unknown.join(', ') || 'none unknown'}); SHAPES_RUNS a whole number\n`);
  process.exit(2);
}
if (!fs.existsSync('/usr/bin/time')) {
  process.stderr.write('needs /usr/bin/time (Debian package "time") for the peak memory\n');
  process.exit(2);
}
// The baseline first, always: the ratios are to it.
const names = ['baseline', ...asked.filter((s) => s !== 'baseline')];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sizeOf = (dir) => fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
const rows = [];
for (const name of names) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `meshgate-shape-${name}-`));
  try {
    SHAPES[name].write(dir, 18080);
    const times = [];
    let peak = 0;
    let objects = '';
    for (let i = 0; i < runs; i++) {
      // %e: wall seconds, %M: peak RSS in KiB, written to stderr after the command's own.
      const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, CLI, 'validate', '-q', '-c', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr);
      if (r.status !== 0 || m === null) {
        process.stderr.write(`validate on the ${name} shape exited ${r.status}:\n${r.stdout.slice(-2000)}${r.stderr.slice(-2000)}\n`);
        process.exit(1);
      }
      times.push(Number(m[1]));
      peak = Math.max(peak, Number(m[2]) / 1024);
      objects = /valid: (\d+) object/.exec(r.stdout)?.[1] ?? '?';
    }
    rows.push({ name, what: SHAPES[name].what, files: fs.readdirSync(dir).length, mib: sizeOf(dir) / 1048576, objects, seconds: median(times), peak });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const base = rows[0];
process.stdout.write(`meshgate validate on config shapes, ${runs} run(s) each (median time, largest peak RSS), node ${process.version}, ${os.availableParallelism()} CPU(s)\n`);
process.stdout.write('shape      objects   files  config MiB  time s  vs baseline  peak RSS MiB\n');
for (const r of rows) {
  process.stdout.write(
    `${r.name.padEnd(9)}  ${String(r.objects).padStart(7)}  ${String(r.files).padStart(6)}  ${r.mib.toFixed(1).padStart(10)}  ${r.seconds.toFixed(2).padStart(6)}  ${(r.seconds / base.seconds).toFixed(2).padStart(11)}  ${r.peak.toFixed(0).padStart(12)}\n`,
  );
}
process.stdout.write('\n');
for (const r of rows) process.stdout.write(`  ${r.name.padEnd(9)} ${r.what}\n`);
