import { readFile, readdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the bench's config writer is plain JavaScript, shared so the test and the scale bench read the same config
import { writeScaleConfig } from '../../bench/lib/config.mjs';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// 10,000 VirtualServices in 100 files: a reload after one file changed compiles that file's
// VirtualServices alone, every cluster keeps its state, and no request in flight is lost.

const VS = 10_000;

describe(`a reload at ${VS.toLocaleString('en')} VirtualServices`, () => {
  let up: Upstream;
  let gw: TestGateway;
  let host: string;
  const lastLive = () => [...gw.lines].reverse().find((l) => /config version \d+ live/.test(l)) ?? '';

  beforeAll(async () => {
    up = await startUpstream({ name: 'scale' });
    const tmp = await import('node:fs/promises').then((fs) => fs.mkdtemp(path.join(os.tmpdir(), 'meshgate-scale-')));
    const written = writeScaleConfig(tmp, up.port, { vs: VS }) as { host: string };
    host = written.host;
    const files: Record<string, string> = {};
    for (const f of await readdir(tmp)) files[f] = await readFile(path.join(tmp, f), 'utf8');
    gw = await startGateway(files, { keepLog: true });
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('serves the middle VirtualService\'s last route', async () => {
    expect((await gw.get(host, '/index.html')).status).toBe(200);
  });

  it('three one-file edits under load: every request answered 200, clusters kept, the edit live', async () => {
    expect((await gw.get('h-00700.scale.example', '/')).status).toBe(200);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    let stop = false;
    const statuses = new Map<number | string, number>();
    const loop = async () => {
      while (!stop) {
        const a = await request({ port: gw.port(), path: '/index.html', headers: { host }, agent }).then((r) => r.status, (e: Error) => e.message);
        statuses.set(a, (statuses.get(a) ?? 0) + 1);
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    const file = path.join(gw.dir, 'vs-00007.yaml');
    for (let i = 1; i <= 3; i++) {
      const text = await readFile(file, 'utf8');
      await writeFile(file, text.replace(/h-00700(-edit\d)?\.scale\.example/, `h-00700-edit${i}.scale.example`));
      expect(await gw.gateway.reload()).toBe(true);
      expect(lastLive()).toMatch(/100 cluster\(s\), 100 kept with their state, from 101 file\(s\), 1 changed/);
    }
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    expect([...statuses.keys()]).toEqual([200]);
    expect(statuses.get(200)!).toBeGreaterThan(50);
    expect((await gw.get('h-00700-edit3.scale.example', '/')).status).toBe(200);
    expect((await gw.get('h-00700-edit2.scale.example', '/')).status).toBe(404);
    expect((await gw.get('h-00700.scale.example', '/')).status).toBe(404);
  }, 60_000);
});
