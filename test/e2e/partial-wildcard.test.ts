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
