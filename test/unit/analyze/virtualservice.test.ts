import { describe, expect, it } from 'vitest';
import { docsUrl } from '../../../src/analyze/index.js';
import { analyzeYaml, withCode } from '../../helpers/analyze.js';


const GATEWAY = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: web, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["*.example.com"]
`;

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  ports: [{ name: http, port: 9080 }]
---
apiVersion: v1
kind: Service
metadata: { name: multi, namespace: default }
spec:
  ports: [{ name: http, port: 80 }, { name: admin, port: 8080 }]
`;

function vs(spec: string, name = 'v', namespace = 'default'): string {
  return `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${namespace} }
spec:
${spec}`;
}

describe('docsUrl', () => {
  it('points at the analysis reference page', () => {
    expect(docsUrl('IST0101')).toBe('https://istio.io/latest/docs/reference/config/analysis/ist0101/');
  });
});

describe('virtualservice gateways', () => {
  it('IST0101 and IST0132 for a missing gateway', () => {
    const msgs = analyzeYaml(`${GATEWAY}
---
${vs(`
  hosts: [a.example.com]
  gateways: [web, bogus-gateway]
  http: [{ route: [{ destination: { host: reviews } }] }]`)}
---
${SERVICES}`);
    expect(withCode(msgs, 'IST0101')).toEqual([
      { code: 'IST0101', name: 'ReferencedResourceNotFound', level: 'error', ref: 'VirtualService default/v', path: ['spec', 'gateways', 1], message: 'Referenced gateway not found: "bogus-gateway"' },
    ]);
    expect(withCode(msgs, 'IST0132')).toEqual([
      {
        code: 'IST0132',
        name: 'VirtualServiceHostNotFoundInGateway',
        level: 'warning',
        ref: 'VirtualService default/v',
        path: ['spec', 'gateways', 1],
        message: 'one or more host [a.example.com] defined in VirtualService default/v not found in Gateway default/bogus-gateway.',
      },
    ]);
  });

  it('IST0132 when the gateway does not serve the host', () => {
    const msgs = analyzeYaml(`${GATEWAY}
---
${vs(`
  hosts: [shop.other.org]
  gateways: [default/web]
  http: [{ route: [{ destination: { host: reviews } }] }]`)}
---
${SERVICES}`);
    expect(withCode(msgs, 'IST0101')).toEqual([]);
    expect(withCode(msgs, 'IST0132').map((m) => m.message)).toEqual([
      'one or more host [shop.other.org] defined in VirtualService default/v not found in Gateway default/web.',
    ]);
  });

  it('silent for an existing gateway (short or namespaced name) whose hosts match, and for mesh', () => {
    const msgs = analyzeYaml(`${GATEWAY}
---
${vs(`
  hosts: [a.example.com]
  gateways: [web, default/web, mesh]
  http: [{ route: [{ destination: { host: reviews } }] }]`)}
---
${SERVICES}`);
    expect(msgs.filter((m) => m.code === 'IST0101' || m.code === 'IST0132')).toEqual([]);
  });

  it('honours namespace-scoped gateway hosts', () => {
    const gw = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: edge }
spec:
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["team/*"]
`;
    const route = `
  hosts: [a.example.com]
  gateways: [edge/gw]
  http: [{ route: [{ destination: { host: a.example.com } }] }]`;
    const se = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: a, namespace: edge }
spec:
  hosts: [a.example.com]
  ports: [{ number: 80, name: http, protocol: HTTP }]
`;
    expect(withCode(analyzeYaml(`${gw}
---
${se}
---
${vs(route, 'v', 'team')}`), 'IST0132')).toEqual([]);
    expect(withCode(analyzeYaml(`${gw}
---
${se}
---
${vs(route, 'v', 'other')}`), 'IST0132')).toHaveLength(1);
  });
});

describe('virtualservice destination hosts', () => {
  it('IST0101 for an unknown destination and mirror host', () => {
    const msgs = analyzeYaml(`${vs(`
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews }
      weight: 50
    - destination: { host: bogus }
      weight: 50
    mirror: { host: nowhere }`)}
---
${SERVICES}`);
    expect(withCode(msgs, 'IST0101')).toEqual([
      { code: 'IST0101', name: 'ReferencedResourceNotFound', level: 'error', ref: 'VirtualService default/v', path: ['spec', 'http', 0, 'mirror', 'host'], message: 'Referenced mirror host not found: "nowhere"' },
      { code: 'IST0101', name: 'ReferencedResourceNotFound', level: 'error', ref: 'VirtualService default/v', path: ['spec', 'http', 0, 'route', 1, 'destination', 'host'], message: 'Referenced host not found: "bogus"' },
    ]);
  });

  it('IST0101 for a port the service does not expose', () => {
    const msgs = analyzeYaml(`${vs(`
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews, port: { number: 9999 } } }] }]`)}
---
${SERVICES}`);
    expect(withCode(msgs, 'IST0101').map((m) => [m.path, m.message])).toEqual([
      [['spec', 'http', 0, 'route', 0, 'destination', 'port', 'number'], 'Referenced host:port not found: "reviews:9999"'],
    ]);
  });

  it('IST0112 when a multi-port service is routed to without a port', () => {
    const msgs = analyzeYaml(`${vs(`
  hosts: [multi]
  http: [{ route: [{ destination: { host: multi } }] }]`)}
---
${SERVICES}`);
    expect(withCode(msgs, 'IST0112')).toEqual([
      {
        code: 'IST0112',
        name: 'VirtualServiceDestinationPortSelectorRequired',
        level: 'error',
        ref: 'VirtualService default/v',
        path: ['spec', 'http', 0, 'route', 0, 'destination', 'host'],
        message: 'This VirtualService routes to a service "multi" that exposes multiple ports [80 8080]. Specifying a port in the destination is required to disambiguate.',
      },
    ]);
  });

  it('silent for known hosts: Services (short and FQDN), wildcard ServiceEntries, explicit ports', () => {
    const msgs = analyzeYaml(`${vs(`
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews }
      weight: 25
    - destination: { host: reviews.default.svc.cluster.local }
      weight: 25
    - destination: { host: multi, port: { number: 8080 } }
      weight: 25
    - destination: { host: api.example.com }
      weight: 25
  tcp:
  - route: [{ destination: { host: reviews, port: { number: 9080 } } }]`)}
---
${SERVICES}
---

apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: default }
spec:
  hosts: ["*.example.com"]
  ports: [{ number: 443, name: https, protocol: HTTPS }]
`);
    expect(msgs.filter((m) => m.code === 'IST0101' || m.code === 'IST0112')).toEqual([]);
  });

  it("a ServiceEntry exported only to its own namespace is not visible from another", () => {
    const se = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: a }
spec:
  hosts: [api.example.com]
  exportTo: ["."]
  ports: [{ number: 443, name: https, protocol: HTTPS }]
`;
    const route = `
  hosts: [x.example.org]
  http: [{ route: [{ destination: { host: api.example.com } }] }]`;
    expect(withCode(analyzeYaml(`${se}
---
${vs(route, 'v', 'a')}`), 'IST0101')).toEqual([]);
    expect(withCode(analyzeYaml(`${se}
---
${vs(route, 'v', 'b')}`), 'IST0101').map((m) => m.message)).toEqual(['Referenced host not found: "api.example.com"']);
  });
});

describe('virtualservice destinations: wildcard ServiceEntries by scope', () => {
  const se = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: a }
spec:
  hosts: ["*.example.com"]
  exportTo: ["."]
  ports: [{ number: 443, name: https, protocol: HTTPS }]
`;
  const route = `
  hosts: [x.example.org]
  http: [{ route: [{ destination: { host: api.example.com }, weight: 50 }, { destination: { host: api.example.net }, weight: 50 }] }]`;

  it('a wildcard ServiceEntry exported to its own namespace takes destinations there, not in another', () => {
    const notFound = (ns: string) => withCode(analyzeYaml(`${se}\n---\n${vs(route, 'v', ns)}`), 'IST0101').map((m) => m.message);
    expect(notFound('a')).toEqual(['Referenced host not found: "api.example.net"']);
    expect(notFound('b')).toEqual(['Referenced host not found: "api.example.com"', 'Referenced host not found: "api.example.net"']);
  });
});

describe('virtualservice destinations: a wildcard host written as the destination', () => {
  it('is found as written, before a wider wildcard that covers it, with its own ports; and through exportTo', () => {
    const se = (name: string, ns: string, host: string, port: number, exportTo = '') => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${ns} }
spec:
  hosts: ["${host}"]
${exportTo}  ports: [{ number: ${port}, name: p${port}, protocol: HTTPS }]
`;
    const route = `
  hosts: [x.example.org]
  http: [{ route: [{ destination: { host: "*.example.com", port: { number: 443 } } }] }]`;
    expect(withCode(analyzeYaml(`${se('broad', 'default', '*.com', 80)}---${se('narrow', 'default', '*.example.com', 443)}---\n${vs(route)}`), 'IST0101')).toEqual([]);
    expect(withCode(analyzeYaml(`${se('narrow', 'ns2', '*.example.com', 443, '  exportTo: [ns2]\n')}---\n${vs(`${route}\n  exportTo: [ns2, "."]`, 'v', 'a')}`), 'IST0101')).toEqual([]);
  });
});

describe('virtualservice destination subsets', () => {
  const DR = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }]
`;
  it('IST0101 for a subset no DestinationRule defines', () => {
    const msgs = analyzeYaml(`${DR}
---
${SERVICES}
---
${vs(`
  hosts: [reviews]
  http:
  - route: [{ destination: { host: reviews, subset: v1 }, weight: 50 }, { destination: { host: reviews, subset: v9 }, weight: 50 }]`)}`);
    expect(withCode(msgs, 'IST0101')).toEqual([
      {
        code: 'IST0101',
        name: 'ReferencedResourceNotFound',
        level: 'error',
        ref: 'VirtualService default/v',
        path: ['spec', 'http', 0, 'route', 1, 'destination', 'subset'],
        message: 'Referenced host+subset in destinationrule not found: "reviews+v9"',
      },
    ]);
  });

  it('silent when the subset exists (short host against FQDN rule)', () => {
    const msgs = analyzeYaml(`${DR}
---
${SERVICES}
---
${vs(`
  hosts: [reviews]
  http:
  - route: [{ destination: { host: reviews.default.svc.cluster.local, subset: v1 } }]`)}`);
    expect(withCode(msgs, 'IST0101')).toEqual([]);
  });
});

describe('virtualservice hosts on the mesh gateway', () => {
  const route = `
  hosts: [reviews]
  http: [{ route: [{ destination: { host: reviews } }] }]`;
  it('IST0109 for two mesh VirtualServices with the same host', () => {
    const msgs = analyzeYaml(`${SERVICES}
---
${vs(route, 'one')}
---
${vs(route, 'two')}`);
    const expected = 'The VirtualServices default/one,default/two associated with mesh gateway define the same host */reviews.default.svc.cluster.local which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.';
    expect(withCode(msgs, 'IST0109')).toEqual([
      { code: 'IST0109', name: 'ConflictingMeshGatewayVirtualServiceHosts', level: 'error', ref: 'VirtualService default/one', path: [], message: expected },
      { code: 'IST0109', name: 'ConflictingMeshGatewayVirtualServiceHosts', level: 'error', ref: 'VirtualService default/two', path: [], message: expected },
    ]);
  });

  it('silent when one of them is bound to an ingress gateway only', () => {
    const msgs = analyzeYaml(`${SERVICES}
---
${GATEWAY}
---
${vs(route, 'one')}
---
${vs(`
  hosts: [reviews]
  gateways: [web]
  http: [{ route: [{ destination: { host: reviews } }] }]`, 'two')}`);
    expect(withCode(msgs, 'IST0109')).toEqual([]);
  });
});
