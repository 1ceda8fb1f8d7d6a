// One autocannon run in its own process (so it can be pinned like wrk); prints one JSON line.
// Usage: node autocannon-worker.mjs '{"url":…,"host":…,"durationS":5,"conns":64}'
import autocannon from 'autocannon';

const { url, host, durationS, conns } = JSON.parse(process.argv[2]);
const result = await autocannon({
  url,
  connections: conns,
  pipelining: 1,
  duration: durationS,
  headers: host ? { host } : {},
});
const seconds = result.duration > 0 ? result.duration : durationS;
process.stdout.write(
  JSON.stringify({
    rps: result.requests.total / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  }) + '\n',
);
