import type { CredentialLookup } from '../tls/credentials.js';
import { formatPath, locateField } from '../config/load.js';
import type { Problem } from '../config/problems.js';
import type { FieldPath } from '../config/source.js';
import type { ConfigObject, DestinationRuleSpec, VirtualServiceSpec } from '../config/types.js';
import type { Registry } from '../registry/registry.js';
import type { CompileCache } from './compile-cache.js';
import type { ClusterConfig, ForwardAction } from './snapshot.js';

/** What the compile steps share while one Snapshot is built. */
export interface CompileContext {
  registry: Registry;
  /** Where this gateway's proxy runs: what is exported elsewhere is not seen. */
  proxyNamespace: string;
  problems: Problem[];
  clusters: Map<string, ClusterConfig>;
  destinationRules: ConfigObject<DestinationRuleSpec>[];
  virtualServices: ConfigObject<VirtualServiceSpec>[];
  /** Problems already reported, so a rule compiled for several listeners is reported once. */
  reported: Set<string>;
  /**
   * This compile's number: a VirtualService some listener compiled carries it (DerivedFacts.compiledIn).
   * A Set of 30,000 objects cost a reload more than the marks.
   */
  compileStamp: number;
  /** Certificate material read before compiling (Gateway servers, DestinationRule tls). */
  credentials?: CredentialLookup;
  /** Addresses each ServiceEntry declares itself (endpoints, addresses), by `ServiceEntry ns/name`. */
  declaredAddresses?: ReadonlyMap<string, ReadonlySet<string>>;
  /** Routes kept from the previous compile (compile-cache.ts). */
  cache?: CompileCache;
  /** Forward actions to one destination without header edits, shared by every route to it. */
  plainForwards?: Map<string, ForwardAction>;
  /** Some VirtualService delegates: its routes depend on others than itself. */
  anyDelegates?: boolean;
  /** While one VirtualService is compiled for the cache: the clusters it names. */
  clustersNamed?: Set<string>;
  /** While one VirtualService is compiled for the cache: the keys of the problems it reports. */
  reportedLog?: string[];
  /** CompileOptions.problemsOnly: routes are resolved for their problems, not built. */
  problemsOnly?: boolean;
  /** One-cluster lists of kept route entries, shared by the VirtualServices that name only that cluster. */
  oneClusterLists?: Map<ClusterConfig, ClusterConfig[]>;
}

/** An error confined to one Gateway server: reported, and the server left out, the rest served. */
export function isolatedError(ctx: CompileContext, obj: ConfigObject, field: FieldPath, message: string): void {
  const key = `${obj.ref}|${field.join('.')}|${message}`;
  if (ctx.reported.has(key)) return;
  ctx.reported.add(key);
  ctx.reportedLog?.push(key);
  ctx.problems.push({ severity: 'error', isolated: true, ...locateField(obj, field), object: obj.ref, field: formatPath([...obj.specPath, ...field]), message });
}

export function warn(ctx: CompileContext, obj: ConfigObject, field: FieldPath, message: string): void {
  const key = `${obj.ref}|${field.join('.')}|${message}`;
  if (ctx.reported.has(key)) return;
  ctx.reported.add(key);
  ctx.reportedLog?.push(key);
  ctx.problems.push({ severity: 'warning', ...locateField(obj, field), object: obj.ref, field: formatPath([...obj.specPath, ...field]), message });
}
