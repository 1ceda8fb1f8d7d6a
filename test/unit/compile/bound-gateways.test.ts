import { describe, expect, it } from 'vitest';
import { boundGateways } from '../../../src/compile/gateway-listener.js';
import type { ConfigObject, VirtualServiceSpec } from '../../../src/config/types.js';

const vs = (namespace: string, gateways: string[] | undefined): ConfigObject<VirtualServiceSpec> =>
  ({ kind: 'VirtualService', name: 'v', namespace, spec: { hosts: ['a.test'], gateways } }) as unknown as ConfigObject<VirtualServiceSpec>;

describe('boundGateways', () => {
  it('qualifies each name as Istio does', () => {
    expect(boundGateways(vs('shop', undefined))).toEqual(['mesh']);
    expect(boundGateways(vs('shop', []))).toEqual(['mesh']);
    expect(boundGateways(vs('shop', ['gw']))).toEqual(['shop/gw']);
    expect(boundGateways(vs('shop', ['edge/gw']))).toEqual(['edge/gw']);
    expect(boundGateways(vs('shop', ['gw.edge.svc.cluster.local']))).toEqual(['edge/gw']);
    expect(boundGateways(vs('shop', ['mesh']))).toEqual(['mesh']);
    expect(boundGateways(vs('shop', ['gw', 'mesh', 'edge/other']))).toEqual(['shop/gw', 'mesh', 'edge/other']);
  });

  it('gives VirtualServices of one namespace naming one Gateway the same list, and others their own', () => {
    const a = boundGateways(vs('shop', ['gw']));
    expect(boundGateways(vs('shop', ['gw']))).toBe(a);
    expect(boundGateways(vs('other', ['gw']))).toEqual(['other/gw']);
    expect(boundGateways(vs('shop', ['gw2']))).toEqual(['shop/gw2']);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('stays right past the bound on names kept', () => {
    for (let i = 0; i < 5000; i++) expect(boundGateways(vs(`ns-${i % 7}`, [`gw-${i}`]))).toEqual([`ns-${i % 7}/gw-${i}`]);
    expect(boundGateways(vs('shop', ['gw']))).toEqual(['shop/gw']);
  });
});
