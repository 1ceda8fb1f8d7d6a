import { describe, expect, it } from 'vitest';
import { egressTarget, refusalReason } from '../../../src/compile/egress.js';
import { forbiddenAddress, isLocalAddress } from '../../../src/egress/address-guard.js';
import { connectTarget } from '../../../src/egress/connect-tunnel.js';
import { compileYaml } from '../../helpers/compile.js';

const ENTRIES = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: apps}
spec:
  hosts: [api.external.test]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 443, name: https, protocol: TLS}]
  endpoints: [{address: 127.0.0.1, ports: {https: 9443}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wild, namespace: apps}
spec:
  hosts: ["*.wild.test"]
  location: MESH_EXTERNAL
  resolution: NONE
  ports: [{number: 443, name: https, protocol: TLS}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: other, namespace: elsewhere}
spec:
  hosts: [other.test]
  location: MESH_EXTERNAL
  resolution: NONE
  addresses: [169.254.10.10]
  ports: [{number: 80, name: http, protocol: HTTP}]
`;

function egress(extra = '') {
  return compileYaml(ENTRIES + extra, { meshNamespace: 'apps' }).egress;
}

describe('egress policy: what the forward proxy may reach', () => {
  it('REGISTRY_ONLY by default: declared hosts on declared ports, through their cluster when they have endpoints', () => {
    const p = egress();
    expect(p.mode).toBe('REGISTRY_ONLY');
    expect(egressTarget(p, 'api.external.test', 443)).toMatchObject({ cluster: 'outbound|443||api.external.test', target: { ref: 'ServiceEntry apps/api' } });
    expect(egressTarget(p, 'API.external.test', 443)).not.toBeNull();
    expect(egressTarget(p, 'api.external.test', 80)).toBeNull();
    expect(egressTarget(p, 'undeclared.test', 443)).toBeNull();
  });

  it('a wildcard host takes one or more labels in front of its suffix, by the requested name (no cluster)', () => {
    const p = egress();
    expect(egressTarget(p, 'a.wild.test', 443)).toMatchObject({ cluster: null, target: { host: '*.wild.test' } });
    expect(egressTarget(p, 'a.b.wild.test', 443)).not.toBeNull();
    expect(egressTarget(p, 'wild.test', 443)).toBeNull();
    expect(egressTarget(p, 'evilwild.test', 443)).toBeNull();
  });

  it('each entry lifts the address guard only for the addresses it names itself', () => {
    const p = egress();
    expect([...egressTarget(p, 'api.external.test', 443)!.target.declared]).toEqual(['127.0.0.1']);
    expect([...egressTarget(p, 'other.test', 80)!.target.declared]).toEqual(['169.254.10.10']);
    expect(egressTarget(p, 'a.wild.test', 443)!.target.declared.size).toBe(0);
  });

  it("a Sidecar's egress.hosts narrows what is reachable; its outboundTrafficPolicy sets the mode", () => {
    const p = egress(`---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: apps}
spec:
  egress: [{hosts: ["./api.external.test", "elsewhere/*"]}]
  outboundTrafficPolicy: {mode: ALLOW_ANY}
`);
    expect(p.mode).toBe('ALLOW_ANY');
    expect(p.source).toBe('Sidecar apps/default');
    expect(egressTarget(p, 'api.external.test', 443)).not.toBeNull();
    expect(egressTarget(p, 'other.test', 80)).not.toBeNull();
    expect(egressTarget(p, 'a.wild.test', 443)).toBeNull();
  });

  it('the root namespace Sidecar applies when the namespace has none; one with a workloadSelector does not', () => {
    const root = egress(`---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec:
  outboundTrafficPolicy: {mode: ALLOW_ANY}
`);
    expect(root.mode).toBe('ALLOW_ANY');
    const selected = egress(`---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: one-app, namespace: apps}
spec:
  workloadSelector: {labels: {app: one}}
  outboundTrafficPolicy: {mode: ALLOW_ANY}
`);
    expect(selected.mode).toBe('REGISTRY_ONLY');
  });
});

describe('address guard', () => {
  const none = new Set<string>();
  it('refuses loopback, unspecified, link-local and metadata addresses, IPv4-mapped ones too', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '0.0.0.0', '::1', '::', '169.254.169.254', 'fd00:ec2::254', 'fe80::1', '::ffff:127.0.0.1', '::ffff:169.254.169.254']) {
      expect(forbiddenAddress(a, none), a).not.toBeNull();
    }
    expect(forbiddenAddress('169.254.169.254', none)).toMatch(/link-local/);
    expect(forbiddenAddress('127.0.0.1', none)).toMatch(/this host/);
  });

  it('lets ordinary addresses through, and a forbidden one its ServiceEntry names itself', () => {
    for (const a of ['93.184.216.34', '10.0.0.1', '2606:2800:220:1::1']) expect(forbiddenAddress(a, none), a).toBeNull();
    expect(forbiddenAddress('127.0.0.1', new Set(['127.0.0.1']))).toBeNull();
  });

  it('tells this host from the link-local network', () => {
    expect(isLocalAddress('127.0.0.1')).toBe(true);
    expect(isLocalAddress('::1')).toBe(true);
    expect(isLocalAddress('169.254.169.254')).toBe(false);
    expect(isLocalAddress('10.0.0.1')).toBe(false);
  });
});

describe('CONNECT target', () => {
  it('takes authority-form host:port, IPv6 in brackets', () => {
    expect(connectTarget('api.external.test:443')).toEqual({ host: 'api.external.test', port: 443 });
    expect(connectTarget('[::1]:8443')).toEqual({ host: '::1', port: 8443 });
    expect(connectTarget('API.Example.COM:80')).toEqual({ host: 'api.example.com', port: 80 });
  });

  it('refuses anything else', () => {
    for (const t of ['api.external.test', 'http://a:80', 'a:0', 'a:65536', 'a b:80', '/path', 'user@a:80', '']) expect(connectTarget(t), t).toBeNull();
    expect(connectTarget(undefined)).toBeNull();
  });
});

describe('which chains proxy forward', () => {
  const gw = (name: string, istio: string) => `---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: istio-system}
spec:
  selector: {istio: ${istio}}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;
  const chainOf = (yaml: string) => {
    const snap = compileYaml(ENTRIES + yaml);
    return { chain: snap.listeners.find((l) => l.port === 80)!.chains[0]!, warnings: snap.problems.filter((p) => p.severity === 'warning').map((p) => p.message) };
  };

  it("an egress gateway's port does; an ingress gateway's does not", () => {
    expect(chainOf(gw('istio-egressgateway', 'egressgateway')).chain).toMatchObject({ forwardProxy: true });
    expect(chainOf(gw('public', 'ingressgateway')).chain).toMatchObject({ forwardProxy: false });
  });

  it('a port shared by ingress and egress servers does not, and says so: an ingress server must never become an open proxy', () => {
    const { chain, warnings } = chainOf(gw('istio-egressgateway', 'egressgateway') + gw('public', 'ingressgateway'));
    expect(chain).toMatchObject({ forwardProxy: false });
    expect(warnings.some((w) => /port 80 also carries ingress servers \(istio-system\/public servers\[0\]\); the forward proxy .* is off on this port/.test(w))).toBe(true);
  });
});

describe('refusal reasons', () => {
  it('say whether the host is undeclared, declared on other ports, or left out by the Sidecar', () => {
    const p = egress(`---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: apps}
spec:
  egress: [{hosts: ["./api.external.test"]}]
`);
    expect(refusalReason(p, 'nowhere.test', 443)).toBe('no ServiceEntry declares nowhere.test port 443 (outbound policy REGISTRY_ONLY, Sidecar apps/default)');
    expect(refusalReason(p, 'api.external.test', 80)).toBe('ServiceEntry apps/api declares api.external.test on port(s) 443, not 80 (outbound policy REGISTRY_ONLY, Sidecar apps/default)');
    expect(refusalReason(p, 'other.test', 80)).toBe("ServiceEntry elsewhere/other declares other.test, but Sidecar apps/default leaves it out of its egress.hosts");
  });
});
