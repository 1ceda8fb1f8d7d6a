// Load generators: wrk when installed (what anchors.sh uses), else autocannon (devDependency).
// Both run as their own pinned process and report { rps, p50Ms, p99Ms, requests, non2xx, errors }.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { HarnessError, startChild, tail, which } from './procs.mjs';

const HERE = path.dirname(new URL(import.meta.url).pathname);

/** The load generator to use: wrk, else autocannon; `BENCH_LOADGEN=autocannon` forces the fallback. */
export async function pickLoadGenerator(core) {
  const forced = process.env.BENCH_LOADGEN;
  if (forced !== 'autocannon' && which('wrk')) {
    let version = 'wrk';
    try {
      execFileSync('wrk', ['-v'], { stdio: 'pipe' });
    } catch (e) {
      // `wrk -v` prints its banner and exits 1.
      version = String(e.stdout ?? '').split('\n')[0].replace(/\s*Copyright.*/, '').trim() || 'wrk';
    }
    return { name: 'wrk', description: `${version} (-t1 -c CONNS --latency)`, run: (o) => runWrk(o, core) };
  }
  if (forced === 'wrk') throw new HarnessError('BENCH_LOADGEN=wrk but wrk is not installed');
  let version;
  try {
    version = (await import('autocannon/package.json', { with: { type: 'json' } })).default.version;
  } catch {
    throw new HarnessError('neither wrk nor autocannon is available: `apt-get install wrk` or `npm i -D autocannon`');
  }
  return {
    name: 'autocannon',
    description: `autocannon ${version} (node, 1 process, CONNS connections); slower than wrk, so it may cap the faster paths`,
    run: (o) => runAutocannon(o, core),
  };
}

/** Converts wrk's `1.23ms` / `850.00us` / `1.02s` into milliseconds. */
export function wrkTimeMs(s) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

export function parseWrk(out) {
  const rps = /Requests\/sec:\s*([\d.]+)/.exec(out);
  const p50 = /^\s*50%\s+(\S+)/m.exec(out);
  const p99 = /^\s*99%\s+(\S+)/m.exec(out);
  const total = /(\d+) requests in/.exec(out);
  if (!rps || !p50 || !p99 || !total) return null;
  const non2xx = /Non-2xx or 3xx responses:\s*(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(rps[1]),
    p50Ms: wrkTimeMs(p50[1]),
    p99Ms: wrkTimeMs(p99[1]),
    requests: Number(total[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    errors: sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0,
  };
}

async function runWrk({ url, host, durationS, conns }, core) {
  const args = ['-t1', `-c${conns}`, `-d${durationS}s`, '--latency'];
  if (host) args.push('-H', `Host: ${host}`);
  args.push(url);
  const child = startChild('wrk', 'wrk', args, { core });
  const killer = setTimeout(() => child.kill('SIGKILL'), (durationS + 30) * 1000);
  const { code, signal } = await child.exited;
  clearTimeout(killer);
  const r = parseWrk(child.output());
  if (code !== 0 || r === null) throw new HarnessError(`wrk ${args.join(' ')} failed (${signal ?? code})\n${tail(child.output())}`);
  return r;
}

async function runAutocannon({ url, host, durationS, conns }, core) {
  const spec = JSON.stringify({ url, host, durationS, conns });
  const child = startChild('autocannon', process.execPath, [path.join(HERE, 'autocannon-worker.mjs'), spec], { core });
  const killer = setTimeout(() => child.kill('SIGKILL'), (durationS + 30) * 1000);
  const { code, signal } = await child.exited;
  clearTimeout(killer);
  const line = child.output().split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || !line) throw new HarnessError(`autocannon on ${url} failed (${signal ?? code})\n${tail(child.output())}`);
  return JSON.parse(line);
}
