import { describe, expect, it } from 'vitest';
import { explain } from '../../../src/compile/explain.js';
import { parseConfigTexts } from '../../../src/config/load.js';
import { compile } from '../../../src/compile/compile.js';

// `explain` walks the compiled config as a request does and says where it falls out.

const YAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["shop.example.com", "api.example.com"]
  - port: {number: 8080, name: http-admin, protocol: HTTP}
    hosts: ["admin.example.com"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: [backend.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: default}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/public]
  http:
  - name: checkout
    match: [{uri: {prefix: /checkout}, method: {exact: POST}}, {uri: {prefix: /cart}, headers: {x-beta: {exact: "1"}}}]
    route: [{destination: {host: backend.internal}}]
  - match: [{uri: {exact: /}}]
    route: [{destination: {host: backend.internal}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.com]
  gateways: [istio-system/private]
  http:
  - route: [{destination: {host: backend.internal}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: admin, namespace: default}
spec:
  hosts: [admin.example.com]
  gateways: [istio-system/public]
  http:
  - route: [{destination: {host: backend.internal}}]
`;

const { objects } = parseConfigTexts([{ file: 'x.yaml', text: YAML, mtimeMs: 1 }], { defaultNamespace: 'default' });
const snap = compile(objects);
const run = (url: string, opts: Parameters<typeof explain>[1] extends infer R ? Partial<R> : never = {}) => explain(snap, { url, ...opts }, objects);

describe('explain', () => {
  it('a routed request: listener, chain, virtual host, the match taken and the destination', () => {
    const e = run('http://shop.example.com/checkout/1', { method: 'post' });
    expect(e.routed).toBe(true);
    expect(e.lines).toEqual([
      'request   POST http://shop.example.com/checkout/1 on gateway port 80',
      'listener  gateway:80, filter chain http.80 (istio-system/public servers[0])',
      'host      shop.example.com → virtual host shop.example.com',
      'route     VirtualService default/shop http[0] (checkout), match prefix /checkout, method exact POST: taken',
      'goes to   backend.internal:80 (1 endpoint), timeout 15s',
    ]);
  });

  it('no route: each route with the condition that failed', () => {
    const e = run('http://shop.example.com/cart', { headers: { 'X-Beta': '2' } });
    expect(e.routed).toBe(false);
    expect(e.lines.slice(3)).toEqual([
      'route     VirtualService default/shop http[0] (checkout), match prefix /checkout, method exact POST | prefix /cart, header x-beta exact 1: not taken, uri "/cart" is not prefix "/checkout"; header x-beta "2" is not exact "1"',
      'route     VirtualService default/shop http[1], match exact /: not taken, uri "/cart" is not exact "/"',
      'route     no route of the virtual host matches',
      'not routed: 404 (NR route_not_found)',
    ]);
  });

  it('a host no VirtualService bound here takes: the hosts here, where else it is served, and the rule bound elsewhere', () => {
    const e = run('http://api.example.com/');
    expect(e.routed).toBe(false);
    expect(e.lines.slice(2)).toEqual([
      'host      no VirtualService bound to istio-system/public servers[0] takes api.example.com (hosts here: shop.example.com)',
      'hint      VirtualService default/api names api.example.com but is bound to istio-system/private',
      'not routed: 404 (NR route_not_found)',
    ]);
    expect(run('http://admin.example.com/').lines[2]).toBe('host      no VirtualService bound to istio-system/public servers[0] takes admin.example.com (hosts here: shop.example.com); admin.example.com is served on gateway:8080');
    expect(run('http://admin.example.com/', { listener: 8080 }).routed).toBe(true);
  });

  it('a port nothing listens on, an https URL on a plain port, a URL that is none', () => {
    expect(run('http://shop.example.com:9999/').lines.slice(1)).toEqual(['listener  no Gateway server listens on port 9999 (served ports: 80, 8080)', 'not routed: connection refused']);
    expect(run('https://shop.example.com/', { listener: 80 }).lines[1]).toBe('listener  gateway:80 has no TLS server: use http://');
    expect(run('shop.example.com/').lines[0]).toMatch(/is not an absolute http:\/\/ or https:\/\/ URL/);
  });
});
