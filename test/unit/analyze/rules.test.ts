import { describe, expect, it } from 'vitest';
import { analyze } from '../../../src/analyze/index.js';
import { analyzeYaml, loadObjects, withCode } from '../../helpers/analyze.js';
import { seeded } from '../../helpers/seeded.js';


const SVC = `
apiVersion: v1
kind: Service
metadata: { name: app, namespace: default }
spec:
  ports: [{ name: http, port: 80 }]
`;

function vs(http: string): string {
  return `${SVC}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: v, namespace: default }
spec:
  hosts: [app]
  http:
${http}
`;
}

const to = `route: [{ destination: { host: app } }]`;

describe('unreachable rules and ineffective matches', () => {
  it('IST0130 for a rule after a catch-all, IST0131 for a repeated match', () => {
    const msgs = analyzeYaml(
      vs(`
  - name: first
    match: [{ uri: { exact: /a } }]
    ${to}
  - match: [{ name: again, uri: { exact: /a } }]
    ${to}
  - ${to}
  - match: [{ uri: { exact: /b } }]
    ${to}`),
    );
    expect(withCode(msgs, 'IST0130')).toEqual([
      { code: 'IST0130', name: 'VirtualServiceUnreachableRule', level: 'warning', ref: 'VirtualService default/v', path: ['spec', 'http', 1], message: 'VirtualService rule #1 not used (all matches used by prior rules).' },
      { code: 'IST0130', name: 'VirtualServiceUnreachableRule', level: 'warning', ref: 'VirtualService default/v', path: ['spec', 'http', 3], message: 'VirtualService rule #3 not used (route without matches defined before).' },
    ]);
    expect(withCode(msgs, 'IST0131')).toEqual([
      {
        code: 'IST0131',
        name: 'VirtualServiceIneffectiveMatch',
        level: 'info',
        ref: 'VirtualService default/v',
        path: ['spec', 'http', 1, 'match', 0],
        message: 'VirtualService rule #1 match "again" is not used (duplicate/overlapping match in rule "first").',
      },
    ]);
  });

  it('IST0131 for the same match written with a field that says nothing (false), either way round', () => {
    const msgs = analyzeYaml(
      vs(`
  - match: [{ uri: { prefix: /p } }]
    ${to}
  - match: [{ uri: { prefix: /p }, ignoreUriCase: false }]
    ${to}
  - match: [{ uri: { regex: "^/r" }, ignoreUriCase: false }]
    ${to}
  - match: [{ name: r, uri: { regex: "^/r" } }]
    ${to}
  - match: [{ uri: { prefix: /q } }]
    ${to}`),
    );
    expect(withCode(msgs, 'IST0131').map((m) => m.path)).toEqual([
      ['spec', 'http', 1, 'match', 0],
      ['spec', 'http', 3, 'match', 0],
    ]);
  });

  it('IST0131 for a URI test with quotes and backslashes written with a field that says nothing, not for one with more than its URI', () => {
    const msgs = analyzeYaml(
      vs(`
  - match: [{ uri: { regex: '^/a\\"b\\\\' }, ignoreUriCase: false }]
    ${to}
  - match: [{ uri: { regex: '^/a\\"b\\\\' } }]
    ${to}
  - match: [{ uri: { exact: /e }, withoutHeaders: { x-env: { exact: test } } }]
    ${to}
  - match: [{ uri: { exact: /e } }]
    ${to}
  - match: [{ uri: { exact: /e }, ignoreUriCase: false }]
    ${to}`),
    );
    expect(withCode(msgs, 'IST0131').map((m) => m.path)).toEqual([
      ['spec', 'http', 1, 'match', 0],
      ['spec', 'http', 4, 'match', 0],
    ]);
  });

  it('IST0131 when a shorter prefix earlier takes a longer one', () => {
    const msgs = analyzeYaml(
      vs(`
  - match: [{ uri: { prefix: /api } }]
    ${to}
  - match: [{ uri: { prefix: /api/v2 } }]
    ${to}`),
    );
    expect(withCode(msgs, 'IST0131').map((m) => [m.path, m.message])).toEqual([
      [['spec', 'http', 1, 'match', 0], 'VirtualService rule #1 match #0 of prefix /api/v2 is not used (duplicate/overlapping match in rule #0 of prefix /api on #0).'],
    ]);
    expect(withCode(msgs, 'IST0130')).toEqual([]);
  });

  it('IST0131 for every earlier shorter prefix that takes a later one, over 300 random prefixes', () => {
    const rand = seeded(7);
    const parts = ['a', 'b', 'ab', 'v1', 'x'];
    const prefixes: string[] = [];
    for (let n = 0; n < 300; n++) {
      let p = '';
      for (let d = 1 + rand(4); d > 0; d--) p += `/${parts[rand(parts.length)]}`;
      prefixes.push(rand(2) === 0 ? p : `${p}/`);
    }
    const msgs = analyzeYaml(vs(prefixes.map((p) => `  - match: [{ uri: { prefix: ${JSON.stringify(p)} } }]\n    ${to}`).join('\n')));
    // The rule, pair by pair: each prefix's first rule; a later one starting with an earlier, shorter one.
    const first = new Map<string, number>();
    prefixes.forEach((p, n) => first.has(p) || first.set(p, n));
    // Messages come in the order of the fields they are on: by the later rule, then the earlier.
    const expected: string[] = [];
    const firsts = [...first.entries()].sort((x, y) => x[1] - y[1]);
    for (const [b, j] of firsts) {
      for (const [a, i] of firsts) {
        if (i < j && b !== a && b.startsWith(a)) expected.push(`#${j} match #0 of prefix ${b} <- #0 of prefix ${a} on #${i}`);
      }
    }
    const overlaps = withCode(msgs, 'IST0131')
      .map((m) => /rule (#\d+) match (#0 of prefix \S+) is not used \(duplicate\/overlapping match in rule (#0 of prefix \S+ on #\d+)\)/.exec(m.message))
      .filter((m) => m !== null)
      .map((m) => `${m![1]} match ${m![2]} <- ${m![3]}`);
    expect(expected.length).toBeGreaterThan(100);
    expect(overlaps).toEqual(expected);
  });

  it('silent for distinct matches, a longer prefix first, and one catch-all last', () => {
    const msgs = analyzeYaml(
      vs(`
  - match: [{ uri: { prefix: /api/v2 } }]
    ${to}
  - match: [{ uri: { prefix: /api }, headers: { x-env: { exact: test } } }]
    ${to}
  - match: [{ uri: { prefix: /api } }]
    ${to}
  - ${to}`),
    );
    expect(msgs.filter((m) => m.code === 'IST0130' || m.code === 'IST0131')).toEqual([]);
  });
});

function dr(trafficPolicy: string): string {
  return `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ext, namespace: default }
spec:
  host: api.example.com
  trafficPolicy:
${trafficPolicy}
`;
}

describe('DestinationRule CA certificates', () => {
  it('IST0128 and IST0129 for SIMPLE/MUTUAL TLS without caCertificates', () => {
    const msgs = analyzeYaml(
      dr(`    tls: { mode: SIMPLE }
    portLevelSettings:
    - port: { number: 443 }
      tls: { mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem }`),
    );
    expect(withCode(msgs, 'IST0128')).toEqual([
      {
        code: 'IST0128',
        name: 'NoServerCertificateVerificationDestinationLevel',
        level: 'warning',
        ref: 'DestinationRule default/ext',
        path: ['spec', 'trafficPolicy', 'tls', 'mode'],
        message: 'DestinationRule default/ext in namespace default has TLS mode set to SIMPLE but no caCertificates are set to validate server identity for host: api.example.com',
      },
    ]);
    expect(withCode(msgs, 'IST0129')).toEqual([
      {
        code: 'IST0129',
        name: 'NoServerCertificateVerificationPortLevel',
        level: 'warning',
        ref: 'DestinationRule default/ext',
        path: ['spec', 'trafficPolicy', 'portLevelSettings', 0, 'tls', 'mode'],
        message: 'DestinationRule default/ext in namespace default has TLS mode set to MUTUAL but no caCertificates are set to validate server identity for host: api.example.com at port number:443',
      },
    ]);
  });

  it('silent with caCertificates set, or for ISTIO_MUTUAL', () => {
    const msgs = analyzeYaml(
      dr(`    tls: { mode: SIMPLE, caCertificates: /ca.pem }
    portLevelSettings:
    - port: { number: 443 }
      tls: { mode: ISTIO_MUTUAL }`),
    );
    expect(msgs.filter((m) => m.code === 'IST0128' || m.code === 'IST0129')).toEqual([]);
  });
});

function se(name: string, spec: string, namespace = 'default'): string {
  return `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${spec}
`;
}

describe('ServiceEntry', () => {
  it('IST0134 for a TCP port without addresses', () => {
    const msgs = analyzeYaml(se('db', `  hosts: [db.example.com]\n  resolution: DNS\n  ports: [{ number: 443, name: https, protocol: HTTPS }, { number: 5432, name: pg, protocol: TCP }]`));
    expect(withCode(msgs, 'IST0134')).toEqual([
      { code: 'IST0134', name: 'ServiceEntryAddressesRequired', level: 'warning', ref: 'ServiceEntry default/db', path: ['spec', 'ports', 1], message: 'ServiceEntry addresses are required for this protocol.' },
    ]);
  });

  it('IST0134 silent with addresses or for HTTP ports', () => {
    const msgs = analyzeYaml(
      `${se('db', `  hosts: [db.example.com]\n  addresses: [10.0.0.5]\n  resolution: DNS\n  ports: [{ number: 5432, name: pg, protocol: TCP }]`)}
---
${se('web', `  hosts: [web.example.com]\n  resolution: DNS\n  ports: [{ number: 80, name: http, protocol: HTTP }]`)}`,
    );
    expect(withCode(msgs, 'IST0134')).toEqual([]);
  });

  it('IST0177 for one host and port with two protocols', () => {
    const msgs = analyzeYaml(
      `${se('a', `  hosts: [api.example.com]\n  resolution: DNS\n  ports: [{ number: 8443, name: h, protocol: HTTPS }]`)}
---
${se('b', `  hosts: [api.example.com]\n  resolution: DNS\n  ports: [{ number: 8443, name: t, protocol: TLS }]`, 'other')}`,
    );
    const message = 'Multiple ServiceEntries (default/a, other/b) define the same host "api.example.com" and port 8443 with conflicting protocols (HTTPS, TLS).';
    expect(withCode(msgs, 'IST0177')).toEqual([
      { code: 'IST0177', name: 'ConflictingServiceEntryProtocol', level: 'warning', ref: 'ServiceEntry default/a', path: [], message },
      { code: 'IST0177', name: 'ConflictingServiceEntryProtocol', level: 'warning', ref: 'ServiceEntry other/b', path: [], message },
    ]);
  });

  it('IST0177 silent for the same protocol, or when exportTo keeps them apart', () => {
    const msgs = analyzeYaml(
      `${se('a', `  hosts: [api.example.com]\n  resolution: DNS\n  ports: [{ number: 8443, name: h, protocol: HTTPS }]`)}
---
${se('b', `  hosts: [api.example.com]\n  resolution: DNS\n  ports: [{ number: 8443, name: h, protocol: https }]`, 'other')}
---
${se('c', `  hosts: [api.example.com]\n  exportTo: ["."]\n  resolution: DNS\n  ports: [{ number: 9443, name: h, protocol: HTTPS }]`, 'x')}
---
${se('d', `  hosts: [api.example.com]\n  exportTo: ["."]\n  resolution: DNS\n  ports: [{ number: 9443, name: t, protocol: TLS }]`, 'y')}`,
    );
    expect(withCode(msgs, 'IST0177')).toEqual([]);
  });
});

function sidecar(name: string, extra = ''): string {
  return `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: ${name}, namespace: default }
spec:
${extra}  egress: [{ hosts: ["./*"] }]
`;
}

describe('Sidecar selectors', () => {
  it('IST0111 for two Sidecars without workload selector in one namespace', () => {
    const msgs = analyzeYaml(`${sidecar('b')}\n---\n${sidecar('a')}`);
    const message = 'The Sidecars [a b] in namespace "default" have no workload selector, which can lead to undefined behavior.';
    expect(withCode(msgs, 'IST0111')).toEqual([
      { code: 'IST0111', name: 'MultipleSidecarsWithoutWorkloadSelectors', level: 'error', ref: 'Sidecar default/b', path: [], message },
      { code: 'IST0111', name: 'MultipleSidecarsWithoutWorkloadSelectors', level: 'error', ref: 'Sidecar default/a', path: [], message },
    ]);
  });

  it('silent when only one lacks a selector', () => {
    const msgs = analyzeYaml(`${sidecar('b')}\n---\n${sidecar('a', '  workloadSelector: { labels: { app: x } }\n')}`);
    expect(withCode(msgs, 'IST0111')).toEqual([]);
  });
});

describe('analyze() as a whole', () => {
  it('orders messages by object (input order), then path', () => {
    const msgs = analyzeYaml(`${se('z', `  hosts: [z.example.com]\n  resolution: DNS\n  ports: [{ number: 2, name: b, protocol: TCP }, { number: 1, name: a, protocol: TCP }]`)}
---
${se('a', `  hosts: [a.example.com]\n  resolution: DNS\n  ports: [{ number: 3, name: c, protocol: TCP }]`)}`);
    expect(msgs.map((m) => `${m.object.name} ${JSON.stringify(m.path)}`)).toEqual(['z ["spec","ports",0]', 'z ["spec","ports",1]', 'a ["spec","ports",0]']);
  });

  it('never throws on odd objects', () => {
    const base = loadObjects(SVC)[0]!;
    const odd = [
      { ...base, kind: 'VirtualService', spec: { hosts: 'x', http: [null, { route: 'no', match: [null] }], gateways: [7, null] } },
      { ...base, kind: 'Gateway', name: 'g', spec: { servers: [{ port: null, hosts: null, tls: 'x' }], selector: [] } },
      { ...base, kind: 'DestinationRule', spec: { trafficPolicy: { portLevelSettings: [null, { tls: { mode: 'SIMPLE' } }] } } },
      { ...base, kind: 'ServiceEntry', spec: null },
      { ...base, kind: 'Sidecar', spec: undefined },
      { ...base, kind: 'Secret', spec: { data: { 'tls.crt': 5 } } },
    ] as unknown as Parameters<typeof analyze>[0];
    expect(() => analyze(odd, { defaultNamespace: 'default' })).not.toThrow();
  });
});
