import { rm, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, staticService, virtualServiceYaml, writeConfigDir } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { runCli, startServe, type ServeProcess } from '../helpers/process.js';
import { deadPort, startUpstream, type Upstream } from '../helpers/upstream.js';

// `serve --workers N` as a real process tree: the primary loads and checks the config, runs the
// status and admin ports, and hands the same objects to N workers sharing the listeners. Every
// request below opens its own connection, so the primary deals them over the workers.

const line = (text: string, re: RegExp) => text.split('\n').find((l) => re.test(l));
const countOf = (text: string, re: RegExp) => Number(/ (\d+)$/.exec(line(text, re) ?? '')?.[1] ?? NaN);

async function logUntil(gw: ServeProcess, re: RegExp, ms = 8000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!re.test(gw.log()) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return re.test(gw.log());
}

function config(backend: number, slow: number, dead: number): Record<string, string> {
  return {
    'gateway.yaml': GATEWAY_ANY_HOST,
    'services.yaml': [staticService('backend.test', [backend]), staticService('slow.test', [slow]), staticService('dead.test', [dead])].join('---\n'),
    'vs.yaml': [
      virtualServiceYaml('app', ['app.example.com'], [{ route: [{ destination: { host: 'backend.test' } }] }]),
      virtualServiceYaml('slow', ['slow.example.com'], [{ timeout: '0.2s', route: [{ destination: { host: 'slow.test' } }] }]),
      virtualServiceYaml('dead', ['dead.example.com'], [{ route: [{ destination: { host: 'dead.test' } }] }]),
    ].join('\n---\n'),
  };
}

describe.each([1, 2])('--workers %i', (workers) => {
  let backend: Upstream;
  let slow: Upstream;
  let dir: string;
  let gw: ServeProcess;
  const get = (host: string, p = '/') => request({ port: gw.ports.get(80)!, path: p, headers: { host } });
  const scrape = async () => (await request({ port: gw.statusPort, path: '/stats/prometheus' })).body;

  // Upstream connections by local port: each worker has its own pool, so sequential requests
  // reach the backend over as many connections as workers served them.
  const upstreamPorts = new Set<number>();

  beforeAll(async () => {
    backend = await startUpstream({
      name: 'backend',
      handler: (req, res) => {
        upstreamPorts.add(req.socket.remotePort!);
        res.end('ok');
      },
    });
    slow = await startUpstream({ name: 'slow', handler: (_req, res) => void setTimeout(() => res.end('late'), 2000) });
    dir = await writeConfigDir(config(backend.port, slow.port, await deadPort()));
    gw = await startServe(['-c', dir, '--workers', String(workers), '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
  });

  afterAll(async () => {
    await gw?.stop();
    await backend?.close();
    await slow?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts 200, 404 NR, 503 UF and 504 UT once each request, summed over the workers', async () => {
    // Until each worker has served (the kernel deals connections to the workers).
    let served = 0;
    while (served < 6 || (upstreamPorts.size < workers && served < 200)) {
      expect((await get('app.example.com')).status).toBe(200);
      served++;
    }
    expect(upstreamPorts.size).toBe(workers);
    for (let i = 0; i < 2; i++) expect((await get('nowhere.example.com')).status).toBe(404);
    for (let i = 0; i < 3; i++) expect((await get('dead.example.com')).status).toBe(503);
    expect((await get('slow.example.com')).status).toBe(504);
    const text = await scrape();
    expect(countOf(text, /^istio_requests_total\{.*destination_service="backend\.test".*response_code="200".*response_flags="-"/)).toBe(served);
    expect(countOf(text, /^istio_requests_total\{.*response_code="404".*response_flags="NR"/)).toBe(2);
    expect(countOf(text, /^istio_requests_total\{.*destination_service="dead\.test".*response_code="503".*response_flags="UF"/)).toBe(3);
    expect(countOf(text, /^istio_requests_total\{.*destination_service="slow\.test".*response_code="504".*response_flags="UT"/)).toBe(1);
    expect(countOf(text, /^istio_request_duration_milliseconds_count\{.*response_code="200"/)).toBe(served);
    // One series per label set, never one per worker.
    expect(text.split('\n').filter((l) => /^istio_requests_total\{.*response_code="200"/.test(l))).toHaveLength(1);
    if (workers > 1) expect(line(text, /^meshgate_workers /)).toBe(`meshgate_workers ${workers}`);
  });

  it('logs every request once on stdout, each line whole', async () => {
    const before = gw.log().split('\n').filter((l) => l.includes('"GET /many/')).length;
    await Promise.all(Array.from({ length: 40 }, (_, i) => get('app.example.com', `/many/${i}`)));
    const end = Date.now() + 3000;
    let lines: string[] = [];
    while (Date.now() < end) {
      lines = gw.log().split('\n').filter((l) => l.includes('"GET /many/'));
      if (lines.length - before >= 40) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(lines.length - before).toBe(40);
    for (const l of lines) expect(l).toMatch(/^\[\S+\] "GET \/many\/\d+ HTTP\/1\.1" 200 - via_upstream .* http\[0\]$/);
  });

  it('switches every worker to a new config together, and says so', async () => {
    await writeFile(path.join(dir, 'vs2.yaml'), virtualServiceYaml('two', ['two.example.com'], [{ route: [{ destination: { host: 'backend.test' } }] }]));
    expect(await logUntil(gw, workers > 1 ? /config version 2 live in 2 of 2 worker\(s\)/ : /config version 2 live/)).toBe(true);
    // Whichever worker takes the connection, it serves the new version.
    for (let i = 0; i < 6; i++) expect((await get('two.example.com')).status).toBe(200);
    expect(line(await scrape(), /^meshgate_config_version /)).toBe('meshgate_config_version 2');
  });

  it('admin /clusters shows each worker\'s view; /egress and /routes answer from the primary', async () => {
    const clusters = JSON.parse((await request({ port: gw.adminPort, path: '/clusters' })).body) as { worker?: number; name: string }[];
    const backendViews = clusters.filter((c) => c.name.endsWith('|backend.test'));
    if (workers > 1) expect(backendViews.map((c) => c.worker).sort()).toEqual([1, 2]);
    else expect(backendViews).toHaveLength(1);
    expect((await request({ port: gw.adminPort, path: '/routes' })).body).toContain('two.example.com');
    expect((await request({ port: gw.adminPort, path: '/egress' })).status).toBe(200);
  });
});

describe('--workers 2: a worker that dies', () => {
  let backend: Upstream;
  let dir: string;
  let gw: ServeProcess;

  beforeAll(async () => {
    backend = await startUpstream({ name: 'backend' });
    dir = await writeConfigDir(config(backend.port, await deadPort(), await deadPort()));
    gw = await startServe(['-c', dir, '--workers', '2', '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
  });

  afterAll(async () => {
    await gw?.stop();
    await backend?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('is replaced and logged while the load goes on; counters never go back', async () => {
    const port = gw.ports.get(80)!;
    const pids = /pids (\d+), (\d+)\)/.exec(gw.log())!.slice(1).map(Number);
    expect(pids).toHaveLength(2);
    let ok = 0;
    let failed = 0;
    let running = true;
    // A connection left hanging counts as failed after 3 s, rather than stalling the test.
    const one = () =>
      new Promise<boolean>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port, headers: { host: 'app.example.com' }, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200));
          res.on('error', () => resolve(false));
        });
        req.setTimeout(3000, () => req.destroy());
        req.on('error', () => resolve(false));
        req.end();
      });
    const load = (async () => {
      while (running) {
        if (await one()) ok++;
        else failed++;
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const before = countOf((await request({ port: gw.statusPort, path: '/stats/prometheus' })).body, /^istio_requests_total\{.*response_code="200"/);
    expect(before).toBeGreaterThan(0);
    process.kill(pids[0]!, 'SIGKILL');
    expect(await logUntil(gw, /worker 1 \(pid \d+\) killed by SIGKILL; .*starting a replacement/)).toBe(true);
    expect(await logUntil(gw, /worker 1 replaced \(pid \d+\)/)).toBe(true);
    const okAtReplacement = ok;
    await new Promise((r) => setTimeout(r, 500));
    running = false;
    await load;
    // The other worker kept serving, and the replacement serves too.
    expect(ok).toBeGreaterThan(okAtReplacement);
    // At most the one request in flight on the killed worker fails.
    expect(failed).toBeLessThanOrEqual(1);
    for (let i = 0; i < 4; i++) expect((await request({ port, headers: { host: 'app.example.com' } })).status).toBe(200);
    const text = (await request({ port: gw.statusPort, path: '/stats/prometheus' })).body;
    expect(countOf(text, /^istio_requests_total\{.*response_code="200"/)).toBeGreaterThanOrEqual(before);
    expect(line(text, /^meshgate_worker_restarts_total /)).toBe('meshgate_worker_restarts_total 1');
    expect(line(text, /^meshgate_workers /)).toBe('meshgate_workers 2');
  });

  it('SIGTERM drains every worker: a keep-alive client is told to close, a slow request finishes, exit 0', async () => {
    const port = gw.ports.get(80)!;
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    let received = '';
    sock.on('data', (c: Buffer) => (received += c.toString('latin1')));
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET /delay/600 HTTP/1.1\r\nHost: app.example.com\r\n\r\n');
    await new Promise((r) => setTimeout(r, 150));
    const exited = new Promise<number | null>((r) => gw.child.once('exit', (code) => r(code)));
    gw.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(received.toLowerCase()).toContain('connection: close');
    sock.destroy();
  });
});

// Each worker reads the config files itself while the primary reads them, and is sent by name
// the files it read with the same text: objects cross IPC slower than YAML is read. Where there
// is no per-file form (an object defined twice), every object is sent, as before.
describe('--workers 2: config files the workers read themselves', () => {
  let first: Upstream;
  let second: Upstream;
  let dir: string | undefined;
  let gw: ServeProcess | undefined;
  const start = async (files: Record<string, string>) => {
    dir = await writeConfigDir(files);
    gw = await startServe(['-c', dir, '--workers', '2', '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
    return gw;
  };
  const upstreamOf = async (g: ServeProcess) => (await request({ port: g.ports.get(80)!, headers: { host: 'app.example.com' } })).headers['x-upstream'];

  beforeAll(async () => {
    first = await startUpstream({ name: 'first' });
    second = await startUpstream({ name: 'second' });
  });

  afterEach(async () => {
    await gw?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    gw = undefined;
    dir = undefined;
  });

  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  const services = () => [staticService('first.test', [first.port]), staticService('second.test', [second.port])].join('---\n');
  const app = (host: string) => virtualServiceYaml('app', ['app.example.com'], [{ route: [{ destination: { host } }] }]);

  it('are sent no object of a file they read as the primary did, and serve it', async () => {
    const g = await start({ 'gateway.yaml': GATEWAY_ANY_HOST, 'services.yaml': services(), 'vs.yaml': app('first.test') });
    expect(g.log()).toMatch(/2 worker processes serving \(pids \d+, \d+\), sharing the listeners; each read the 3 config file\(s\) itself/);
    // New connections, dealt to both workers: each routes as the config says.
    for (let i = 0; i < 6; i++) expect(await upstreamOf(g)).toBe('first');
  });

  it('a config with an error: exit 1, with the workers stopped while they were still reading', async () => {
    dir = await writeConfigDir({ 'gateway.yaml': GATEWAY_ANY_HOST, 'vs.yaml': virtualServiceYaml('app', ['app.example.com:80'], [{ route: [{ destination: { host: 'first.test' } }] }]) });
    // Workers start before the primary reads, and say hello only once they have read the config:
    // a drain sent before that was lost, and the primary waited 5 s for them before killing them.
    const t0 = Date.now();
    const r = await runCli(['serve', '-c', dir, '--workers', '2', '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr + r.stdout).toMatch(/not started: the config has 1 error\(s\)/);
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it('a replacement is sent a file written again with the same text: its objects keep their creation time', async () => {
    // Two VirtualServices for one host: the older serves it, and without creationTimestamp an
    // object is as old as its file's modification time when its text was read.
    const g = await start({
      'gateway.yaml': GATEWAY_ANY_HOST,
      'services.yaml': services(),
      'a.yaml': virtualServiceYaml('a', ['app.example.com'], [{ route: [{ destination: { host: 'first.test' } }] }]),
      'b.yaml': virtualServiceYaml('b', ['app.example.com'], [{ route: [{ destination: { host: 'second.test' } }] }]),
    });
    expect(await upstreamOf(g)).toBe('first');
    // a.yaml touched after b.yaml was written (a checkout, a ConfigMap swapped): the same text,
    // so the primary keeps its objects, and their time, through the reload.
    const later = new Date(Date.now() + 60_000);
    await utimes(path.join(dir!, 'a.yaml'), later, later);
    g.child.kill('SIGHUP');
    expect(await logUntil(g, /config version 2 live in 2 of 2 worker\(s\)/)).toBe(true);
    for (let i = 0; i < 4; i++) expect(await upstreamOf(g)).toBe('first');
    // A replacement reads a.yaml at its new time: its own objects would make b.yaml's the older.
    const pid = Number(/pids (\d+), \d+\)/.exec(g.log())![1]);
    process.kill(pid, 'SIGKILL');
    expect(await logUntil(g, /worker 1 replaced \(pid \d+\)/)).toBe(true);
    for (let i = 0; i < 8; i++) expect(await upstreamOf(g)).toBe('first');
  });

  it('are sent every object when one is defined twice, and serve the later definition', async () => {
    const g = await start({ 'gateway.yaml': GATEWAY_ANY_HOST, 'services.yaml': services(), 'vs-a.yaml': app('first.test'), 'vs-b.yaml': app('second.test') });
    expect(g.log()).toMatch(/worker 1 was sent the objects of 4 of the 4 config file\(s\), not having read them as this process did; worker 2 was sent the objects of 4 of the 4/);
    for (let i = 0; i < 6; i++) expect(await upstreamOf(g)).toBe('second');
  });
});
