// Child processes and temp dirs of one bench run, and their cleanup on every way out:
// normal end, harness failure, Ctrl-C (SIGINT), SIGTERM, SIGHUP.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();
const tempDirs = [];
let cleanupPromise = null;

export class HarnessError extends Error {}

/** A fresh temp dir, readable by nginx workers that drop to an unprivileged user when run as root. */
export function makeTempDir(prefix = 'meshgate-bench-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  tempDirs.push(dir);
  return dir;
}

/** Absolute path of an executable on PATH, or null. */
export function which(name) {
  for (const d of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** CPUs this process may run on (Linux), e.g. [0, 1]. */
export function allowedCpus() {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) {
      const out = [];
      for (const part of m[1].split(',')) {
        const [a, b] = part.split('-').map(Number);
        for (let c = a; c <= (b ?? a); c++) out.push(c);
      }
      return out;
    }
  } catch {
    // not Linux
  }
  return os.cpus().map((_, i) => i);
}

/** Pins a running process, all its threads, to one CPU (taskset -a -p). */
export function pinProcess(pid, core) {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new HarnessError(`taskset -a -p -c ${core} ${pid} failed: ${r.stderr || r.error}`);
}

/**
 * Spawns a tracked child, pinned to `core` with taskset when `core` is a number.
 * Output is kept (last 64 KiB) in `child.output()` for diagnostics and waiting on lines.
 */
export function startChild(name, cmd, args, { core = null, cwd, env } = {}) {
  const [file, argv] = core === null ? [cmd, args] : ['taskset', ['-c', String(core), cmd, ...args]];
  const child = spawn(file, argv, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.benchName = name;
  let out = '';
  const listeners = new Set();
  const onData = (d) => {
    out += d.toString();
    if (out.length > 65536) out = out.slice(-65536);
    for (const l of listeners) l();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.output = () => out;
  child.onOutput = (fn) => {
    listeners.add(fn);
    return () => listeners.delete(fn);
  };
  child.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
    child.on('error', (e) => {
      children.delete(child);
      out += `\n(spawn failed: ${e.message})`;
      resolve({ code: null, signal: null, error: e });
    });
  });
  children.add(child);
  return child;
}

/** Resolves with the first match of `re` in the child's output; rejects if it exits or times out first. */
export function waitForOutput(child, re, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn, v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      off();
      fn(v);
    };
    const check = () => {
      const m = re.exec(child.output());
      if (m) finish(resolve, m);
    };
    const off = child.onOutput(check);
    const timer = setTimeout(
      () => finish(reject, new HarnessError(`${child.benchName}: no ${what} within ${timeoutMs} ms\n${tail(child.output())}`)),
      timeoutMs,
    );
    child.exited.then(({ code, signal }) => {
      check();
      finish(reject, new HarnessError(`${child.benchName} exited (${signal ?? code}) before ${what}\n${tail(child.output())}`));
    });
    check();
  });
}

export function tail(s, lines = 20) {
  return s.trimEnd().split('\n').slice(-lines).map((l) => `    | ${l}`).join('\n');
}

/** Stops one child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill('SIGTERM');
  } catch {
    // already gone
  }
  const timer = setTimeout(() => {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }, graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Stops every child still running and removes every temp dir. Idempotent. */
export function cleanup() {
  cleanupPromise ??= (async () => {
    await Promise.all([...children].map((c) => stopChild(c)));
    for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  })();
  return cleanupPromise;
}

let interrupted = false;
export function wasInterrupted() {
  return interrupted;
}

/** Installs the signal and exit hooks; `onSignal` runs before cleanup (e.g. to print a note). */
export function installCleanupHooks(onSignal = () => {}) {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      if (interrupted) return;
      interrupted = true;
      onSignal(sig);
      cleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
  // Last resort if the process exits some other way: nothing may outlive the harness.
  process.on('exit', () => {
    for (const c of children) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  });
}

let clkTck = null;
function ticksPerSecond() {
  if (clkTck === null) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function descendants(pid) {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks = [];
    try {
      tasks = fs.readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        for (const c of fs.readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c) out.push(Number(c));
      } catch {
        // no children file (kernel without CONFIG_PROC_CHILDREN) or task gone
      }
    }
  }
  return out;
}

/**
 * CPU seconds (user + system, all threads) used so far by a process and its descendants
 * (nginx's worker under its master), from /proc; null where /proc is not available.
 */
export function cpuSeconds(pid) {
  if (pid === undefined || !fs.existsSync(`/proc/${pid}/stat`)) return null;
  let ticks = 0;
  for (const p of descendants(pid)) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
    } catch {
      // exited meanwhile
    }
  }
  return ticks / ticksPerSecond();
}

/** Busy CPU seconds of the whole machine so far (all CPUs, /proc/stat), or null. */
export function machineBusySeconds() {
  try {
    const f = /^cpu\s+(.*)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))[1].trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0] + f[1] + f[2] + f[5] + f[6] + (f[7] ?? 0)) / ticksPerSecond();
  } catch {
    return null;
  }
}

/** CPU seconds of this harness and everything it started, alive or already reaped (wrk runs). */
export function ownCpuSeconds() {
  const live = cpuSeconds(process.pid);
  if (live === null) return null;
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return live + (Number(f[13]) + Number(f[14])) / ticksPerSecond(); // cutime, cstime (fields 16, 17)
  } catch {
    return live;
  }
}

/**
 * TCP connections accepted so far on this machine (PassiveOpens in /proc/net/snmp), or null.
 * Machine-wide: other activity adds to it; the handshake runs compare its delta with their requests.
 */
export function tcpPassiveOpens() {
  try {
    const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Tcp:'));
    const names = lines[0].trim().split(/\s+/);
    const values = lines[1].trim().split(/\s+/);
    const i = names.indexOf('PassiveOpens');
    return i > 0 ? Number(values[i]) : null;
  } catch {
    return null;
  }
}
