import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticService, writeConfigDir, GATEWAY_ANY_HOST, virtualServiceYaml } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { startServe, type ServeProcess } from '../helpers/process.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

// `meshgate serve` writes one access log line per request on stdout (its own log is on
// stderr), in Istio's default TEXT format, or JSON with --log-format json.

describe('access log on stdout', () => {
  let up: Upstream;
  let dir: string;
  const running: ServeProcess[] = [];

  beforeAll(async () => {
    up = await startUpstream({ name: 'backend' });
    dir = await writeConfigDir({ 'gw.yaml': GATEWAY_ANY_HOST, 'be.yaml': staticService('backend.test', [up.port]), 'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ route: [{ destination: { host: 'backend.test' } }] }]) });
  });
  afterAll(async () => {
    for (const g of running) await g.stop();
    await up?.close();
  });

  async function serve(args: string[]): Promise<{ gw: ServeProcess; stdout: () => string }> {
    const gw = await startServe(['-c', dir, '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0', ...args]);
    running.push(gw);
    let out = '';
    gw.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    return { gw, stdout: () => out };
  }

  it("TEXT: the request's line, field for field, and nothing of the gateway's own log", async () => {
    const { gw, stdout } = await serve([]);
    const a = await request({ port: gw.ports.get(80)!, path: '/hello?x=1', headers: { host: 'app.example.com', 'user-agent': 'access-test' } });
    expect(a.status).toBe(200);
    await request({ port: gw.ports.get(80)!, path: '/', headers: { host: 'nowhere.example.com' } });
    expect(await waitFor(() => stdout().split('\n').length >= 3, 5000)).toBe(true);
    const [ok, notFound] = stdout().trimEnd().split('\n');
    expect(ok).toMatch(new RegExp(`^\\[[^\\]]+\\] "GET /hello\\?x=1 HTTP/1\\.1" 200 - via_upstream - "-" 0 \\d+ \\d+ \\d+ "-" "access-test" "[0-9a-f-]{36}" "app\\.example\\.com" "127\\.0\\.0\\.1:${up.port}" outbound\\|80\\|\\|backend\\.test - - 127\\.0\\.0\\.1 - VirtualService default/app http\\[0\\]$`));
    expect(notFound).toMatch(/"GET \/ HTTP\/1\.1" 404 NR route_not_found - "-" 0 0 \d+ - "-" "-" "-" "nowhere\.example\.com" "-" - - - 127\.0\.0\.1 - -$/);
    expect(stdout()).not.toMatch(/ready|listening/);
  });

  it('JSON with --log-format json; nothing with --access-log off', async () => {
    const json = await serve(['--log-format', 'json']);
    await request({ port: json.gw.ports.get(80)!, path: '/j', headers: { host: 'app.example.com' } });
    expect(await waitFor(() => json.stdout().includes('\n'), 5000)).toBe(true);
    expect(JSON.parse(json.stdout().split('\n')[0]!)).toMatchObject({ method: 'GET', path: '/j', response_code: 200, authority: 'app.example.com', upstream_cluster: 'outbound|80||backend.test' });
    const off = await serve(['--access-log', 'off']);
    const b = await request({ port: off.gw.ports.get(80)!, path: '/quiet', headers: { host: 'app.example.com' } });
    expect(b.status).toBe(200);
    // The request above is answered; its line would have been written in the same turn.
    await new Promise((r) => setTimeout(r, 200));
    expect(off.stdout()).toBe('');
  });
});
