import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Plain HTTP through the mesh listener (HTTP_PROXY, absolute-form) to hosts that only a wildcard
// ServiceEntry (or ALLOW_ANY) lets through: no cluster exists for them in the config, so the
// gateway makes one for the requested name, found by DNS (Envoy's dynamic forward proxy), behind
// the address guard. This machine resolves no name but those in /etc/hosts, all loopback, and
// Istio refuses a ServiceEntry for `*` (which alone would cover `localhost`): so the guard is
// tested here through ALLOW_ANY, and a wildcard entry through a name that does not resolve.

const entry = (name: string, hosts: string[], port: number) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${hosts.map((h) => JSON.stringify(h)).join(', ')}]
  location: MESH_EXTERNAL
  resolution: NONE
  ports: [{number: ${port}, name: http, protocol: HTTP}]
`;

const allowAny = `---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec:
  outboundTrafficPolicy: {mode: ALLOW_ANY}
`;

describe('absolute-form requests to wildcard-declared hosts', () => {
  let up: Upstream;
  let gw: TestGateway;
  let guarded: TestGateway;
  const viaProxy = (g: TestGateway, url: string) => request({ port: g.gateway.addressOf(0).port, path: url, headers: { host: new URL(url).host } });

  beforeAll(async () => {
    up = await startUpstream({ name: 'external' });
    gw = await startGateway({ 'se.yaml': entry('wildcard', ['*.nowhere.invalid'], up.port) }, { gatewayPorts: [], meshListen: { host: '127.0.0.1', port: 0 }, keepLog: true });
    guarded = await startGateway({ 'sidecar.yaml': allowAny }, { gatewayPorts: [], meshListen: { host: '127.0.0.1', port: 0 }, keepLog: true });
  });

  afterAll(async () => {
    await gw?.stop();
    await guarded?.stop();
    await up?.close();
  });

  it('a wildcard-declared name is looked up when asked for: one that does not resolve gets 503, and nothing is forwarded', async () => {
    const before = up.seen.length;
    const a = await viaProxy(gw, `http://api.nowhere.invalid:${up.port}/x?y=1`);
    expect(a.status).toBe(503);
    expect(up.seen.length).toBe(before);
  });

  it('a port the entry does not declare is refused: 502, logged, nothing forwarded', async () => {
    const before = up.seen.length;
    const a = await viaProxy(gw, `http://api.nowhere.invalid:${up.port + 1}/no`);
    expect(a.status).toBe(502);
    expect(up.seen.length).toBe(before);
    expect(gw.lines.some((l) => l.includes(`egress refused: api.nowhere.invalid:${up.port + 1}`))).toBe(true);
  });

  it('a name that resolves to loopback is refused under ALLOW_ANY: 502, logged with the address, nothing forwarded', async () => {
    const before = up.seen.length;
    const a = await viaProxy(guarded, `http://localhost:${up.port}/guarded`);
    expect(a.status).toBe(502);
    expect(up.seen.length).toBe(before);
    expect(guarded.lines.some((l) => /egress refused: localhost:\d+ from 127\.0\.0\.1: localhost resolves to (127\.0\.0\.1|::1), which is this host/.test(l))).toBe(true);
  });
});
