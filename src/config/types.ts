import type { DerivedFacts } from './derived.js';
import type { SourceDoc } from './source.js';

/** A validated Kubernetes/Istio object, with where it came from. */
export interface ConfigObject<Spec = unknown> {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** metadata.annotations (read for Services' `networking.istio.io/exportTo`). */
  annotations?: Readonly<Record<string, string>>;
  /** The object's payload: `spec` for Istio kinds and Service, the top level for Endpoints and friends. */
  spec: Spec;
  source: SourceDoc;
  /** Path from the document root to this object (non-empty inside a `List`). */
  docPath: ReadonlyArray<string | number>;
  /** Path from the object to its payload: `['spec']` or `[]`. */
  specPath: ReadonlyArray<string | number>;
  /** `Kind namespace/name`, as problems name it. */
  ref: string;
  /** When the object was written: `metadata.creationTimestamp` if present, else its file's mtime. */
  createdMs: number;
  /**
   * What compile works out from the object once and keeps with it, as the object never changes
   * and stays the same object across reloads while its file is unchanged.
   */
  derived: DerivedFacts | undefined;
}

export type Labels = Record<string, string>;

export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface PortSelector {
  number?: number;
}

export interface Destination {
  host: string;
  subset?: string;
  port?: PortSelector;
}

export interface HeaderOperations {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface Percent {
  value?: number;
}

export interface HTTPMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  headers?: Record<string, StringMatch>;
  port?: number;
  sourceLabels?: Labels;
  gateways?: string[];
  queryParams?: Record<string, StringMatch>;
  ignoreUriCase?: boolean;
  withoutHeaders?: Record<string, StringMatch>;
  sourceNamespace?: string;
}

export interface HTTPRouteDestination {
  destination: Destination;
  weight?: number;
  headers?: Headers;
}

export interface HTTPRetry {
  attempts?: number;
  perTryTimeout?: string;
  retryOn?: string;
  retryRemoteLocalities?: boolean;
  backoff?: string;
}

export interface HTTPFaultInjection {
  delay?: { fixedDelay?: string; exponentialDelay?: string; percentage?: Percent; percent?: number };
  abort?: { httpStatus?: number; grpcStatus?: string; http2Error?: string; percentage?: Percent };
}

export interface CorsPolicy {
  allowOrigin?: string[];
  allowOrigins?: StringMatch[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: string;
  allowCredentials?: boolean;
  unmatchedPreflights?: string;
}

export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  route?: HTTPRouteDestination[];
  redirect?: { uri?: string; authority?: string; port?: number; derivePort?: string; scheme?: string; redirectCode?: number };
  directResponse?: { status: number; body?: { string?: string; bytes?: string } };
  delegate?: { name: string; namespace?: string };
  rewrite?: { uri?: string; authority?: string; uriRegexRewrite?: { match: string; rewrite?: string } };
  timeout?: string;
  retries?: HTTPRetry;
  fault?: HTTPFaultInjection;
  mirror?: Destination;
  mirrors?: { destination: Destination; percentage?: Percent }[];
  mirrorPercent?: number;
  mirrorPercentage?: Percent;
  corsPolicy?: CorsPolicy;
  headers?: Headers;
}

export interface VirtualServiceSpec {
  hosts?: string[];
  gateways?: string[];
  http?: HTTPRoute[];
  tls?: unknown[];
  tcp?: unknown[];
  exportTo?: string[];
}

export interface ServerSpec {
  port: { number: number; protocol: string; name?: string; targetPort?: number };
  bind?: string;
  hosts: string[];
  tls?: { httpsRedirect?: boolean; mode?: string; credentialName?: string; [k: string]: unknown };
  name?: string;
}

export interface GatewaySpec {
  servers: ServerSpec[];
  selector?: Labels;
}

export interface ClientTLSSettings {
  mode?: string;
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
}

export interface LoadBalancerSettings {
  simple?: string;
  consistentHash?: {
    httpHeaderName?: string;
    httpCookie?: { name: string; path?: string; ttl?: string };
    useSourceIp?: boolean;
    httpQueryParameterName?: string;
  };
}

export interface ConnectionPoolSettings {
  tcp?: { maxConnections?: number; connectTimeout?: string; idleTimeout?: string; maxConnectionDuration?: string };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
    h2UpgradePolicy?: string;
    useClientProtocol?: boolean;
    maxConcurrentStreams?: number;
  };
}

export interface OutlierDetection {
  consecutiveGatewayErrors?: number;
  consecutive5xxErrors?: number;
  consecutiveErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  portLevelSettings?: (Omit<TrafficPolicy, 'portLevelSettings'> & { port?: PortSelector })[];
}

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: { name: string; labels?: Labels; trafficPolicy?: TrafficPolicy }[];
  exportTo?: string[];
}

export interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Labels;
  network?: string;
  locality?: string;
  weight?: number;
}

export interface ServicePort {
  number: number;
  protocol?: string;
  name?: string;
  targetPort?: number;
}

export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports?: ServicePort[];
  location?: string;
  resolution?: string;
  endpoints?: WorkloadEntrySpec[];
  workloadSelector?: { labels?: Labels };
  exportTo?: string[];
  subjectAltNames?: string[];
}

export interface KubeServiceSpec {
  ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string; appProtocol?: string }[];
  selector?: Labels;
  type?: string;
  externalName?: string;
}

export interface EndpointPort {
  name?: string;
  port: number;
  protocol?: string;
}

export interface EndpointsBody {
  subsets?: {
    addresses?: { ip: string; hostname?: string; targetRef?: { name?: string } }[];
    notReadyAddresses?: { ip: string }[];
    ports?: EndpointPort[];
  }[];
}

export interface EndpointSliceBody {
  addressType: string;
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean }; targetRef?: { name?: string } }[];
  ports?: EndpointPort[];
}

export interface SecretBody {
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
