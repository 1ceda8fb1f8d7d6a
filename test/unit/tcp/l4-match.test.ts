import { describe, expect, it } from 'vitest';
import type { TcpChainConfig, TcpRoute } from '../../../src/compile/snapshot.js';
import { selectTcpRoute } from '../../../src/tcp/tcp-proxy.js';
import { compileYaml } from '../../helpers/compile.js';
import { parseConfigTexts } from '../../../src/config/load.js';

// VirtualService tcp/tls route matches compiled for a gateway port, then chosen per connection.

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
${['a', 'b', 'c'].map((h) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend-${h}, namespace: default}
spec:
  hosts: [${h}.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1}]
`).join('')}`;

function routes(tcp: string, labels?: Record<string, string>): { routes: TcpRoute[]; warnings: string[] } {
  const snap = compileYaml(`${GATEWAY}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
${tcp}`, labels ? { labels } : {});
  const chain = snap.listeners.find((l) => l.port === 31400)!.chains[0] as TcpChainConfig;
  return { routes: chain.routes, warnings: snap.problems.filter((p) => p.severity === 'warning').map((p) => `${p.field}: ${p.message}`) };
}

const to = (host: string) => `    route: [{destination: {host: ${host}, port: {number: 9000}}}]`;
const hostOf = (r: TcpRoute | null) => r?.destinations[0]!.host ?? null;

describe('tcp route matches', () => {
  const { routes: rs } = routes(`  - match: [{destinationSubnets: [127.0.0.2/32, "10.0.0.0/8"]}]
${to('a.internal')}
  - match: [{sourceSubnet: 127.0.0.3}, {sourceSubnet: "::1/128"}]
${to('b.internal')}
  - ${to('c.internal').trim()}
`);

  it('destinationSubnets: the address the client connected to, IPv4-mapped addresses included', () => {
    expect(hostOf(selectTcpRoute(rs, null, '127.0.0.2', '127.0.0.1'))).toBe('a.internal');
    expect(hostOf(selectTcpRoute(rs, null, '::ffff:10.1.2.3', '127.0.0.1'))).toBe('a.internal');
  });

  it('sourceSubnet: the client address; any match of the list is enough', () => {
    expect(hostOf(selectTcpRoute(rs, null, '127.0.0.1', '127.0.0.3'))).toBe('b.internal');
    expect(hostOf(selectTcpRoute(rs, null, '::1', '::1'))).toBe('b.internal');
  });

  it('a route without match takes the rest, in order', () => {
    expect(hostOf(selectTcpRoute(rs, null, '127.0.0.1', '127.0.0.1'))).toBe('c.internal');
  });

  it('a bad CIDR is refused, as Istio\'s webhook refuses it, naming the field', () => {
    const { objects, problems } = parseConfigTexts([{ file: 'cidr.yaml', text: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - match: [{destinationSubnets: [10.0.0.0/33]}]
${to('a.internal')}
` }], { defaultNamespace: 'default' });
    expect(objects).toEqual([]);
    expect(problems.map((p) => `${p.severity} ${p.field}: ${p.message}`)).toEqual(['error spec.tcp[0].match[0].destinationSubnets[0]: 10.0.0.0/33 is not a valid CIDR block']);
  });

  it('sourceLabels select the gateway itself, as in Istio: kept when --labels carry them, dropped when not', () => {
    const yaml = `  - match: [{sourceLabels: {istio: ingressgateway}}]
${to('a.internal')}
  - match: [{sourceLabels: {app: other}}]
${to('b.internal')}
`;
    const labelled = routes(yaml, { istio: 'ingressgateway' }).routes;
    expect(labelled.map((r) => r.destinations[0]!.host)).toEqual(['a.internal']);
    expect(labelled[0]!.matches).toBeNull();
    // Without --labels every Gateway is served, and nothing says which labels this gateway has.
    expect(routes(yaml).routes.map((r) => r.destinations[0]!.host)).toEqual(['a.internal', 'b.internal']);
  });
});

describe('servers Istio proxies as opaque TCP', () => {
  it('MONGO, MYSQL and REDIS servers get a tcp chain routed by tcp routes, as TCP ones do', () => {
    for (const protocol of ['MONGO', 'MYSQL', 'REDIS']) {
      const snap = compileYaml(GATEWAY.replace('protocol: TCP', `protocol: ${protocol}`) + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - ${to('a.internal').trim()}
`);
      const chain = snap.listeners.find((l) => l.port === 31400)!.chains[0] as TcpChainConfig;
      expect(chain.type, protocol).toBe('tcp');
      expect(chain.routes.map((r) => r.destinations[0]!.host), protocol).toEqual(['a.internal']);
    }
  });
});
