import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, startGateway, staticService, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { echo } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// A reload reads and checks again only the files that changed; the others' objects are kept
// as they were. The log line of each reload says how many files were read again.

describe('a reload reads only the files that changed', () => {
  let a: Upstream;
  let b: Upstream;
  let gw: TestGateway;
  const route = (host: string) => [{ route: [{ destination: { host } }] }];
  const lastLive = () => [...gw.lines].reverse().find((l) => /config version \d+ live/.test(l)) ?? '';

  beforeAll(async () => {
    a = await startUpstream({ name: 'a' });
    b = await startUpstream({ name: 'b' });
    const files: Record<string, string> = {
      'gw.yaml': GATEWAY_ANY_HOST,
      'svc.yaml': staticService('a.svc', [a.port]) + '---\n' + staticService('b.svc', [b.port]),
    };
    for (let i = 0; i < 8; i++) files[`vs-${i}.yaml`] = virtualServiceYaml(`vs-${i}`, [`h${i}.example.com`], route('a.svc'));
    gw = await startGateway(files, { keepLog: true });
  });

  afterAll(async () => {
    await gw?.stop();
    await a?.close();
    await b?.close();
  });

  it('one edited file of ten: that file alone is read and checked again, and its change is live', async () => {
    expect(echo(await gw.get('h3.example.com', '/')).name).toBe('a');
    await writeFile(path.join(gw.dir, 'vs-3.yaml'), virtualServiceYaml('vs-3', ['h3.example.com'], route('b.svc')));
    expect(await gw.gateway.reload()).toBe(true);
    expect(lastLive()).toMatch(/from 10 file\(s\), 1 changed/);
    expect(echo(await gw.get('h3.example.com', '/')).name).toBe('b');
    expect(echo(await gw.get('h4.example.com', '/')).name).toBe('a');
  });

  it('a file rewritten with the same text is read but not checked again; nothing changed, nothing read', async () => {
    await writeFile(path.join(gw.dir, 'vs-5.yaml'), virtualServiceYaml('vs-5', ['h5.example.com'], route('a.svc')));
    expect(await gw.gateway.reload()).toBe(true);
    expect(lastLive()).toMatch(/from 10 file\(s\), 0 changed/);
    expect(await gw.gateway.reload()).toBe(true);
    expect(lastLive()).toMatch(/from 10 file\(s\), 0 changed/);
  });

  it('a new file is read; a removed one is gone from the config', async () => {
    await writeFile(path.join(gw.dir, 'vs-new.yaml'), virtualServiceYaml('vs-new', ['new.example.com'], route('b.svc')));
    expect(await gw.gateway.reload()).toBe(true);
    expect(lastLive()).toMatch(/from 11 file\(s\), 1 changed/);
    expect(echo(await gw.get('new.example.com', '/')).name).toBe('b');
    await rm(path.join(gw.dir, 'vs-new.yaml'));
    expect(await gw.gateway.reload()).toBe(true);
    expect(lastLive()).toMatch(/from 10 file\(s\), 0 changed/);
    expect((await gw.get('new.example.com', '/')).status).toBe(404);
  });
});
