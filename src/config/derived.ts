import type { ConfigObject } from './types.js';

// One object shape for every object's facts, made with all its fields at once. Facts added
// field by field gave them several shapes, and the first reload's marks then gave 30,000 of
// them a new one each (a map transition and a bigger property store, per object).

export interface DerivedFacts {
  /** A VirtualService's Gateways as `ns/name` (or `mesh`). */
  gateways: readonly string[] | undefined;
  /** A VirtualService's hosts in lower case. */
  lowerHosts: readonly string[] | undefined;
  /** A VirtualService's domains on the server last asked about (`key`: its Gateway and hosts). */
  domains: { key: string; list: readonly string[] } | undefined;
  /** Where the object was written, as a snapshot lists it. */
  source: { object: string; file: string; line: number } | undefined;
  /** A VirtualService's warnings against the Gateways it names, while they say the same (`token`). */
  gatewayFindings: { owner: object; token: number; list: readonly { field: ReadonlyArray<string | number>; message: string }[] } | undefined;
  /**
   * A step's mark on the objects it goes through (CompileCache.nextStamp): in the list now (+n),
   * in the last one too (-n). Each step makes its own n, so steps never read each other's marks.
   */
  mark: number;
  /** The last compile (CompileContext.compileStamp) in which some listener compiled this VirtualService's routes. */
  compiledIn: number;
  /** Whether a VirtualService delegates any of its HTTP routes. */
  delegates: boolean | undefined;
  /** Its compiled routes by scope, kept by a CompileCache (compile/compile-cache.ts). */
  routeMemo: { owner: object; generation: number; scope: string; entry: unknown; more: Map<string, unknown> | undefined } | undefined;
}

/** The object's facts, made on first use. */
export function derivedOf(o: ConfigObject): DerivedFacts {
  return (o.derived ??= { gateways: undefined, lowerHosts: undefined, domains: undefined, source: undefined, gatewayFindings: undefined, mark: 0, compiledIn: 0, delegates: undefined, routeMemo: undefined });
}
