import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../src/config/problems.js';
import { parseConfigTexts } from '../../../src/config/load.js';

/**
 * The YAML of istio.io's traffic-management task pages, byte for byte (see
 * test/fixtures/istio-docs/README.md). Istio's API server accepts every one of these objects, so
 * meshgate must read them all, without an error.
 */
const ROOT = path.resolve(import.meta.dirname, '../../fixtures/istio-docs');

// Per file, the objects it holds, as meshgate names them. Objects without metadata.namespace land in
// `default`; the pages apply some of them with `kubectl -n <ns>`, which the YAML does not say.
const EXPECTED: Record<string, string[]> = {
  'circuit-breaking.yaml': ['DestinationRule default/httpbin'],
  'egress-control.yaml': ['ServiceEntry default/httpbin-ext', 'ServiceEntry default/google', 'VirtualService default/httpbin-ext'],
  'egress-gateway.yaml': [
    'ServiceEntry default/cnn',
    'Gateway default/istio-egressgateway',
    'DestinationRule default/egressgateway-for-cnn',
    'VirtualService default/direct-cnn-through-egress-gateway',
  ],
  'egress-gateway-2.yaml': [
    'ServiceEntry default/cnn',
    'Gateway default/istio-egressgateway',
    'DestinationRule default/egressgateway-for-cnn',
    'VirtualService default/direct-cnn-through-egress-gateway',
  ],
  'egress-gateway-tls-origination.yaml': [
    'ServiceEntry default/cnn',
    'Gateway default/istio-egressgateway',
    'DestinationRule default/egressgateway-for-cnn',
    'VirtualService default/direct-cnn-through-egress-gateway',
    'DestinationRule default/originate-tls-for-edition-cnn-com',
  ],
  'egress-gateway-tls-origination-2.yaml': [
    'Gateway default/istio-egressgateway',
    'DestinationRule default/egressgateway-for-nginx',
    'VirtualService default/direct-nginx-through-egress-gateway',
    'DestinationRule default/originate-mtls-for-nginx',
  ],
  'egress-gateway-tls-origination-sds.yaml': [
    'Gateway default/istio-egressgateway',
    'DestinationRule default/egressgateway-for-nginx',
    'VirtualService default/direct-nginx-through-egress-gateway',
    'DestinationRule default/originate-tls-for-nginx',
  ],
  'egress-gateway-tls-origination-sds-2.yaml': [
    'Gateway default/istio-egressgateway',
    'DestinationRule default/egressgateway-for-nginx',
    'VirtualService default/direct-nginx-through-egress-gateway',
    'DestinationRule default/originate-mtls-for-nginx',
  ],
  'egress-kubernetes-services.yaml': ['DestinationRule default/my-httpbin', 'DestinationRule default/my-wikipedia'],
  'egress-tls-origination.yaml': ['ServiceEntry default/edition-cnn-com', 'VirtualService default/edition-cnn-com'],
  'egress-tls-origination-2.yaml': ['VirtualService default/edition-cnn-com', 'DestinationRule default/edition-cnn-com'],
  'gateway-api-inference-extension.yaml': ['Service inference-model-server/endpoint-picker-svc', 'DestinationRule inference-model-server/endpoint-picker-tls'],
  'ingress-control.yaml': ['Gateway default/httpbin-gateway', 'VirtualService default/httpbin'],
  'ingress-control-2.yaml': ['Gateway default/httpbin-gateway', 'VirtualService default/httpbin'],
  'ingress-sidecar-tls-termination.yaml': ['Sidecar test/ingress-sidecar'],
  'ingress-sni-passthrough.yaml': ['Gateway default/mygateway', 'VirtualService default/nginx'],
  'locality-load-balancing-distribute.yaml': ['DestinationRule default/helloworld'],
  'locality-load-balancing-failover.yaml': ['DestinationRule default/helloworld'],
  'mirroring.yaml': ['VirtualService default/httpbin', 'DestinationRule default/httpbin'],
  'mirroring-2.yaml': ['VirtualService default/httpbin'],
  'request-timeouts.yaml': ['VirtualService default/reviews', 'VirtualService default/ratings'],
  'request-timeouts-2.yaml': ['VirtualService default/reviews'],
  'secure-ingress.yaml': ['Gateway default/mygateway', 'VirtualService default/httpbin'],
  'secure-ingress-2.yaml': ['Gateway default/mygateway', 'VirtualService default/helloworld'],
  'secure-ingress-3.yaml': ['Gateway default/mygateway'],
  'wildcard-egress-hosts.yaml': [
    'ServiceEntry default/wikipedia',
    'Gateway default/istio-egressgateway',
    'DestinationRule default/egressgateway-for-wikipedia',
    'VirtualService default/direct-wikipedia-through-egress-gateway',
    'ServiceEntry default/www-wikipedia',
  ],
};

const NETWORKING_KINDS = new Set(['Gateway', 'VirtualService', 'DestinationRule', 'ServiceEntry', 'Sidecar', 'WorkloadEntry']);

function load(name: string) {
  const file = path.join(ROOT, name);
  const text = readFileSync(file, 'utf8');
  return { text, ...parseConfigTexts([{ file, text }], { defaultNamespace: 'default' }) };
}

describe('istio.io traffic-management task YAML', () => {
  it('every fixture file is listed here', () => {
    const files = readdirSync(ROOT).filter((n) => n.endsWith('.yaml')).sort();
    expect(files).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, refs] of Object.entries(EXPECTED)) {
    it(`${name}: read without error, every object kept`, () => {
      const { text, objects, problems } = load(name);
      expect(problems.filter((p) => p.severity === 'error').map(formatProblem)).toEqual([]);
      expect(objects.map((o) => o.ref)).toEqual(refs);
      // The networking.istio.io documents of the file, counted in its text, are all read.
      const documents = text.match(/^apiVersion: networking\.istio\.io\//gm) ?? [];
      const networking = objects.filter((o) => NETWORKING_KINDS.has(o.kind) && o.apiVersion.startsWith('networking.istio.io/'));
      expect(networking).toHaveLength(documents.length);
    });
  }
});
