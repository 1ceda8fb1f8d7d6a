import { rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, staticService, virtualServiceYaml, writeConfigDir } from '../helpers/gateway.js';
import { startServe, type ServeProcess } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Config edits while traffic flows, through the real process and its file watcher: every request
// is answered (by the old config or the new one, never by neither), and each edit is serving
// soon after it is written. The time from write to the first answer by the new route is printed.

const routeTo = (host: string) => virtualServiceYaml('app', ['app.example.com'], [{ route: [{ destination: { host } }] }]);

describe.each([1, 2])('a config file edited under load (--workers %i)', (workers) => {
  let a: Upstream;
  let b: Upstream;
  let dir: string;
  let gw: ServeProcess;

  beforeAll(async () => {
    [a, b] = await Promise.all([startUpstream({ name: 'a' }), startUpstream({ name: 'b' })]);
    dir = await writeConfigDir({
      'gateway.yaml': GATEWAY_ANY_HOST,
      'services.yaml': [staticService('a.svc', [a.port]), staticService('b.svc', [b.port])].join('---\n'),
      'vs.yaml': routeTo('a.svc'),
    });
    gw = await startServe(['-c', dir, '--workers', String(workers), '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0', '--access-log', 'off']);
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all([a?.close(), b?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('loses no request, and each edit serves soon after it is written', async () => {
    const port = gw.ports.get(80)!;
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 6 });
    let served = 0;
    const failures: string[] = [];
    let lastName = 'a';
    let running = true;
    const one = (agent: http.Agent | false) =>
      new Promise<void>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host: 'app.example.com' }, agent }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            if (res.statusCode === 200) {
              served++;
              lastName = (JSON.parse(body) as { name: string }).name;
            } else failures.push(`${res.statusCode} ${body.slice(0, 100)}`);
            resolve();
          });
        });
        req.setTimeout(5000, () => req.destroy(new Error('no answer in 5 s')));
        req.on('error', (e) => {
          failures.push(e.message);
          resolve();
        });
        req.end();
      });
    // Six keep-alive loops and two that open a connection per request.
    const loops = [...Array.from({ length: 6 }, () => keepAlive), false as const, false as const].map(async (agent) => {
      while (running) await one(agent);
    });

    const timings: number[] = [];
    for (let i = 1; i <= 6; i++) {
      await new Promise((r) => setTimeout(r, 300));
      const target = i % 2 === 1 ? 'b' : 'a';
      const written = Date.now();
      await writeFile(path.join(dir, 'vs.yaml'), routeTo(`${target}.svc`));
      while (lastName !== target && Date.now() - written < 5000) await new Promise((r) => setTimeout(r, 2));
      timings.push(Date.now() - written);
      expect(lastName).toBe(target);
    }
    running = false;
    await Promise.all(loops);
    keepAlive.destroy();
    console.log(`--workers ${workers}: ${served} requests answered across 6 edits; write to first answer by the new route: ${timings.join(', ')} ms`);
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(100);
    // The watcher waits 50 ms for an edit to settle; a second would mean it missed the write.
    for (const t of timings) expect(t).toBeLessThan(1000);
    expect(gw.log()).toMatch(/config version 7 live/);
  });
});
