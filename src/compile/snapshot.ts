import type { BlockList } from 'node:net';
import type { Problem } from '../config/problems.js';
import type { HttpFilter } from '../http/filters/filter.js';
import type { Endpoint } from '../registry/registry.js';
import type { ServerTlsConfig } from '../tls/server-tls.js';
import type { UpstreamTls } from '../tls/upstream-tls.js';
import type { SuffixIndex } from './suffix-index.js';

/**
 * The compiled, immutable config the data plane reads. Built by `compile()` from validated
 * objects; nothing in it is parsed or compiled again per request. A reload builds a new one and
 * swaps a single reference. What it says is fixed when it is built; a virtual host's route
 * objects are made from it on the first request for that host (routes.ts, KeptVirtualHost) and
 * kept.
 */
export interface Snapshot {
  version: number;
  builtAt: Date;
  listeners: ListenerConfig[];
  /** Clusters by Istio's name, `outbound|PORT|SUBSET|HOST`. */
  clusters: Map<string, ClusterConfig>;
  problems: Problem[];
  /** What the forward proxy (CONNECT, absolute-form) may reach. */
  egress: EgressPolicy;
  /** The objects it was compiled from, and where each was read (for /config_dump). */
  readonly sources: { object: string; file: string; line: number }[];
}

/** Outbound traffic policy for the mesh listener and egress gateways, compiled from the registry and Sidecar. */
export interface EgressPolicy {
  mode: 'REGISTRY_ONLY' | 'ALLOW_ANY';
  exact: Map<string, EgressTarget>;
  /** `*.example.com` hosts, longest suffix first; suffix '' is `*`. */
  wildcards: { suffix: string; target: EgressTarget }[];
  /** Registry hosts the Sidecar's egress.hosts leave out, with the object that declares each. */
  leftOut: Map<string, string>;
  /** The Sidecar that set the mode and hosts, or the default. */
  source: string;
}

export interface EgressTarget {
  host: string;
  /** The object that declares it, `ServiceEntry ns/name`. */
  ref: string;
  /** Declared ports → the cluster with their endpoints, or null: resolve the requested name. */
  ports: Map<number, string | null>;
  /** Addresses its ServiceEntry names itself: loopback or link-local ones are reachable only if listed. */
  declared: ReadonlySet<string>;
}

export type ListenerKind = 'gateway' | 'mesh';

/**
 * One listening port, as an Envoy listener: connections arrive, a filter chain is chosen for
 * each (by SNI and ALPN once TLS arrives; plain-text ports have one), and the chain's terminal
 * handles it.
 */
export interface ListenerConfig {
  /** `gateway:80` or `mesh`. */
  name: string;
  kind: ListenerKind;
  /** The Gateway `servers[].port.number` this listener serves (0 for mesh). */
  port: number;
  /** The Gateways (`ns/name`) that have a server on this port. */
  gateways: string[];
  /** The Gateway servers on this port, each as `ns/name servers[i]`. */
  servers: GatewayServer[];
  chains: FilterChainConfig[];
}

/** A Gateway's `servers[i]`, as the listener serving it knows it. */
export interface GatewayServer {
  /** `ns/name` of the Gateway. */
  gateway: string;
  index: number;
  name?: string;
  port: number;
  protocol: string;
  hosts: string[];
}

/** What a connection must look like for a chain to take it. */
export interface ChainMatch {
  /** `raw`: plain text. `tls`: a TLS ClientHello (SNI and ALPN then choose among chains). */
  transport: 'raw' | 'tls';
  /** SNI names (exact or `*.suffix`); empty matches any. */
  serverNames: string[];
}

/**
 * A filter chain ending in Envoy's HTTP connection manager (HTTP/1.1 and HTTP/2 on the same
 * port), reading the route table of the Gateway servers it carries. Istio merges plain-text
 * servers of one port into one table (`http.80`); TLS servers get a chain and table each.
 */
export interface HttpChainConfig {
  type: 'http';
  /** `http.80`, or `mesh`. */
  name: string;
  listenerKind: ListenerKind;
  port: number;
  match: ChainMatch;
  /** `ns/name servers[i]` of the Gateway servers this chain serves. */
  servers: string[];
  routes: RouteTable;
  /** Terminating TLS server (HTTPS): the certificate and client-certificate policy. Null on plain text. */
  tls: ServerTlsConfig | null;
  /**
   * Takes forward-proxy requests (CONNECT, absolute-form to hosts no route names), gated by the
   * snapshot's egress policy: the mesh listener and egress gateways (selector istio: egressgateway).
   */
  forwardProxy: boolean;
}

/**
 * A filter chain ending in Envoy's TCP proxy: Gateway servers of protocol TCP, TLS servers in
 * PASSTHROUGH (the bytes go on untouched, routed by SNI) or terminating TLS before proxying.
 */
export interface TcpChainConfig {
  type: 'tcp';
  /** `tcp.31400`, `tls.443.NAME.GW.NS` (terminated), `passthrough.443.NAME.GW.NS`. */
  name: string;
  listenerKind: ListenerKind;
  port: number;
  match: ChainMatch;
  servers: string[];
  /** VirtualService `tls` (by SNI) or `tcp` routes, in the order they are tried. */
  routes: TcpRoute[];
  tls: ServerTlsConfig | null;
}

export interface TcpRoute {
  /** `VirtualService ns/name tls[i]` or `tcp[i]`. */
  source: string;
  /** Every SNI name (exact or `*.suffix`) the route's matches take, for display; null: any. */
  sniHosts: string[] | null;
  /** The route takes a connection that meets any of these; null: every connection. */
  matches: TcpMatch[] | null;
  destinations: TcpDestination[];
  totalWeight: number;
}

/** One `match` entry of a tls/tcp route: every condition given must hold. */
export interface TcpMatch {
  sniHosts: string[] | null;
  /** `destinationSubnets`: the address the client connected to. */
  destinationSubnets: Subnets | null;
  /** `sourceSubnet` (tcp routes): the client's address. */
  sourceSubnets: Subnets | null;
}

/** CIDR blocks, compiled once; `cidrs` is what the config said, for display. */
export interface Subnets {
  cidrs: string[];
  list: BlockList;
}

export interface TcpDestination {
  cluster: string;
  host: string;
  port: number;
  weight: number;
}

export type FilterChainConfig = HttpChainConfig | TcpChainConfig;

/** Virtual hosts of one listener, arranged for lookups rather than scans. */
export interface RouteTable {
  name: string;
  exact: ReadonlyMap<string, VirtualHost>;
  /** `*.suffix` hosts, longest suffix first; `suffix` keeps its leading dot. */
  wildcards: { suffix: string; vhost: VirtualHost }[];
  /** The wildcards indexed, when there are enough of them for a walk to cost (suffix-index.ts). */
  wildcardIndex?: SuffixIndex<VirtualHost>;
  /** The `*` host, if any. */
  any: VirtualHost | null;
}

export interface VirtualHost {
  /** The domain as written after intersecting VirtualService and Gateway hosts. */
  domain: string;
  routes: Route[];
  /** Mesh only: the service's ports; a call to another port is outside the registry. */
  ports?: number[];
  /** The host came from a plain-text server with `tls.httpsRedirect`: every request gets 301 to https. */
  requireTls?: boolean;
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

/** Header edits as Envoy applies them: remove, then set (overwrite), then add (append). */
export interface HeaderOps {
  set: [string, string][];
  add: [string, string][];
  remove: string[];
}

export interface WeightedDestination {
  cluster: string;
  host: string;
  port: number;
  subset?: string;
  weight: number;
  /**
   * When the destination names no port and the host has several (the mesh listener), the
   * cluster for each port the request may be addressed to.
   */
  clusterByPort?: Map<number, string>;
  requestHeaders: HeaderOps | null;
  responseHeaders: HeaderOps | null;
}

export interface Redirect {
  /** Replaces the whole path; the query string is kept unless this one has its own. */
  uri?: string;
  authority?: string;
  scheme?: string;
  /** A fixed port, or 'request' (FROM_REQUEST_PORT), or 'default' (FROM_PROTOCOL_DEFAULT). */
  port?: number | 'request' | 'default';
  code: number;
}

export interface Rewrite {
  uri?: string;
  regex?: { re: RegExp; substitution: string };
  authority?: string;
}

export interface RetryPolicy {
  /** Retries after the first try (Istio's `attempts`). */
  retries: number;
  perTryTimeoutMs: number;
  on5xx: boolean;
  onGatewayError: boolean;
  onReset: boolean;
  onConnectFailure: boolean;
  onRefusedStream: boolean;
  onRetriable4xx: boolean;
  statusCodes: number[];
  /** grpc-status codes to retry (cancelled 1, deadline-exceeded 4, resource-exhausted 8, internal 13, unavailable 14). */
  grpcCodes: number[];
  backoffBaseMs: number;
}

export interface FaultPolicy {
  delayMs: number;
  /** 0-100. */
  delayPercent: number;
  abortStatus: number;
  /** `abort.grpcStatus` as its code, when set: the abort is a gRPC trailers-only answer. */
  abortGrpcStatus?: number;
  abortPercent: number;
}

export interface CorsConfig {
  origins: StringMatcher[];
  /** `*` among the legacy allowOrigin entries. */
  anyOrigin: boolean;
  allowMethods: string;
  allowHeaders: string;
  exposeHeaders: string;
  maxAge: string;
  allowCredentials: boolean;
  /** What to do with a preflight from a disallowed origin: pass it upstream, or answer it without CORS headers. */
  unmatchedPreflights: 'forward' | 'ignore';
}

export interface MirrorPolicy {
  cluster: string;
  host: string;
  percent: number;
}

export interface ForwardAction {
  type: 'forward';
  destinations: WeightedDestination[];
  totalWeight: number;
}

export type RouteAction =
  | ForwardAction
  | { type: 'redirect'; redirect: Redirect }
  | { type: 'direct'; status: number; body: Buffer | null };

export interface Route {
  /** Where it was written: `VirtualService ns/name`, and its index in `http`. */
  source: string;
  index: number;
  name?: string;
  /** How the stream record names it: its `name`, else `VirtualService ns/name http[i]`. */
  label: string;
  /** null matches every request. */
  matches: CompiledMatch[] | null;
  action: RouteAction;
  /** 0 disables the timeout. */
  timeoutMs: number;
  rewrite: Rewrite | null;
  requestHeaders: HeaderOps | null;
  responseHeaders: HeaderOps | null;
  retry: RetryPolicy | null;
  fault: FaultPolicy | null;
  cors: CorsConfig | null;
  mirrors: MirrorPolicy[] | null;
  /** The route's HTTP filters in Envoy's order (CORS, fault, header edits, then redirect, direct response or the router), built once. */
  filters: readonly HttpFilter[];
}

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH';

export type HashKey =
  | { type: 'header'; name: string }
  | { type: 'cookie'; name: string; path?: string; ttlSeconds?: number }
  | { type: 'sourceIp' }
  | { type: 'query'; name: string };

export interface PoolLimits {
  /** 0: unlimited (Istio's default). */
  maxConnections: number;
  /** http2MaxRequests: requests in flight, any protocol; 0 unlimited. */
  maxRequests: number;
  /** HTTP/2 streams per connection (maxConcurrentStreams); 0: what the server allows. */
  maxConcurrentStreams: number;
  maxPendingRequests: number;
  maxRequestsPerConnection: number;
  maxRetries: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface OutlierPolicy {
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
  minHealthPercent: number;
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
  /**
   * HTTP/2 (h2c) when the port's protocol is GRPC or HTTP2, or a DestinationRule asks for
   * h2UpgradePolicy UPGRADE; HTTP/1.1 otherwise.
   */
  protocol: 'http1' | 'http2';
  endpoints: Endpoint[];
  lb: LbPolicy;
  hash: HashKey | null;
  pool: PoolLimits;
  outlier: OutlierPolicy | null;
  /** The DestinationRule that shaped it, if any. */
  policyFrom?: string;
  /** TLS toward the endpoints (DestinationRule tls SIMPLE/MUTUAL); null: plain text. */
  tls: UpstreamTls | null;
  /**
   * For an external host found by DNS: the addresses ServiceEntries declare. A name resolving to
   * a loopback or link-local address not in this list gets no endpoint there (SSRF guard).
   */
  addressGuard?: ReadonlySet<string>;
}
