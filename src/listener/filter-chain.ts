import type { FilterChainConfig } from '../compile/snapshot.js';

/** What is known of a new connection when its filter chain is chosen. */
export interface ConnectionFacts {
  transport: 'raw' | 'tls';
  /** SNI from the ClientHello, when TLS. */
  serverName: string | null;
}

function serverNameMatches(patterns: readonly string[], name: string | null): number {
  // Envoy's filter chain match: an exact server name beats the longest wildcard, which beats none.
  if (patterns.length === 0) return 0;
  if (name === null) return -1;
  let best = -1;
  for (const p of patterns) {
    if (p === name) return Number.MAX_SAFE_INTEGER;
    if (p.startsWith('*.') && name.endsWith(p.slice(1)) && name.length > p.length - 1) best = Math.max(best, p.length);
  }
  return best;
}

/** The chain a connection belongs to, as Envoy picks among filter chains: transport, then the most specific server name. */
export function selectChain(chains: readonly FilterChainConfig[], facts: ConnectionFacts): FilterChainConfig | null {
  let best: FilterChainConfig | null = null;
  let bestScore = -1;
  for (const c of chains) {
    if (c.match.transport !== facts.transport) continue;
    const score = serverNameMatches(c.match.serverNames, facts.serverName);
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}
