import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, startGateway, staticService, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { echo } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// exportTo decides what the gateway's proxy sees. The Gateway lives in `default`, so the proxy
// runs there: ServiceEntries, Services and DestinationRules not exported to `default` are not
// in its config, and DestinationRules are looked up as Istio does (the proxy's namespace, then
// the service's, then istio-system).

function exported(yaml: string, exportTo: string[]): string {
  return yaml.replace('spec:\n', `spec:\n  exportTo: ${JSON.stringify(exportTo)}\n`);
}

function subsetRule(name: string, ns: string, host: string, version: string, exportTo?: string[]): string {
  return JSON.stringify({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name, namespace: ns },
    spec: { host, ...(exportTo ? { exportTo } : {}), subsets: [{ name: 'pick', labels: { version } }] },
  });
}

const kubeService = (name: string, ns: string, port: number, annotation?: string) => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
${annotation ? `  annotations: {networking.istio.io/exportTo: "${annotation}"}\n` : ''}spec:
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: ${name}, namespace: ${ns}}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: ${port}}]
`;

describe('exportTo: what the gateway proxy sees', () => {
  let a: Upstream;
  let b: Upstream;
  let gw: TestGateway;
  const route = (host: string, subset?: string) => [{ route: [{ destination: { host, ...(subset ? { subset } : {}) } }] }];

  beforeAll(async () => {
    a = await startUpstream({ name: 'a' });
    b = await startUpstream({ name: 'b' });
    const two = (host: string, ns: string) => staticService(host, [a.port, b.port], { namespace: ns, labels: [{ version: 'a' }, { version: 'b' }] });
    gw = await startGateway({
      'gw.yaml': GATEWAY_ANY_HOST,
      'se.yaml': [
        exported(staticService('private.svc', [a.port], { namespace: 'team-a' }), ['.']),
        exported(staticService('shared.svc', [a.port], { namespace: 'team-a' }), ['default']),
        exported(staticService('nobody.svc', [a.port], { namespace: 'team-a' }), ['~']),
        two('both.svc', 'team-a'),
        two('svcns.svc', 'team-a'),
        two('elsewhere.svc', 'team-a'),
        two('private-rule.svc', 'team-a'),
      ].join('---\n'),
      'kube.yaml': kubeService('hidden', 'team-b', a.port, '.') + '---\n' + kubeService('open', 'team-b', a.port, 'default,team-b'),
      'dr.yaml': [
        // both.svc: the proxy's namespace wins over the service's.
        subsetRule('both-in-proxy-ns', 'default', 'both.svc', 'b'),
        subsetRule('both-in-service-ns', 'team-a', 'both.svc', 'a'),
        // svcns.svc: only the service's namespace has one.
        subsetRule('svcns', 'team-a', 'svcns.svc', 'b'),
        // elsewhere.svc: a third namespace is never consulted.
        subsetRule('elsewhere', 'team-c', 'elsewhere.svc', 'b'),
        // private-rule.svc: the service's namespace keeps its rule to itself.
        subsetRule('private-rule', 'team-a', 'private-rule.svc', 'b', ['.']),
      ].join('\n---\n'),
      'vs.yaml': [
        virtualServiceYaml('private', ['private.example.com'], route('private.svc')),
        virtualServiceYaml('shared', ['shared.example.com'], route('shared.svc')),
        virtualServiceYaml('nobody', ['nobody.example.com'], route('nobody.svc')),
        virtualServiceYaml('hidden', ['hidden.example.com'], route('hidden.team-b.svc.cluster.local')),
        virtualServiceYaml('open', ['open.example.com'], route('open.team-b.svc.cluster.local')),
        virtualServiceYaml('both', ['both.example.com'], route('both.svc', 'pick')),
        virtualServiceYaml('svcns', ['svcns.example.com'], route('svcns.svc', 'pick')),
        virtualServiceYaml('elsewhere', ['elsewhere.example.com'], route('elsewhere.svc', 'pick')),
        virtualServiceYaml('private-rule', ['private-rule.example.com'], route('private-rule.svc', 'pick')),
      ].join('\n---\n'),
    }, { keepLog: true });
  });

  afterAll(async () => {
    await gw?.stop();
    await a?.close();
    await b?.close();
  });

  it('a ServiceEntry exported to the proxy namespace is routed; one kept to its own namespace or to no one is a 503', async () => {
    expect((await gw.get('shared.example.com', '/')).status).toBe(200);
    expect((await gw.get('private.example.com', '/')).status).toBe(503);
    expect((await gw.get('nobody.example.com', '/')).status).toBe(503);
  });

  it('a Service follows its networking.istio.io/exportTo annotation', async () => {
    expect((await gw.get('open.example.com', '/')).status).toBe(200);
    expect((await gw.get('hidden.example.com', '/')).status).toBe(503);
  });

  it('DestinationRules: the proxy namespace first, then the service namespace; others never', async () => {
    for (let i = 0; i < 4; i++) {
      expect(echo(await gw.get('both.example.com', '/')).name).toBe('b');
      expect(echo(await gw.get('svcns.example.com', '/')).name).toBe('b');
    }
    // No rule applies, so the subset is undefined: Envoy has no such cluster.
    expect((await gw.get('elsewhere.example.com', '/')).status).toBe(503);
    expect((await gw.get('private-rule.example.com', '/')).status).toBe(503);
  });

  it('says why each hidden host or ignored rule does not apply', () => {
    const log = gw.lines.join("\n");
    expect(log).toMatch(/private\.svc is declared by ServiceEntry team-a\/private-svc, which is not exported to namespace default where this gateway runs/);
    expect(log).toMatch(/hidden\.team-b\.svc\.cluster\.local is declared by Service team-b\/hidden, which is not exported to namespace default/);
    expect(log).toMatch(/DestinationRule team-c\/elsewhere: spec\.exportTo: this rule does not apply to this gateway \(namespace default\)/);
    expect(log).toMatch(/DestinationRule team-a\/both-in-service-ns: spec\.host: another DestinationRule for both\.svc takes precedence \(DestinationRule default\/both-in-proxy-ns\)/);
  });
});
