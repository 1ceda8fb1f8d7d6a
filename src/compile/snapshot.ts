import type { Problem } from '../config/problems.js';
import type { Endpoint } from '../registry/registry.js';

/**
 * The compiled, immutable config the data plane reads. Built by `compile()` from validated
 * objects; nothing in it is parsed or compiled again per request. A reload builds a new one and
 * swaps a single reference.
 */
export interface Snapshot {
  version: number;
  builtAt: Date;
  listeners: ListenerConfig[];
  /** Clusters by Istio's name, `outbound|PORT|SUBSET|HOST`. */
  clusters: Map<string, ClusterConfig>;
  problems: Problem[];
}

export type ListenerKind = 'gateway' | 'mesh';

export interface ListenerConfig {
  /** `gateway:80` or `mesh`. */
  name: string;
  kind: ListenerKind;
  /** The Gateway `servers[].port.number` this listener serves (0 for mesh). */
  port: number;
  protocol: 'HTTP';
  /** The Gateways (`ns/name`) that have a server on this port. */
  gateways: string[];
  routes: RouteTable;
}

/** Virtual hosts of one listener, arranged for lookups rather than scans. */
export interface RouteTable {
  name: string;
  exact: Map<string, VirtualHost>;
  /** `*.suffix` hosts, longest suffix first; `suffix` keeps its leading dot. */
  wildcards: { suffix: string; vhost: VirtualHost }[];
  /** The `*` host, if any. */
  any: VirtualHost | null;
}

export interface VirtualHost {
  /** The domain as written after intersecting VirtualService and Gateway hosts. */
  domain: string;
  routes: Route[];
}

/** 0 exact, 1 prefix, 2 regex, 3 present (any value). */
export type MatchKind = 0 | 1 | 2 | 3;

export interface StringMatcher {
  kind: MatchKind;
  value: string;
  re: RegExp | null;
  /** Compare lower-cased (ignoreUriCase). */
  ci: boolean;
}

export interface HeaderMatcher {
  name: string;
  m: StringMatcher;
  /** From `withoutHeaders`: the route matches when this one does not. */
  invert: boolean;
}

export interface CompiledMatch {
  name?: string;
  uri: StringMatcher | null;
  method: StringMatcher | null;
  authority: StringMatcher | null;
  scheme: StringMatcher | null;
  headers: HeaderMatcher[];
  query: { name: string; m: StringMatcher }[];
  /** 0 matches any port. */
  port: number;
}

export interface WeightedDestination {
  cluster: string;
  host: string;
  port: number;
  subset?: string;
  weight: number;
}

export type RouteAction =
  | { type: 'forward'; destinations: WeightedDestination[]; totalWeight: number };

export interface Route {
  /** Where it was written: `VirtualService ns/name`, and its index in `http`. */
  source: string;
  index: number;
  name?: string;
  /** null matches every request. */
  matches: CompiledMatch[] | null;
  action: RouteAction;
  /** 0 disables the timeout. */
  timeoutMs: number;
}

export interface ClusterConfig {
  name: string;
  host: string;
  port: number;
  subset?: string;
  /** How endpoints were found (Endpoints, EndpointSlice, WorkloadEntry, STATIC, DNS, none). */
  discovery: string;
  /** Whether the host is in the service registry at all. */
  known: boolean;
  endpoints: Endpoint[];
  lb: 'ROUND_ROBIN';
}
