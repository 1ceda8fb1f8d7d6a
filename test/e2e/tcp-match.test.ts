import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

// VirtualService tcp routes chosen by the address the client connected to (destinationSubnets)
// and the client's own address (sourceSubnet), through real sockets: the gateway listens on
// every address, and loopback answers on all of 127.0.0.0/8.

function nameServer(name: string): Promise<net.Server> {
  return new Promise((resolve) => {
    const s = net.createServer((c) => c.end(`${name}\n`));
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

function answerOf(host: string, port: number, localAddress?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host, port, localAddress });
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d) => (got += d));
    c.on('end', () => resolve(got.trim()));
    c.on('error', reject);
    c.setTimeout(5000, () => c.destroy(new Error('no answer in 5 s')));
  });
}

describe('tcp routes by destinationSubnets and sourceSubnet', () => {
  const servers: net.Server[] = [];
  let gw: TestGateway;

  beforeAll(async () => {
    for (const n of ['to-dot-2', 'from-dot-3', 'the-rest']) servers.push(await nameServer(n));
    const port = (i: number) => (servers[i]!.address() as AddressInfo).port;
    const entry = (name: string, p: number) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${name}.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1, ports: {tcp: ${p}}}]
`;
    gw = await startGateway(
      {
        'gw.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp, namespace: default}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - match: [{port: 31400, destinationSubnets: [127.0.0.2/32]}]
    route: [{destination: {host: dst.internal, port: {number: 9000}}}]
  - match: [{sourceSubnet: 127.0.0.3/32}]
    route: [{destination: {host: src.internal, port: {number: 9000}}}]
  - route: [{destination: {host: rest.internal, port: {number: 9000}}}]
${entry('dst', port(0))}${entry('src', port(1))}${entry('rest', port(2))}`,
      },
      { gatewayPorts: [], listen: new Map([[31400, { host: '0.0.0.0', port: 0 }]]) },
    );
  });

  afterAll(async () => {
    await gw?.stop();
    for (const s of servers) s.close();
  });

  it('a connection to 127.0.0.2 takes the destinationSubnets route', async () => {
    expect(await answerOf('127.0.0.2', gw.port(31400))).toBe('to-dot-2');
  });

  it('a connection from 127.0.0.3 takes the sourceSubnet route', async () => {
    expect(await answerOf('127.0.0.1', gw.port(31400), '127.0.0.3')).toBe('from-dot-3');
  });

  it('any other connection takes the route without a match', async () => {
    expect(await answerOf('127.0.0.1', gw.port(31400))).toBe('the-rest');
  });
});
