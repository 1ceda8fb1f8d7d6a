import { describe, expect, it } from 'vitest';
import { checkSidecar } from '../../../../src/config/webhook/sidecar.js';
import { type SpecPath, type WebhookContext } from '../../../../src/config/webhook/types.js';
import { expectFindings, webhookContext } from '../../../helpers/webhook.js';

// Tables ported from Istio's pkg/config/validation/validation_test.go (TestValidateSidecar,
// TestValidateConnectionPool). `error`/`warning` is the text Istio's test looks for (true: any);
// the path is where meshgate points. Istio's tables run with namespace "bar".
interface Case {
  name: string;
  spec: Record<string, unknown>;
  error?: string | true;
  errorAt?: SpecPath;
  warning?: string | true;
  warningAt?: SpecPath;
}

const CTX: WebhookContext = webhookContext();



const SIDECAR_CASES: Case[] = [
  { name: 'empty ingress and egress', spec: {}, error: true, errorAt: [] },
  { name: 'default', spec: { egress: [{ hosts: ['*/*'] }] } },
  {
    name: 'workload selector without labels',
    spec: { egress: [{ hosts: ['*/*'] }], workloadSelector: {} },
    warning: true,
    warningAt: ['workloadSelector'],
  },
  { name: 'import local namespace with wildcard', spec: { egress: [{ hosts: ['./*'] }] } },
  { name: 'import local namespace with fqdn', spec: { egress: [{ hosts: ['./foo.com'] }] } },
  { name: 'import nothing', spec: { egress: [{ hosts: ['~/*'] }] } },
  { name: 'import all except a namespace', spec: { egress: [{ hosts: ['*/*', '~ns1/*'] }] } },
  { name: 'import all except an exact host', spec: { egress: [{ hosts: ['*/*', '~/foo.com'] }] } },
  {
    name: 'exclude with invalid namespace',
    spec: { egress: [{ hosts: ['*/*', '~Invalid_NS/*'] }] },
    error: true,
    errorAt: ['egress', 0, 'hosts', 1],
  },
  { name: 'bad egress host 1', spec: { egress: [{ hosts: ['*'] }] }, error: true, errorAt: ['egress', 0, 'hosts', 0] },
  { name: 'bad egress host 2', spec: { egress: [{ hosts: ['/'] }] }, error: true, errorAt: ['egress', 0, 'hosts', 0] },
  { name: 'empty egress host', spec: { egress: [{ hosts: [] }] }, error: true, errorAt: ['egress', 0, 'hosts'] },
  {
    name: 'multiple wildcard egress',
    spec: { egress: [{ hosts: ['*/foo.com'] }, { hosts: ['ns1/bar.com'] }] },
    error: true,
    errorAt: ['egress', 0],
  },
  {
    name: 'wildcard egress not in end',
    spec: { egress: [{ hosts: ['*/foo.com'] }, { port: { protocol: 'http', number: 8080, name: 'h8080' }, hosts: ['ns1/bar.com'] }] },
    error: true,
    errorAt: ['egress', 0],
  },
  {
    name: 'invalid Port',
    spec: { egress: [{ port: { protocol: 'http1', number: 1000000, name: '' }, hosts: ['ns1/bar.com'] }] },
    error: true,
    errorAt: ['egress', 0, 'port', 'protocol'],
  },
  { name: 'Port without name', spec: { egress: [{ port: { protocol: 'http', number: 8080 }, hosts: ['ns1/bar.com'] }] } },
  {
    name: 'UDS bind in outbound',
    spec: { egress: [{ port: { protocol: 'http', number: 0, name: 'uds' }, hosts: ['ns1/bar.com'], bind: 'unix:///@foo/bar/com' }] },
  },
  {
    name: 'UDS bind in inbound',
    spec: { ingress: [{ port: { protocol: 'http', number: 0, name: 'uds' }, bind: 'unix:///@foo/bar/com', defaultEndpoint: '127.0.0.1:9999' }] },
    error: true,
    errorAt: ['ingress', 0, 'port', 'number'],
  },
  {
    name: 'UDS bind in outbound 2',
    spec: { egress: [{ port: { protocol: 'http', number: 0, name: 'uds' }, hosts: ['ns1/bar.com'], bind: 'unix:///foo/bar/com' }] },
  },
  {
    name: 'invalid bind',
    spec: { egress: [{ port: { protocol: 'http', number: 0, name: 'uds' }, hosts: ['ns1/bar.com'], bind: 'foobar:///@foo/bar/com' }] },
    error: true,
    errorAt: ['egress', 0, 'bind'],
  },
  {
    name: 'invalid capture mode with uds bind',
    spec: {
      egress: [
        {
          port: { protocol: 'http', number: 0, name: 'uds' },
          hosts: ['ns1/bar.com'],
          bind: 'unix:///@foo/bar/com',
          captureMode: 'IPTABLES',
        },
      ],
    },
    error: true,
    errorAt: ['egress', 0, 'captureMode'],
  },
  {
    name: 'duplicate UDS bind',
    spec: {
      egress: [
        { port: { protocol: 'http', number: 0, name: 'uds' }, hosts: ['ns1/bar.com'], bind: 'unix:///@foo/bar/com' },
        { port: { protocol: 'http', number: 0, name: 'uds' }, hosts: ['ns1/bar.com'], bind: 'unix:///@foo/bar/com' },
      ],
    },
    error: true,
    errorAt: ['egress', 1, 'bind'],
  },
  {
    name: 'duplicate ports',
    spec: {
      egress: [
        { port: { protocol: 'http', number: 90, name: 'foo' }, hosts: ['ns1/bar.com'] },
        { port: { protocol: 'tcp', number: 90, name: 'tcp' }, hosts: ['ns2/bar.com'] },
      ],
    },
    error: true,
    errorAt: ['egress', 1, 'port', 'number'],
  },
  {
    name: 'ingress without port',
    spec: { ingress: [{ defaultEndpoint: '127.0.0.1:110' }], egress: [{ hosts: ['*/*'] }] },
    error: true,
    errorAt: ['ingress', 0, 'port'],
  },
  {
    name: 'ingress without port and with IPv6 endpoint',
    spec: { ingress: [{ defaultEndpoint: '[::1]:110' }], egress: [{ hosts: ['*/*'] }] },
    error: true,
    errorAt: ['ingress', 0, 'port'],
  },
  {
    name: 'ingress with duplicate ports',
    spec: {
      ingress: [
        { port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:110' },
        { port: { protocol: 'tcp', number: 90, name: 'bar' }, defaultEndpoint: '127.0.0.1:110' },
      ],
      egress: [{ hosts: ['*/*'] }],
    },
    error: true,
    errorAt: ['ingress', 1, 'port', 'number'],
  },
  {
    name: 'ingress with duplicate ports and IPv6 endpoint',
    spec: {
      ingress: [
        { port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:110' },
        { port: { protocol: 'tcp', number: 90, name: 'bar' }, defaultEndpoint: '[::1]:110' },
      ],
      egress: [{ hosts: ['*/*'] }],
    },
    error: true,
    errorAt: ['ingress', 1, 'port', 'number'],
  },
  {
    name: 'ingress without default endpoint',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' } }], egress: [{ hosts: ['*/*'] }] },
  },
  {
    name: 'ingress with invalid default endpoint in IPv4',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '1.1.1.1:90' }] },
    error: true,
    errorAt: ['ingress', 0, 'defaultEndpoint'],
  },
  {
    name: 'ingress with invalid default endpoint in IPv6',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[1:1:1:1:1:1:1:1]:90' }] },
    error: true,
    errorAt: ['ingress', 0, 'defaultEndpoint'],
  },
  {
    name: 'ingress with invalid default endpoint uds',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: 'unix:///' }], egress: [{ hosts: ['*/*'] }] },
    error: true,
    errorAt: ['ingress', 0, 'defaultEndpoint'],
  },
  {
    name: 'ingress with invalid default endpoint port in IPv4',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:hi' }], egress: [{ hosts: ['*/*'] }] },
    error: true,
    errorAt: ['ingress', 0, 'defaultEndpoint'],
  },
  {
    name: 'ingress with invalid default endpoint port in IPv6',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:hi' }], egress: [{ hosts: ['*/*'] }] },
    error: true,
    errorAt: ['ingress', 0, 'defaultEndpoint'],
  },
  {
    name: 'valid ingress and egress in IPv4',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:9999' }], egress: [{ hosts: ['*/*'] }] },
  },
  {
    name: 'valid ingress and egress in IPv6',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:9999' }], egress: [{ hosts: ['*/*'] }] },
  },
  {
    name: 'valid ingress and empty egress in IPv4',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:9999' }] },
  },
  {
    name: 'valid ingress and empty egress in IPv6',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:9999' }] },
  },
  { name: 'empty', spec: {}, error: true, errorAt: [] },
  { name: 'just outbound traffic policy', spec: { outboundTrafficPolicy: { mode: 'ALLOW_ANY' } } },
  {
    name: 'empty protocol in IPv4',
    spec: { ingress: [{ port: { number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:9999' }], egress: [{ hosts: ['*/*'] }] },
  },
  {
    name: 'empty protocol in IPv6',
    spec: { ingress: [{ port: { number: 90, name: 'foo' }, defaultEndpoint: '[::1]:9999' }], egress: [{ hosts: ['*/*'] }] },
  },
  {
    name: 'ALLOW_ANY sidecar egress policy with no egress proxy ',
    spec: { outboundTrafficPolicy: { mode: 'ALLOW_ANY' }, egress: [{ hosts: ['*/*'] }] },
  },
  {
    name: 'sidecar egress proxy with RESGISTRY_ONLY(default)',
    spec: { outboundTrafficPolicy: { egressProxy: { host: 'foo.bar', subset: 'shiny', port: { number: 5000 } } }, egress: [{ hosts: ['*/*'] }] },
    error: true,
    errorAt: ['outboundTrafficPolicy', 'egressProxy'],
  },
  {
    name: 'sidecar egress proxy with ALLOW_ANY',
    spec: {
      outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'foo.bar', subset: 'shiny', port: { number: 5000 } } },
      egress: [{ hosts: ['*/*'] }],
    },
  },
  {
    name: 'sidecar egress proxy with ALLOW_ANY, service hostname invalid fqdn',
    spec: {
      outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'foobar*123', subset: 'shiny', port: { number: 5000 } } },
      egress: [{ hosts: ['*/*'] }],
    },
    error: true,
    errorAt: ['outboundTrafficPolicy', 'egressProxy', 'host'],
  },
  {
    name: 'sidecar egress proxy(without Port) with ALLOW_ANY',
    spec: { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'foo.bar', subset: 'shiny' } }, egress: [{ hosts: ['*/*'] }] },
    error: true,
    errorAt: ['outboundTrafficPolicy', 'egressProxy', 'port'],
  },
  {
    name: 'ALLOW_ANY_DYNAMIC_DNS rejected in sidecar',
    spec: { outboundTrafficPolicy: { mode: 'ALLOW_ANY_DYNAMIC_DNS' }, egress: [{ hosts: ['*/*'] }] },
    error: true,
    errorAt: ['outboundTrafficPolicy', 'mode'],
  },
  {
    name: 'sidecar egress only one wildcarded',
    spec: { egress: [{ hosts: ['*/*', 'test/a.com'] }] },
    warning: true,
    warningAt: ['egress', 0, 'hosts'],
  },
  { name: 'sidecar egress wildcarded ns', spec: { egress: [{ hosts: ['*/b.com', 'test/a.com'] }] } },
  {
    name: 'sidecar egress duplicated with wildcarded same namespace',
    spec: { egress: [{ hosts: ['test/*', 'test/a.com'] }] },
    warning: true,
    warningAt: ['egress', 0, 'hosts', 1],
  },
  { name: 'invalid partial wildcard', spec: { egress: [{ hosts: ['test/*a.com'] }] }, error: true, errorAt: ['egress', 0, 'hosts', 0] },
  {
    name: 'sidecar egress duplicated with wildcarded same namespace .',
    spec: { egress: [{ hosts: ['./*', 'bar/a.com'] }] },
    warning: true,
    warningAt: ['egress', 0, 'hosts', 1],
  },
  {
    name: 'ingress tls mode set to ISTIO_MUTUAL in IPv4',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:9999', tls: { mode: 'ISTIO_MUTUAL' } }] },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'mode'],
  },
  {
    name: 'ingress tls mode set to ISTIO_MUTUAL in IPv6',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:9999', tls: { mode: 'ISTIO_MUTUAL' } }] },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'mode'],
  },
  {
    name: 'ingress tls mode set to ISTIO_AUTO_PASSTHROUGH in IPv4',
    spec: {
      ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:9999', tls: { mode: 'AUTO_PASSTHROUGH' } }],
    },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'mode'],
  },
  {
    name: 'ingress tls mode set to ISTIO_AUTO_PASSTHROUGH in IPv6',
    spec: { ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:9999', tls: { mode: 'AUTO_PASSTHROUGH' } }] },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'mode'],
  },
  {
    name: 'ingress tls invalid protocol in IPv4',
    spec: { ingress: [{ port: { protocol: 'tcp', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:9999', tls: { mode: 'SIMPLE' } }] },
    error: true,
    errorAt: ['ingress', 0, 'tls'],
  },
  {
    name: 'ingress tls invalid protocol in IPv6',
    spec: { ingress: [{ port: { protocol: 'tcp', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:9999', tls: { mode: 'SIMPLE' } }] },
    error: true,
    errorAt: ['ingress', 0, 'tls'],
  },
  {
    name: 'ingress tls httpRedirect is not supported in IPv4',
    spec: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: { mode: 'SIMPLE', httpsRedirect: true },
        },
      ],
    },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'httpsRedirect'],
  },
  {
    name: 'ingress tls httpRedirect is not supported in IPv6',
    spec: {
      ingress: [{ port: { protocol: 'tcp', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:9999', tls: { mode: 'SIMPLE', httpsRedirect: true } }],
    },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'httpsRedirect'],
  },
  {
    name: 'ingress tls SAN entries are not supported in IPv4',
    spec: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: { mode: 'SIMPLE', subjectAltNames: ['httpbin.com'] },
        },
      ],
    },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'subjectAltNames'],
  },
  {
    name: 'ingress tls SAN entries are not supported in IPv6',
    spec: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: { mode: 'SIMPLE', subjectAltNames: ['httpbin.com'] },
        },
      ],
    },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'subjectAltNames'],
  },
  {
    name: 'ingress tls credentialName is not supported in IPv4',
    spec: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: { mode: 'SIMPLE', credentialName: 'secret-name' },
        },
      ],
    },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'credentialName'],
  },
  {
    name: 'ingress tls credentialName is not supported in IPv6',
    spec: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: { mode: 'SIMPLE', credentialName: 'secret-name' },
        },
      ],
    },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'credentialName'],
  },
  {
    name: 'ingress tls credentialNames is not supported in IPv4',
    spec: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: { mode: 'SIMPLE', credentialNames: ['secret-name'] },
        },
      ],
    },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'credentialNames'],
  },
  {
    name: 'ingress tls credentialNames is not supported in IPv6',
    spec: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: { mode: 'SIMPLE', credentialNames: ['secret-name'] },
        },
      ],
    },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'credentialNames'],
  },
  {
    name: 'ingress tls tlsCertificates is not supported in IPv4',
    spec: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: {
            mode: 'SIMPLE',
            tlsCertificates: [
              { serverCertificate: '/etc/istio/ingress-certs/tls.crt', privateKey: '/etc/istio/ingress-certs/tls.key' },
              { serverCertificate: '/etc/istio/ingress-certs/tls2.crt', privateKey: '/etc/istio/ingress-certs/tls2.key' },
            ],
          },
        },
      ],
    },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'tlsCertificates'],
  },
  {
    name: 'ingress tls tlsCertificates is not supported in IPv6',
    spec: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: {
            mode: 'SIMPLE',
            tlsCertificates: [
              { serverCertificate: '/etc/istio/ingress-certs/tls.crt', privateKey: '/etc/istio/ingress-certs/tls.key' },
              { serverCertificate: '/etc/istio/ingress-certs/tls2.crt', privateKey: '/etc/istio/ingress-certs/tls2.key' },
            ],
          },
        },
      ],
    },
    error: true,
    errorAt: ['ingress', 0, 'tls', 'tlsCertificates'],
  },
  {
    name: 'valid inbound connection pool',
    spec: {
      inboundConnectionPool: { http: { http1MaxPendingRequests: 1024, http2MaxRequests: 1024, maxRequestsPerConnection: 1024, maxRetries: 1024 } },
    },
  },
  {
    name: 'valid port-level connection pool with top level default',
    spec: {
      ingress: [
        {
          port: { protocol: 'http', number: 90, name: 'foo' },
          connectionPool: { http: { http1MaxPendingRequests: 1024, http2MaxRequests: 1024, maxRequestsPerConnection: 1024, maxRetries: 1024 } },
        },
      ],
      inboundConnectionPool: { http: { http1MaxPendingRequests: 1024, http2MaxRequests: 1024, maxRequestsPerConnection: 1024, maxRetries: 1024 } },
    },
  },
  {
    name: 'valid port-level connection pool without a top level default',
    spec: {
      ingress: [
        {
          port: { protocol: 'http', number: 90, name: 'foo' },
          connectionPool: { http: { http1MaxPendingRequests: 1024, http2MaxRequests: 1024, maxRequestsPerConnection: 1024, maxRetries: 1024 } },
        },
      ],
    },
  },
  {
    name: 'warn http connection settings on tcp port',
    spec: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          connectionPool: { http: { http1MaxPendingRequests: 1024, http2MaxRequests: 1024, maxRequestsPerConnection: 1024, maxRetries: 1024 } },
        },
      ],
    },
    warning: true,
    warningAt: ['ingress', 0, 'connectionPool', 'http'],
  },
  { name: 'invalid top level connection pool', spec: { inboundConnectionPool: {} }, error: true, errorAt: ['inboundConnectionPool'] },
  {
    name: 'invalid port-level connection pool',
    spec: { ingress: [{ port: { protocol: 'tcp', number: 90, name: 'foo' }, connectionPool: {} }] },
    error: true,
    errorAt: ['ingress', 0, 'connectionPool'],
  },
];

// TestValidateConnectionPool (validateConnectionPool), as the Sidecar's inboundConnectionPool.
const CONNECTION_POOL_CASES: Case[] = [
  {
    name: 'valid connection pool, tcp and http',
    spec: {
      tcp: { maxConnections: 7, connectTimeout: '2s' },
      http: {
        http1MaxPendingRequests: 2,
        http2MaxRequests: 11,
        maxRequestsPerConnection: 5,
        maxRetries: 4,
        idleTimeout: '30s',
        maxConcurrentStreams: 5,
      },
    },
  },
  { name: 'valid connection pool, tcp only', spec: { tcp: { maxConnections: 7, connectTimeout: '2s' } } },
  {
    name: 'valid connection pool, http only',
    spec: {
      http: {
        http1MaxPendingRequests: 2,
        http2MaxRequests: 11,
        maxRequestsPerConnection: 5,
        maxRetries: 4,
        idleTimeout: '30s',
        maxConcurrentStreams: 5,
      },
    },
  },
  {
    name: 'valid connection pool, http only with empty idle timeout',
    spec: { http: { http1MaxPendingRequests: 2, http2MaxRequests: 11, maxRequestsPerConnection: 5, maxRetries: 4, maxConcurrentStreams: 5 } },
  },
  { name: 'valid connection pool, http2 keepalive', spec: { http: { http2KeepAlive: { interval: '15s', timeout: '5s' } } } },
  { name: 'invalid connection pool, empty', spec: {}, error: true, errorAt: ['inboundConnectionPool'] },
  {
    name: 'invalid connection pool, bad max connections',
    spec: { tcp: { maxConnections: -1 } },
    error: true,
    errorAt: ['inboundConnectionPool', 'tcp', 'maxConnections'],
  },
  {
    name: 'invalid connection pool, bad connect timeout',
    spec: { tcp: { connectTimeout: '2.000000005s' } },
    error: true,
    errorAt: ['inboundConnectionPool', 'tcp', 'connectTimeout'],
  },
  {
    name: 'invalid connection pool, bad max pending requests',
    spec: { http: { http1MaxPendingRequests: -1 } },
    error: true,
    errorAt: ['inboundConnectionPool', 'http', 'http1MaxPendingRequests'],
  },
  {
    name: 'invalid connection pool, bad max requests',
    spec: { http: { http2MaxRequests: -1 } },
    error: true,
    errorAt: ['inboundConnectionPool', 'http', 'http2MaxRequests'],
  },
  {
    name: 'invalid connection pool, bad max requests per connection',
    spec: { http: { maxRequestsPerConnection: -1 } },
    error: true,
    errorAt: ['inboundConnectionPool', 'http', 'maxRequestsPerConnection'],
  },
  {
    name: 'invalid connection pool, bad max retries',
    spec: { http: { maxRetries: -1 } },
    error: true,
    errorAt: ['inboundConnectionPool', 'http', 'maxRetries'],
  },
  {
    name: 'invalid connection pool, bad idle timeout',
    spec: { http: { idleTimeout: '30.000000005s' } },
    error: true,
    errorAt: ['inboundConnectionPool', 'http', 'idleTimeout'],
  },
  { name: 'valid connection pool, tcp timeout disabled', spec: { tcp: { idleTimeout: '0s' } } },
  {
    name: 'invalid connection pool, bad max concurrent streams',
    spec: { http: { maxConcurrentStreams: -1 } },
    error: true,
    errorAt: ['inboundConnectionPool', 'http', 'maxConcurrentStreams'],
  },
  {
    name: 'invalid connection pool, http2 keepalive without interval',
    spec: { http: { http2KeepAlive: { timeout: '5s' } } },
    error: true,
    errorAt: ['inboundConnectionPool', 'http', 'http2KeepAlive', 'interval'],
  },
  {
    name: 'invalid connection pool, http2 keepalive without timeout',
    spec: { http: { http2KeepAlive: { interval: '15s' } } },
    error: true,
    errorAt: ['inboundConnectionPool', 'http', 'http2KeepAlive', 'timeout'],
  },
  {
    name: 'invalid connection pool, bad http2 keepalive interval',
    spec: { http: { http2KeepAlive: { interval: '15.000000005s', timeout: '5s' } } },
    error: true,
    errorAt: ['inboundConnectionPool', 'http', 'http2KeepAlive', 'interval'],
  },
];

describe('checkSidecar: Istio TestValidateSidecar', () => {
  it.each(SIDECAR_CASES)('$name', (c) => {
    expectFindings(checkSidecar(c.spec, CTX), c);
  });
});

describe('checkSidecar: Istio TestValidateConnectionPool', () => {
  it.each(CONNECTION_POOL_CASES)('inbound pool: $name', (c) => {
    expectFindings(checkSidecar({ inboundConnectionPool: c.spec }, CTX), c);
  });

  // The same rules for a listener's own pool, on an HTTP port so no protocol warning interferes.
  it.each(CONNECTION_POOL_CASES)('ingress listener pool: $name', (c) => {
    const spec = { ingress: [{ port: { number: 8080, name: 'http', protocol: 'HTTP' }, connectionPool: c.spec }] };
    const at = (path: SpecPath | undefined) => (path ? ['ingress', 0, 'connectionPool', ...path.slice(1)] : undefined);
    expectFindings(checkSidecar(spec, CTX), { ...c, errorAt: at(c.errorAt), warningAt: at(c.warningAt) });
  });
});

const EGRESS_ALL = { egress: [{ hosts: ['*/*'] }] };
/** A Sidecar with one ingress listener on HTTP 9080 with the fields given. */
function ingressWith(listener: Record<string, unknown>): Record<string, unknown> {
  return { ingress: [{ port: { number: 9080, name: 'http', protocol: 'HTTP' }, ...listener }] };
}

describe('checkSidecar: ingress listeners beyond Istio tables', () => {
  it.each<[string, Record<string, unknown>, Omit<Case, 'name' | 'spec'>]>([
    ['defaultEndpoint :port', { defaultEndpoint: ':8080' }, {}],
    ['defaultEndpoint 0.0.0.0', { defaultEndpoint: '0.0.0.0:8080' }, {}],
    ['defaultEndpoint [::]', { defaultEndpoint: '[::]:8080' }, {}],
    ['defaultEndpoint abstract socket', { defaultEndpoint: 'unix://@app' }, {}],
    ['defaultEndpoint socket file', { defaultEndpoint: 'unix:///var/run/app.sock' }, {}],
    ['defaultEndpoint signed port (Atoi takes it)', { defaultEndpoint: '127.0.0.1:+8080' }, {}],
    [
      'defaultEndpoint without port',
      { defaultEndpoint: '127.0.0.1' },
      { error: 'address 127.0.0.1: missing port in address', errorAt: ['ingress', 0, 'defaultEndpoint'] },
    ],
    [
      'defaultEndpoint bare IPv6',
      { defaultEndpoint: '::1:8080' },
      { error: 'address ::1:8080: too many colons in address', errorAt: ['ingress', 0, 'defaultEndpoint'] },
    ],
    [
      'defaultEndpoint bracket without colon',
      { defaultEndpoint: '[::1]8080' },
      { error: 'address [::1]8080: missing port in address', errorAt: ['ingress', 0, 'defaultEndpoint'] },
    ],
    [
      'defaultEndpoint unclosed bracket',
      { defaultEndpoint: '[::1:8080' },
      { error: "address [::1:8080: missing ']' in address", errorAt: ['ingress', 0, 'defaultEndpoint'] },
    ],
    [
      'defaultEndpoint hostname',
      { defaultEndpoint: 'localhost:8080' },
      { error: 'sidecar: defaultEndpoint must be of form 127.0.0.1:<port>', errorAt: ['ingress', 0, 'defaultEndpoint'] },
    ],
    [
      'defaultEndpoint port 0',
      { defaultEndpoint: '127.0.0.1:0' },
      { error: 'port number 0 must be in the range 1..65535', errorAt: ['ingress', 0, 'defaultEndpoint'] },
    ],
    [
      'defaultEndpoint port too large',
      { defaultEndpoint: '127.0.0.1:70000' },
      { error: 'port number 70000 must be in the range 1..65535', errorAt: ['ingress', 0, 'defaultEndpoint'] },
    ],
    [
      'defaultEndpoint port beyond int64',
      { defaultEndpoint: '127.0.0.1:99999999999999999999' },
      { error: 'strconv.Atoi: parsing "99999999999999999999": value out of range', errorAt: ['ingress', 0, 'defaultEndpoint'] },
    ],
    [
      'defaultEndpoint empty port',
      { defaultEndpoint: '127.0.0.1:' },
      { error: 'sidecar: defaultEndpoint port () is not a number: strconv.Atoi: parsing "": invalid syntax', errorAt: ['ingress', 0, 'defaultEndpoint'] },
    ],
    [
      'defaultEndpoint relative socket',
      { defaultEndpoint: 'unix://app.sock' },
      { error: 'app.sock is not an absolute path to a file', errorAt: ['ingress', 0, 'defaultEndpoint'] },
    ],
    ['bind IPv4', { bind: '10.1.2.3' }, {}],
    ['bind IPv6', { bind: '2001:db8::1' }, {}],
    ['bind hostname', { bind: 'localhost' }, { error: 'localhost is not a valid IP', errorAt: ['ingress', 0, 'bind'] }],
    [
      'bad port name',
      { port: { number: 9080, name: 'Bad_Name', protocol: 'HTTP' } },
      { error: 'invalid port name: Bad_Name', errorAt: ['ingress', 0, 'port', 'name'] },
    ],
    [
      'unknown protocol',
      { port: { number: 9080, name: 'x', protocol: 'kafka' } },
      { error: 'unsupported protocol: kafka', errorAt: ['ingress', 0, 'port', 'protocol'] },
    ],
    [
      'targetPort',
      { port: { number: 9080, name: 'x', protocol: 'HTTP', targetPort: 8080 } },
      { error: 'targetPort has no impact on Sidecars', errorAt: ['ingress', 0, 'port', 'targetPort'] },
    ],
    ['HTTPS with certificate files', { port: { number: 9443, name: 'https', protocol: 'HTTPS' }, tls: { mode: 'SIMPLE', serverCertificate: '/c', privateKey: '/k' } }, {}],
    [
      'MUTUAL TLS needs a client CA',
      { port: { number: 9443, name: 'https', protocol: 'HTTPS' }, tls: { mode: 'MUTUAL', serverCertificate: '/c', privateKey: '/k' } },
      { error: 'MUTUAL TLS requires a client CA bundle', errorAt: ['ingress', 0, 'tls', 'caCertificates'] },
    ],
    [
      'TLS settings are checked as a Gateway server’s',
      { port: { number: 9443, name: 'tls', protocol: 'TLS' }, tls: { mode: 'SIMPLE', serverCertificate: '/c', privateKey: '/k', cipherSuites: ['bogus'] } },
      { warning: 'ignoring invalid cipher suites: [bogus]', warningAt: ['ingress', 0, 'tls', 'cipherSuites', 0] },
    ],
    ['HTTP pool on gRPC', { port: { number: 9080, name: 'grpc', protocol: 'GRPC' }, connectionPool: { http: { maxRetries: 1 } } }, {}],
    [
      'HTTP pool on a port left to sniffing',
      { port: { number: 9080, name: 'p' }, connectionPool: { http: { maxRetries: 1 } } },
      { warning: 'sidecar: HTTP connection pool settings are configured for port 9080 ("p") but its protocol is not HTTP ()', warningAt: ['ingress', 0, 'connectionPool', 'http'] },
    ],
    ['TCP pool on TCP', { port: { number: 9080, name: 't', protocol: 'TCP' }, connectionPool: { tcp: { maxConnections: 10 } } }, {}],
  ])('%s', (_n, listener, expected) => {
    expectFindings(checkSidecar(ingressWith(listener), CTX), expected);
  });

  it('a null ingress listener', () => {
    expectFindings(checkSidecar({ ingress: [null] }, CTX), { error: 'sidecar: ingress may not be null', errorAt: ['ingress', 0] });
  });
});

/** A Sidecar with one egress listener with the fields given. */
function egressWith(listener: Record<string, unknown>): Record<string, unknown> {
  return { egress: [{ hosts: ['ns1/foo.example.com'], ...listener }] };
}

describe('checkSidecar: egress listeners beyond Istio tables', () => {
  it.each<[string, Record<string, unknown>, Omit<Case, 'name' | 'spec'>]>([
    ['IPTABLES capture on a port', { port: { number: 8080, protocol: 'HTTP' }, captureMode: 'IPTABLES' }, {}],
    ['NONE capture on a socket', { port: { number: 0, protocol: 'HTTP' }, bind: 'unix:///var/run/out.sock', captureMode: 'NONE' }, {}],
    ['DEFAULT capture on a socket', { port: { number: 0, protocol: 'HTTP' }, bind: 'unix://@out', captureMode: 'DEFAULT' }, {}],
    [
      'socket bind not absolute',
      { port: { number: 0, protocol: 'HTTP' }, bind: 'unix://out.sock' },
      { error: 'out.sock is not an absolute path to a file', errorAt: ['egress', 0, 'bind'] },
    ],
    [
      'socket listener with an unknown protocol',
      { port: { number: 0, protocol: 'kafka' }, bind: 'unix://@out' },
      { error: 'unsupported protocol: kafka', errorAt: ['egress', 0, 'port', 'protocol'] },
    ],
    ['bind IP', { port: { number: 8080, protocol: 'HTTP' }, bind: '127.0.0.1' }, {}],
    [
      'bind with leading zero',
      { port: { number: 8080, protocol: 'HTTP' }, bind: '127.0.0.01' },
      { error: '127.0.0.01 is not a valid IP', errorAt: ['egress', 0, 'bind'] },
    ],
    [
      'bad port name',
      { port: { number: 8080, protocol: 'HTTP', name: 'http.1' } },
      { error: 'invalid port name: http.1', errorAt: ['egress', 0, 'port', 'name'] },
    ],
    [
      'targetPort',
      { port: { number: 8080, protocol: 'HTTP', targetPort: 80 } },
      { error: 'targetPort has no impact on Sidecars', errorAt: ['egress', 0, 'port', 'targetPort'] },
    ],
    ['hosts: ~ns/* exclusion', { hosts: ['*/*', '~ns1/*'] }, {}],
    ['hosts: repeated exclusions are not duplicates', { hosts: ['~ns1/a.com', '~ns1/a.com'] }, {}],
    [
      'hosts: the same host twice',
      { hosts: ['ns1/a.com', 'ns1/a.com'] },
      { warning: 'duplicated egress host: ns1/a.com', warningAt: ['egress', 0, 'hosts', 1] },
    ],
    [
      'hosts: a host after ns/*',
      { hosts: ['ns1/*', 'ns1/a.com'] },
      { warning: 'duplicated egress host: ns1/a.com', warningAt: ['egress', 0, 'hosts', 1] },
    ],
    [
      'hosts: ns/* after a host',
      { hosts: ['ns1/a.com', 'ns1/*'] },
      { warning: 'duplicated egress host: ns1/*', warningAt: ['egress', 0, 'hosts', 1] },
    ],
    ['hosts: the same name in two namespaces', { hosts: ['ns1/a.com', 'ns2/a.com'] }, {}],
    [
      'hosts: `.` is the Sidecar’s namespace',
      { hosts: ['bar/a.com', './a.com'] },
      { warning: 'duplicated egress host: ./a.com', warningAt: ['egress', 0, 'hosts', 1] },
    ],
    [
      'hosts: */* beside others',
      { hosts: ['ns1/a.com', '*/*'] },
      { warning: '`*/*` host select all resources, no other hosts can be added', warningAt: ['egress', 0, 'hosts'] },
    ],
    ['hosts: short name', { hosts: ['ns1/foo'] }, { error: 'short names (non FQDN) are not allowed', errorAt: ['egress', 0, 'hosts', 0] }],
    ['hosts: IP is not a host in a Sidecar', { hosts: ['ns1/10.0.0.1'] }, { error: 'top level domain "1" cannot be all-numeric', errorAt: ['egress', 0, 'hosts', 0] }],
    ['hosts: namespace too long', { hosts: [`${'n'.repeat(64)}/a.com`] }, { error: 'in sidecar', errorAt: ['egress', 0, 'hosts', 0] }],
    ['hosts: bare host', { hosts: ['a.com'] }, { error: 'host must be of form namespace/dnsName', errorAt: ['egress', 0, 'hosts', 0] }],
    ['hosts: ~/* imports nothing', { hosts: ['~/*'] }, {}],
  ])('%s', (_n, listener, expected) => {
    expectFindings(checkSidecar(egressWith(listener), CTX), expected);
  });

  it('duplicates are per listener', () => {
    const spec = { egress: [{ port: { number: 80, protocol: 'HTTP' }, hosts: ['ns1/a.com'] }, { hosts: ['ns1/a.com'] }] };
    expectFindings(checkSidecar(spec, CTX), {});
  });

  it('a null egress listener', () => {
    expectFindings(checkSidecar({ egress: [null] }, CTX), { error: 'egress listener may not be null', errorAt: ['egress', 0] });
  });

  it('several catch-all listeners: each one before the last is misplaced', () => {
    const found = checkSidecar({ egress: [{ hosts: ['*/*'] }, { hosts: ['*/*'] }, { hosts: ['*/*'] }] }, CTX);
    expect(found.map((f) => [f.path, f.message])).toEqual([
      [['egress', 0], 'sidecar: the egress listener with empty port should be the last listener in the list'],
      [['egress', 1], 'sidecar: the egress listener with empty port should be the last listener in the list'],
    ]);
  });
});

describe('checkSidecar: workload selector, outbound policy, pools beyond Istio tables', () => {
  it.each<[string, Record<string, unknown>, Omit<Case, 'name' | 'spec'>]>([
    ['selector with labels', { ...EGRESS_ALL, workloadSelector: { labels: { app: 'web' } } }, {}],
    [
      'selector key with a wildcard',
      { ...EGRESS_ALL, workloadSelector: { labels: { 'app*': 'web' } } },
      { error: 'wildcard is not supported in selector: "app*=web"', errorAt: ['workloadSelector', 'labels', 'app*'] },
    ],
    [
      'selector value with a wildcard',
      { ...EGRESS_ALL, workloadSelector: { labels: { app: 'web*' } } },
      { error: 'wildcard is not supported in selector', errorAt: ['workloadSelector', 'labels', 'app'] },
    ],
    [
      'selector with an empty key',
      { ...EGRESS_ALL, workloadSelector: { labels: { '': 'web' } } },
      { error: 'empty key is not supported in selector: "=web"', errorAt: ['workloadSelector', 'labels', ''] },
    ],
    [
      'selector with empty labels',
      { ...EGRESS_ALL, workloadSelector: { labels: {} } },
      { warning: 'sidecar: workload selector specified without labels, will be applied to all services in namespace', warningAt: ['workloadSelector'] },
    ],
    ['REGISTRY_ONLY alone', { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } }, {}],
    ['egress proxy', { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'proxy.example.com', port: { number: 3128 } } } }, {}],
    [
      'egress proxy host *',
      { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: '*', port: { number: 3128 } } } },
      { error: 'invalid destination host *', errorAt: ['outboundTrafficPolicy', 'egressProxy', 'host'] },
    ],
    [
      'egress proxy wildcard host fails the FQDN rule',
      { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: '*.example.com', port: { number: 3128 } } } },
      { error: 'domain name "*.example.com" invalid (label "*" invalid)', errorAt: ['outboundTrafficPolicy', 'egressProxy', 'host'] },
    ],
    [
      'egress proxy bad subset',
      { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'proxy.example.com', subset: 'v1.0', port: { number: 3128 } } } },
      { error: 'subset name is invalid: v1.0', errorAt: ['outboundTrafficPolicy', 'egressProxy', 'subset'] },
    ],
    [
      'egress proxy port 0',
      { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'proxy.example.com', port: {} } } },
      { error: 'port number 0 must be in the range 1..65535', errorAt: ['outboundTrafficPolicy', 'egressProxy', 'port', 'number'] },
    ],
    [
      'egress proxy without port, bad host',
      { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'bad_host.com' } } },
      { error: 'domain name "bad_host.com" invalid', errorAt: ['outboundTrafficPolicy', 'egressProxy', 'host'] },
    ],
    [
      'UPGRADE with the client protocol',
      { inboundConnectionPool: { http: { h2UpgradePolicy: 'UPGRADE', useClientProtocol: true } } },
      { error: 'use client protocol must not be true when H2UpgradePolicy is UPGRADE', errorAt: ['inboundConnectionPool', 'http', 'useClientProtocol'] },
    ],
    ['DO_NOT_UPGRADE with the client protocol', { inboundConnectionPool: { http: { h2UpgradePolicy: 'DO_NOT_UPGRADE', useClientProtocol: true } } }, {}],
    [
      'TCP keepalive time below ms precision',
      { inboundConnectionPool: { tcp: { tcpKeepalive: { time: '1500us' } } } },
      { error: 'only durations to ms precision are supported', errorAt: ['inboundConnectionPool', 'tcp', 'tcpKeepalive', 'time'] },
    ],
    [
      'TCP keepalive interval under 1ms',
      { inboundConnectionPool: { tcp: { tcpKeepalive: { interval: '500us' } } } },
      { error: 'duration must be greater than 1ms', errorAt: ['inboundConnectionPool', 'tcp', 'tcpKeepalive', 'interval'] },
    ],
    ['TCP idle timeout 0s turns it off', { inboundConnectionPool: { tcp: { idleTimeout: '0s' } } }, {}],
    ['TCP idle timeout under 1ms truncates to 0 (off)', { inboundConnectionPool: { tcp: { idleTimeout: '500us' } } }, {}],
    [
      'TCP idle timeout 1.5ms',
      { inboundConnectionPool: { tcp: { idleTimeout: '1.5ms' } } },
      { error: 'only durations to ms precision are supported', errorAt: ['inboundConnectionPool', 'tcp', 'idleTimeout'] },
    ],
    [
      'TCP max connection duration',
      { inboundConnectionPool: { tcp: { maxConnectionDuration: '1ms500us' } } },
      { error: 'only durations to ms precision are supported', errorAt: ['inboundConnectionPool', 'tcp', 'maxConnectionDuration'] },
    ],
    ['Go-style durations', { inboundConnectionPool: { tcp: { connectTimeout: '1m30s', maxConnectionDuration: '1h' }, http: { idleTimeout: '250ms' } } }, {}],
  ])('%s', (_n, spec, expected) => {
    expectFindings(checkSidecar(spec, CTX), expected);
  });

  it('a bad selector stops every other check, as in Istio', () => {
    const found = checkSidecar({ workloadSelector: { labels: { 'a*': 'b' } } }, CTX);
    expect(found.map((f) => f.message)).toEqual(['wildcard is not supported in selector: "a*=b"']);
  });

  it('an empty Sidecar reports only that (the selector warning is dropped, as in Istio)', () => {
    const found = checkSidecar({ workloadSelector: {} }, CTX);
    expect(found).toEqual([{ severity: 'error', path: [], message: expect.stringContaining('sidecar: empty configuration provided') }]);
  });

  it('an inbound pool alone is a configuration', () => {
    expectFindings(checkSidecar({ inboundConnectionPool: { tcp: { maxConnections: 1 } } }, CTX), {});
  });
});
