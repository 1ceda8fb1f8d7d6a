import { describe, expect, it } from 'vitest';
import type { FilterChainConfig } from '../../../src/compile/snapshot.js';
import { selectChain } from '../../../src/listener/filter-chain.js';

function chain(name: string, transport: 'raw' | 'tls', serverNames: string[]): FilterChainConfig {
  return { type: 'http', name, listenerKind: 'gateway', port: 443, match: { transport, serverNames }, servers: [], routes: { name, exact: new Map(), wildcards: [], any: null }, tls: null, forwardProxy: false };
}

describe('filter chain selection', () => {
  const chains = [chain('plain', 'raw', []), chain('any-tls', 'tls', []), chain('wild', 'tls', ['*.example.com']), chain('exact', 'tls', ['a.example.com'])];

  it('plain text takes the raw chain', () => {
    expect(selectChain(chains, { transport: 'raw', serverName: null })?.name).toBe('plain');
  });

  it('TLS: an exact server name beats a wildcard, which beats a chain without names', () => {
    expect(selectChain(chains, { transport: 'tls', serverName: 'a.example.com' })?.name).toBe('exact');
    expect(selectChain(chains, { transport: 'tls', serverName: 'b.example.com' })?.name).toBe('wild');
    expect(selectChain(chains, { transport: 'tls', serverName: 'other.org' })?.name).toBe('any-tls');
    expect(selectChain(chains, { transport: 'tls', serverName: null })?.name).toBe('any-tls');
  });

  it('no chain for a connection nothing matches', () => {
    expect(selectChain([chain('exact', 'tls', ['a.example.com'])], { transport: 'tls', serverName: 'b.example.com' })).toBeNull();
    expect(selectChain([chain('plain', 'raw', [])], { transport: 'tls', serverName: 'a' })).toBeNull();
  });
});
