import { describe, expect, it } from 'vitest';
import { serverPem } from '../../helpers/certs.js';
import { analyzeYaml, withCode } from '../../helpers/analyze.js';


function gateway(name: string, servers: string, selector = '{ istio: ingressgateway }', namespace = 'default'): string {
  return `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  selector: ${selector}
  servers:
${servers}
`;
}

// Istio refuses two servers with one port name: each is named after its host and credential.
const httpsServer = (credential: string, host = 'shop.example.com') => `
  - port: { number: 443, name: https-${host.replace(/[^a-z0-9]/g, '-')}-${credential}, protocol: HTTPS }
    hosts: ["${host}"]
    tls: { mode: SIMPLE, credentialName: ${credential} }`;

const b64 = (s: string) => Buffer.from(s).toString('base64');

function secret(name: string, data: Record<string, string>, namespace = 'default'): string {
  const lines = Object.entries(data).map(([k, v]) => `  ${k}: ${b64(v)}`);
  return `
apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: ${namespace} }
type: kubernetes.io/tls
data:
${lines.join('\n')}
`;
}

describe('gateway credentials', () => {
  it('IST0101 when the credentialName Secret is missing from the Gateway namespace', () => {
    const pem = serverPem(['shop.example.com']);
    const msgs = analyzeYaml(`${gateway('gw', httpsServer('shop-cert'))}
---
${secret('shop-cert', { 'tls.crt': pem.cert, 'tls.key': pem.key }, 'elsewhere')}`);
    expect(withCode(msgs, 'IST0101')).toEqual([
      {
        code: 'IST0101',
        name: 'ReferencedResourceNotFound',
        level: 'error',
        ref: 'Gateway default/gw',
        path: ['spec', 'servers', 0, 'tls', 'credentialName'],
        message: 'Referenced credentialName not found: "shop-cert"',
      },
    ]);
  });

  it('IST0161 when the Secret lacks tls.crt/tls.key or holds no certificate', () => {
    const pem = serverPem(['shop.example.com']);
    const msgs = analyzeYaml(
      `${gateway('gw', httpsServer('only-cert') + httpsServer('garbage', 'b.example.com'))}
---
${secret('only-cert', { 'tls.crt': pem.cert })}
---
${secret('garbage', { 'tls.crt': 'not a cert', 'tls.key': pem.key })}`,
    );
    const message = 'The credential referenced by the Gateway gw in namespace default is invalid, which can cause the traffic not to work as expected.';
    expect(withCode(msgs, 'IST0161')).toEqual([
      { code: 'IST0161', name: 'InvalidGatewayCredential', level: 'error', ref: 'Gateway default/gw', path: ['spec', 'servers', 0, 'tls', 'credentialName'], message },
      { code: 'IST0161', name: 'InvalidGatewayCredential', level: 'error', ref: 'Gateway default/gw', path: ['spec', 'servers', 1, 'tls', 'credentialName'], message },
    ]);
  });

  it('IST0161 for an expired certificate', () => {
    const pem = serverPem(['old.example.com'], { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') });
    const msgs = analyzeYaml(`${gateway('gw', httpsServer('old'))}
---
${secret('old', { 'tls.crt': pem.cert, 'tls.key': pem.key })}`);
    expect(withCode(msgs, 'IST0161')).toHaveLength(1);
  });

  it('silent for a valid tls.crt/tls.key Secret (or cert/key) in the Gateway namespace', () => {
    const pem = serverPem(['shop.example.com']);
    const msgs = analyzeYaml(
      `${gateway('gw', httpsServer('shop-cert') + httpsServer('generic', 'b.example.com'))}
---
${secret('shop-cert', { 'tls.crt': pem.cert, 'tls.key': pem.key })}
---
${secret('generic', { cert: pem.cert, key: pem.key })}`,
    );
    expect(msgs.filter((m) => m.code === 'IST0101' || m.code === 'IST0161')).toEqual([]);
  });
});

const http = (host: string, port = 80) => `
  - port: { number: ${port}, name: http-${port}, protocol: HTTP }
    hosts: ["${host}"]`;

describe('conflicting gateways', () => {
  it('IST0145 for the same selector, port and host in two Gateways', () => {
    const msgs = analyzeYaml(`${gateway('a', http('shop.example.com'))}
---
${gateway('b', http('shop.example.com') + http('other.example.com', 8080))}`);
    expect(withCode(msgs, 'IST0145')).toEqual([
      {
        code: 'IST0145',
        name: 'ConflictingGateways',
        level: 'error',
        ref: 'Gateway default/a',
        path: ['spec', 'servers', 0],
        message: 'Conflict with gateways default/b (workload selector istio=ingressgateway, port 80, hosts shop.example.com).',
      },
      {
        code: 'IST0145',
        name: 'ConflictingGateways',
        level: 'error',
        ref: 'Gateway default/b',
        path: ['spec', 'servers', 0],
        message: 'Conflict with gateways default/a (workload selector istio=ingressgateway, port 80, hosts shop.example.com).',
      },
    ]);
  });

  it('IST0145 names every other Gateway once, sorted, however many hosts they share', () => {
    const two = (a: string, b: string) => `${http(a)}\n    - "${b}"`.replace(`hosts: ["${a}"]\n    - "${b}"`, `hosts: ["${a}", "${b}"]`);
    const msgs = analyzeYaml(`${gateway('c', two('shop.example.com', 'blog.example.com'))}
---
${gateway('b', two('blog.example.com', 'shop.example.com'))}
---
${gateway('a', http('shop.example.com'))}`);
    expect(withCode(msgs, 'IST0145').map((m) => [m.ref, m.message.replace(/ \(workload.*/, '')])).toEqual([
      ['Gateway default/c', 'Conflict with gateways default/a,default/b'],
      ['Gateway default/b', 'Conflict with gateways default/a,default/c'],
      ['Gateway default/a', 'Conflict with gateways default/b,default/c'],
    ]);
  });

  it('silent for different hosts, ports or selectors', () => {
    const msgs = analyzeYaml(
      `${gateway('a', http('shop.example.com'))}
---
${gateway('b', http('blog.example.com'))}
---
${gateway('c', http('shop.example.com', 8080))}
---
${gateway('d', http('shop.example.com'), '{ istio: egressgateway }')}`,
    );
    expect(withCode(msgs, 'IST0145')).toEqual([]);
  });
});

describe('duplicate gateway certificates', () => {
  it('IST0138 when two Gateways on the same workload share a credential', () => {
    const msgs = analyzeYaml(`${gateway('a', httpsServer('shared', 'a.example.com'))}
---
${gateway('b', httpsServer('shared', 'b.example.com'))}`);
    expect(withCode(msgs, 'IST0138')).toEqual([
      {
        code: 'IST0138',
        name: 'GatewayDuplicateCertificate',
        level: 'warning',
        ref: 'Gateway default/a',
        path: ['spec', 'servers', 0, 'tls'],
        message: 'Duplicate certificate in multiple gateways [default/a default/b] may cause 404s if clients re-use HTTP2 connections.',
      },
      {
        code: 'IST0138',
        name: 'GatewayDuplicateCertificate',
        level: 'warning',
        ref: 'Gateway default/b',
        path: ['spec', 'servers', 0, 'tls'],
        message: 'Duplicate certificate in multiple gateways [default/b default/a] may cause 404s if clients re-use HTTP2 connections.',
      },
    ]);
  });

  it('IST0138 for each pair of Gateways sharing a credential, in the Gateways\' order, each server once', () => {
    const msgs = analyzeYaml(`${gateway('a', httpsServer('shared', 'a.example.com') + httpsServer('own', 'a2.example.com'))}
---
${gateway('b', httpsServer('other', 'b.example.com'))}
---
${gateway('c', httpsServer('shared', 'c.example.com') + httpsServer('shared', 'c2.example.com'))}`);
    expect(withCode(msgs, 'IST0138').map((m) => [m.ref, m.path.join('.'), m.message.replace(/ may cause.*/, '')])).toEqual([
      ['Gateway default/a', 'spec.servers.0.tls', 'Duplicate certificate in multiple gateways [default/a default/c]'],
      ['Gateway default/a', 'spec.servers.0.tls', 'Duplicate certificate in multiple gateways [default/a default/c]'],
      ['Gateway default/c', 'spec.servers.0.tls', 'Duplicate certificate in multiple gateways [default/c default/a]'],
      ['Gateway default/c', 'spec.servers.1.tls', 'Duplicate certificate in multiple gateways [default/c default/a]'],
    ]);
  });

  it('silent for different credentials or different workloads', () => {
    const msgs = analyzeYaml(
      `${gateway('a', httpsServer('one', 'a.example.com'))}
---
${gateway('b', httpsServer('two', 'b.example.com'))}
---
${gateway('c', httpsServer('one', 'c.example.com'), '{ istio: egressgateway }')}`,
    );
    expect(withCode(msgs, 'IST0138')).toEqual([]);
  });
});
