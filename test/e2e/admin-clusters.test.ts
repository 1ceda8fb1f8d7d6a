import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, startGateway, staticService, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Admin GET /clusters: each cluster's endpoints as balancing sees them now, so an operator can
// tell an ejected endpoint from a quiet one.

interface ClusterView {
  name: string;
  requestsActive: number;
  endpoints: { address: string; health: string; ejections?: number; consecutive5xx: number }[];
}

describe('admin /clusters', () => {
  let good: Upstream;
  let bad: http.Server;
  let badPort: number;
  let gw: TestGateway;

  beforeAll(async () => {
    good = await startUpstream({ name: 'good' });
    bad = http.createServer((_req, res) => {
      res.statusCode = 500;
      res.end('broken');
    });
    await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
    badPort = (bad.address() as { port: number }).port;
    gw = await startGateway({
      'gw.yaml': GATEWAY_ANY_HOST,
      'svc.yaml': staticService('svc.test', [good.port, badPort]),
      'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ route: [{ destination: { host: 'svc.test' } }] }]),
      'dr.yaml': `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc, namespace: default}
spec:
  host: svc.test
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 2, interval: 10s, baseEjectionTime: 60s, maxEjectionPercent: 100}
`,
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await good?.close();
    bad?.close();
  });

  const clusters = async (): Promise<ClusterView[]> => (await (await fetch(`http://127.0.0.1:${gw.gateway.adminAddress!.port}/clusters`)).json()) as ClusterView[];

  it('/config_dump says which version it is, when it was applied, and where every object was read', async () => {
    const dump = (await (await fetch(`http://127.0.0.1:${gw.gateway.adminAddress!.port}/config_dump`)).json()) as { version: number; builtAt: string; sources: { object: string; file: string; line: number }[] };
    expect(dump.version).toBe(1);
    expect(Date.parse(dump.builtAt)).toBeGreaterThan(0);
    expect(dump.sources).toContainEqual({ object: 'DestinationRule default/svc', file: expect.stringMatching(/dr\.yaml$/), line: 1 });
    expect(dump.sources.map((s) => s.object)).toContain('VirtualService default/app');
  });

  it('/ready says LIVE while serving', async () => {
    const r = await fetch(`http://127.0.0.1:${gw.gateway.adminAddress!.port}/ready`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('LIVE\n');
  });

  it('lists every endpoint healthy before any traffic', async () => {
    const c = (await clusters()).find((x) => x.name === 'outbound|80||svc.test')!;
    expect(c.endpoints.map((e) => e.health)).toEqual(['healthy', 'healthy']);
    expect(c.requestsActive).toBe(0);
  });

  it('shows the endpoint outlier detection ejected, with its ejection count', async () => {
    for (let i = 0; i < 6; i++) await gw.get('app.example.com', '/');
    const c = (await clusters()).find((x) => x.name === 'outbound|80||svc.test')!;
    const byPort = Object.fromEntries(c.endpoints.map((e) => [e.address.split(':')[1], e]));
    expect(byPort[String(badPort)]).toMatchObject({ health: 'ejected', ejections: 1 });
    expect(byPort[String(good.port)]).toMatchObject({ health: 'healthy' });
  });
});
