import { describe, expect, it } from 'vitest';
import { addVirtualHost, finishWildcards, newTable } from '../../../src/compile/gateway-listener.js';
import type { RouteTable, VirtualHost } from '../../../src/compile/snapshot.js';
import { findVirtualHost } from '../../../src/http/route-lookup.js';
import { seeded } from '../../helpers/seeded.js';

// Many wildcard hosts are indexed; the index must pick what the walk of the longest-first list
// picks (Envoy's order: exact, longest suffix, `*`), for any host.

function table(domains: string[], indexed: boolean): RouteTable {
  const t = newTable('t');
  for (const d of domains) addVirtualHost(t, d, []);
  finishWildcards(t);
  if (!indexed) delete t.wildcardIndex;
  return t;
}

const domainOf = (v: VirtualHost | null) => v?.domain ?? null;

describe('wildcard host index', () => {
  it('is built for many wildcards, not for a few', () => {
    expect(table(['*.a.test', '*.b.test'], true).wildcardIndex).toBeUndefined();
    expect(table(Array.from({ length: 40 }, (_, i) => `*.t${i}.test`), true).wildcardIndex).toBeDefined();
  });

  it('picks what the walk picks: exact, then the longest suffix (label or partial), then *', () => {
    const rand = seeded(99);
    const labels = ['a', 'b', 'api', 'x-api', 'api-x', 'eu', 'example', 'test'];
    const name = (n: number) => Array.from({ length: n }, () => labels[rand(labels.length)]!).join('.');
    const domains = new Set<string>(['*']);
    for (let i = 0; i < 300; i++) {
      const kind = rand(4);
      if (kind === 0) domains.add(name(1 + rand(3)));
      else if (kind === 1) domains.add(`*.${name(1 + rand(3))}`);
      else if (kind === 2) domains.add(`*-${name(1 + rand(3))}`);
      else domains.add(`*${name(1 + rand(2))}`);
    }
    const indexed = table([...domains], true);
    const walked = table([...domains], false);
    expect(indexed.wildcardIndex).toBeDefined();
    for (let i = 0; i < 5000; i++) {
      const host = rand(3) === 0 ? `${labels[rand(labels.length)]}-${name(1 + rand(4))}` : name(1 + rand(5));
      expect({ host, found: domainOf(findVirtualHost(indexed, host)) }).toEqual({ host, found: domainOf(findVirtualHost(walked, host)) });
    }
  });

  it('leaves the wildcards out of /config_dump\'s view of the index', () => {
    const t = table(Array.from({ length: 20 }, (_, i) => `*.t${i}.test`), true);
    expect(JSON.parse(JSON.stringify({ i: t.wildcardIndex }))).toEqual({});
  });
});
