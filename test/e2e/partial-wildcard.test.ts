import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, startGateway, staticService, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// A VirtualService host with a partial wildcard (`*-api.example.com`), which Istio accepts and
// Envoy matches as a suffix: it takes any host ending so, and nothing else.

describe('partial wildcard hosts', () => {
  let up: Upstream;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startUpstream({ name: 'api' });
    gw = await startGateway({
      'gw.yaml': GATEWAY_ANY_HOST,
      'svc.yaml': staticService('api.svc', [up.port]),
      'vs.yaml': virtualServiceYaml('api', ['*-api.example.com'], [{ route: [{ destination: { host: 'api.svc' } }] }]),
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('*-api.example.com takes shop-api.example.com; shop.example.com and -api.example.com get 404', async () => {
    expect((await gw.get('shop-api.example.com', '/')).status).toBe(200);
    expect((await gw.get('shop.example.com', '/')).status).toBe(404);
    expect((await gw.get('-api.example.com', '/')).status).toBe(404);
  });
});

// Past 16 wildcard hosts a route table indexes them by suffix instead of walking them
// (compile/suffix-index.ts); through the gateway the answers must stay Envoy's: exact first,
// then the longest suffix (a label one or a partial one), then 404.
describe('many wildcard hosts (the indexed table)', () => {
  let ups: Upstream[];
  let gw: TestGateway;
  const to = (svc: string) => [{ route: [{ destination: { host: svc } }] }];

  beforeAll(async () => {
    ups = await Promise.all(['wide', 'narrow', 'partial', 'exact', 'filler'].map((name) => startUpstream({ name })));
    const [wide, narrow, partial, exact, filler] = ups;
    const fillers = Array.from({ length: 30 }, (_, i) => `*.t${i}.example`);
    gw = await startGateway({
      'gw.yaml': GATEWAY_ANY_HOST,
      'svc.yaml': [
        staticService('wide.svc', [wide!.port]),
        staticService('narrow.svc', [narrow!.port]),
        staticService('partial.svc', [partial!.port]),
        staticService('exact.svc', [exact!.port]),
        staticService('filler.svc', [filler!.port]),
      ].join('\n---\n'),
      'vs.yaml': [
        virtualServiceYaml('wide', ['*.shop.example'], to('wide.svc')),
        virtualServiceYaml('narrow', ['*.eu.shop.example'], to('narrow.svc')),
        virtualServiceYaml('partial', ['*-api.shop.example'], to('partial.svc')),
        virtualServiceYaml('exact', ['cart.eu.shop.example'], to('exact.svc')),
        virtualServiceYaml('filler', fillers, to('filler.svc')),
      ].join('\n---\n'),
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all((ups ?? []).map((u) => u.close()));
  });

  it('routes each host as the walk of the list would', async () => {
    const answers: Record<string, string | number> = {};
    for (const host of ['x.shop.example', 'x.y.eu.shop.example', 'eu.shop.example', 'cart.eu.shop.example', 'pay-api.shop.example', 'a.t17.example', 'b.a.t29.example', 'shop.example', 't17.example', 'nowhere.test']) {
      const r = await gw.get(host, '/');
      answers[host] = r.status === 200 ? String(r.headers['x-upstream']) : r.status;
    }
    expect(answers).toEqual({
      'x.shop.example': 'wide',
      'x.y.eu.shop.example': 'narrow',
      'eu.shop.example': 'wide',
      'cart.eu.shop.example': 'exact',
      'pay-api.shop.example': 'partial',
      'a.t17.example': 'filler',
      'b.a.t29.example': 'filler',
      'shop.example': 404,
      't17.example': 404,
      'nowhere.test': 404,
    });
  });
});
