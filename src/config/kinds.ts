import { compileRe2 } from '../compile/regex.js';
import { GRPC_CODES, grpcCode } from './grpc-status.js';
import type { CrdSchema } from './crd.js';
import { CRD_SPECS } from './crd-schema.gen.js';
import { S, type Schema, type ObjectSchema } from './schema.js';
import { memoByText } from './memo.js';
import { isHostName } from './host-name.js';

// Field lists follow istio/api networking/v1alpha3/*.proto (the same in v1beta1 and v1) and the
// Kubernetes core/discovery APIs. Closed objects reject unknown fields, as kubectl's strict
// validation does, so a typo such as `prefx` is an error instead of a silently ignored rule.

const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// The last host found good: routes name the same destination host one after another.
let lastGoodHost: string | undefined;

export function checkHost(h: string): string | undefined {
  if (h === lastGoodHost) return undefined;
  if (h.includes('/')) return `${JSON.stringify(h)} is not a host: the "namespace/host" form is only for Gateway servers and Sidecar egress`;
  if (!isHostName(h)) return `${JSON.stringify(h)} is not a valid host: use a DNS name, "*.suffix" or "*"`;
  lastGoodHost = h;
  return undefined;
}

function checkGatewayHost(h: string): string | undefined {
  const slash = h.indexOf('/');
  if (slash < 0) return checkHost(h);
  const ns = h.slice(0, slash);
  if (ns !== '*' && ns !== '.' && ns !== '~' && !NAMESPACE_NAME.test(ns)) {
    return `${JSON.stringify(ns)} is not a namespace: write "namespace/host", "./host" or "*/host"`;
  }
  return checkHost(h.slice(slash + 1));
}

// Istio's protocol names (pkg/config/protocol); an empty one means "sniff", where Istio allows it.
const PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'HTTP_PROXY', 'MONGO', 'TCP', 'TLS', 'UDP', 'REDIS', 'MYSQL', 'THRIFT'];
const protocol = S.str({ check: (v) => (v === '' || PROTOCOLS.includes(v.toUpperCase()) ? undefined : `${JSON.stringify(v)} is not a protocol: use one of ${PROTOCOLS.join(', ')}`) });

const RETRY_CONDITIONS = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx',
  'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
];
// Routes repeat the same few retryOn texts: each is read once.
const checkRetryOn = memoByText(retryOnProblem);

function retryOnProblem(v: string): string | undefined {
  for (const raw of v.split(',')) {
    const c = raw.trim();
    if (c === '') continue;
    if (/^\d{3}$/.test(c)) continue;
    if (!RETRY_CONDITIONS.includes(c)) return `retry condition ${JSON.stringify(c)} is unknown: use ${RETRY_CONDITIONS.slice(0, 9).join(', ')} or an HTTP status code`;
  }
  return undefined;
}

const port = S.int(1, 65535);
const labels = S.map(S.str());
function checkRegex(v: string): string | undefined {
  const r = compileRe2(v);
  return r.ok ? undefined : r.error;
}
const regex = S.str({ check: checkRegex });
const stringMatch = S.obj({ exact: S.str(), prefix: S.str(), regex }, { oneOf: [['exact', 'prefix', 'regex']] });
const percent = S.obj({ value: S.num(0, 100) });
// Envoy refuses NUL, CR and LF in configured header values (they would split the header); other
// bytes, UTF-8 included, are sent as they are.
export function checkHeaderValue(v: string): string | undefined {
  const bad = /[\0\r\n]/.exec(v);
  if (bad === null) return undefined;
  const name = bad[0] === '\0' ? 'NUL' : bad[0] === '\r' ? 'CR (\\r)' : 'LF (\\n)';
  return `${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)} contains ${name}, which would split the header; header values cannot hold NUL, CR or LF`;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function checkHeaderName(v: string): string | undefined {
  return TOKEN.test(v) ? undefined : `${JSON.stringify(v)} is not a header name: use letters, digits and !#$%&'*+-.^_\`|~, nothing else (no spaces or colons)`;
}

/** A path or authority written into a request line or Host: no whitespace or control characters. */
function checkNoWhitespace(what: string): (v: string) => string | undefined {
  return (v) => (/[\x00-\x20\x7f]/.test(v) ? `${JSON.stringify(v)}: ${what} cannot contain spaces or control characters (percent-encode them, e.g. %20)` : undefined);
}
const headerValue = S.str({ check: checkHeaderValue });
const pathValue = S.str({ check: checkNoWhitespace('a path') });
const authorityValue = S.str({ check: checkNoWhitespace('an authority') });

const headerOps = S.obj({
  set: S.map(headerValue, checkHeaderName),
  add: S.map(headerValue, checkHeaderName),
  remove: S.arr(S.str({ check: checkHeaderName })),
});
const headers = S.obj({ request: headerOps, response: headerOps });
const portSelector = S.obj({ number: port });
const destination = S.obj({ host: S.str({ check: checkHost }), subset: S.str(), port: portSelector }, { required: ['host'] });

const httpMatch = S.obj({
  name: S.str(),
  uri: stringMatch,
  scheme: stringMatch,
  method: stringMatch,
  authority: stringMatch,
  headers: S.map(stringMatch),
  port,
  sourceLabels: labels,
  gateways: S.arr(S.str()),
  queryParams: S.map(stringMatch),
  ignoreUriCase: S.bool(),
  withoutHeaders: S.map(stringMatch),
  sourceNamespace: S.str(),
  statPrefix: S.str(),
});

const httpRoute = S.obj(
  {
    name: S.str(),
    match: S.arr(httpMatch),
    route: S.arr(S.obj({ destination, weight: S.int(0), headers }, { required: ['destination'] })),
    redirect: S.obj({
      uri: pathValue,
      authority: authorityValue,
      port,
      derivePort: S.str({ enum: ['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'] }),
      scheme: S.str({ check: (v) => (/^[a-z][a-z0-9+.-]*$/i.test(v) ? undefined : `${JSON.stringify(v)} is not a URL scheme (http, https, ...)`) }),
      redirectCode: S.int(300, 399),
    }, { oneOf: [['port', 'derivePort']] }),
    directResponse: S.obj({ status: S.int(200, 599), body: S.obj({ string: S.str(), bytes: S.str() }, { oneOf: [['string', 'bytes']] }) }, { required: ['status'] }),
    delegate: S.obj({ name: S.str(), namespace: S.str() }, { required: ['name'] }),
    rewrite: S.obj({ uri: pathValue, authority: authorityValue, uriRegexRewrite: S.obj({ match: regex, rewrite: pathValue }, { required: ['match'] }) }, { oneOf: [['uri', 'uriRegexRewrite']] }),
    timeout: S.duration(),
    retries: S.obj({
      attempts: S.int(0),
      perTryTimeout: S.duration(1),
      retryOn: S.str({ check: checkRetryOn }),
      retryRemoteLocalities: S.bool(),
      retryIgnorePreviousHosts: S.bool(),
      backoff: S.duration(1),
    }),
    fault: S.obj({
      delay: S.obj({ fixedDelay: S.duration(1), exponentialDelay: S.duration(1), percentage: percent, percent: S.int(0, 100) }, { exactlyOne: ['fixedDelay', 'exponentialDelay'] }),
      abort: S.obj({ httpStatus: S.int(200, 599), grpcStatus: S.str({ check: (v) => (grpcCode(v) === null ? `${JSON.stringify(v)} is not a gRPC status: use a name (${Object.keys(GRPC_CODES).join(', ')}) or a number 0-16` : undefined) }), http2Error: S.str(), percentage: percent }, { exactlyOne: ['httpStatus', 'grpcStatus', 'http2Error'] }),
    }),
    mirror: destination,
    mirrors: S.arr(S.obj({ destination, percentage: percent }, { required: ['destination'] })),
    mirrorPercent: S.int(0, 100),
    mirrorPercentage: percent,
    corsPolicy: S.obj({
      allowOrigin: S.arr(headerValue),
      allowOrigins: S.arr(stringMatch),
      allowMethods: S.arr(headerValue),
      allowHeaders: S.arr(headerValue),
      exposeHeaders: S.arr(headerValue),
      maxAge: S.duration(),
      allowCredentials: S.bool(),
      unmatchedPreflights: S.str({ enum: ['UNSPECIFIED', 'FORWARD', 'IGNORE'] }),
    }),
    headers,
  },
  {
    oneOf: [['route', 'redirect', 'directResponse', 'delegate']],
    check: (r) => {
      if (r.route === undefined && r.redirect === undefined && r.directResponse === undefined && r.delegate === undefined) {
        return { message: 'an HTTP route needs one of route, redirect, directResponse or delegate' };
      }
      return undefined;
    },
  },
);

const routeDestination = S.obj({ destination, weight: S.int(0) }, { required: ['destination'] });

const virtualService = S.obj({
  hosts: S.arr(S.str({ check: checkHost })),
  gateways: S.arr(S.str()),
  http: S.arr(httpRoute),
  tls: S.arr(S.obj({
    match: S.arr(S.obj({ sniHosts: S.arr(S.str()), destinationSubnets: S.arr(S.str()), port, sourceLabels: labels, gateways: S.arr(S.str()), sourceNamespace: S.str() }), 1),
    route: S.arr(routeDestination),
  })),
  tcp: S.arr(S.obj({
    match: S.arr(S.obj({ destinationSubnets: S.arr(S.str()), port, sourceSubnet: S.str(), sourceLabels: labels, gateways: S.arr(S.str()), sourceNamespace: S.str() })),
    route: S.arr(routeDestination),
  })),
  exportTo: S.arr(S.str()),
});

const tlsVersion = S.str({ enum: ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] });
const serverTls = S.obj({
  httpsRedirect: S.bool(),
  mode: S.str({ enum: ['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'] }),
  serverCertificate: S.str(),
  privateKey: S.str(),
  caCertificates: S.str(),
  caCrl: S.str(),
  credentialName: S.str(),
  credentialNames: S.arr(S.str()),
  tlsCertificates: S.arr(S.obj({ serverCertificate: S.str(), privateKey: S.str(), caCertificates: S.str() })),
  subjectAltNames: S.arr(S.str()),
  verifyCertificateSpki: S.arr(S.str()),
  verifyCertificateHash: S.arr(S.str()),
  minProtocolVersion: tlsVersion,
  maxProtocolVersion: tlsVersion,
  cipherSuites: S.arr(S.str()),
});

const gateway = S.obj({
  servers: S.arr(S.obj({
    port: S.obj({ number: port, protocol, name: S.str(), targetPort: port }, { required: ['number', 'protocol'] }),
    bind: S.str(),
    hosts: S.arr(S.str({ check: checkGatewayHost }), 1),
    tls: serverTls,
    defaultEndpoint: S.str(),
    name: S.str(),
  }, { required: ['port', 'hosts'] }), 1),
  selector: labels,
}, { required: ['servers'] });

const clientTls = S.obj({
  mode: S.str({ enum: ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'] }),
  clientCertificate: S.str(),
  privateKey: S.str(),
  caCertificates: S.str(),
  credentialName: S.str(),
  subjectAltNames: S.arr(S.str()),
  sni: S.str(),
  insecureSkipVerify: S.bool(),
  caCrl: S.str(),
});

const loadBalancer = S.obj({
  simple: S.str({ enum: ['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST'] }),
  consistentHash: S.obj({
    httpHeaderName: S.str(),
    httpCookie: S.obj({ name: S.str({ check: checkHeaderName }), path: pathValue, ttl: S.duration(), attributes: S.arr(S.obj({ name: S.str(), value: S.str() })) }, { required: ['name'] }),
    useSourceIp: S.bool(),
    httpQueryParameterName: S.str(),
    ringHash: S.obj({ minimumRingSize: S.int(0) }),
    maglev: S.obj({ tableSize: S.int(0) }),
    minimumRingSize: S.int(0),
  }, { oneOf: [['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'], ['ringHash', 'maglev']] }),
  localityLbSetting: S.obj({}, { open: true }),
  warmupDurationSecs: S.duration(),
  warmup: S.obj({}, { open: true }),
}, { oneOf: [['simple', 'consistentHash']] });

const connectionPool = S.obj({
  tcp: S.obj({
    maxConnections: S.int(0),
    connectTimeout: S.duration(1),
    tcpKeepalive: S.obj({ probes: S.int(0), time: S.duration(), interval: S.duration() }),
    maxConnectionDuration: S.duration(1),
    idleTimeout: S.duration(),
  }),
  http: S.obj({
    http1MaxPendingRequests: S.int(0),
    http2MaxRequests: S.int(0),
    maxRequestsPerConnection: S.int(0),
    maxRetries: S.int(0),
    idleTimeout: S.duration(),
    h2UpgradePolicy: S.str({ enum: ['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'] }),
    useClientProtocol: S.bool(),
    maxConcurrentStreams: S.int(0),
  }),
});

const outlierDetection = S.obj({
  splitExternalLocalOriginErrors: S.bool(),
  consecutiveLocalOriginFailures: S.int(0),
  consecutiveGatewayErrors: S.int(0),
  consecutive5xxErrors: S.int(0),
  consecutiveErrors: S.int(0),
  interval: S.duration(1),
  baseEjectionTime: S.duration(1),
  maxEjectionPercent: S.int(0, 100),
  minHealthPercent: S.int(0, 100),
});

const portTrafficPolicy = S.obj({ port: portSelector, loadBalancer, connectionPool, outlierDetection, tls: clientTls });
const trafficPolicy = S.obj({
  loadBalancer,
  connectionPool,
  outlierDetection,
  tls: clientTls,
  portLevelSettings: S.arr(portTrafficPolicy),
  tunnel: S.obj({}, { open: true }),
  proxyProtocol: S.obj({}, { open: true }),
  retryBudget: S.obj({}, { open: true }),
});

const destinationRule = S.obj({
  host: S.str({ check: checkHost }),
  trafficPolicy,
  subsets: S.arr(S.obj({ name: S.str(), labels, trafficPolicy }, { required: ['name'] })),
  exportTo: S.arr(S.str()),
  workloadSelector: S.obj({ matchLabels: labels }),
}, { required: ['host'] });

const workloadEntrySpec = S.obj({
  address: S.str(),
  ports: S.map(port),
  labels,
  network: S.str(),
  locality: S.str(),
  weight: S.int(0),
  serviceAccount: S.str(),
});

const serviceEntry = S.obj({
  hosts: S.arr(S.str({ check: checkHost }), 1),
  addresses: S.arr(S.str()),
  ports: S.arr(S.obj({ number: port, protocol, name: S.str(), targetPort: port }, { required: ['number'] })),
  location: S.str({ enum: ['MESH_EXTERNAL', 'MESH_INTERNAL'] }),
  resolution: S.str({ enum: ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'] }),
  endpoints: S.arr(workloadEntrySpec),
  workloadSelector: S.obj({ labels }),
  exportTo: S.arr(S.str()),
  subjectAltNames: S.arr(S.str()),
}, { required: ['hosts'], oneOf: [['endpoints', 'workloadSelector']] });

const sidecar = S.obj({
  workloadSelector: S.obj({ labels }),
  ingress: S.arr(S.obj({}, { open: true })),
  egress: S.arr(S.obj({ port: S.obj({}, { open: true }), bind: S.str(), captureMode: S.str(), hosts: S.arr(S.str()) }, { required: ['hosts'] })),
  outboundTrafficPolicy: S.obj({ mode: S.str({ enum: ['REGISTRY_ONLY', 'ALLOW_ANY'] }), egressProxy: destination }),
  inboundConnectionPool: connectionPool,
}, { open: false });

const service = S.obj({
  ports: S.arr(S.obj({ name: S.str(), port, targetPort: S.intOrString(), protocol: S.str({ enum: ['TCP', 'UDP', 'SCTP'] }), appProtocol: S.str(), nodePort: S.int(0, 65535) }, { required: ['port'], open: true })),
  selector: labels,
  type: S.str({ enum: ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] }),
  externalName: S.str(),
}, { open: true });

const endpointPorts = S.arr(S.obj({ name: S.str(), port, protocol: S.str(), appProtocol: S.str() }, { required: ['port'], open: true }));
const endpoints = S.obj({
  subsets: S.arr(S.obj({
    addresses: S.arr(S.obj({ ip: S.str() }, { required: ['ip'], open: true })),
    notReadyAddresses: S.arr(S.obj({ ip: S.str() }, { required: ['ip'], open: true })),
    ports: endpointPorts,
  }, { open: true })),
}, { open: true });

const endpointSlice = S.obj({
  addressType: S.str({ enum: ['IPv4', 'IPv6', 'FQDN'] }),
  endpoints: S.arr(S.obj({
    addresses: S.arr(S.str(), 1),
    conditions: S.obj({ ready: S.bool(), serving: S.bool(), terminating: S.bool() }, { open: true }),
  }, { required: ['addresses'], open: true })),
  ports: endpointPorts,
}, { open: true, required: ['addressType'] });

const secret = S.obj({ type: S.str(), data: S.map(S.str()), stringData: S.map(S.str()) }, { open: true });

export interface KindInfo {
  kind: string;
  /** `spec`, or for Kubernetes kinds that keep their payload at the top, the whole object minus metadata. */
  body: 'spec' | 'top';
  /**
   * Istio kinds: the CRD's schema of the spec (field names, types, enums, CEL rules), checked
   * first; `schema` then adds meshgate's own checks on values (regexes, hosts, durations).
   */
  crd?: CrdSchema;
  schema: ObjectSchema;
}

const KINDS: Record<string, KindInfo> = {};
function add(versions: string[], kind: string, schema: Schema, body: 'spec' | 'top' = 'spec'): void {
  for (const v of versions) KINDS[`${v}/${kind}`] = { kind, body, schema: schema as ObjectSchema };
}
/** An Istio kind in every version its CRD serves. */
function addIstio(kind: string, schema: Schema): void {
  // Oldest first (v1alpha3, v1beta1, v1), as messages list them.
  const maturity = (v: string) => (v.includes('alpha') ? 0 : v.includes('beta') ? 1 : 2);
  const sets = (CRD_SPECS[kind] ?? []).flatMap(({ versions, spec }) => versions.map((v) => ({ v, spec })));
  for (const { v, spec } of sets.sort((a, b) => maturity(a.v) - maturity(b.v))) KINDS[`${v}/${kind}`] = { kind, body: 'spec', crd: spec, schema: schema as ObjectSchema };
}
addIstio('Gateway', gateway);
addIstio('VirtualService', virtualService);
addIstio('DestinationRule', destinationRule);
addIstio('ServiceEntry', serviceEntry);
addIstio('WorkloadEntry', workloadEntrySpec);
addIstio('Sidecar', sidecar);
add(['v1'], 'Service', service);
add(['v1'], 'Endpoints', endpoints, 'top');
add(['v1'], 'Secret', secret, 'top');
add(['discovery.k8s.io/v1'], 'EndpointSlice', endpointSlice, 'top');

export function kindInfo(apiVersion: string, kind: string): KindInfo | undefined {
  return KINDS[`${apiVersion}/${kind}`];
}

/** Kinds we read, for the hint when an Istio kind carries an apiVersion we do not know. */
export function knownVersionsOf(kind: string): string[] {
  return Object.keys(KINDS).filter((k) => k.endsWith(`/${kind}`)).map((k) => k.slice(0, -kind.length - 1));
}
