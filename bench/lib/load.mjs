// Load generators: wrk when installed (what anchors.sh uses), else autocannon (devDependency);
// h2load for the h2c case; wrk for the HTTPS case (https URLs, and `close` for a connection per request).
// All run as their own pinned process; wrk and autocannon report { rps, p50Ms, p99Ms, requests, non2xx, errors },
// h2load { rps, meanMs, sdMs, maxMs, requests, succeeded, failed, non2xx, errors }.
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

/**
 * One wrk run. `close`: every request says `Connection: close`; the server closes the connection
 * after answering and wrk opens a new one (over https, a new TLS handshake) for the next request.
 */
async function runWrk({ url, host, durationS, conns, close = false }, core) {
  const args = ['-t1', `-c${conns}`, `-d${durationS}s`, '--latency'];
  if (host) args.push('-H', `Host: ${host}`);
  if (close) args.push('-H', 'Connection: close');
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

// ---------------------------------------------------------------------------------------------
// h2c (HTTP/2 with prior knowledge): h2load from nghttp2-client, many streams over few connections.

/** h2load when installed, else null (the h2c case is then skipped). */
export function pickH2LoadGenerator(core) {
  if (!which('h2load')) return null;
  let version = 'h2load';
  try {
    version = execFileSync('h2load', ['--version'], { encoding: 'utf8', stdio: 'pipe' }).trim().split('\n')[0] || version;
  } catch {
    // keep the bare name
  }
  return { name: 'h2load', version, description: `${version} (-t1 -c H2_CONNS -m H2_STREAMS)`, run: (o) => runH2load(o, core) };
}

/**
 * Parses h2load's summary: req/s from "finished in …", counts from "requests:" and "status
 * codes:", latency from "time for request:" (min, max, mean, sd: h2load prints no percentiles).
 * `requests` counts every completed answer (wrk's meaning), `non2xx` the 4xx/5xx among them.
 */
export function parseH2load(out) {
  const fin = /finished in ([\d.]+)(?:us|ms|s|m), ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const lat = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  if (!fin || !req || !codes || !lat) return null;
  const [done, succeeded, failed, errored, timeout] = [3, 4, 5, 6, 7].map((i) => Number(req[i]));
  return {
    rps: Number(fin[2]),
    meanMs: wrkTimeMs(lat[3]),
    sdMs: wrkTimeMs(lat[4]),
    maxMs: wrkTimeMs(lat[2]),
    requests: done,
    succeeded,
    failed,
    non2xx: Number(codes[3]) + Number(codes[4]),
    errors: errored + timeout,
  };
}

/** One h2load run: `durationS` seconds (-D), or exactly `requests` requests (-n) when given. */
async function runH2load({ url, authority, durationS, requests, conns, streams }, core) {
  const args = ['-t1', `-c${conns}`, `-m${streams}`];
  args.push(...(requests ? [`-n${requests}`] : [`-D${durationS}`]));
  if (authority) args.push('-H', `:authority: ${authority}`); // -H 'Host: …' would add a host header next to the URI's :authority
  args.push(url);
  const child = startChild('h2load', 'h2load', args, { core });
  const killer = setTimeout(() => child.kill('SIGKILL'), ((durationS ?? 0) + 30) * 1000);
  const { code, signal } = await child.exited;
  clearTimeout(killer);
  const r = parseH2load(child.output());
  if (code !== 0 || r === null) throw new HarnessError(`h2load ${args.join(' ')} failed (${signal ?? code})\n${tail(child.output())}`);
  return r;
}
