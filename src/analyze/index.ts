// A pure port of the networking analyzers of `istioctl analyze`: config objects in, messages out.
import type { ConfigObject } from '../config/types.js';
import { createContext, type AnalyzerMessage, type Context, type Path } from './common.js';
import { analyzeCaCertificates } from './destinationrule.js';
import { analyzeConflictingGateways, analyzeDuplicateCertificates, analyzeGatewaySecrets } from './gateway.js';
import { analyzeConflictingProtocols, analyzeProtocolAddresses } from './serviceentry.js';
import { analyzeSidecarSelectors } from './sidecar.js';
import { analyzeUnreachableRules } from './unreachable.js';
import { analyzeDestinationHosts, analyzeDestinationSubsets, analyzeGateways, analyzeMeshGatewayHosts } from './virtualservice.js';

export type { AnalyzerMessage } from './common.js';

export interface AnalyzeOptions {
  defaultNamespace: string;
}

const ANALYZERS: readonly ((ctx: Context) => void)[] = [
  analyzeGateways,
  analyzeDestinationHosts,
  analyzeDestinationSubsets,
  analyzeGatewaySecrets,
  analyzeConflictingGateways,
  analyzeDuplicateCertificates,
  analyzeMeshGatewayHosts,
  analyzeUnreachableRules,
  analyzeCaCertificates,
  analyzeProtocolAddresses,
  analyzeConflictingProtocols,
  analyzeSidecarSelectors,
];

function comparePaths(a: Path, b: Path): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * Runs every analyzer over the objects. Messages come in input order of the object they are
 * about, then by field path; messages on the same field keep the order the analyzers found them.
 */
export function analyze(objects: readonly ConfigObject[], _opts: AnalyzeOptions): AnalyzerMessage[] {
  const valid = objects.filter(
    (o): o is ConfigObject => o !== null && typeof o === 'object' && typeof o.kind === 'string' && typeof o.namespace === 'string' && typeof o.name === 'string',
  );
  const out: AnalyzerMessage[] = [];
  const ctx = createContext(valid, out);
  for (const run of ANALYZERS) {
    try {
      run(ctx);
    } catch {
      // An analyzer that trips over odd input reports what it found so far and no more.
    }
  }
  if (out.length === 0) return out;
  const order = new Map<ConfigObject, number>();
  valid.forEach((o, i) => {
    if (!order.has(o)) order.set(o, i);
  });
  return out
    .map((m, i) => ({ m, i }))
    .sort((a, b) => (order.get(a.m.object)! - order.get(b.m.object)!) || comparePaths(a.m.path, b.m.path) || a.i - b.i)
    .map(({ m }) => m);
}

/** 'https://istio.io/latest/docs/reference/config/analysis/ist0101/' for 'IST0101' */
export function docsUrl(code: string): string {
  return `https://istio.io/latest/docs/reference/config/analysis/${code.toLowerCase()}/`;
}
