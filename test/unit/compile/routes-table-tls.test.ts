import { describe, expect, it } from 'vitest';
import { renderRoutes } from '../../../src/compile/describe.js';
import { serverPem } from '../../helpers/certs.js';
import { compileYaml } from '../../helpers/compile.js';

// `meshgate routes` and /routes: a TLS chain shows its mode and where its certificate came from,
// and an httpsRedirect host shows the redirect instead of routes it never reaches.

describe('route table: TLS servers and httpsRedirect', () => {
  const pem = serverPem(['secure.example.com']);
  const snap = compileYaml(
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [secure.example.com]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [secure.example.com]
    tls: {mode: SIMPLE, credentialName: secure-cred}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [secure.example.com]
  gateways: [gw]
  http:
  - directResponse: {status: 200}
`,
    { tls: { credentials: new Map([['credential:default/secure-cred', { ...pem, ca: null, source: 'tls/secure-cred.crt', files: [] }]]), previous: new Map(), now: Date.now() } },
  );
  const lines = renderRoutes(snap).split('\n');

  it('the plain port answers the redirect, not the routes', () => {
    const l = lines.find((x) => x.startsWith('gateway:80 '))!;
    expect(l).toMatch(/secure\.example\.com\s+any\s+redirect 301 to https:\/\/HOST\/PATH \(server tls\.httpsRedirect\)/);
  });

  it('the TLS chain names its mode and certificate source', () => {
    const l = lines.find((x) => x.startsWith('gateway:443 '))!;
    expect(l).toMatch(/^gateway:443 \(https SIMPLE, tls\/secure-cred\.crt\)\s+secure\.example\.com\s+any\s+direct response 200/);
    expect(renderRoutes(snap)).not.toMatch(/BEGIN/);
  });
});
