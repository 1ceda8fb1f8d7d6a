import { describe, expect, it } from 'vitest';
import { checkServiceEntry } from '../../../../src/config/webhook/serviceentry.js';
import type { SpecPath } from '../../../../src/config/webhook/types.js';
import { crdErrorsFor, expectVerdict, webhookContext } from '../../../helpers/webhook.js';

// TestValidateServiceEntries and Test_validateExportTo from Istio's
// pkg/config/validation/validation_test.go, written as the YAML specs meshgate reads. Each case says
// where Istio's error (`err`) and warning (`warn`) point, relative to spec; a case with neither must
// give no finding at all. A case marked `crd` is refused by the CRD schema (CEL rules included), so
// it never reaches the webhook; `alsoCrd` marks cases both refuse.

type Obj = Record<string, unknown>;

interface Case {
  name: string;
  spec: Obj;
  err?: SpecPath;
  /** Part of Istio's message at `err`. */
  msg?: string;
  warn?: SpecPath;
  /** Part of Istio's warning at `warn`. */
  warnMsg?: string;
  labels?: Record<string, string>;
  crd?: true;
  alsoCrd?: true;
}

const ctx = webhookContext;

const crdErrors = crdErrorsFor('ServiceEntry');

function checkCase(c: Case, namespace = 'bar'): void {
  const crd = crdErrors(c.spec);
  if (c.crd) {
    expect(crd, 'refused by the CRD schema').not.toEqual([]);
    return;
  }
  if (c.alsoCrd) expect(crd, 'refused by the CRD schema too').not.toEqual([]);
  else expect(crd, 'the CRD schema lets it through to the webhook').toEqual([]);
  expectVerdict(checkServiceEntry(c.spec, ctx({ namespace, labels: c.labels ?? {} })), c);
}

const http = (number: number, name: string, extra: Obj = {}): Obj => ({ number, protocol: 'http', name, ...extra });
const twoHttpPorts = [http(80, 'http-valid1'), http(8080, 'http-valid2')];
const googleEndpoints = [
  { address: 'lon.google.com', ports: { 'http-valid1': 8080 } },
  { address: 'in.google.com', ports: { 'http-valid2': 9080 } },
];

describe('TestValidateServiceEntries', () => {
  const cases: Case[] = [
    { name: 'discovery type DNS', spec: { hosts: ['*.google.com'], ports: twoHttpPorts, endpoints: googleEndpoints, resolution: 'DNS' } },
    {
      name: 'discovery type DNS Round Robin',
      spec: { hosts: ['*.istio.io'], ports: twoHttpPorts, endpoints: [{ address: 'api-v1.istio.io', ports: { 'http-valid1': 8080 } }], resolution: 'DNS_ROUND_ROBIN' },
    },
    {
      name: 'discovery type DNS, label tlsMode: istio',
      spec: {
        hosts: ['*.google.com'],
        ports: twoHttpPorts,
        endpoints: googleEndpoints.map((e) => ({ ...e, labels: { 'security.istio.io/tlsMode': 'istio' } })),
        resolution: 'DNS',
      },
    },
    {
      name: 'discovery type DNS, one host set with IP address and https port',
      spec: { hosts: ['httpbin.org'], addresses: ['10.10.10.10'], ports: [...twoHttpPorts, { number: 443, protocol: 'https', name: 'https' }], resolution: 'DNS' },
    },
    {
      name: 'discovery type DNS, multi hosts set with IP address and https port',
      spec: {
        hosts: ['httpbin.org', 'wikipedia.org'],
        addresses: ['10.10.10.10'],
        ports: [...twoHttpPorts, { number: 443, protocol: 'https', name: 'https' }],
        resolution: 'DNS',
      },
      warn: ['hosts'],
      warnMsg: 'service entry can not have more than one host specified simultaneously with address and tcp port',
    },
    {
      name: 'discovery type DNS, IP address set',
      spec: { hosts: ['*.google.com'], addresses: ['10.10.10.10'], ports: twoHttpPorts, endpoints: googleEndpoints, resolution: 'DNS' },
    },
    {
      name: 'discovery type DNS, IP in endpoints',
      spec: {
        hosts: ['*.google.com'],
        ports: twoHttpPorts,
        endpoints: [
          { address: '1.1.1.1', ports: { 'http-valid1': 8080 } },
          { address: 'in.google.com', ports: { 'http-valid2': 9080 } },
        ],
        resolution: 'DNS',
      },
    },
    { name: 'discovery type DYNAMIC_DNS', spec: { hosts: ['*.google.com'], ports: twoHttpPorts, resolution: 'DYNAMIC_DNS' } },
    {
      name: 'empty hosts',
      spec: { hosts: [], ports: [http(80, 'http-valid1')], endpoints: [{ address: 'in.google.com', ports: { 'http-valid2': 9080 } }], resolution: 'DNS' },
      err: ['hosts'],
      msg: 'service entry must have at least one host',
      alsoCrd: true,
    },
    {
      name: 'bad hosts',
      spec: { hosts: ['-'], ports: [http(80, 'http-valid1')], endpoints: [{ address: 'in.google.com', ports: { 'http-valid2': 9080 } }], resolution: 'DNS' },
      err: ['hosts', 0],
      msg: 'domain name "-" invalid (label "-" invalid)',
    },
    {
      name: 'full wildcard host',
      spec: { hosts: ['foo.com', '*'], ports: [http(80, 'http-valid1')], endpoints: [{ address: 'in.google.com', ports: { 'http-valid2': 9080 } }], resolution: 'DNS' },
      crd: true,
    },
    {
      name: 'short name host',
      spec: { hosts: ['foo', 'bar.com'], ports: [http(80, 'http-valid1')], endpoints: [{ address: 'in.google.com', ports: { 'http-valid1': 9080 } }], resolution: 'DNS' },
    },
    {
      name: 'undefined endpoint port',
      spec: {
        hosts: ['google.com'],
        ports: [http(80, 'http-valid1'), http(80, 'http-valid2')],
        endpoints: [
          { address: 'lon.google.com', ports: { 'http-valid1': 8080 } },
          { address: 'in.google.com', ports: { 'http-dne': 9080 } },
        ],
        resolution: 'DNS',
      },
      crd: true,
    },
    {
      name: 'undefined endpoint port (distinct port numbers, past the CRD)',
      spec: {
        hosts: ['google.com'],
        ports: [http(80, 'http-valid1'), http(81, 'http-valid2')],
        endpoints: [
          { address: 'lon.google.com', ports: { 'http-valid1': 8080 } },
          { address: 'in.google.com', ports: { 'http-dne': 9080 } },
        ],
        resolution: 'DNS',
      },
      err: ['endpoints', 1, 'ports', 'http-dne'],
      msg: 'endpoint port 9080 is not defined by the service entry',
    },
    {
      name: 'discovery type DNS, non-FQDN endpoint',
      spec: {
        hosts: ['*.google.com'],
        ports: twoHttpPorts,
        endpoints: [
          { address: '*.lon.google.com', ports: { 'http-valid1': 8080 } },
          { address: 'in.google.com', ports: { 'http-dne': 9080 } },
        ],
        resolution: 'DNS',
      },
      err: ['endpoints', 0, 'address'],
      msg: 'endpoint address "*.lon.google.com" is not a valid FQDN or an IP address',
    },
    {
      name: 'discovery type DNS, non-FQDN host',
      spec: { hosts: ['*.google.com'], ports: twoHttpPorts, resolution: 'DNS' },
      err: ['hosts', 0],
      msg: 'hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode DNS, domain name "*.google.com" invalid (label "*" invalid)',
    },
    { name: 'discovery type DNS, no endpoints', spec: { hosts: ['google.com'], ports: twoHttpPorts, resolution: 'DNS' } },
    {
      name: 'discovery type DNS, unix endpoint',
      spec: { hosts: ['*.google.com'], ports: [http(80, 'http-valid1')], endpoints: [{ address: 'unix:///lon/google/com' }], resolution: 'DNS' },
      err: ['endpoints', 0, 'address'],
    },
    { name: 'discovery type none', spec: { hosts: ['google.com'], ports: twoHttpPorts, resolution: 'NONE' } },
    {
      name: 'discovery type none, endpoints provided',
      spec: { hosts: ['google.com'], ports: twoHttpPorts, endpoints: [{ address: 'lon.google.com', ports: { 'http-valid1': 8080 } }], resolution: 'NONE' },
      crd: true,
    },
    { name: 'discovery type none, cidr addresses', spec: { hosts: ['google.com'], addresses: ['172.1.2.16/16'], ports: twoHttpPorts, resolution: 'NONE' } },
    {
      name: 'discovery type static, cidr addresses with endpoints',
      spec: {
        hosts: ['google.com'],
        addresses: ['172.1.2.16/16'],
        ports: twoHttpPorts,
        endpoints: [
          { address: '1.1.1.1', ports: { 'http-valid1': 8080 } },
          { address: '2.2.2.2', ports: { 'http-valid2': 9080 } },
        ],
        resolution: 'STATIC',
      },
    },
    {
      name: 'discovery type static',
      spec: {
        hosts: ['google.com'],
        addresses: ['172.1.2.16'],
        ports: twoHttpPorts,
        endpoints: [
          { address: '1.1.1.1', ports: { 'http-valid1': 8080 } },
          { address: '2.2.2.2', ports: { 'http-valid2': 9080 } },
        ],
        resolution: 'STATIC',
      },
    },
    {
      name: 'discovery type static, FQDN in endpoints',
      spec: {
        hosts: ['google.com'],
        addresses: ['172.1.2.16'],
        ports: twoHttpPorts,
        endpoints: [
          { address: 'google.com', ports: { 'http-valid1': 8080 } },
          { address: '2.2.2.2', ports: { 'http-valid2': 9080 } },
        ],
        resolution: 'STATIC',
      },
      err: ['endpoints', 0, 'address'],
      msg: 'endpoint address "google.com" is not a valid IP address',
    },
    { name: 'discovery type static, missing endpoints', spec: { hosts: ['google.com'], addresses: ['172.1.2.16'], ports: twoHttpPorts, resolution: 'STATIC' } },
    {
      name: 'discovery type static, bad endpoint port name',
      spec: {
        hosts: ['google.com'],
        addresses: ['172.1.2.16'],
        ports: twoHttpPorts,
        endpoints: [
          { address: '1.1.1.1', ports: { 'http-valid1': 8080 } },
          { address: '2.2.2.2', ports: { 'http-dne': 9080 } },
        ],
        resolution: 'STATIC',
      },
      err: ['endpoints', 1, 'ports', 'http-dne'],
      msg: 'endpoint port 9080 is not defined by the service entry',
    },
    {
      name: 'discovery type none, conflicting port names',
      spec: { hosts: ['google.com'], ports: [http(80, 'http-conflict'), http(8080, 'http-conflict')], resolution: 'NONE' },
      err: ['ports', 1, 'name'],
      msg: 'service entry port name "http-conflict" already defined',
      alsoCrd: true,
    },
    {
      name: 'discovery type none, conflicting port numbers',
      spec: { hosts: ['google.com'], ports: [http(80, 'http-conflict1'), http(80, 'http-conflict2')], resolution: 'NONE' },
      crd: true,
    },
    {
      name: 'unix socket',
      spec: { hosts: ['uds.cluster.local'], ports: [{ number: 6553, protocol: 'grpc', name: 'grpc-service1' }], resolution: 'STATIC', endpoints: [{ address: 'unix:///path/to/socket' }] },
    },
    {
      name: 'unix socket, relative path',
      spec: {
        hosts: ['uds.cluster.local'],
        ports: [{ number: 6553, protocol: 'grpc', name: 'grpc-service1' }],
        resolution: 'STATIC',
        endpoints: [{ address: 'unix://./relative/path.sock' }],
      },
      crd: true,
    },
    {
      name: 'unix socket, endpoint ports',
      spec: {
        hosts: ['uds.cluster.local'],
        ports: [{ number: 6553, protocol: 'grpc', name: 'grpc-service1' }],
        resolution: 'STATIC',
        endpoints: [{ address: 'unix:///path/to/socket', ports: { 'grpc-service1': 6553 } }],
      },
      crd: true,
    },
    {
      name: 'unix socket, multiple service ports',
      spec: {
        hosts: ['uds.cluster.local'],
        ports: [
          { number: 6553, protocol: 'grpc', name: 'grpc-service1' },
          { number: 80, protocol: 'http', name: 'http-service2' },
        ],
        resolution: 'STATIC',
        endpoints: [{ address: 'unix:///path/to/socket' }],
      },
      err: ['endpoints', 0, 'address'],
      msg: 'exactly 1 service port required for unix endpoints',
    },
    {
      name: 'empty protocol',
      spec: { hosts: ['google.com'], addresses: ['172.1.2.16/16'], ports: [http(80, 'http-valid1'), { number: 8080, name: 'http-valid2' }], resolution: 'NONE' },
    },
    {
      name: 'selector',
      spec: { hosts: ['google.com'], workloadSelector: { labels: { foo: 'bar' } }, ports: [http(80, 'http-valid1')] },
      warn: ['workloadSelector'],
      warnMsg: 'workloadSelector should not be set when resolution mode is NONE',
    },
    {
      name: 'workload selector without labels',
      spec: { hosts: ['google.com'], ports: twoHttpPorts, workloadSelector: {} },
      warn: ['workloadSelector'],
      warnMsg: 'service entry: workload selector specified without labels, will be applied to all services in namespace',
    },
    {
      name: 'selector and endpoints',
      spec: { hosts: ['google.com'], workloadSelector: { labels: { foo: 'bar' } }, ports: [http(80, 'http-valid1')], endpoints: [{ address: '1.1.1.1' }] },
      crd: true,
    },
    {
      name: 'selector and resolution NONE',
      spec: { hosts: ['google.com'], workloadSelector: { labels: { foo: 'bar' } }, ports: [http(80, 'http-valid1')], resolution: 'NONE' },
      warn: ['workloadSelector'],
    },
    {
      name: 'selector and resolution DNS',
      spec: { hosts: ['google.com'], workloadSelector: { labels: { foo: 'bar' } }, ports: [http(80, 'http-valid1')], resolution: 'DNS' },
    },
    {
      name: 'bad selector key',
      spec: { hosts: ['google.com'], workloadSelector: { labels: { '': 'bar' } }, ports: [http(80, 'http-valid1')] },
      err: ['workloadSelector', 'labels', ''],
      msg: 'empty key is not supported in selector: "=bar"',
    },
    {
      name: 'repeat target port',
      spec: { hosts: ['google.com'], resolution: 'DNS', ports: [http(80, 'http-valid1', { targetPort: 80 }), http(81, 'http-valid2', { targetPort: 80 })] },
    },
    { name: 'valid target port', spec: { hosts: ['google.com'], resolution: 'DNS', ports: [http(80, 'http-valid1', { targetPort: 81 })] } },
    {
      name: 'invalid target port',
      spec: { hosts: ['google.com'], resolution: 'DNS', ports: [http(80, 'http-valid1', { targetPort: 65536 })] },
      crd: true,
    },
    {
      name: 'warn target port',
      spec: { hosts: ['google.com'], workloadSelector: { labels: { key: 'bar' } }, ports: [http(80, 'http-valid1', { targetPort: 1234 })] },
      warn: ['workloadSelector'],
    },
    {
      name: 'valid endpoint port',
      spec: {
        hosts: ['google.com'],
        ports: [http(80, 'http-valid1', { targetPort: 81 })],
        resolution: 'STATIC',
        endpoints: [{ address: '1.1.1.1', ports: { 'http-valid1': 8081 } }],
      },
    },
    {
      name: 'invalid endpoint port',
      spec: {
        hosts: ['google.com'],
        ports: [http(80, 'http-valid1', { targetPort: 81 })],
        resolution: 'STATIC',
        endpoints: [{ address: '1.1.1.1', ports: { 'http-valid1': 65536 } }],
      },
      crd: true,
    },
    {
      name: 'protocol unset for addresses empty',
      spec: { hosts: ['google.com'], addresses: [], ports: [http(80, 'http-valid1'), { number: 8080, name: 'http-valid2' }], resolution: 'NONE' },
      warn: ['ports', 1],
      warnMsg: 'addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled',
    },
    {
      name: 'protocol is TCP for addresses empty',
      spec: { hosts: ['google.com'], addresses: [], ports: [http(80, 'http-valid1'), { number: 81, protocol: 'TCP', name: 'tcp-valid1' }], resolution: 'NONE' },
      warn: ['ports', 1],
    },
    {
      name: 'dns round robin with more than one endpoint',
      spec: {
        hosts: ['google.com'],
        addresses: [],
        ports: [http(8081, 'http-valid1')],
        endpoints: [
          { address: 'api-v1.istio.io', ports: { 'http-valid1': 8081 } },
          { address: '1.1.1.2', ports: { 'http-valid1': 8081 } },
        ],
        resolution: 'DNS_ROUND_ROBIN',
      },
      crd: true,
    },
    {
      name: 'dns round robin with 0 endpoints',
      spec: { hosts: ['google.com'], addresses: [], ports: [http(8081, 'http-valid1')], endpoints: [], resolution: 'DNS_ROUND_ROBIN' },
    },
    {
      name: 'partial wildcard hosts',
      spec: {
        hosts: ['*.nytimes.com', '*washingtonpost.com'],
        addresses: [],
        ports: [{ number: 443, protocol: 'HTTPS', name: 'https-nytimes' }],
        // Istio's Go case sets an empty list, which Go serialises as none: `endpoints: []` in YAML
        // would trip the CRD's "NONE mode cannot set endpoints".
        resolution: 'NONE',
      },
      warn: ['hosts', 1],
      warnMsg: 'partial wildcard "*washingtonpost.com" not allowed',
    },
    {
      name: 'network set with no address on endpoint',
      spec: {
        hosts: ['www.example.com'],
        addresses: [],
        ports: [{ number: 443, protocol: 'HTTPS', name: 'https-example' }],
        endpoints: [{ network: 'cluster-1' }],
        resolution: 'STATIC',
      },
      warn: ['endpoints', 0, 'address'],
      warnMsg: 'address is unset with network "cluster-1"',
    },
    {
      name: 'discovery type DYNAMIC_DNS, unsupported TCP protocol',
      spec: { hosts: ['*.google.com'], addresses: [], ports: [http(80, 'http-valid1'), { number: 81, protocol: 'TCP', name: 'tcp-valid1' }], resolution: 'DYNAMIC_DNS' },
      err: ['ports', 1, 'protocol'],
      msg: 'only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS',
    },
    {
      name: 'discovery type DYNAMIC_DNS, GRPC protocol',
      spec: { hosts: ['*.svc.cluster.local'], addresses: [], ports: [{ number: 9090, protocol: 'GRPC', name: 'grpc' }], resolution: 'DYNAMIC_DNS' },
    },
    {
      name: 'discovery type DYNAMIC_DNS, FQDN host',
      spec: { hosts: ['google.com'], addresses: [], ports: [http(80, 'http-valid')], resolution: 'DYNAMIC_DNS' },
      err: ['hosts', 0],
      msg: 'host must be wildcarded for resolution mode DYNAMIC_DNS',
    },
    {
      name: 'discovery type DYNAMIC_DNS, endpoints set',
      spec: {
        hosts: ['*.google.com'],
        addresses: [],
        ports: [http(80, 'http-valid1')],
        endpoints: [{ address: 'in.google.com', ports: { 'http-valid1': 9080 } }],
        resolution: 'DYNAMIC_DNS',
      },
      err: ['endpoints'],
      msg: 'endpoints cannot be set for resolution type DYNAMIC_DNS',
    },
    {
      name: 'discovery type DYNAMIC_DNS, IP address set',
      spec: { hosts: ['*.google.com'], addresses: ['10.10.10.10'], ports: twoHttpPorts, resolution: 'DYNAMIC_DNS' },
      err: ['addresses'],
      msg: 'addresses cannot be set for resolution type DYNAMIC_DNS',
    },
    {
      name: 'discovery type DYNAMIC_DNS, empty hosts',
      spec: { hosts: [], addresses: [], ports: [http(80, 'http-valid1')], resolution: 'DYNAMIC_DNS' },
      err: ['hosts'],
      msg: 'at least one wildcard host must be provided for resolution type DYNAMIC_DNS',
      alsoCrd: true,
    },
    {
      name: 'discovery type DYNAMIC_DNS, multiple wildcarded hosts',
      spec: { hosts: ['*.google.com', '*.amazon.com'], addresses: [], ports: [http(80, 'http-valid1')], resolution: 'DYNAMIC_DNS' },
    },
    {
      name: 'discovery type DYNAMIC_DNS, internal mesh location',
      spec: { hosts: ['*.google.com'], addresses: [], ports: [http(80, 'http-valid1')], resolution: 'DYNAMIC_DNS', location: 'MESH_INTERNAL' },
    },
    {
      name: 'discovery type DYNAMIC_DNS, MESH_INTERNAL with waypoint (invalid)',
      spec: { hosts: ['*.google.com'], addresses: [], ports: [http(80, 'http-valid1')], resolution: 'DYNAMIC_DNS', location: 'MESH_INTERNAL' },
      labels: { 'istio.io/use-waypoint': 'my-waypoint' },
      err: ['location'],
      msg: 'location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints',
    },
    {
      name: 'discovery type DYNAMIC_DNS, nil port',
      spec: { hosts: ['*.google.com'], location: 'MESH_EXTERNAL', ports: [null], resolution: 'DYNAMIC_DNS' },
      err: ['ports', 0],
      msg: 'port cannot be nil',
      alsoCrd: true,
    },
    {
      name: 'nil port in ports array',
      spec: { hosts: ['google.com'], ports: [null], resolution: 'NONE' },
      err: ['ports', 0],
      msg: 'service entry port may not be null',
      alsoCrd: true,
    },
    {
      name: 'discovery type DNS with addresses, nil port',
      spec: { hosts: ['google.com'], addresses: ['1.2.3.4'], ports: [null], resolution: 'DNS' },
      err: ['ports', 0],
      msg: 'ports cannot be nil',
      alsoCrd: true,
    },
  ];
  it.each(cases)('$name', (c) => checkCase(c));
});

describe('Test_validateExportTo (as a ServiceEntry uses it)', () => {
  const se = (exportTo: string[]): Obj => ({ hosts: ['example.com'], ports: [http(80, 'http')], exportTo });
  const cases: Case[] = [
    { name: 'empty exportTo is okay', spec: se([]) },
    { name: '* is allowed', spec: se(['*']) },
    { name: '. and ns1 are allowed', spec: se(['.', 'ns1']) },
    { name: 'bunch of namespaces in exportTo is okay', spec: se(['ns1', 'ns2', 'ns5']) },
    { name: '~ is allowed for service entry configs', spec: se(['~']) },
    { name: '. and * together are not allowed', spec: se(['.', '*']), err: ['exportTo'], msg: 'cannot have both public (*) and non-public exportTo values for a resource' },
    { name: '* and ns1 together are not allowed', spec: se(['*', 'ns1']), err: ['exportTo'] },
    { name: '. and same namespace in exportTo is not okay', spec: se(['.', 'ns5']), err: ['exportTo', 1], msg: 'duplicate entries in exportTo for entry ns5' },
    { name: 'duplicate namespaces in exportTo is not okay', spec: se(['ns1', 'ns2', 'ns1']), err: ['exportTo', 2], msg: 'duplicate entries in exportTo for entry ns1' },
    { name: 'duplicate none in service entry exportTo is not okay', spec: se(['~', '~', 'ns1']), err: ['exportTo', 1], msg: 'duplicate entries in exportTo for entry ~' },
    { name: 'invalid namespace names are not okay', spec: se(['ns1_']), err: ['exportTo', 0], msg: 'only .,*, or a valid DNS 1123 label is allowed as exportTo entry' },
    {
      name: 'none and other namespaces cannot be combined in service entry exportTo',
      spec: se(['~', 'ns1']),
      err: ['exportTo'],
      msg: 'cannot export service entry to no one (~) and someone',
    },
    // Not in Istio's table.
    { name: 'same namespace, then .', spec: se(['ns5', '.']), err: ['exportTo', 1], msg: 'duplicate entries in exportTo: . and current namespace ns5' },
    { name: '~ and * together', spec: se(['~', '*']), err: ['exportTo'] },
  ];
  it.each(cases)('$name', (c) => checkCase(c, 'ns5'));
});

describe('TestValidateWorkloadEntry, as the endpoints of a STATIC ServiceEntry', () => {
  // The same rules, except that a ServiceEntry's STATIC endpoints must be IP addresses and name its ports.
  const staticSe = (endpoint: Obj, ports: Obj[] = [{ number: 7777, protocol: 'http', name: '7777' }]): Obj => ({
    hosts: ['example.com'],
    ports,
    resolution: 'STATIC',
    endpoints: [endpoint],
  });
  const cases: Case[] = [
    { name: 'valid', spec: staticSe({ address: '1.2.3.4' }) },
    { name: 'missing address', spec: staticSe({}), crd: true },
    { name: 'missing address (empty)', spec: staticSe({ address: '' }), err: ['endpoints', 0, 'address'], msg: 'address is required' },
    { name: 'missing address with network', spec: staticSe({ network: 'network-2' }), warn: ['endpoints', 0, 'address'] },
    { name: 'valid unix endpoint', spec: staticSe({ address: 'unix:///lon/google/com' }) },
    { name: 'valid abstract unix endpoint', spec: staticSe({ address: 'unix://@envoy-admin' }) },
    { name: 'invalid unix endpoint', spec: staticSe({ address: 'unix:///lon/google/com', ports: { '7777': 7777 } }), crd: true },
    { name: 'invalid unix endpoint (empty ports map)', spec: staticSe({ address: 'unix:///lon/google/com', ports: {} }), crd: true },
    {
      name: 'FQDN (valid in a WorkloadEntry, not in a STATIC ServiceEntry)',
      spec: staticSe({ address: 'validdns.com', ports: { '7777': 7777 } }),
      err: ['endpoints', 0, 'address'],
    },
    { name: 'invalid FQDN', spec: staticSe({ address: 'invaliddns.com:9443', ports: { '7777': 7777 } }), err: ['endpoints', 0, 'address'] },
    { name: 'valid IP', spec: staticSe({ address: '172.16.1.1', ports: { '7777': 7777 } }) },
    { name: 'valid IPv6', spec: staticSe({ address: '2001:db8::1', ports: { '7777': 7777 } }) },
    {
      name: 'an invalid label',
      spec: staticSe({ address: '172.16.1.1', labels: { app: 'a b' } }),
      err: ['endpoints', 0, 'labels', 'app'],
      msg: 'invalid tag value: "a b"',
    },
    { name: 'a null endpoint', spec: { hosts: ['example.com'], ports: [http(80, 'http')], resolution: 'STATIC', endpoints: [null] }, err: ['endpoints', 0], msg: 'endpoint cannot be nil' },
  ];
  it.each(cases)('$name', (c) => checkCase(c));
});

describe('ServiceEntry: the rest of ValidateServiceEntry', () => {
  const cases: Case[] = [
    {
      name: 'a bare * host (the CRD refuses it too)',
      spec: { hosts: ['*'], ports: [http(80, 'http')] },
      crd: true,
    },
    {
      name: 'a wildcard inside a host',
      spec: { hosts: ['foo.*.com'], ports: [http(80, 'http')] },
      err: ['hosts', 0],
      warn: ['hosts', 0],
    },
    { name: 'a partial wildcard host is no warning with DYNAMIC_DNS', spec: { hosts: ['*foo.com'], ports: [http(80, 'http')], resolution: 'DYNAMIC_DNS' } },
    { name: 'an IPv6 address', spec: { hosts: ['example.com'], addresses: ['2001:db8::1'], ports: [{ number: 3306, protocol: 'TCP', name: 'mysql' }] } },
    { name: 'an IPv6 CIDR', spec: { hosts: ['example.com'], addresses: ['2001:db8::/32'], ports: [{ number: 3306, protocol: 'TCP', name: 'mysql' }] } },
    {
      name: 'an address that is no IP',
      spec: { hosts: ['example.com'], addresses: ['example.com'], ports: [http(80, 'http')] },
      err: ['addresses', 0],
      msg: 'example.com is not a valid IP',
    },
    {
      name: 'a CIDR with too many bits',
      spec: { hosts: ['example.com'], addresses: ['1.2.3.4/99'], ports: [http(80, 'http')] },
      err: ['addresses', 0],
      msg: '1.2.3.4/99 is not a valid CIDR block',
    },
    { name: 'a CIDR with DNS resolution (the CRD refuses it)', spec: { hosts: ['example.com'], addresses: ['1.2.3.4/16'], ports: [http(80, 'http')], resolution: 'DNS' }, crd: true },
    {
      name: 'a CIDR with DYNAMIC_DNS resolution (the CRD refuses it)',
      spec: { hosts: ['*.example.com'], addresses: ['10.0.0.0/8'], ports: [http(80, 'http')], resolution: 'DYNAMIC_DNS' },
      crd: true,
    },
    {
      name: 'a port name that is no DNS label',
      spec: { hosts: ['example.com'], ports: [{ number: 80, protocol: 'HTTP', name: 'http_web' }] },
      err: ['ports', 0, 'name'],
      msg: 'invalid port name: http_web',
    },
    {
      name: 'an empty port name',
      spec: { hosts: ['example.com'], ports: [{ number: 80, protocol: 'HTTP', name: '' }] },
      err: ['ports', 0, 'name'],
      msg: 'invalid port name: ',
    },
    {
      name: 'an unknown protocol',
      spec: { hosts: ['example.com'], ports: [{ number: 80, protocol: 'SPDY', name: 'spdy' }] },
      err: ['ports', 0, 'protocol'],
      msg: 'unsupported protocol: SPDY',
    },
    { name: 'protocols are read in any case', spec: { hosts: ['example.com'], addresses: ['1.1.1.1'], ports: [{ number: 80, protocol: 'gRPC-Web', name: 'web' }] } },
    {
      name: 'several hosts on a TCP port',
      spec: { hosts: ['a.example.com', 'b.example.com'], ports: [{ number: 5432, protocol: 'TCP', name: 'pg' }], resolution: 'DNS' },
      err: ['ports', 0, 'protocol'],
      msg: 'multiple hosts provided with non-HTTP, non-TLS ports',
    },
    {
      name: 'several hosts on a port without a protocol',
      spec: { hosts: ['a.example.com', 'b.example.com'], ports: [{ number: 5432, name: 'pg' }], resolution: 'STATIC' },
      err: ['ports', 0, 'protocol'],
    },
    {
      name: 'several hosts on a TCP port with resolution NONE',
      spec: { hosts: ['a.example.com', 'b.example.com'], addresses: ['10.0.0.1'], ports: [{ number: 5432, protocol: 'TCP', name: 'pg' }], resolution: 'NONE' },
    },
    {
      name: 'several hosts on TLS and HTTP2 ports',
      spec: {
        hosts: ['a.example.com', 'b.example.com'],
        ports: [
          { number: 443, protocol: 'TLS', name: 'tls' },
          { number: 8080, protocol: 'HTTP2', name: 'h2' },
        ],
        resolution: 'DNS',
      },
    },
    {
      name: 'a TCP port without addresses, auto-allocation on (the default)',
      spec: { hosts: ['db.example.com'], ports: [{ number: 3306, protocol: 'TCP', name: 'mysql' }], resolution: 'DNS' },
    },
    {
      name: 'a TCP port without addresses, auto-allocation turned off by the label',
      spec: { hosts: ['db.example.com'], ports: [{ number: 3306, protocol: 'TCP', name: 'mysql' }], resolution: 'DNS' },
      labels: { 'networking.istio.io/enable-autoallocate-ip': 'False' },
      warn: ['ports', 0],
    },
    {
      name: 'a port named tcp in lower case is not warned (Istio compares "TCP" exactly)',
      spec: { hosts: ['db.example.com'], ports: [{ number: 3306, protocol: 'tcp', name: 'mysql' }], resolution: 'NONE' },
    },
    {
      name: 'a targetPort of 0 means none',
      spec: { hosts: ['example.com'], ports: [http(80, 'http', { targetPort: 0 })] },
      crd: true,
    },
    {
      name: 'DYNAMIC_DNS with the waypoint label set to none',
      spec: { hosts: ['*.google.com'], ports: [http(80, 'http')], resolution: 'DYNAMIC_DNS', location: 'MESH_INTERNAL' },
      labels: { 'istio.io/use-waypoint': 'None' },
    },
    {
      name: 'DYNAMIC_DNS, MESH_EXTERNAL with a waypoint',
      spec: { hosts: ['*.google.com'], ports: [http(80, 'http')], resolution: 'DYNAMIC_DNS' },
      labels: { 'istio.io/use-waypoint': 'my-waypoint' },
    },
    {
      name: 'DYNAMIC_DNS with a port without a protocol',
      spec: { hosts: ['*.google.com'], ports: [{ number: 80, name: 'web' }], resolution: 'DYNAMIC_DNS' },
      err: ['ports', 0, 'protocol'],
    },
    {
      name: 'DNS endpoints with bad labels and an undefined port',
      spec: {
        hosts: ['example.com'],
        ports: [http(80, 'http')],
        resolution: 'DNS',
        endpoints: [{ address: 'a.example.com', labels: { 'bad key': 'v' }, ports: { web: 8080 } }],
      },
      err: ['endpoints', 0, 'labels', 'bad key'],
    },
    {
      name: 'a wildcard host with DNS resolution and endpoints',
      spec: { hosts: ['*.example.com'], ports: [http(80, 'http')], resolution: 'DNS', endpoints: [{ address: '10.0.0.1' }] },
    },
    {
      name: 'a bad selector label value (the CRD refuses it)',
      spec: { hosts: ['example.com'], workloadSelector: { labels: { app: '*' } } },
      crd: true,
    },
  ];
  it.each(cases)('$name', (c) => checkCase(c));

  it("accepts Istio's valid CRD examples (testdata/crds/serviceentry-valid.yaml), with Istio's warnings", () => {
    const full = {
      hosts: ['example.com'],
      workloadSelector: { labels: { foo: 'bar' } },
      addresses: ['1.2.3.4', '001:db8::'],
      exportTo: ['foo', '.'],
      location: 'MESH_EXTERNAL',
      ports: [{ name: 'foo', protocol: 'HTTP', number: 1234, targetPort: 2345 }],
      subjectAltNames: ['sa'],
      resolution: 'DNS',
    };
    const staticEndpoints = {
      hosts: ['example.com'],
      endpoints: [{ address: 'sub.example.com' }],
      ports: [{ name: 'foo', protocol: 'HTTP', number: 1234, targetPort: 2345 }],
      resolution: 'DNS',
    };
    const emptySelector = { workloadSelector: {}, hosts: ['example.com'] };
    const partialWildcard = { hosts: ['*x'] };
    const noneCidr = { hosts: ['example.com'], addresses: ['1.1.1.1/32'] };
    for (const spec of [full, staticEndpoints, emptySelector, partialWildcard, noneCidr]) expect(crdErrors(spec)).toEqual([]);
    const summary = (spec: Obj) => checkServiceEntry(spec, ctx({ namespace: 'default' })).map((f) => `${f.severity} ${f.path.join('.')}`);
    expect(summary(full)).toEqual([]);
    expect(summary(staticEndpoints)).toEqual([]);
    expect(summary(emptySelector)).toEqual(['warning workloadSelector', 'warning workloadSelector']);
    expect(summary(partialWildcard)).toEqual(['warning hosts.0']);
    expect(summary(noneCidr)).toEqual([]);
  });

  it('says nothing more once the selector is refused, as Istio returns early', () => {
    const findings = checkServiceEntry({ hosts: ['*'], ports: [null], workloadSelector: { labels: { 'a*': 'b' } } }, ctx());
    expect(findings).toEqual([{ severity: 'error', path: ['workloadSelector', 'labels', 'a*'], message: 'wildcard is not supported in selector: "a*=b"' }]);
  });

  it('reports every mistake, each at its own field', () => {
    const findings = checkServiceEntry(
      {
        hosts: ['-', 'b.example.com'],
        addresses: ['10.0.0.0/8', 'nope'],
        ports: [
          { number: 80, protocol: 'HTTP', name: 'web' },
          { number: 80, protocol: 'HTTP', name: 'web' },
        ],
        resolution: 'STATIC',
        endpoints: [{ address: '10.0.0.1', ports: { api: 8080 } }],
        exportTo: ['x', 'x'],
      },
      ctx(),
    );
    expect(findings.map((f) => `${f.severity} ${f.path.join('.')}: ${f.message}`)).toEqual([
      'error hosts.0: domain name "-" invalid (label "-" invalid)',
      'error addresses.1: nope is not a valid IP',
      'error ports.1.name: service entry port name "web" already defined',
      'error ports.1.number: service entry port 80 already defined',
      'error endpoints.0.ports.api: endpoint port 8080 is not defined by the service entry',
      'error exportTo.1: duplicate entries in exportTo for entry x',
    ]);
  });

});
