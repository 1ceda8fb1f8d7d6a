import { describe, expect, it } from 'vitest';
import { renderRoutes } from '../../../src/compile/describe.js';
import { protocolOf } from '../../../src/registry/registry.js';
import { compileYaml } from '../../helpers/compile.js';
import { GATEWAY_ANY_HOST as gateway } from '../../helpers/gateway.js';

// Which upstreams get HTTP/2: as Istio's protocol selection reads ports, plus h2UpgradePolicy.

function entry(host: string, protocol: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${host.replace(/\W/g, '-')}, namespace: default}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: p, protocol: ${protocol}}]
  endpoints: [{address: 127.0.0.1}]
`;
}

function vs(hosts: string[]): string {
  return JSON.stringify({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'app', namespace: 'default' },
    spec: { hosts: ['app.example.com'], gateways: ['gw'], http: hosts.map((h, i) => ({ match: [{ uri: { prefix: `/${i}` } }], route: [{ destination: { host: h, port: { number: 80 } } }] })) },
  });
}

describe('upstream protocol of a cluster', () => {
  it('ServiceEntry ports: GRPC and HTTP2 speak HTTP/2, HTTP, GRPC-WEB and TCP speak HTTP/1.1', () => {
    const hosts = ['grpc.test', 'h2.test', 'http.test', 'grpcweb.test', 'tcp.test'];
    const snap = compileYaml([gateway, entry('grpc.test', 'GRPC'), entry('h2.test', 'HTTP2'), entry('http.test', 'HTTP'), entry('grpcweb.test', 'GRPC-WEB'), entry('tcp.test', 'TCP'), vs(hosts)].join('---\n'));
    expect(hosts.map((h) => snap.clusters.get(`outbound|80||${h}`)!.protocol)).toEqual(['http2', 'http2', 'http1', 'http1', 'http1']);
  });

  it('h2UpgradePolicy UPGRADE makes an HTTP port speak HTTP/2; DO_NOT_UPGRADE leaves a GRPC port on HTTP/2 (its protocol says so)', () => {
    const dr = (host: string, policy: string) =>
      JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: host.replace(/\W/g, '-'), namespace: 'default' }, spec: { host, trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: policy } } } } });
    const snap = compileYaml([gateway, entry('up.test', 'HTTP'), entry('grpc.test', 'GRPC'), dr('up.test', 'UPGRADE'), dr('grpc.test', 'DO_NOT_UPGRADE'), vs(['up.test', 'grpc.test'])].join('\n---\n'));
    expect(snap.clusters.get('outbound|80||up.test')!.protocol).toBe('http2');
    expect(snap.clusters.get('outbound|80||grpc.test')!.protocol).toBe('http2');
    expect(renderRoutes(snap)).toContain('up.test:80 (1 endpoint, HTTP/2)');
  });

  it('Kubernetes ports: appProtocol first (kubernetes.io/h2c too), then the name prefix; grpc-web is its own protocol', () => {
    expect(protocolOf('web', 'kubernetes.io/h2c')).toBe('HTTP2');
    expect(protocolOf('grpc', 'http')).toBe('HTTP');
    expect(protocolOf('http2-api', undefined)).toBe('HTTP2');
    expect(protocolOf('grpc-payments', undefined)).toBe('GRPC');
    expect(protocolOf('grpc-web-ui', undefined)).toBe('GRPC-WEB');
    expect(protocolOf('GRPC', undefined)).toBe('GRPC');
    expect(protocolOf('mongo', undefined)).toBe('TCP');
    expect(protocolOf(undefined, undefined)).toBe('TCP');
  });
});
