import { describe, expect, it } from 'vitest';
import { webhookCheck } from '../../../../src/config/webhook/index.js';

// Istio's webhook checks the metadata of every networking kind before its spec, and stops there
// when an internal annotation is set.

const ctx = (annotations: Record<string, string>) => ({ name: 'x', namespace: 'default', labels: {}, annotations });
// A spec each kind refuses on its own, to show the spec is not looked at.
const badSpecs: Record<string, Record<string, unknown>> = {
  Gateway: { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: [] }] },
  VirtualService: { hosts: ['foo.bar'] },
  DestinationRule: { host: '' },
  ServiceEntry: { hosts: ['*'] },
  Sidecar: { egress: [] },
  WorkloadEntry: { address: 'unix:///sock', ports: { http: 80 } },
};

describe('webhookCheck', () => {
  for (const [kind, spec] of Object.entries(badSpecs)) {
    it(`${kind}: the spec's own errors without internal annotations`, () => {
      expect(webhookCheck(kind, spec, ctx({ 'example.com/owner': 'me', 'istio.io/dry-run': 'true' })).some((f) => f.severity === 'error' && !f.inMetadata)).toBe(true);
    });

    it.each([
      ['internal.istio.io/webhook-always-reject', '"internal.istio.io/webhook-always-reject" annotation found, rejecting'],
      ['internal.istio.io/parent-namespace', '"internal.istio.io/parent-namespace" annotation found, this may not be set by users'],
      ['internal.istio.io/parents', '"internal.istio.io/parents" annotation found, this may not be set by users'],
    ])(`${kind}: %s is refused on metadata.annotations, and nothing else is said`, (key, message) => {
      expect(webhookCheck(kind, spec, ctx({ [key]: 'x' }))).toEqual([{ severity: 'error', path: ['annotations'], message, inMetadata: true }]);
    });
  }

  it('says nothing about kinds the webhook does not check', () => {
    expect(webhookCheck('Service', {}, ctx({ 'internal.istio.io/parents': 'x' }))).toEqual([]);
  });
});
