import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, startGateway, staticService, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

// Config files are watched: an edit is applied without SIGHUP, an invalid one is refused with the
// reason and the last good config keeps serving, and a Kubernetes ConfigMap volume (files that
// are symlinks through `..data`, swapped in one rename) is followed.

const route = [{ route: [{ destination: { host: 'backend.test' } }] }];

describe('config files are watched', () => {
  let up: Upstream;
  const open: TestGateway[] = [];
  beforeAll(async () => {
    up = await startUpstream({ name: 'backend' });
  });
  afterAll(async () => {
    for (const g of open) await g.stop();
    await up?.close();
  });

  async function gateway(files: Record<string, string>): Promise<TestGateway> {
    const gw = await startGateway({ 'gw.yaml': GATEWAY_ANY_HOST, 'backend.yaml': staticService('backend.test', [up.port]), ...files }, { watchConfig: true, keepLog: true });
    open.push(gw);
    return gw;
  }
  const status = async (gw: TestGateway, host: string) => (await gw.get(host, '/')).status;
  /** Polls until `host` answers `want` (a reload may come in more than one step), at most 5 s. */
  async function until(gw: TestGateway, host: string, want: number): Promise<number> {
    const end = Date.now() + 5000;
    let got = await status(gw, host);
    while (got !== want && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      got = await status(gw, host);
    }
    return got;
  }

  it('a new VirtualService file is served without SIGHUP', async () => {
    const gw = await gateway({ 'vs-a.yaml': virtualServiceYaml('a', ['a.example.com'], route) });
    expect(await status(gw, 'b.example.com')).toBe(404);
    await writeFile(path.join(gw.dir, 'vs-b.yaml'), virtualServiceYaml('b', ['b.example.com'], route));
    expect(await until(gw, 'b.example.com', 200)).toBe(200);
    expect(gw.lines.some((l) => /config version \d+ live/.test(l))).toBe(true);
    expect(gw.lines.some((l) => /config files changed: reloading/.test(l))).toBe(true);
  });

  it('an edit in a subdirectory counts too', async () => {
    const gw = await gateway({ 'team/vs.yaml': virtualServiceYaml('t', ['t.example.com'], [{ directResponse: { status: 204 } }]) });
    expect(await status(gw, 't.example.com')).toBe(204);
    await writeFile(path.join(gw.dir, 'team/vs.yaml'), virtualServiceYaml('t', ['t.example.com'], [{ directResponse: { status: 202 } }]));
    expect(await until(gw, 't.example.com', 202)).toBe(202);
  });

  it('a folder made after the start is watched too: a file moved into it, then an edit of it', async () => {
    const gw = await gateway({ 'vs-a.yaml': virtualServiceYaml('a', ['a.example.com'], route) });
    expect(await status(gw, 'n.example.com')).toBe(404);
    const staged = path.join(path.dirname(gw.dir), `${path.basename(gw.dir)}-staged`);
    await mkdir(staged, { recursive: true });
    await writeFile(path.join(staged, 'vs.yaml'), virtualServiceYaml('n', ['n.example.com'], [{ directResponse: { status: 204 } }]));
    await rename(staged, path.join(gw.dir, 'new-team'));
    expect(await until(gw, 'n.example.com', 204)).toBe(204);
    await writeFile(path.join(gw.dir, 'new-team/vs.yaml'), virtualServiceYaml('n', ['n.example.com'], [{ directResponse: { status: 202 } }]));
    expect(await until(gw, 'n.example.com', 202)).toBe(202);
  });

  it('a folder removed and made again (git checkout, rsync --delete) is watched again, as is a folder named like a file', async () => {
    const gw = await gateway({ 'team/vs.yaml': virtualServiceYaml('t', ['t.example.com'], [{ directResponse: { status: 204 } }]) });
    expect(await status(gw, 't.example.com')).toBe(204);
    await rm(path.join(gw.dir, 'team'), { recursive: true });
    expect(await until(gw, 't.example.com', 404)).toBe(404);
    await mkdir(path.join(gw.dir, 'team'));
    await writeFile(path.join(gw.dir, 'team/vs.yaml'), virtualServiceYaml('t', ['t.example.com'], [{ directResponse: { status: 202 } }]));
    expect(await until(gw, 't.example.com', 202)).toBe(202);
    await writeFile(path.join(gw.dir, 'team/vs.yaml'), virtualServiceYaml('t', ['t.example.com'], [{ directResponse: { status: 203 } }]));
    expect(await until(gw, 't.example.com', 203)).toBe(203);
    await mkdir(path.join(gw.dir, 'odd.yaml'));
    await writeFile(path.join(gw.dir, 'odd.yaml/vs.yaml'), virtualServiceYaml('o', ['o.example.com'], [{ directResponse: { status: 201 } }]));
    expect(await until(gw, 'o.example.com', 201)).toBe(201);
    await writeFile(path.join(gw.dir, 'odd.yaml/vs.yaml'), virtualServiceYaml('o', ['o.example.com'], [{ directResponse: { status: 205 } }]));
    expect(await until(gw, 'o.example.com', 205)).toBe(205);
  });

  it('an invalid edit is refused with file, object and field, and the last good config keeps serving', async () => {
    const gw = await gateway({ 'vs.yaml': virtualServiceYaml('a', ['a.example.com'], route) });
    await writeFile(path.join(gw.dir, 'vs.yaml'), virtualServiceYaml('a', ['a.example.com'], [{ match: [{ uri: { prefx: '/' } }], route: route[0]!.route }]));
    expect(await waitFor(() => gw.lines.some((l) => /reload refused/.test(l)), 5000)).toBe(true);
    expect(gw.lines.some((l) => /error .*vs\.yaml.*VirtualService default\/a: spec\.http\[0\]\.match\[0\]\.uri\.prefx: unknown field/.test(l))).toBe(true);
    expect(await status(gw, 'a.example.com')).toBe(200);
  });

  it('a ConfigMap volume: the ..data symlink swapped in one rename brings the new files', async () => {
    const gw = await gateway({});
    // The layout kubelet writes: ..v1/vs.yaml, ..data -> ..v1, vs.yaml -> ..data/vs.yaml.
    const cm = path.join(gw.dir, 'configmap');
    await mkdir(path.join(cm, '..v1'), { recursive: true });
    await writeFile(path.join(cm, '..v1', 'vs.yaml'), virtualServiceYaml('cm', ['cm.example.com'], [{ directResponse: { status: 201 } }]));
    await symlink('..v1', path.join(cm, '..data'));
    await symlink(path.join('..data', 'vs.yaml'), path.join(cm, 'vs.yaml'));
    expect(await until(gw, 'cm.example.com', 201)).toBe(201);
    // kubelet's update: a new ..v2, then ..data swapped by renaming a fresh symlink over it.
    await mkdir(path.join(cm, '..v2'));
    await writeFile(path.join(cm, '..v2', 'vs.yaml'), virtualServiceYaml('cm', ['cm.example.com'], [{ directResponse: { status: 203 } }]));
    await symlink('..v2', path.join(cm, '..data_tmp'));
    await rename(path.join(cm, '..data_tmp'), path.join(cm, '..data'));
    await rm(path.join(cm, '..v1'), { recursive: true });
    expect(await until(gw, 'cm.example.com', 203)).toBe(203);
  });
});
