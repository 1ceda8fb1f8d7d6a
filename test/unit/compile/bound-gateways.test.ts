import { describe, expect, it } from 'vitest';
import { boundGateways, lowerHosts } from '../../../src/compile/gateway-listener.js';
import type { ConfigObject, VirtualServiceSpec } from '../../../src/config/types.js';

const vs = (namespace: string, gateways: string[] | undefined, hosts: string[] = ['a.test']): ConfigObject<VirtualServiceSpec> =>
  ({ kind: 'VirtualService', name: 'v', namespace, spec: { hosts, gateways } }) as unknown as ConfigObject<VirtualServiceSpec>;

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

describe('lowerHosts', () => {
  it('lowers each host, and gives a list already in lower case itself', () => {
    expect(lowerHosts(vs('shop', ['gw'], ['A.Example.COM', 'b.example.com']))).toEqual(['a.example.com', 'b.example.com']);
    const hosts = ['a.example.com', '*.b.example.com'];
    const v = vs('shop', ['gw'], hosts);
    expect(lowerHosts(v)).toBe(hosts);
    expect(lowerHosts(v)).toBe(lowerHosts(v));
    expect(lowerHosts(({ kind: 'VirtualService', name: 'v', namespace: 'shop', spec: {} }) as unknown as ConfigObject<VirtualServiceSpec>)).toEqual([]);
  });
});
