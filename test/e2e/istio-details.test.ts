import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/compile/compile.js';
import { parseConfigTexts } from '../../src/config/load.js';
import { startGateway, staticService, type TestGateway, GATEWAY_ANY_HOST } from '../helpers/gateway.js';
import { echo } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Smaller points where Istio's translation to Envoy decides the answer, each checked end to end.

const GATEWAY = `${GATEWAY_ANY_HOST}---
`;

let up: Upstream;
let gw: TestGateway;

beforeAll(async () => {
  up = await startUpstream({ name: 'details' });
  gw = await startGateway({
    'gw.yaml': GATEWAY,
    'svc.yaml': staticService('backend.test', [up.port]),
    'vs.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: default}
spec:
  hosts: [details.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /host-set}}]
    headers:
      request:
        set: {host: rewritten.example.com}
    route: [{destination: {host: backend.test}}]
  - route: [{destination: {host: cookie.test}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cookie, namespace: default}
spec:
  host: cookie.test
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: sticky, ttl: 30s}
`,
    'cookie.yaml': staticService('cookie.test', [up.port]),
  });
});

afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

describe('Istio translation details', () => {
  it('a Host set in headers.request is an authority rewrite (the upstream sees one Host, the new one)', async () => {
    const a = await gw.get('details.example.com', '/host-set');
    expect(a.status).toBe(200);
    expect(echo(a).headers.host).toBe('rewritten.example.com');
  });

  it('removing Host, and exponentialDelay, are refused as Istio\'s webhook refuses them', () => {
    const refusal = (http: object) => {
      const text = JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'v', namespace: 'default' }, spec: { hosts: ['d.example.com'], http: [{ ...http, route: [{ destination: { host: 'backend.test' } }] }] } });
      const { objects, problems } = parseConfigTexts([{ file: 'v.yaml', text }], { defaultNamespace: 'default' });
      expect(objects).toEqual([]);
      return problems.map((p) => `${p.severity} ${p.field}: ${p.message}`);
    };
    expect(refusal({ headers: { request: { remove: ['host'] } } })).toEqual(['error spec.http[0].headers.request.remove[0]: invalid header "host": cannot set Host header']);
    expect(refusal({ fault: { delay: { exponentialDelay: '5s', percentage: { value: 100 } } } })).toEqual(['error spec.http[0].fault.delay.exponentialDelay: exponentialDelay not supported yet']);
  });

  it('a generated hash cookie carries no Path when the rule names none (as Envoy writes it)', async () => {
    const a = await gw.get('details.example.com', '/anything');
    expect(a.status).toBe(200);
    const cookie = (a.headers['set-cookie'] as string[])[0]!;
    expect(cookie).toMatch(/^sticky="[0-9a-f]+"; Max-Age=30; HttpOnly$/);
  });
});

describe('outlierDetection.maxEjectionPercent', () => {
  it('0 is proto3\'s unset: Istio keeps its 10 %', () => {
    const { objects, problems } = parseConfigTexts(
      [
        {
          file: 'dr.yaml',
          text: `${staticService('od.test', [9])}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: od, namespace: default}
spec:
  host: od.test
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 1, maxEjectionPercent: 0}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: od, namespace: default}
spec:
  hosts: [od.test]
  http: [{route: [{destination: {host: od.test}}]}]
`,
        },
      ],
      { defaultNamespace: 'default' },
    );
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    const snap = compile(objects, { meshNamespace: 'default' });
    expect(snap.clusters.get('outbound|80||od.test')!.outlier!.maxEjectionPercent).toBe(10);
  });
});
