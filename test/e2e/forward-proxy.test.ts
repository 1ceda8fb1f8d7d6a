import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Plain HTTP through the mesh listener (HTTP_PROXY, absolute-form) to hosts that only a wildcard
// ServiceEntry declares: no cluster exists for them in the config, so the gateway makes one for
// the requested name, found by DNS (Envoy's dynamic forward proxy), behind the address guard.
// `localhost` is the one name that resolves here, and it is loopback: the entry must name
// 127.0.0.1 itself for it to be reachable.

const entry = (name: string, addresses: string[], port: number) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: ["*"]
  ${addresses.length > 0 ? `addresses: [${addresses.join(', ')}]` : ''}
  location: MESH_EXTERNAL
  resolution: NONE
  ports: [{number: ${port}, name: http, protocol: HTTP}]
`;

describe('absolute-form requests to wildcard-declared hosts', () => {
  let up: Upstream;
  let gw: TestGateway;
  let guarded: TestGateway;
  const viaProxy = (g: TestGateway, url: string) => request({ port: g.gateway.addressOf(0).port, path: url, headers: { host: new URL(url).host } });

  beforeAll(async () => {
    up = await startUpstream({ name: 'external' });
    gw = await startGateway({ 'se.yaml': entry('any-local', ['127.0.0.1'], up.port) }, { gatewayPorts: [], meshListen: { host: '127.0.0.1', port: 0 }, keepLog: true });
    guarded = await startGateway({ 'se.yaml': entry('any', [], up.port) }, { gatewayPorts: [], meshListen: { host: '127.0.0.1', port: 0 }, keepLog: true });
  });

  afterAll(async () => {
    await gw?.stop();
    await guarded?.stop();
    await up?.close();
  });

  it('reaches the requested name on a declared port, path and query as sent, and again on the same cluster', async () => {
    const a = await viaProxy(gw, `http://localhost:${up.port}/x?y=1`);
    expect(a.status).toBe(200);
    expect(up.seen.at(-1)).toMatchObject({ url: '/x?y=1' });
    expect(up.seen.at(-1)!.headers.host).toBe(`localhost:${up.port}`);
    const b = await viaProxy(gw, `http://localhost:${up.port}/again`);
    expect(b.status).toBe(200);
    expect(up.seen.at(-1)).toMatchObject({ url: '/again' });
  });

  it('a port the entry does not declare is refused: 502, logged, nothing forwarded', async () => {
    const before = up.seen.length;
    const a = await viaProxy(gw, `http://localhost:${up.port + 1}/no`);
    expect(a.status).toBe(502);
    expect(up.seen.length).toBe(before);
    expect(gw.lines.some((l) => l.includes(`egress refused: localhost:${up.port + 1}`))).toBe(true);
  });

  it('a name that resolves to loopback, which the entry does not name itself, is refused: 502, logged with the address, nothing forwarded', async () => {
    const before = up.seen.length;
    const a = await viaProxy(guarded, `http://localhost:${up.port}/guarded`);
    expect(a.status).toBe(502);
    expect(up.seen.length).toBe(before);
    expect(guarded.lines.some((l) => /egress refused: localhost:\d+ from 127\.0\.0\.1: localhost resolves to (127\.0\.0\.1|::1), which is this host/.test(l))).toBe(true);
  });
});
