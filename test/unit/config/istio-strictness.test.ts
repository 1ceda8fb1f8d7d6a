import { describe, expect, it } from 'vitest';
import { parseConfigTexts } from '../../../src/config/load.js';
import { formatProblem } from '../../../src/config/problems.js';

// Yes exactly where Istio says yes: fields Istio's API added lately are accepted (the field
// tables come from its CRDs), and what its API server and CRD rules refuse is refused.

const load = (text: string) => parseConfigTexts([{ file: 'c.yaml', text }], { defaultNamespace: 'default' });
const errors = (text: string) => load(text).problems.filter((p) => p.severity === 'error').map(formatProblem);

const se = (spec: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec:
${spec}`;

describe("fields Istio's API has (the CRD's tables, not a hand-kept list)", () => {
  it('accepts DestinationRule fields added lately', () => {
    expect(
      errors(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      http: {http2KeepAlive: {interval: 30s, timeout: 10s}}
    loadBalancer:
      simple: ROUND_ROBIN
      zoneAwareLbSetting: {}
    tls: {mode: SIMPLE, insecureSkipVerify: true}
`),
    ).toEqual([]);
  });

  it('accepts a Gateway server tls.caCertCredentialName', () => {
    expect(
      errors(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [a.example.com]
    tls: {mode: MUTUAL, credentialName: cred, caCertCredentialName: ca-cred}
`),
    ).toEqual([]);
  });

  it('accepts redirect.prefixRewrite, the mirror_percent alias and partial wildcard hosts in a VirtualService', () => {
    expect(
      errors(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: ["*-api.example.com"]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {prefixRewrite: /new}
  - route: [{destination: {host: reviews}}]
    mirror: {host: shadow}
    mirror_percent: 10
`),
    ).toEqual([]);
  });

  it('accepts resolution DYNAMIC_DNS (for a wildcard host and HTTP/TLS/GRPC/HTTP2 ports), protocol HTTP_PROXY and an empty protocol (sniffed)', () => {
    expect(errors(se(`  hosts: ["*.a.example.com"]\n  resolution: DYNAMIC_DNS\n  ports: [{number: 80, name: http, protocol: HTTP}, {number: 443, name: tls, protocol: TLS}]\n`))).toEqual([]);
    expect(errors(se(`  hosts: [a.example.com]\n  resolution: DNS\n  ports: [{number: 80, name: http, protocol: HTTP_PROXY}, {number: 81, name: any, protocol: ""}]\n`))).toEqual([]);
  });

  it('refuses DYNAMIC_DNS for a plain host or a TCP port, as Istio\'s webhook does', () => {
    expect(errors(se(`  hosts: [a.example.com]\n  resolution: DYNAMIC_DNS\n  ports: [{number: 80, name: tcp, protocol: TCP}]\n`)).map((l) => l.replace(/^c\.yaml:\d+:\d+: /, ''))).toEqual([
      'error: ServiceEntry default/ext: spec.hosts[0]: host must be wildcarded for resolution mode DYNAMIC_DNS',
      'error: ServiceEntry default/ext: spec.ports[0].protocol: only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS',
    ]);
  });

  it('reads YAML as kubectl does: 001:db8:: in a flow list is an address, not a map', () => {
    const r = load(se(`  hosts: [a.example.com]\n  addresses: [1.2.3.4, 001:db8::]\n  resolution: STATIC\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  endpoints: [{address: 1.2.3.4}]\n`));
    expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect((r.objects[0]!.spec as { addresses: unknown[] }).addresses).toEqual(['1.2.3.4', '001:db8::']);
  });
});

describe("what Istio's API server refuses (the CRD's CEL rules)", () => {
  const cases: [string, string, string][] = [
    ['a ServiceEntry for every host', se('  hosts: ["*"]\n'), 'spec.hosts[0]: hostname cannot be wildcard'],
    ['NONE resolution with endpoints', se('  hosts: [a.example.com]\n  resolution: NONE\n  endpoints: [{address: 1.2.3.4}]\n'), 'spec: NONE mode cannot set endpoints'],
    ['DNS_ROUND_ROBIN with two endpoints', se('  hosts: [a.example.com]\n  resolution: DNS_ROUND_ROBIN\n  endpoints: [{address: a.example.com}, {address: b.example.com}]\n'), 'spec: DNS_ROUND_ROBIN mode cannot have multiple endpoints'],
    ['a CIDR address with DNS resolution', se('  hosts: [a.example.com]\n  addresses: [10.0.0.0/8]\n  resolution: DNS\n'), 'spec: CIDR addresses are allowed only for NONE/STATIC resolution types'],
    ['a port number twice', se('  hosts: [a.example.com]\n  ports: [{number: 80, name: http, protocol: HTTP}, {number: 80, name: web, protocol: HTTP}]\n'), 'spec.ports: port number cannot be duplicated'],
    ['a Unix socket endpoint with ports', se('  hosts: [a.example.com]\n  resolution: STATIC\n  endpoints: [{address: "unix:///var/run/a.sock", ports: {http: 80}}]\n'), 'spec.endpoints[0]: UDS may not include ports'],
    ['both endpoints and a workloadSelector', se('  hosts: [a.example.com]\n  resolution: STATIC\n  endpoints: [{address: 1.2.3.4}]\n  workloadSelector: {labels: {app: a}}\n'), 'spec: only one of endpoints, workloadSelector may be set'], // meshgate's words for Istio's CEL rule
    [
      'a Gateway port without a name',
      'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: default}\nspec:\n  servers:\n  - port: {number: 80, protocol: HTTP}\n    hosts: ["*"]\n',
      'spec.servers[0].port.name: required field is missing',
    ],
  ];
  for (const [what, text, message] of cases) {
    it(`refuses ${what}, naming the object and field`, () => {
      const found = errors(text);
      expect(found.some((l) => l.includes(message)), found.join('\n')).toBe(true);
      expect(found.every((l) => /^c\.yaml:\d+:\d+: error: (ServiceEntry default\/ext|Gateway default\/gw): /.test(l))).toBe(true);
    });
  }

  it('a file with one refused object still yields the others', () => {
    const r = load(`${se('  hosts: ["*"]\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: fine, namespace: default}
spec: {host: reviews}
`);
    expect(r.objects.map((o) => o.ref)).toEqual(['DestinationRule default/fine']);
    expect(r.problems.filter((p) => p.severity === 'error')).toHaveLength(1);
  });
});
