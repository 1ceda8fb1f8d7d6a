import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamRecord } from '../../src/http/stream-record.js';
import { serverPem, testCa } from '../helpers/certs.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

// Istio's "Egress gateways" task in one meshgate process: a workload calls the external host
// through the mesh listener; the mesh-bound route sends it to the egress gateway service, whose
// endpoint is this process's own gateway port 80; the gateway-bound route sends it on to the
// ServiceEntry host, plain or (second config) with TLS originated by DestinationRule. The YAML
// is the task's, with the external host and the gateway's Service made local.

const EXT = 'edition.external.test';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function taskYaml(gatewayPort: number, externalPort: number, originate: { caFile: string } | null): string {
  // Plain HTTP goes to port 80, which the entry declares already (Istio refuses a port number twice).
  const external = originate ? { number: 443, name: 'https', protocol: 'HTTPS' } : { number: 80, name: 'http', protocol: 'HTTP' };
  return `apiVersion: v1
kind: Service
metadata: {name: istio-egressgateway, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  ports: [{name: http2, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: istio-egressgateway, namespace: istio-system}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http2, port: ${gatewayPort}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cnn, namespace: default}
spec:
  hosts: [${EXT}]
  ports:
  - {number: 80, name: http-port, protocol: HTTP}
${originate ? `  - {number: ${external.number}, name: ${external.name}-ext, protocol: ${external.protocol}}` : ''}
  resolution: STATIC
  location: MESH_EXTERNAL
  endpoints: [{address: 127.0.0.1, ports: {http-port: ${externalPort}${originate ? `, ${external.name}-ext: ${externalPort}` : ''}}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: istio-egressgateway, namespace: default}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [${EXT}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: egressgateway-for-cnn, namespace: default}
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets: [{name: cnn}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: direct-cnn-through-egress-gateway, namespace: default}
spec:
  hosts: [${EXT}]
  gateways: [istio-egressgateway, mesh]
  http:
  - match: [{gateways: [mesh], port: 80}]
    route:
    - destination: {host: istio-egressgateway.istio-system.svc.cluster.local, subset: cnn, port: {number: 80}}
      weight: 100
  - match: [{gateways: [istio-egressgateway], port: 80}]
    route:
    - destination: {host: ${EXT}, port: {number: ${external.number}}}
      weight: 100
${
  originate
    ? `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: originate-tls-for-edition-cnn-com, namespace: default}
spec:
  host: ${EXT}
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    portLevelSettings:
    - port: {number: 443}
      tls: {mode: SIMPLE, caCertificates: ${originate.caFile}}
`
    : ''
}`;
}

describe("Istio's egress gateway task, mesh listener → egress gateway → external service", () => {
  let plain: Upstream;
  let secure: https.Server;
  const secureSeen: { url: string; sni: string | false | null; host: string | undefined }[] = [];
  const gws: TestGateway[] = [];

  async function start(originate: boolean): Promise<{ gw: TestGateway; records: StreamRecord[] }> {
    const port = await freePort();
    let caFile: string | null = null;
    if (originate) {
      caFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'meshgate-task-')), 'ca.pem');
      writeFileSync(caFile, testCa().cert);
    }
    const externalPort = originate ? (secure.address() as AddressInfo).port : plain.port;
    const gw = await startGateway({ 'task.yaml': taskYaml(port, externalPort, caFile ? { caFile } : null) }, { gatewayPorts: [], listen: new Map([[80, { host: '127.0.0.1', port }]]), meshListen: { host: '127.0.0.1', port: 0 }, keepLog: true });
    gws.push(gw);
    const records: StreamRecord[] = [];
    gw.gateway.onStreamEnd((r) => records.push(r));
    return { gw, records };
  }

  beforeAll(async () => {
    plain = await startUpstream({ name: 'external' });
    const pem = serverPem([EXT]);
    secure = https.createServer({ cert: pem.cert, key: pem.key }, (req, res) => {
      const sock = req.socket as TLSSocket;
      secureSeen.push({ url: req.url ?? '', sni: sock.servername, host: req.headers.host });
      res.end('secure external\n');
    });
    await new Promise<void>((r) => secure.listen(0, '127.0.0.1', r));
  });

  afterAll(async () => {
    for (const g of gws) await g.stop();
    await plain?.close();
    secure?.close();
  });

  it('plain HTTP: the call goes through the egress gateway (two hops on record) and reaches the service', async () => {
    const { gw, records } = await start(false);
    const a = await request({ port: gw.gateway.addressOf(0).port, path: `http://${EXT}/politics`, headers: { host: EXT } });
    expect(a.status).toBe(200);
    expect(plain.seen.at(-1)).toMatchObject({ url: '/politics' });
    expect(plain.seen.at(-1)!.headers.host).toBe(EXT);
    // The mesh hop and the egress gateway hop, each with its route.
    expect(await waitFor(() => records.filter((r) => r.path === '/politics').length >= 2)).toBe(true);
    const hops = records.filter((r) => r.path === '/politics').map((r) => `${r.listener} ${r.cluster}`);
    expect(hops.sort()).toEqual(['gateway:80 outbound|80||edition.external.test', 'mesh outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local']);
  });

  it('with TLS origination at the egress gateway: plain HTTP in, HTTPS out, verified against the CA, SNI the host', async () => {
    const { gw } = await start(true);
    const a = await request({ port: gw.gateway.addressOf(0).port, path: `http://${EXT}/world`, headers: { host: EXT } });
    expect(a.status).toBe(200);
    expect(a.body).toBe('secure external\n');
    expect(secureSeen.at(-1)).toEqual({ url: '/world', sni: EXT, host: EXT });
  });
});
