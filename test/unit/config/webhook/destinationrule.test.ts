import { describe, expect, it } from 'vitest';
import { checkDestinationRule, localitiesError } from '../../../../src/config/webhook/destinationrule.js';
import type { SpecPath, WebhookContext, WebhookFinding } from '../../../../src/config/webhook/types.js';
import { crdErrorsFor, expectVerdict, webhookContext } from '../../../helpers/webhook.js';

// The tables are Istio's own (pkg/config/validation/validation_test.go and agent/validation_test.go),
// written as the YAML specs meshgate reads. Each case says where Istio's error (`err`) and warning
// (`warn`) point, relative to spec; a case with neither must give no finding at all. A case marked
// `crd` is refused by the CRD schema already, so it never reaches the webhook.

type Obj = Record<string, unknown>;

interface Case {
  name: string;
  spec: Obj;
  err?: SpecPath;
  /** Part of Istio's message at `err`. */
  msg?: string;
  warn?: SpecPath;
  crd?: true;
}

const ctx = webhookContext;

function run(spec: Obj, context: WebhookContext = ctx()): WebhookFinding[] {
  return checkDestinationRule(spec, context);
}

const crdErrors = crdErrorsFor('DestinationRule');

function checkCase(c: Case, context?: WebhookContext): void {
  if (c.crd) {
    expect(crdErrors(c.spec), 'refused by the CRD schema').not.toEqual([]);
    return;
  }
  expect(crdErrors(c.spec), 'the CRD schema lets it through to the webhook').toEqual([]);
  expectVerdict(run(c.spec, context), c);
}

const subsetsV1V2 = [
  { name: 'v1', labels: { version: 'v1' } },
  { name: 'v2', labels: { version: 'v2' } },
];
const validPolicy = (minHealthPercent = 20): Obj => ({
  loadBalancer: { simple: 'ROUND_ROBIN' },
  connectionPool: { tcp: { maxConnections: 7 }, http: { http2MaxRequests: 11 } },
  outlierDetection: { minHealthPercent },
});
const badPoolPolicy: Obj = { loadBalancer: { simple: 'ROUND_ROBIN' }, connectionPool: {}, outlierDetection: { minHealthPercent: 20 } };
const tlsPolicy = (tls: Obj): Obj => ({ host: 'reviews', trafficPolicy: { tls } });
const ISV = ['trafficPolicy', 'tls', 'insecureSkipVerify'];

describe('TestValidateDestinationRule', () => {
  const cases: Case[] = [
    { name: 'simple destination rule', spec: { host: 'reviews', subsets: subsetsV1V2 } },
    {
      name: 'simple destination rule with empty selector labels',
      spec: { host: 'reviews', subsets: subsetsV1V2, workloadSelector: {} },
      warn: ['workloadSelector'],
    },
    { name: 'missing destination name', spec: { host: '', subsets: subsetsV1V2 }, err: ['host'], msg: 'empty domain name not allowed' },
    {
      name: 'missing subset name',
      spec: { host: 'reviews', subsets: [{ name: '', labels: { version: 'v1' } }, subsetsV1V2[1]] },
      err: ['subsets', 0, 'name'],
      msg: 'subset name cannot be empty',
    },
    {
      name: 'duplicate subset names',
      spec: { host: 'reviews', subsets: [{ name: 'foo', labels: { version: 'v1' } }, { name: 'foo', labels: { version: 'v2' } }] },
      err: ['subsets', 1, 'name'],
      msg: 'duplicate subset names: foo',
    },
    { name: 'valid traffic policy, top level', spec: { host: 'reviews', trafficPolicy: validPolicy(), subsets: subsetsV1V2 } },
    {
      name: 'invalid traffic policy, top level',
      spec: { host: 'reviews', trafficPolicy: badPoolPolicy, subsets: subsetsV1V2 },
      err: ['trafficPolicy', 'connectionPool'],
      msg: 'connection pool must have at least one field',
    },
    {
      name: 'valid traffic policy, subset level',
      spec: { host: 'reviews', subsets: [{ ...subsetsV1V2[0], trafficPolicy: validPolicy() }, subsetsV1V2[1]] },
    },
    {
      name: 'invalid traffic policy, subset level',
      spec: { host: 'reviews', subsets: [{ ...subsetsV1V2[0], trafficPolicy: badPoolPolicy }, subsetsV1V2[1]] },
      err: ['subsets', 0, 'trafficPolicy', 'connectionPool'],
    },
    {
      name: 'valid traffic policy, both levels',
      spec: { host: 'reviews', trafficPolicy: validPolicy(), subsets: [{ ...subsetsV1V2[0], trafficPolicy: validPolicy(30) }, subsetsV1V2[1]] },
    },
    {
      name: 'InsecureSkipVerify is not specified with tls mode simple, and the ca cert is specified by CaCertificates',
      spec: tlsPolicy({ mode: 'SIMPLE', caCertificates: 'test', subjectAltNames: ['reviews.default.svc'] }),
    },
    {
      name: 'InsecureSkipVerify is not specified with tls mode simple, and the ca cert is specified by CredentialName',
      spec: tlsPolicy({ mode: 'SIMPLE', credentialName: 'test', subjectAltNames: ['reviews.default.svc'] }),
    },
    {
      name: 'InsecureSkipVerify is set false with tls mode simple, and the ca cert is specified by CaCertificates',
      spec: tlsPolicy({ mode: 'SIMPLE', caCertificates: 'test', subjectAltNames: ['reviews.default.svc'], insecureSkipVerify: false }),
    },
    {
      name: 'InsecureSkipVerify is set false with tls mode simple, and the ca cert is specified by CredentialName',
      spec: tlsPolicy({ mode: 'SIMPLE', credentialName: 'test', subjectAltNames: ['reviews.default.svc'], insecureSkipVerify: false }),
    },
    {
      name: 'InsecureSkipVerify is set true with tls mode simple, and the ca cert is specified by CaCertificates (credentialName)',
      spec: tlsPolicy({ mode: 'SIMPLE', credentialName: 'test', insecureSkipVerify: true }),
      err: ISV,
      msg: 'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true',
    },
    {
      name: 'InsecureSkipVerify is set true with tls mode simple, and the ca cert is specified by CredentialName (caCertificates)',
      spec: tlsPolicy({ mode: 'SIMPLE', caCertificates: 'test', insecureSkipVerify: true }),
      err: ISV,
    },
    {
      name: 'InsecureSkipVerify is set true with tls mode simple, and the san is specified',
      spec: tlsPolicy({ mode: 'SIMPLE', subjectAltNames: ['reviews.default.svc'], insecureSkipVerify: true }),
      err: ISV,
    },
    {
      name: 'InsecureSkipVerify is not specified with tls mode mutual, and the ca cert is specified by CaCertificates',
      spec: tlsPolicy({ mode: 'MUTUAL', caCertificates: 'test', privateKey: 'key', clientCertificate: 'cert', subjectAltNames: ['reviews.default.svc'] }),
    },
    {
      name: 'InsecureSkipVerify is not specified with tls mode mutual, and the ca cert is specified by CredentialName',
      spec: tlsPolicy({ mode: 'MUTUAL', credentialName: 'test', subjectAltNames: ['reviews.default.svc'] }),
    },
    {
      name: 'InsecureSkipVerify is set false with tls mode mutual, and the ca cert is specified by CaCertificates',
      spec: tlsPolicy({
        mode: 'MUTUAL',
        caCertificates: 'test',
        privateKey: 'key',
        clientCertificate: 'cert',
        subjectAltNames: ['reviews.default.svc'],
        insecureSkipVerify: false,
      }),
    },
    {
      name: 'InsecureSkipVerify is set false with tls mode mutual, and the ca cert is specified by CredentialName',
      spec: tlsPolicy({ mode: 'MUTUAL', credentialName: 'test', subjectAltNames: ['reviews.default.svc'], insecureSkipVerify: false }),
    },
    {
      name: 'InsecureSkipVerify is set true with tls mode mutual, and the ca cert is specified by CaCertificates',
      spec: tlsPolicy({ mode: 'MUTUAL', caCertificates: 'test', privateKey: 'key', clientCertificate: 'cert', insecureSkipVerify: true }),
      err: ISV,
      msg: 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true',
    },
    {
      name: 'InsecureSkipVerify is set true with tls mode mutual, and the ca cert is specified by CredentialName',
      spec: tlsPolicy({ mode: 'MUTUAL', credentialName: 'test', insecureSkipVerify: true }),
    },
    {
      name: 'InsecureSkipVerify is set true with tls mode mutual, and the ca cert is not specified',
      spec: tlsPolicy({ mode: 'MUTUAL', privateKey: 'key', clientCertificate: 'cert', insecureSkipVerify: true }),
    },
    {
      name: 'InsecureSkipVerify is set true with tls mode mutual, and the san is specified',
      spec: tlsPolicy({ mode: 'MUTUAL', privateKey: 'key', clientCertificate: 'cert', subjectAltNames: ['reviews.default.svc'], insecureSkipVerify: true }),
      err: ISV,
    },
  ];
  it.each(cases)('$name', (c) => checkCase(c));
});

// The tables below test one part of a traffic policy. Istio runs the same rules on the policy of
// the whole rule, of a subset and of a port (validatePortTrafficPolicies): each case runs at every
// place its fields exist. Under subsets and ports, Istio drops the warnings (appendErrors).
interface Place {
  name: string;
  wrap(policy: Obj): Obj;
  at: SpecPath;
  keepsWarnings: boolean;
}
const TOP: Place = { name: 'trafficPolicy', wrap: (p) => ({ host: 'reviews', trafficPolicy: p }), at: ['trafficPolicy'], keepsWarnings: true };
const SUBSET: Place = {
  name: 'subset',
  wrap: (p) => ({ host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' }, trafficPolicy: p }] }),
  at: ['subsets', 0, 'trafficPolicy'],
  keepsWarnings: false,
};
const PORT: Place = {
  name: 'portLevelSettings',
  wrap: (p) => ({ host: 'reviews', trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, ...p }] } }),
  at: ['trafficPolicy', 'portLevelSettings', 0],
  keepsWarnings: false,
};

/** A case on a traffic policy: `policy` and the paths in it are relative to the policy. */
interface PolicyCase {
  name: string;
  policy: Obj;
  err?: SpecPath;
  msg?: string;
  warn?: SpecPath;
  crd?: true;
}

function policyTable(title: string, places: readonly Place[], cases: readonly PolicyCase[]): void {
  describe(title, () => {
    const rows = places.flatMap((place) => cases.map((c) => ({ ...c, place, label: `${place.name}: ${c.name}` })));
    it.each(rows)('$label', ({ place, policy, err, msg, warn, crd, name }) => {
      checkCase({
        name,
        spec: place.wrap(policy),
        ...(err !== undefined ? { err: [...place.at, ...err] } : {}),
        ...(msg !== undefined ? { msg } : {}),
        ...(warn !== undefined && place.keepsWarnings ? { warn: [...place.at, ...warn] } : {}),
        ...(crd ? { crd } : {}),
      });
    });
  });
}

policyTable('TestValidateTrafficPolicy', [TOP, SUBSET], [
  { name: 'valid traffic policy', policy: validPolicy() },
  { name: 'invalid traffic policy, nil entries', policy: {}, err: [], msg: 'traffic policy must have at least one field' },
  {
    name: 'invalid traffic policy, missing port in port level settings',
    policy: {
      portLevelSettings: [
        {
          loadBalancer: { simple: 'ROUND_ROBIN' },
          connectionPool: { tcp: { maxConnections: 7 }, http: { http2MaxRequests: 11 } },
          outlierDetection: { minHealthPercent: 20 },
        },
      ],
    },
    err: ['portLevelSettings', 0, 'port'],
    msg: 'portTrafficPolicy must have valid port',
  },
  { name: 'invalid traffic policy, bad connection pool', policy: badPoolPolicy, err: ['connectionPool'] },
  {
    name: 'invalid traffic policy, bad max connection duration (500ns)',
    policy: { loadBalancer: { simple: 'ROUND_ROBIN' }, connectionPool: { tcp: { maxConnectionDuration: '500ns' } } },
    crd: true,
  },
  {
    name: 'invalid traffic policy, panic threshold too low',
    policy: { ...validPolicy(), outlierDetection: { minHealthPercent: -1 } },
    err: ['outlierDetection', 'minHealthPercent'],
    msg: 'percentage -1 is not in range 0..100',
  },
  {
    name: 'invalid traffic policy, both upgrade and use client protocol set',
    policy: { connectionPool: { http: { h2UpgradePolicy: 'UPGRADE', useClientProtocol: true } } },
    err: ['connectionPool', 'http', 'useClientProtocol'],
    msg: 'use client protocol must not be true when H2UpgradePolicy is UPGRADE',
  },
  // Not in Istio's table; the same rules.
  { name: 'an empty list of port settings is no field (Go reads [] as nil)', policy: { portLevelSettings: [] }, err: [], msg: 'at least one field' },
  { name: 'retryBudget alone is a field', policy: { retryBudget: { percent: 20 } } },
  { name: 'tls alone is a field, even empty', policy: { tls: {} } },
  {
    name: 'a null port policy',
    policy: { portLevelSettings: [null] },
    err: ['portLevelSettings', 0],
    msg: 'traffic policy may not be null',
  },
  {
    name: 'a port policy with nothing but its port',
    policy: { portLevelSettings: [{ port: { number: 80 } }] },
    err: ['portLevelSettings', 0],
    msg: 'port traffic policy must have at least one field',
  },
  {
    name: 'a port policy is checked like the whole one',
    policy: { portLevelSettings: [{ port: { number: 80 }, connectionPool: { tcp: { maxConnections: -1 } } }] },
    err: ['portLevelSettings', 0, 'connectionPool', 'tcp', 'maxConnections'],
  },
  {
    name: 'tunnel and proxyProtocol together',
    policy: { tunnel: { targetHost: 'example.com', targetPort: 443 }, proxyProtocol: { version: 'V2' } },
    err: ['proxyProtocol'],
    msg: 'tunnel and proxyProtocol must not be set together',
  },
  { name: 'proxyProtocol V1', policy: { proxyProtocol: { version: 'V1' } } },
  { name: 'proxyProtocol without a version (V1)', policy: { proxyProtocol: {} } },
  { name: 'a CONNECT tunnel to a host', policy: { tunnel: { protocol: 'CONNECT', targetHost: 'proxy.example.com', targetPort: 3128 } } },
  { name: 'a POST tunnel to an IP', policy: { tunnel: { protocol: 'POST', targetHost: '10.0.0.1', targetPort: 8080 } } },
  { name: 'a tunnel without a protocol', policy: { tunnel: { targetHost: '2001:db8::1', targetPort: 8080 } } },
  {
    name: 'a tunnel with another protocol',
    policy: { tunnel: { protocol: 'GET', targetHost: 'proxy.example.com', targetPort: 3128 } },
    err: ['tunnel', 'protocol'],
    msg: 'tunnel protocol must be "CONNECT" or "POST"',
  },
  {
    name: 'a tunnel protocol in lower case',
    policy: { tunnel: { protocol: 'connect', targetHost: 'proxy.example.com', targetPort: 3128 } },
    err: ['tunnel', 'protocol'],
  },
  {
    name: 'a tunnel to neither a host nor an IP',
    policy: { tunnel: { targetHost: 'proxy_example', targetPort: 3128 } },
    err: ['tunnel', 'targetHost'],
    msg: 'tunnel target host must be valid FQDN or IP address',
  },
  {
    name: 'a tunnel to port 0',
    policy: { tunnel: { targetHost: 'proxy.example.com', targetPort: 0 } },
    err: ['tunnel', 'targetPort'],
    msg: 'tunnel target port is invalid: port number 0 must be in the range 1..65535',
  },
  {
    name: 'a tunnel to port 65536',
    policy: { tunnel: { targetHost: 'proxy.example.com', targetPort: 65536 } },
    err: ['tunnel', 'targetPort'],
  },
  { name: 'a tunnel without its target (the CRD requires it)', policy: { tunnel: { protocol: 'CONNECT' } }, crd: true },
]);

const ALL_PLACES = [TOP, SUBSET, PORT];

policyTable('TestValidateConnectionPool', ALL_PLACES, [
  {
    name: 'valid connection pool, tcp and http',
    policy: {
      connectionPool: {
        tcp: { maxConnections: 7, connectTimeout: '2s' },
        http: { http1MaxPendingRequests: 2, http2MaxRequests: 11, maxRequestsPerConnection: 5, maxRetries: 4, idleTimeout: '30s', maxConcurrentStreams: 5 },
      },
    },
  },
  { name: 'valid connection pool, tcp only', policy: { connectionPool: { tcp: { maxConnections: 7, connectTimeout: '2s' } } } },
  {
    name: 'valid connection pool, http only',
    policy: {
      connectionPool: { http: { http1MaxPendingRequests: 2, http2MaxRequests: 11, maxRequestsPerConnection: 5, maxRetries: 4, idleTimeout: '30s', maxConcurrentStreams: 5 } },
    },
  },
  {
    name: 'valid connection pool, http only with empty idle timeout',
    policy: { connectionPool: { http: { http1MaxPendingRequests: 2, http2MaxRequests: 11, maxRequestsPerConnection: 5, maxRetries: 4, maxConcurrentStreams: 5 } } },
  },
  { name: 'valid connection pool, http2 keepalive', policy: { connectionPool: { http: { http2KeepAlive: { interval: '15s', timeout: '5s' } } } } },
  { name: 'invalid connection pool, empty', policy: { connectionPool: {} }, err: ['connectionPool'], msg: 'connection pool must have at least one field' },
  {
    name: 'invalid connection pool, bad max connections',
    policy: { connectionPool: { tcp: { maxConnections: -1 } } },
    err: ['connectionPool', 'tcp', 'maxConnections'],
    msg: 'max connections must be non-negative',
  },
  {
    name: 'invalid connection pool, bad connect timeout',
    policy: { connectionPool: { tcp: { connectTimeout: '2.000000005s' } } },
    err: ['connectionPool', 'tcp', 'connectTimeout'],
    msg: 'only durations to ms precision are supported',
  },
  {
    name: 'invalid connection pool, bad max pending requests',
    policy: { connectionPool: { http: { http1MaxPendingRequests: -1 } } },
    err: ['connectionPool', 'http', 'http1MaxPendingRequests'],
    msg: 'http1 max pending requests must be non-negative',
  },
  {
    name: 'invalid connection pool, bad max requests',
    policy: { connectionPool: { http: { http2MaxRequests: -1 } } },
    err: ['connectionPool', 'http', 'http2MaxRequests'],
    msg: 'http2 max requests must be non-negative',
  },
  {
    name: 'invalid connection pool, bad max requests per connection',
    policy: { connectionPool: { http: { maxRequestsPerConnection: -1 } } },
    err: ['connectionPool', 'http', 'maxRequestsPerConnection'],
    msg: 'max requests per connection must be non-negative',
  },
  {
    name: 'invalid connection pool, bad max retries',
    policy: { connectionPool: { http: { maxRetries: -1 } } },
    err: ['connectionPool', 'http', 'maxRetries'],
    msg: 'max retries must be non-negative',
  },
  {
    name: 'invalid connection pool, bad idle timeout',
    policy: { connectionPool: { http: { idleTimeout: '30.000000005s' } } },
    err: ['connectionPool', 'http', 'idleTimeout'],
    msg: 'only durations to ms precision are supported',
  },
  { name: 'valid connection pool, tcp timeout disabled', policy: { connectionPool: { tcp: { idleTimeout: '0s' } } } },
  {
    name: 'invalid connection pool, bad max concurrent streams',
    policy: { connectionPool: { http: { maxConcurrentStreams: -1 } } },
    err: ['connectionPool', 'http', 'maxConcurrentStreams'],
    msg: 'max concurrent streams must be non-negative',
  },
  {
    name: 'invalid connection pool, http2 keepalive without interval',
    policy: { connectionPool: { http: { http2KeepAlive: { timeout: '5s' } } } },
    err: ['connectionPool', 'http', 'http2KeepAlive', 'interval'],
    msg: 'http2 keepalive interval is required',
  },
  {
    name: 'invalid connection pool, http2 keepalive without timeout',
    policy: { connectionPool: { http: { http2KeepAlive: { interval: '15s' } } } },
    err: ['connectionPool', 'http', 'http2KeepAlive', 'timeout'],
    msg: 'http2 keepalive timeout is required',
  },
  {
    name: 'invalid connection pool, bad http2 keepalive interval',
    policy: { connectionPool: { http: { http2KeepAlive: { interval: '15.000000005s', timeout: '5s' } } } },
    err: ['connectionPool', 'http', 'http2KeepAlive', 'interval'],
  },
  // Not in Istio's table; the same rules.
  {
    name: 'bad http2 keepalive timeout',
    policy: { connectionPool: { http: { http2KeepAlive: { interval: '15s', timeout: '1.5ms' } } } },
    err: ['connectionPool', 'http', 'http2KeepAlive', 'timeout'],
  },
  { name: 'h2 upgrade without useClientProtocol', policy: { connectionPool: { http: { h2UpgradePolicy: 'UPGRADE', useClientProtocol: false } } } },
  { name: 'useClientProtocol without h2 upgrade', policy: { connectionPool: { http: { h2UpgradePolicy: 'DO_NOT_UPGRADE', useClientProtocol: true } } } },
  { name: 'zero limits are fine', policy: { connectionPool: { tcp: { maxConnections: 0 }, http: { http2MaxRequests: 0, maxRetries: 0 } } } },
  {
    name: 'bad max connection duration',
    policy: { connectionPool: { tcp: { maxConnectionDuration: '1.5ms' } } },
    err: ['connectionPool', 'tcp', 'maxConnectionDuration'],
    msg: 'only durations to ms precision are supported',
  },
  {
    name: 'tcp idle timeout under 1ms counts as off (Go compares whole milliseconds)',
    policy: { connectionPool: { tcp: { idleTimeout: '500us' } } },
  },
  {
    name: 'bad tcp idle timeout',
    policy: { connectionPool: { tcp: { idleTimeout: '1.5ms' } } },
    err: ['connectionPool', 'tcp', 'idleTimeout'],
  },
  { name: 'tcp keepalive', policy: { connectionPool: { tcp: { tcpKeepalive: { probes: 3, time: '7200s', interval: '75s' } } } } },
  {
    name: 'bad tcp keepalive time',
    policy: { connectionPool: { tcp: { tcpKeepalive: { time: '1.5ms' } } } },
    err: ['connectionPool', 'tcp', 'tcpKeepalive', 'time'],
  },
  {
    name: 'bad tcp keepalive interval',
    policy: { connectionPool: { tcp: { tcpKeepalive: { interval: '1.5ms' } } } },
    err: ['connectionPool', 'tcp', 'tcpKeepalive', 'interval'],
  },
  { name: 'a connect timeout under 1ms (the CRD refuses it)', policy: { connectionPool: { tcp: { connectTimeout: '500us' } } }, crd: true },
  { name: 'a negative tcp keepalive probe count (the CRD refuses it)', policy: { connectionPool: { tcp: { tcpKeepalive: { probes: -1 } } } }, crd: true },
]);

policyTable('TestValidateLoadBalancer', ALL_PLACES, [
  { name: 'valid load balancer with simple load balancing', policy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
  {
    name: 'valid load balancer with consistentHash load balancing',
    policy: { loadBalancer: { consistentHash: { minimumRingSize: 1024, httpCookie: { name: 'test', ttl: '3600s' } } } },
    warn: ['loadBalancer', 'consistentHash', 'minimumRingSize'],
  },
  {
    name: 'invalid load balancer with consistentHash load balancing, missing name',
    policy: { loadBalancer: { consistentHash: { minimumRingSize: 1024, httpCookie: { ttl: '3600s' } } } },
    crd: true,
  },
  {
    name: 'invalid load balancer with consistentHash load balancing, empty name',
    policy: { loadBalancer: { consistentHash: { minimumRingSize: 1024, httpCookie: { name: '', ttl: '3600s' } } } },
    err: ['loadBalancer', 'consistentHash', 'httpCookie', 'name'],
    msg: 'name required for HttpCookie',
    warn: ['loadBalancer', 'consistentHash', 'minimumRingSize'],
  },
  {
    name: 'invalid load balancer with consistentHash load balancing, maglev not prime',
    policy: { loadBalancer: { consistentHash: { maglev: { tableSize: 1000 } } } },
    err: ['loadBalancer', 'consistentHash', 'maglev', 'tableSize'],
    msg: 'tableSize must be a prime number for maglev',
  },
  {
    name: 'valid load balancer with consistentHash load balancing and unique cookie attributes',
    policy: {
      loadBalancer: {
        consistentHash: {
          httpCookie: {
            name: 'test-cookie',
            ttl: '3600s',
            attributes: [
              { name: 'SameSite', value: 'Strict' },
              { name: 'Secure', value: 'true' },
              { name: 'HttpOnly', value: 'true' },
            ],
          },
        },
      },
    },
  },
  {
    name: 'invalid load balancer with consistentHash load balancing and duplicate cookie attribute names',
    policy: {
      loadBalancer: {
        consistentHash: {
          httpCookie: {
            name: 'test-cookie',
            ttl: '3600s',
            attributes: [
              { name: 'SameSite', value: 'Strict' },
              { name: 'SameSite', value: 'Lax' },
              { name: 'Secure', value: 'true' },
            ],
          },
        },
      },
    },
    err: ['loadBalancer', 'consistentHash', 'httpCookie', 'attributes', 1, 'name'],
    msg: 'duplicate cookie attribute name: SameSite',
  },
  {
    name: 'invalid load balancer with consistentHash load balancing and empty cookie attribute name',
    policy: {
      loadBalancer: {
        consistentHash: {
          httpCookie: {
            name: 'test-cookie',
            ttl: '3600s',
            attributes: [
              { name: 'SameSite', value: 'Strict' },
              { name: '', value: 'some-value' },
              { name: 'Secure', value: 'true' },
            ],
          },
        },
      },
    },
    err: ['loadBalancer', 'consistentHash', 'httpCookie', 'attributes', 1, 'name'],
    msg: 'cookie attribute name cannot be empty',
  },
  {
    name: 'invalid: localityLbSetting and zoneAwareLbSetting both set',
    policy: { loadBalancer: { localityLbSetting: {}, zoneAwareLbSetting: {} } },
    err: ['loadBalancer', 'zoneAwareLbSetting'],
    msg: 'only one of localityLbSetting and zoneAwareLbSetting can be set',
  },
  {
    name: 'valid: zoneAwareLbSetting only (no outlier detection: warned)',
    policy: { loadBalancer: { zoneAwareLbSetting: { failover: [{ from: 'us-east', to: 'eu-west' }] } } },
    warn: ['loadBalancer', 'zoneAwareLbSetting'],
  },
  // Not in Istio's table; the same rules.
  { name: 'maglev with a prime table size', policy: { loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 65537 } } } } },
  { name: 'maglev with the largest table size', policy: { loadBalancer: { consistentHash: { maglev: { tableSize: 4999999 } } } } },
  {
    name: 'maglev without a table size',
    policy: { loadBalancer: { consistentHash: { maglev: {} } } },
    err: ['loadBalancer', 'consistentHash', 'maglev', 'tableSize'],
    msg: 'tableSize must be set for maglev',
  },
  {
    name: 'maglev with a table size too large',
    policy: { loadBalancer: { consistentHash: { maglev: { tableSize: 5000011 } } } },
    err: ['loadBalancer', 'consistentHash', 'maglev', 'tableSize'],
    msg: 'tableSize must be less than 5000011 for maglev',
  },
  { name: 'maglev table size 2 (prime)', policy: { loadBalancer: { consistentHash: { maglev: { tableSize: 2 } } } } },
  { name: 'maglev table size 9 (3 squared)', policy: { loadBalancer: { consistentHash: { maglev: { tableSize: 9 } } } }, err: ['loadBalancer', 'consistentHash', 'maglev', 'tableSize'] },
  { name: 'ring hash', policy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user', ringHash: { minimumRingSize: 1024 } } } } },
  {
    name: 'the deprecated minimumRingSize with ringHash',
    policy: { loadBalancer: { consistentHash: { minimumRingSize: 1024, ringHash: { minimumRingSize: 1024 } } } },
    err: ['loadBalancer', 'consistentHash', 'minimumRingSize'],
    msg: 'only one of MinimumRingSize or Maglev/Ringhash can be specified',
    warn: ['loadBalancer', 'consistentHash', 'minimumRingSize'],
  },
  {
    name: 'the deprecated minimumRingSize with maglev',
    policy: { loadBalancer: { consistentHash: { minimumRingSize: 1024, maglev: { tableSize: 65537 } } } },
    err: ['loadBalancer', 'consistentHash', 'minimumRingSize'],
    warn: ['loadBalancer', 'consistentHash', 'minimumRingSize'],
  },
  { name: 'warmup', policy: { loadBalancer: { simple: 'LEAST_REQUEST', warmup: { duration: '300s', minimumPercent: 5, aggression: 5 } } } },
  { name: 'warmup without a duration (the CRD requires it)', policy: { loadBalancer: { warmup: { minimumPercent: 5 } } }, crd: true },
  {
    name: 'warmup with a duration not in whole milliseconds',
    policy: { loadBalancer: { warmup: { duration: '1.5ms' } } },
    err: ['loadBalancer', 'warmup', 'duration'],
  },
  {
    name: 'warmup with aggression 0',
    policy: { loadBalancer: { warmup: { duration: '300s', aggression: 0 } } },
    err: ['loadBalancer', 'warmup', 'aggression'],
    msg: 'aggression should be greater than 0',
  },
  { name: 'warmup with minimumPercent above 100 (the CRD refuses it)', policy: { loadBalancer: { warmup: { duration: '300s', minimumPercent: 150 } } }, crd: true },
  { name: 'warmup with a negative aggression (the CRD refuses it)', policy: { loadBalancer: { warmup: { duration: '300s', aggression: -0.1 } } }, crd: true },
  { name: 'simple and consistentHash together (the CRD refuses it)', policy: { loadBalancer: { simple: 'RANDOM', consistentHash: { useSourceIp: true } } }, crd: true },
]);

policyTable('TestValidateOutlierDetection', ALL_PLACES, [
  { name: 'valid outlier detection', policy: { outlierDetection: { interval: '2s', baseEjectionTime: '2s', maxEjectionPercent: 50 } } },
  {
    name: 'invalid outlier detection, bad interval',
    policy: { outlierDetection: { interval: '2.000000005s' } },
    err: ['outlierDetection', 'interval'],
    msg: 'only durations to ms precision are supported',
  },
  {
    name: 'invalid outlier detection, bad base ejection time',
    policy: { outlierDetection: { baseEjectionTime: '2.000000005s' } },
    err: ['outlierDetection', 'baseEjectionTime'],
  },
  {
    name: 'invalid outlier detection, bad max ejection percent',
    policy: { outlierDetection: { maxEjectionPercent: 105 } },
    err: ['outlierDetection', 'maxEjectionPercent'],
    msg: 'percentage 105 is not in range 0..100',
  },
  {
    name: 'invalid outlier detection, panic threshold too low',
    policy: { outlierDetection: { minHealthPercent: -1 } },
    err: ['outlierDetection', 'minHealthPercent'],
  },
  {
    name: 'invalid outlier detection, panic threshold too high',
    policy: { outlierDetection: { minHealthPercent: 101 } },
    err: ['outlierDetection', 'minHealthPercent'],
  },
  {
    name: 'deprecated outlier detection, ConsecutiveErrors',
    policy: { outlierDetection: { consecutiveErrors: 101 } },
    warn: ['outlierDetection', 'consecutiveErrors'],
  },
  {
    name: 'consecutive local origin errors is set but split local origin errors is not set',
    policy: { outlierDetection: { consecutiveLocalOriginFailures: 10 } },
    err: ['outlierDetection', 'consecutiveLocalOriginFailures'],
    msg: 'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
  },
  // Not in Istio's table; the same rules.
  { name: 'local origin failures with split errors', policy: { outlierDetection: { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 10 } } },
  {
    name: 'local origin failures with split errors off',
    policy: { outlierDetection: { splitExternalLocalOriginErrors: false, consecutiveLocalOriginFailures: 10 } },
    err: ['outlierDetection', 'consecutiveLocalOriginFailures'],
  },
  { name: 'zero local origin failures need no split', policy: { outlierDetection: { consecutiveLocalOriginFailures: 0 } } },
  { name: 'percentages at the bounds', policy: { outlierDetection: { maxEjectionPercent: 100, minHealthPercent: 0 } } },
  { name: 'an interval under 1ms (the CRD refuses it)', policy: { outlierDetection: { interval: '100us' } }, crd: true },
]);

policyTable('TestValidateTLS', ALL_PLACES, [
  { name: 'SIMPLE: Credential Name set correctly', policy: { tls: { mode: 'SIMPLE', credentialName: 'some credential', clientCertificate: '', privateKey: '', caCertificates: '' } } },
  {
    name: 'SIMPLE CredentialName set with ClientCertificate specified',
    policy: { tls: { mode: 'SIMPLE', credentialName: 'credential', clientCertificate: 'cert' } },
    err: ['tls', 'clientCertificate'],
    msg: 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set',
  },
  {
    name: 'SIMPLE: CredentialName set with PrivateKey specified',
    policy: { tls: { mode: 'SIMPLE', credentialName: 'credential', privateKey: 'key' } },
    err: ['tls', 'privateKey'],
  },
  {
    name: 'SIMPLE: CredentialName set with CACertficiates specified',
    policy: { tls: { mode: 'SIMPLE', credentialName: 'credential', caCertificates: 'ca' } },
    err: ['tls', 'caCertificates'],
  },
  { name: 'MUTUAL: Credential Name set correctly', policy: { tls: { mode: 'MUTUAL', credentialName: 'some credential' } } },
  {
    name: 'MUTUAL CredentialName set with ClientCertificate specified',
    policy: { tls: { mode: 'MUTUAL', credentialName: 'credential', clientCertificate: 'cert' } },
    err: ['tls', 'clientCertificate'],
  },
  {
    name: 'MUTUAL: CredentialName set with PrivateKey specified',
    policy: { tls: { mode: 'MUTUAL', credentialName: 'credential', privateKey: 'key' } },
    err: ['tls', 'privateKey'],
  },
  {
    name: 'MUTUAL: CredentialName set with CACertficiates specified',
    policy: { tls: { mode: 'MUTUAL', credentialName: 'credential', caCertificates: 'ca' } },
    err: ['tls', 'caCertificates'],
  },
  {
    name: 'MUTUAL: CredentialName set with CACRL specified',
    policy: { tls: { mode: 'MUTUAL', credentialName: 'credential', caCrl: 'ca' } },
    err: ['tls', 'caCrl'],
  },
  { name: 'MUTUAL: CredentialName not set with ClientCertificate and Key specified', policy: { tls: { mode: 'MUTUAL', clientCertificate: 'cert', privateKey: 'key' } } },
  {
    name: 'MUTUAL: CredentialName not set with ClientCertificate specified and Key missing',
    policy: { tls: { mode: 'MUTUAL', clientCertificate: 'cert', privateKey: '' } },
    err: ['tls', 'privateKey'],
    msg: 'private key required for mutual tls',
  },
  {
    name: 'MUTUAL: CredentialName not set with ClientCertificate missing and Key specified',
    policy: { tls: { mode: 'MUTUAL', clientCertificate: '', privateKey: 'key' } },
    err: ['tls', 'clientCertificate'],
    msg: 'client certificate required for mutual tls',
  },
  // Not in Istio's table; the same rules.
  { name: 'MUTUAL with nothing', policy: { tls: { mode: 'MUTUAL' } }, err: ['tls', 'clientCertificate'] },
  { name: 'ISTIO_MUTUAL needs no certificates', policy: { tls: { mode: 'ISTIO_MUTUAL', sni: 'reviews.default.svc' } } },
  { name: 'DISABLE ignores the certificates', policy: { tls: { mode: 'DISABLE', credentialName: 'c', caCertificates: 'ca' } } },
  { name: 'no mode reads as DISABLE', policy: { tls: { credentialName: 'c', clientCertificate: 'cert' } } },
  { name: 'SIMPLE with a CA CRL and no credential', policy: { tls: { mode: 'SIMPLE', caCertificates: 'ca', caCrl: 'crl' } } },
  { name: 'SIMPLE with insecureSkipVerify and an empty SAN list', policy: { tls: { mode: 'SIMPLE', insecureSkipVerify: true, subjectAltNames: [] } } },
  { name: 'SIMPLE with insecureSkipVerify alone', policy: { tls: { mode: 'SIMPLE', insecureSkipVerify: true } } },
  { name: 'a configmap:// credential in the same namespace', policy: { tls: { mode: 'SIMPLE', credentialName: 'configmap://bar/ca' } } },
  {
    name: 'a configmap:// credential in another namespace',
    policy: { tls: { mode: 'SIMPLE', credentialName: 'configmap://other/ca' } },
    err: ['tls', 'credentialName'],
    msg: 'invalid configmap:// credentialName: namespace must match the configuration namespace "bar"',
  },
  {
    name: 'a configmap:// credential without a namespace',
    policy: { tls: { mode: 'SIMPLE', credentialName: 'configmap://ca' } },
    err: ['tls', 'credentialName'],
    msg: 'invalid configmap:// credentialName: invalid resource name "configmap://ca". Expected namespace and name',
  },
  {
    name: 'a configmap:// credential with an empty namespace',
    policy: { tls: { mode: 'SIMPLE', credentialName: 'configmap:///ca' } },
    err: ['tls', 'credentialName'],
    msg: 'Expected namespace',
  },
  {
    name: 'a configmap:// credential with an empty name',
    policy: { tls: { mode: 'SIMPLE', credentialName: 'configmap://bar/' } },
    err: ['tls', 'credentialName'],
    msg: 'Expected name',
  },
  { name: 'a configmap:// credential is checked whatever the mode', policy: { tls: { mode: 'DISABLE', credentialName: 'configmap://x' } }, err: ['tls', 'credentialName'] },
  { name: 'a kubernetes:// credential in another namespace is not checked', policy: { tls: { mode: 'SIMPLE', credentialName: 'kubernetes://other/ca' } } },
  { name: 'an unknown mode (the CRD refuses it)', policy: { tls: { mode: 'STRICT' } }, crd: true },
]);

/** Locality settings with or without outlier detection (agent tests pass nil or an empty one). */
const locality = (setting: Obj, outlier = true): Obj => ({ loadBalancer: { localityLbSetting: setting }, ...(outlier ? { outlierDetection: {} } : {}) });
const LOCALITY = ['loadBalancer', 'localityLbSetting'];

policyTable('TestValidateLocalityLbSetting', ALL_PLACES, [
  { name: 'valid mesh config without LocalityLoadBalancerSetting', policy: { loadBalancer: {} } },
  {
    name: 'invalid LocalityLoadBalancerSetting_Distribute total weight > 100',
    policy: locality({ distribute: [{ from: 'a/b/c', to: { 'a/b/c': 80, 'a/b1': 25 } }] }),
    err: [...LOCALITY, 'distribute', 0, 'to'],
    msg: 'total locality weight 105 != 100',
  },
  {
    name: 'invalid LocalityLoadBalancerSetting_Distribute total weight < 100',
    policy: locality({ distribute: [{ from: 'a/b/c', to: { 'a/b/c': 80, 'a/b1': 15 } }] }),
    err: [...LOCALITY, 'distribute', 0, 'to'],
    msg: 'total locality weight 95 != 100',
  },
  {
    name: 'invalid LocalityLoadBalancerSetting_Distribute weight = 0',
    policy: locality({ distribute: [{ from: 'a/b/c', to: { 'a/b/c': 0, 'a/b1': 100 } }] }),
    err: [...LOCALITY, 'distribute', 0, 'to', 'a/b/c'],
    msg: 'locality weight must be in range [1, 100]',
  },
  {
    name: 'invalid LocalityLoadBalancerSetting specify both distribute and failover',
    policy: locality({ distribute: [{ from: 'a/b/c', to: { 'a/b/c': 80, 'a/b1': 20 } }], failover: [{ from: 'region1', to: 'region2' }] }),
    err: LOCALITY,
    msg: "can not simultaneously specify 'distribute' and 'failover'",
  },
  {
    name: 'invalid failover src and dst have same region',
    policy: locality({ failover: [{ from: 'region1', to: 'region1' }] }),
    err: [...LOCALITY, 'failover', 0],
    msg: 'locality lb failover settings must specify different regions',
  },
  {
    name: "invalid failover src contain '*' wildcard",
    policy: locality({ failover: [{ from: '*', to: 'region2' }] }),
    err: [...LOCALITY, 'failover', 0],
    msg: "locality lb failover region should not contain '*' wildcard",
  },
  { name: "invalid failover dst contain '*' wildcard", policy: locality({ failover: [{ from: 'region1', to: '*' }] }), err: [...LOCALITY, 'failover', 0] },
  {
    name: "invalid failover src contain '/' separator",
    policy: locality({ failover: [{ from: 'region1/zone1', to: 'region2' }] }),
    err: [...LOCALITY, 'failover', 0],
    msg: 'locality lb failover only specify region',
  },
  { name: "invalid failover dst contain '/' separator", policy: locality({ failover: [{ from: 'region1', to: 'region2/zone1' }] }), err: [...LOCALITY, 'failover', 0] },
  {
    name: 'failover priority provided without outlier detection policy',
    policy: locality(
      { failoverPriority: ['topology.istio.io/network', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone'] },
      false,
    ),
    warn: LOCALITY,
  },
  {
    name: 'failover provided without outlier detection policy',
    policy: locality(
      {
        failover: [
          { from: 'us-east', to: 'eu-west' },
          { from: 'us-west', to: 'eu-east' },
        ],
      },
      false,
    ),
    warn: LOCALITY,
  },
  {
    name: 'invalid LocalityLoadBalancerSetting specify both failoverPriority and region in failover',
    policy: locality({ failover: [{ from: 'region1', to: 'region2' }], failoverPriority: ['topology.kubernetes.io/region'] }),
    err: [...LOCALITY, 'failoverPriority', 0],
    msg: "can not simultaneously set 'failover' and topology label 'topology.kubernetes.io/region' in 'failover_priority'",
  },
  // Not in Istio's table; the same rules.
  { name: 'a valid distribution', policy: locality({ distribute: [{ from: 'us-west/zone1/*', to: { 'us-west/zone1/*': 80, 'us-west/zone2/*': 20 } }] }) },
  { name: 'failover with non-topology priority labels', policy: locality({ failover: [{ from: 'us-east', to: 'eu-west' }], failoverPriority: ['topology.istio.io/network'] }) },
  {
    name: 'distribution targets that overlap',
    policy: locality({ distribute: [{ from: 'a', to: { 'b/c': 50, 'b/c/d': 50 } }] }),
    err: [...LOCALITY, 'distribute', 0, 'to', 'b/c/d'],
    msg: 'locality b/c/d overlap with previous specified ones',
  },
  {
    name: 'distribution sources that overlap',
    policy: locality({
      distribute: [
        { from: 'a/*', to: { b: 100 } },
        { from: 'a/b', to: { b: 100 } },
      ],
    }),
    err: [...LOCALITY, 'distribute', 1, 'from'],
  },
  {
    name: 'a distribution source with an empty zone',
    policy: locality({ distribute: [{ from: 'a//c', to: { b: 100 } }] }),
    err: [...LOCALITY, 'distribute', 0, 'from'],
    msg: 'locality a//c must not contain empty region/zone/subzone info',
  },
  {
    name: 'a distribution source with a wildcard inside',
    policy: locality({ distribute: [{ from: 'a/*/c', to: { b: 100 } }] }),
    err: [...LOCALITY, 'distribute', 0, 'from'],
    msg: "wildcard '*' number can not exceed 1 and must be in the end",
  },
  {
    name: 'a distribution weight above 100',
    policy: locality({ distribute: [{ from: 'a', to: { b: 101 } }] }),
    err: [...LOCALITY, 'distribute', 0, 'to', 'b'],
  },
]);

const zoneAware = (setting: Obj, outlier = true): Obj => ({ loadBalancer: { zoneAwareLbSetting: setting }, ...(outlier ? { outlierDetection: {} } : {}) });
const ZONE = ['loadBalancer', 'zoneAwareLbSetting'];

policyTable('TestValidateZoneAwareLbSetting', ALL_PLACES, [
  { name: 'nil setting is valid', policy: { loadBalancer: {} } },
  { name: 'enabled only is valid', policy: zoneAware({ enabled: true }) },
  { name: 'valid region-level failover', policy: zoneAware({ failover: [{ from: 'us-east', to: 'eu-west' }] }) },
  {
    name: 'failover same src and dst region',
    policy: zoneAware({ failover: [{ from: 'region1', to: 'region1' }] }),
    err: [...ZONE, 'failover', 0],
    msg: 'zone aware lb failover settings must specify different regions',
  },
  {
    name: "failover src has '/' (zone scope) is rejected",
    policy: zoneAware({ failover: [{ from: 'region1/zone1', to: 'region2' }] }),
    err: [...ZONE, 'failover', 0],
    msg: 'zone aware lb failover only specifies region; zone and subzone failover are handled automatically',
  },
  { name: "failover dst has '/' (zone scope) is rejected", policy: zoneAware({ failover: [{ from: 'region1', to: 'region2/zone1' }] }), err: [...ZONE, 'failover', 0] },
  {
    name: "failover src has '*' wildcard is rejected",
    policy: zoneAware({ failover: [{ from: '*', to: 'region2' }] }),
    err: [...ZONE, 'failover', 0],
    msg: "zone aware lb failover region should not contain '*' wildcard",
  },
  { name: "failover dst has '*' wildcard is rejected", policy: zoneAware({ failover: [{ from: 'region1', to: '*' }] }), err: [...ZONE, 'failover', 0] },
  {
    name: 'failover and failoverPriority both set with topology region',
    policy: zoneAware({ failover: [{ from: 'region1', to: 'region2' }], failoverPriority: ['topology.kubernetes.io/region'] }),
    err: [...ZONE, 'failoverPriority', 0],
  },
  {
    name: 'failoverPriority with region label is rejected',
    policy: zoneAware({ failoverPriority: ['topology.kubernetes.io/region'] }),
    err: [...ZONE, 'failoverPriority', 0],
    msg: "'failover_priority' for zone aware lb must not use topology label 'topology.kubernetes.io/region'",
  },
  { name: 'failoverPriority with zone label is rejected', policy: zoneAware({ failoverPriority: ['topology.kubernetes.io/zone'] }), err: [...ZONE, 'failoverPriority', 0] },
  { name: 'failoverPriority with subzone label is rejected', policy: zoneAware({ failoverPriority: ['topology.istio.io/subzone'] }), err: [...ZONE, 'failoverPriority', 0] },
  { name: 'failoverPriority with non-topology labels is valid', policy: zoneAware({ failoverPriority: ['version', 'app=ratings'] }) },
  { name: 'failover without outlier detection warns', policy: zoneAware({ failover: [{ from: 'us-east', to: 'eu-west' }] }, false), warn: ZONE },
  { name: 'failoverPriority without outlier detection warns', policy: zoneAware({ failoverPriority: ['version'] }, false), warn: ZONE },
  // Not in Istio's table: each topology label is its own error.
  {
    name: 'the second of two topology labels is reported too',
    policy: zoneAware({ failoverPriority: ['version', 'topology.kubernetes.io/zone'] }),
    err: [...ZONE, 'failoverPriority', 1],
  },
  { name: 'a minimum cluster size below 1 (the CRD refuses it)', policy: zoneAware({ minClusterSize: 0 }), crd: true },
]);

describe('TestValidateLocalities', () => {
  it.each([
    { name: 'multi wildcard locality', localities: ['*/zone/*'], valid: false },
    { name: 'wildcard not in suffix', localities: ['*/zone'], valid: false },
    { name: 'explicit wildcard region overlap', localities: ['*', 'a/b/c'], valid: false },
    { name: 'implicit wildcard region overlap', localities: ['a', 'a/b/c'], valid: false },
    { name: 'explicit wildcard zone overlap', localities: ['a/*', 'a/b/c'], valid: false },
    { name: 'implicit wildcard zone overlap', localities: ['a/b', 'a/b/c'], valid: false },
    { name: 'explicit wildcard subzone overlap', localities: ['a/b/*', 'a/b/c'], valid: false },
    { name: 'implicit wildcard subzone overlap', localities: ['a/b', 'a/b/c'], valid: false },
    { name: 'valid localities', localities: ['a1/*', 'a2/*', 'a3/b3/c3', 'a4/b4', 'a5/b5/*'], valid: true },
    // Not in Istio's table.
    { name: 'the same subzone twice', localities: ['a/b/c', 'a/b/c'], valid: false },
    { name: 'the same zone twice', localities: ['a/b', 'a/b'], valid: false },
    { name: 'a region after its subzone', localities: ['a/b/c', 'a'], valid: false },
    { name: 'sibling subzones', localities: ['a/b/c', 'a/b/d', 'a/e'], valid: true },
    { name: 'an empty locality', localities: [''], valid: false },
  ])('$name', ({ localities, valid }) => {
    expect(localitiesError(localities) === undefined).toBe(valid);
  });

  it('names the entry at fault', () => {
    expect(localitiesError(['a/b', 'x', 'a/b/c'])).toEqual({ index: 2, locality: 'a/b/c', message: 'locality a/b/c overlap with previous specified ones' });
  });
});

describe('Test_validateExportTo (as a DestinationRule uses it)', () => {
  const dr = (exportTo: string[], selector = false): Obj => ({ host: 'reviews', exportTo, ...(selector ? { workloadSelector: { matchLabels: { app: 'reviews' } } } : {}) });
  const cases: Case[] = [
    { name: 'empty exportTo is okay', spec: { host: 'reviews' } },
    { name: '* is allowed', spec: dr(['*']) },
    { name: '. and ns1 are allowed', spec: dr(['.', 'ns1']) },
    { name: 'bunch of namespaces in exportTo is okay', spec: dr(['ns1', 'ns2', 'ns5']) },
    { name: '~ not allowed for non service entry configs', spec: dr(['~', 'ns1']), err: ['exportTo', 0], msg: 'exportTo ~ (none) is not allowed for Istio configuration objects' },
    { name: '. and * together are not allowed', spec: dr(['.', '*']), err: ['exportTo'], msg: 'cannot have both public (*) and non-public exportTo values for a resource' },
    { name: '* and ns1 together are not allowed', spec: dr(['*', 'ns1']), err: ['exportTo'] },
    { name: '. and same namespace in exportTo is not okay', spec: dr(['.', 'ns5']), err: ['exportTo', 1], msg: 'duplicate entries in exportTo for entry ns5' },
    { name: 'duplicate namespaces in exportTo is not okay', spec: dr(['ns1', 'ns2', 'ns1']), err: ['exportTo', 2], msg: 'duplicate entries in exportTo for entry ns1' },
    { name: 'invalid namespace names are not okay', spec: dr(['ns1_']), err: ['exportTo', 0], msg: 'only .,*, or a valid DNS 1123 label is allowed as exportTo entry' },
    {
      name: 'destination rule with workloadselector cannot have exportTo (*)',
      spec: dr(['*'], true),
      err: ['exportTo'],
      msg: 'destination rule with workload selector cannot have exportTo beyond current namespace',
    },
    { name: 'destination rule with workloadselector can have only exportTo (.)', spec: dr(['.'], true) },
    { name: 'destination rule with workloadselector cannot have another ns in exportTo (.)', spec: dr(['somens'], true), err: ['exportTo'] },
    {
      name: 'destination rule with workloadselector cannot have another ns in addition to own ns in exportTo (.)',
      spec: dr(['.', 'somens'], true),
      err: ['exportTo'],
      msg: 'destination rule with workload selector cannot have multiple entries in exportTo',
    },
    // Not in Istio's table.
    { name: 'same namespace, then .', spec: dr(['ns5', '.']), err: ['exportTo', 1], msg: 'duplicate entries in exportTo: . and current namespace ns5' },
    { name: 'destination rule with workloadselector may name its own namespace', spec: dr(['ns5'], true) },
  ];
  it.each(cases)('$name', (c) => checkCase(c, ctx({ namespace: 'ns5' })));
});

describe('DestinationRule: the rest of ValidateDestinationRule', () => {
  const cases: Case[] = [
    { name: 'a wildcard host', spec: { host: '*.example.com' } },
    { name: 'a FQDN host with a trailing dot', spec: { host: 'reviews.default.svc.cluster.local.' } },
    { name: 'a host with an invalid label', spec: { host: 'reviews_v1.default' }, err: ['host'], msg: 'domain name "reviews_v1.default" invalid (label "reviews_v1" invalid)' },
    { name: 'a host with a numeric top-level domain', spec: { host: 'reviews.123' }, err: ['host'], msg: 'cannot be all-numeric' },
    { name: 'a partial wildcard host', spec: { host: '*reviews.example.com' } },
    { name: 'a wildcard inside the host', spec: { host: 'reviews.*.example.com' }, err: ['host'] },
    { name: 'a null subset', spec: { host: 'reviews', subsets: [null] }, err: ['subsets', 0], msg: 'subset may not be null' },
    { name: 'a subset name that is not a DNS label', spec: { host: 'reviews', subsets: [{ name: 'v1.0' }] }, err: ['subsets', 0, 'name'], msg: 'subset name is invalid: v1.0' },
    { name: 'a subset name in upper case (Istio allows it)', spec: { host: 'reviews', subsets: [{ name: 'V1' }] } },
    { name: 'a subset without labels', spec: { host: 'reviews', subsets: [{ name: 'all' }] } },
    {
      name: 'a subset label key that is not a label name',
      spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { 'bad key': 'v1' } }] },
      err: ['subsets', 0, 'labels', 'bad key'],
      msg: 'invalid tag key: "bad key"',
    },
    {
      name: 'a subset label value that is not a label value',
      spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1 beta' } }] },
      err: ['subsets', 0, 'labels', 'version'],
      msg: 'invalid tag value: "v1 beta"',
    },
    { name: 'a subset label with a prefixed key and an empty value', spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { 'app.kubernetes.io/version': '' } }] } },
    { name: 'an empty subset traffic policy', spec: { host: 'reviews', subsets: [{ name: 'v1', trafficPolicy: {} }] }, err: ['subsets', 0, 'trafficPolicy'] },
    { name: 'a workload selector with labels', spec: { host: 'reviews', workloadSelector: { matchLabels: { app: 'reviews' } } } },
    { name: 'a workload selector with a wildcard label (the CRD refuses it)', spec: { host: 'reviews', workloadSelector: { matchLabels: { app: 'rev*' } } }, crd: true },
    {
      name: 'failover without outlier detection at the top level warns',
      spec: { host: 'reviews', trafficPolicy: { loadBalancer: { localityLbSetting: { failover: [{ from: 'a', to: 'b' }] } } } },
      warn: ['trafficPolicy', 'loadBalancer', 'localityLbSetting'],
    },
    {
      name: 'Istio drops the warnings of a subset traffic policy but keeps its errors',
      spec: {
        host: 'reviews',
        subsets: [{ name: 'v1', trafficPolicy: { outlierDetection: { consecutiveErrors: 5, minHealthPercent: 101 } } }],
      },
      err: ['subsets', 0, 'trafficPolicy', 'outlierDetection', 'minHealthPercent'],
    },
    {
      name: 'Istio drops the warnings of a port traffic policy but keeps its errors',
      spec: {
        host: 'reviews',
        trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, loadBalancer: { consistentHash: { minimumRingSize: 1024, maglev: { tableSize: 7 } } } }] },
      },
      err: ['trafficPolicy', 'portLevelSettings', 0, 'loadBalancer', 'consistentHash', 'minimumRingSize'],
    },
  ];
  it.each(cases)('$name', (c) => checkCase(c));

  it("accepts Istio's valid CRD examples (testdata/crds/destinationrule-valid.yaml)", () => {
    const host = 'ratings.prod.svc.cluster.local';
    for (const spec of [
      { host, trafficPolicy: { loadBalancer: { warmup: { duration: '300s' } } } },
      { host, trafficPolicy: { loadBalancer: { warmup: { duration: '300s', minimumPercent: 5.0 } } } },
      { host, trafficPolicy: { loadBalancer: { warmup: { duration: '300s', minimumPercent: 5.0, aggression: 5.0 } } } },
      { host, trafficPolicy: { connectionPool: { http: { http2KeepAlive: { interval: '15s', timeout: '5s' } } } } },
    ]) {
      expect(crdErrors(spec)).toEqual([]);
      expect(run(spec)).toEqual([]);
    }
  });

  it('reports every mistake, each at its own field, in the order the rules run', () => {
    const findings = run({
      host: '',
      trafficPolicy: { connectionPool: { tcp: { maxConnections: -1 }, http: { maxRetries: -1 } }, outlierDetection: { maxEjectionPercent: 101 } },
      subsets: [{ name: 'v1' }, { name: 'v1' }],
      exportTo: ['.', '.'],
    });
    expect(findings.map((f) => [f.severity, f.path.join('.')])).toEqual([
      ['error', 'host'],
      ['error', 'trafficPolicy.outlierDetection.maxEjectionPercent'],
      ['error', 'trafficPolicy.connectionPool.http.maxRetries'],
      ['error', 'trafficPolicy.connectionPool.tcp.maxConnections'],
      ['error', 'subsets.1.name'],
      ['error', 'exportTo.1'],
    ]);
  });

});
