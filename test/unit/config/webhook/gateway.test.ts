import { describe, expect, it } from 'vitest';
import { checkGateway, checkServerTLSOptions } from '../../../../src/config/webhook/gateway.js';
import { Findings, type SpecPath, type WebhookContext, type WebhookFinding } from '../../../../src/config/webhook/types.js';
import { expectFindings, webhookContext } from '../../../helpers/webhook.js';

// Tables ported from Istio's pkg/config/validation/validation_test.go (TestValidateGateway,
// TestValidateServer, TestValidateServerPort, TestValidateTlsOptions). `error`/`warning` is the
// text Istio's test looks for (true: any); the path is where meshgate points.
interface Case {
  name: string;
  spec: Record<string, unknown>;
  error?: string | true;
  errorAt?: SpecPath;
  warning?: string | true;
  warningAt?: SpecPath;
}

const CTX: WebhookContext = webhookContext();


function tlsFindings(tls: Record<string, unknown>): WebhookFinding[] {
  const out = new Findings();
  checkServerTLSOptions(tls, ['tls'], out);
  return out.list;
}

const GATEWAY_CASES: Case[] = [
  { name: 'empty', spec: {}, error: 'server', errorAt: ['servers'] },
  { name: 'happy domain', spec: { servers: [{ hosts: ['foo.bar.com'], port: { name: 'name1', number: 7, protocol: 'http' } }] } },
  { name: 'happy multiple servers', spec: { servers: [{ hosts: ['foo.bar.com'], port: { name: 'name1', number: 7, protocol: 'http' } }] } },
  {
    name: 'happy k8s gateway-api server with no attached routes',
    spec: { servers: [{ hosts: ['~/foo.bar.com'], port: { name: 'name1', number: 7, protocol: 'http' } }] },
    error: 'invalid namespace value',
    errorAt: ['servers', 0, 'hosts', 0],
  },
  {
    name: 'invalid port',
    spec: { servers: [{ hosts: ['foo.bar.com'], port: { name: 'name1', number: 66000, protocol: 'http' } }] },
    error: 'port',
    errorAt: ['servers', 0, 'port', 'number'],
  },
  {
    name: 'duplicate port names',
    spec: {
      servers: [
        { hosts: ['foo.bar.com'], port: { name: 'foo', number: 80, protocol: 'http' } },
        { hosts: ['scooby.doo.com'], port: { name: 'foo', number: 8080, protocol: 'http' } },
      ],
    },
    error: 'port names',
    errorAt: ['servers', 1, 'port', 'name'],
  },
  {
    name: 'invalid domain',
    spec: { servers: [{ hosts: ['foo.*.bar.com'], port: { number: 7, protocol: 'http' } }] },
    error: 'domain',
    errorAt: ['servers', 0, 'hosts', 0],
  },
  {
    name: 'valid httpsRedirect',
    spec: { servers: [{ hosts: ['bar.com'], port: { name: 'http', number: 80, protocol: 'http' }, tls: { httpsRedirect: true } }] },
  },
  {
    name: 'invalid https httpsRedirect',
    spec: { servers: [{ hosts: ['bar.com'], port: { name: 'https', number: 80, protocol: 'https' }, tls: { httpsRedirect: true } }] },
    warning: 'tls.httpsRedirect should only be used with http servers',
    warningAt: ['servers', 0, 'tls', 'httpsRedirect'],
  },
  {
    name: 'invalid partial wildcard',
    spec: { servers: [{ hosts: ['*bar.com'], port: { name: 'tls', number: 443, protocol: 'tls' }, tls: { mode: 'ISTIO_MUTUAL' } }] },
    error: 'partial wildcard "*bar.com" not allowed',
    errorAt: ['servers', 0, 'hosts', 0],
  },
];

// Each TestValidateServer case, as the only server of a Gateway.
const SERVER_CASES: Case[] = [
  { name: 'empty', spec: {}, error: 'host', errorAt: ['servers', 0, 'hosts'] },
  { name: 'empty', spec: {}, error: 'port', errorAt: ['servers', 0, 'port'] },
  { name: 'happy', spec: { hosts: ['foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } } },
  { name: 'happy ip', spec: { hosts: ['1.1.1.1'], port: { number: 7, name: 'http', protocol: 'http' } } },
  { name: 'happy ns/name', spec: { hosts: ['ns1/foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } } },
  { name: 'happy */name', spec: { hosts: ['*/foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } } },
  { name: 'happy ./name', spec: { hosts: ['./foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } } },
  {
    name: 'invalid ~/name',
    spec: { hosts: ['~/foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } },
    error: 'namespace',
    errorAt: ['servers', 0, 'hosts', 0],
  },
  {
    name: 'invalid domain ns/name format',
    spec: { hosts: ['ns1/foo.*.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } },
    error: 'domain',
    errorAt: ['servers', 0, 'hosts', 0],
  },
  {
    name: 'invalid domain',
    spec: { hosts: ['foo.*.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } },
    error: 'domain',
    errorAt: ['servers', 0, 'hosts', 0],
  },
  {
    name: 'invalid short name host',
    spec: { hosts: ['foo'], port: { number: 7, name: 'http', protocol: 'http' } },
    error: 'short names',
    errorAt: ['servers', 0, 'hosts', 0],
  },
  {
    name: 'invalid port',
    spec: { hosts: ['foo.bar.com'], port: { number: 66000, name: 'http', protocol: 'http' } },
    error: 'port',
    errorAt: ['servers', 0, 'port', 'number'],
  },
  {
    name: 'invalid tls options',
    spec: { hosts: ['foo.bar.com'], port: { number: 1, name: 'http', protocol: 'http' }, tls: { mode: 'SIMPLE' } },
    error: 'TLS',
    errorAt: ['servers', 0, 'tls', 'serverCertificate'],
  },
  {
    name: 'no tls on HTTPS',
    spec: { hosts: ['foo.bar.com'], port: { number: 10000, name: 'https', protocol: 'https' } },
    error: 'must have TLS',
    errorAt: ['servers', 0, 'tls'],
  },
  {
    name: 'tls on HTTP',
    spec: { hosts: ['foo.bar.com'], port: { number: 10000, name: 'http', protocol: 'http' }, tls: { mode: 'SIMPLE' } },
    error: 'cannot have TLS',
    errorAt: ['servers', 0, 'tls'],
  },
  {
    name: 'tls redirect on HTTP',
    spec: { hosts: ['foo.bar.com'], port: { number: 10000, name: 'http', protocol: 'http' }, tls: { httpsRedirect: true } },
  },
  { name: 'bind ip', spec: { hosts: ['foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' }, bind: '127.0.0.1' } },
  {
    name: 'bind unix path with invalid port',
    spec: { hosts: ['foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' }, bind: 'unix://@foobar' },
    error: 'port number must be 0 for unix domain socket',
    errorAt: ['servers', 0, 'port', 'number'],
  },
  { name: 'bind unix path', spec: { hosts: ['foo.bar.com'], port: { number: 0, name: 'http', protocol: 'http' }, bind: 'unix://@foobar' } },
  {
    name: 'bind bad ip',
    spec: { hosts: ['foo.bar.com'], port: { number: 0, name: 'http', protocol: 'http' }, bind: 'foo.bar' },
    error: 'foo.bar is not a valid IP',
    errorAt: ['servers', 0, 'bind'],
  },
];

// TestValidateTlsOptions: validateTLSOptions alone, the settings at path ['tls'].
const TLS_CASES: Case[] = [
  { name: 'empty', spec: {} },
  { name: 'simple', spec: { mode: 'SIMPLE', serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' } },
  {
    name: 'simple with client bundle',
    spec: {
      mode: 'SIMPLE',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
    },
  },
  { name: 'simple sds with client bundle', spec: { mode: 'SIMPLE', credentialName: 'sds-name' } },
  {
    name: 'simple sds with client bundle but with server cert',
    spec: { mode: 'SIMPLE', serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh', credentialName: 'sds-name' },
    error: 'one of credential_name, credential_names',
    errorAt: ['tls'],
  },
  {
    name: 'simple no server cert',
    spec: { mode: 'SIMPLE', serverCertificate: '', privateKey: 'Khan Noonien Singh' },
    error: 'server certificate',
    errorAt: ['tls', 'serverCertificate'],
  },
  {
    name: 'simple no private key',
    spec: { mode: 'SIMPLE', serverCertificate: 'Captain Jean-Luc Picard', privateKey: '' },
    error: 'private key',
    errorAt: ['tls', 'privateKey'],
  },
  {
    name: 'simple more than 2 certs',
    spec: {
      mode: 'SIMPLE',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
        { serverCertificate: 'Lieutenant Commander Data', privateKey: 'Lieutenant Commander Data' },
      ],
    },
    warning: 'SIMPLE TLS can support up to 2 server certificates',
    warningAt: ['tls', 'tlsCertificates'],
  },
  {
    name: 'simple with both server cert and tls certs',
    spec: {
      mode: 'SIMPLE',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' },
        { serverCertificate: 'Lieutenant Commander Data', privateKey: 'Lieutenant Commander Data' },
      ],
    },
    error: 'one of credential_name, credential_names',
    errorAt: ['tls'],
  },
  {
    name: 'simple 2 certs with missing certificate',
    spec: {
      mode: 'SIMPLE',
      tlsCertificates: [
        { privateKey: 'Commander William T. Riker' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
      ],
    },
    error: 'server certificate',
    errorAt: ['tls', 'tlsCertificates', 0, 'serverCertificate'],
  },
  {
    name: 'simple 2 certs with missing private key',
    spec: {
      mode: 'SIMPLE',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
      ],
    },
    error: 'private key',
    errorAt: ['tls', 'tlsCertificates', 0, 'privateKey'],
  },
  {
    name: 'simple sds no server cert',
    spec: { mode: 'SIMPLE', serverCertificate: '', privateKey: 'Khan Noonien Singh', credentialName: 'sds-name' },
  },
  {
    name: 'simple sds no private key',
    spec: { mode: 'SIMPLE', serverCertificate: 'Captain Jean-Luc Picard', privateKey: '', credentialName: 'sds-name' },
  },
  {
    name: 'mutual',
    spec: {
      mode: 'MUTUAL',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
    },
  },
  { name: 'mutual sds', spec: { mode: 'MUTUAL', caCertificates: 'Commander William T. Riker', credentialName: 'sds-name' } },
  {
    name: 'mutual sds with credential name and server cert',
    spec: {
      mode: 'MUTUAL',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
      credentialName: 'sds-name',
    },
    error: 'one of credential_name, credential_names',
    errorAt: ['tls'],
  },
  {
    name: 'mutual sds with credential name and tls certs',
    spec: {
      mode: 'MUTUAL',
      caCertificates: 'Commander William T. Riker',
      tlsCertificates: [{ serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' }],
      credentialName: 'sds-name',
    },
    error: 'one of credential_name, credential_names',
    errorAt: ['tls'],
  },
  {
    name: 'mutual no server cert',
    spec: { mode: 'MUTUAL', serverCertificate: '', privateKey: 'Khan Noonien Singh', caCertificates: 'Commander William T. Riker' },
    error: 'server certificate',
    errorAt: ['tls', 'serverCertificate'],
  },
  {
    name: 'credential names and certificates',
    spec: {
      mode: 'MUTUAL',
      serverCertificate: '/etc/istio/certs/server/cert',
      privateKey: '/etc/istio/certs/server/key',
      credentialNames: ['server-certs'],
    },
    error: 'one of credential_name, credential_names',
    errorAt: ['tls'],
  },
  {
    name: 'credential names and tls certificates',
    spec: {
      mode: 'MUTUAL',
      tlsCertificates: [
        {
          serverCertificate: '/etc/istio/certs/server/cert',
          privateKey: '/etc/istio/certs/server/key',
          caCertificates: '/etc/istio/certs/server/cacert2',
        },
      ],
      credentialNames: ['server-certs'],
    },
    error: 'one of credential_name, credential_names',
    errorAt: ['tls'],
  },
  {
    name: 'only tls certificates',
    spec: {
      mode: 'MUTUAL',
      tlsCertificates: [{ serverCertificate: '/etc/istio/certs/server/cert', privateKey: '/etc/istio/certs/server/key' }],
      caCertificates: '/etc/istio/certs/server/cacert2',
    },
  },
  {
    name: 'mutual sds no server cert',
    spec: {
      mode: 'MUTUAL',
      serverCertificate: '',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
      credentialName: 'sds-name',
    },
  },
  {
    name: 'mutual no client CA bundle',
    spec: { mode: 'MUTUAL', serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh', caCertificates: '' },
    error: 'client CA bundle',
    errorAt: ['tls', 'caCertificates'],
  },
  {
    name: 'mutual no certs',
    spec: { mode: 'MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    error: 'server certificate',
    errorAt: ['tls', 'serverCertificate'],
  },
  {
    name: 'mutual no certs',
    spec: { mode: 'MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    error: 'private key',
    errorAt: ['tls', 'privateKey'],
  },
  {
    name: 'mutual no certs',
    spec: { mode: 'MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    error: 'client CA bundle',
    errorAt: ['tls', 'caCertificates'],
  },
  {
    name: 'mutual more than 2 certs',
    spec: {
      mode: 'MUTUAL',
      caCertificates: 'Commander William T. Riker',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
        { serverCertificate: 'Lieutenant Commander Data', privateKey: 'Lieutenant Commander Data' },
      ],
    },
    warning: 'MUTUAL TLS can support up to 2 server certificates',
    warningAt: ['tls', 'tlsCertificates'],
  },
  {
    name: 'mutual with both server cert and tls certs',
    spec: {
      mode: 'MUTUAL',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' },
        { serverCertificate: 'Lieutenant Commander Data', privateKey: 'Lieutenant Commander Data' },
      ],
    },
    error: 'one of credential_name, credential_names',
    errorAt: ['tls'],
  },
  {
    name: 'mutual 2 certs with missing certificate',
    spec: {
      mode: 'MUTUAL',
      caCertificates: 'Lieutenant Commander Data',
      tlsCertificates: [
        { privateKey: 'Commander William T. Riker' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
      ],
    },
    error: 'server certificate',
    errorAt: ['tls', 'tlsCertificates', 0, 'serverCertificate'],
  },
  {
    name: 'mutual 2 certs with missing private key',
    spec: {
      mode: 'MUTUAL',
      caCertificates: 'Lieutenant Commander Data',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
      ],
    },
    error: 'private key',
    errorAt: ['tls', 'tlsCertificates', 0, 'privateKey'],
  },
  {
    name: 'mutual 2 certs with missing CA certificate',
    spec: {
      mode: 'MUTUAL',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
      ],
    },
    error: 'client CA bundle',
    errorAt: ['tls', 'caCertificates'],
  },
  {
    name: 'optional mutual no certs',
    spec: { mode: 'OPTIONAL_MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    error: 'server certificate',
    errorAt: ['tls', 'serverCertificate'],
  },
  {
    name: 'optional mutual no certs',
    spec: { mode: 'OPTIONAL_MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    error: 'private key',
    errorAt: ['tls', 'privateKey'],
  },
  {
    name: 'optional mutual no certs',
    spec: { mode: 'OPTIONAL_MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    error: 'client CA bundle',
    errorAt: ['tls', 'caCertificates'],
  },
  {
    name: 'pass through sds no certs',
    spec: { mode: 'PASSTHROUGH', serverCertificate: '', caCertificates: '', credentialName: 'sds-name' },
    warning: 'PASSTHROUGH mode does not use certificates',
    warningAt: ['tls', 'credentialName'],
  },
  {
    name: 'pass through sds crl',
    spec: { mode: 'PASSTHROUGH', serverCertificate: '', caCertificates: '', caCrl: 'scrl' },
    warning: 'PASSTHROUGH mode does not use certificates',
    warningAt: ['tls', 'caCrl'],
  },
  { name: 'istio_mutual no certs', spec: { mode: 'ISTIO_MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' } },
  {
    name: 'istio_mutual with server cert',
    spec: { mode: 'ISTIO_MUTUAL', serverCertificate: 'Captain Jean-Luc Picard' },
    error: 'cannot have associated server cert',
    errorAt: ['tls', 'serverCertificate'],
  },
  {
    name: 'istio_mutual with client bundle',
    spec: {
      mode: 'ISTIO_MUTUAL',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
    },
    error: 'cannot have associated',
    errorAt: ['tls', 'serverCertificate'],
  },
  {
    name: 'istio_mutual with private key',
    spec: { mode: 'ISTIO_MUTUAL', privateKey: 'Khan Noonien Singh' },
    error: 'cannot have associated private key',
    errorAt: ['tls', 'privateKey'],
  },
  {
    name: 'istio_mutual with credential name',
    spec: { mode: 'ISTIO_MUTUAL', credentialName: 'some-cred' },
    error: 'cannot have associated credentialName',
    errorAt: ['tls', 'credentialName'],
  },
  {
    name: 'invalid cipher suites',
    spec: { mode: 'SIMPLE', credentialName: 'sds-name', cipherSuites: ['not-a-cipher-suite'] },
    warning: 'not-a-cipher-suite',
    warningAt: ['tls', 'cipherSuites', 0],
  },
  { name: 'valid cipher suites', spec: { mode: 'SIMPLE', credentialName: 'sds-name', cipherSuites: ['ECDHE-ECDSA-AES128-SHA'] } },
  { name: 'cipher suites operations', spec: { mode: 'SIMPLE', credentialName: 'sds-name', cipherSuites: ['-ECDHE-ECDSA-AES128-SHA'] } },
  {
    name: 'duplicate cipher suites',
    spec: { mode: 'SIMPLE', credentialName: 'sds-name', cipherSuites: ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES128-SHA'] },
    warning: 'ECDHE-ECDSA-AES128-SHA',
    warningAt: ['tls', 'cipherSuites', 1],
  },
  {
    name: 'invalid cipher suites with invalid config',
    spec: { mode: 'SIMPLE', cipherSuites: ['not-a-cipher-suite'] },
    error: 'requires a private key',
    errorAt: ['tls', 'privateKey'],
    warning: 'not-a-cipher-suite',
    warningAt: ['tls', 'cipherSuites', 0],
  },
  {
    name: 'crl specified for SIMPLE TLS',
    spec: { mode: 'SIMPLE', caCrl: 'crl' },
    error: 'CRL is not supported with SIMPLE TLS',
    errorAt: ['tls', 'caCrl'],
  },
  { name: 'crl specified for CredentialName', spec: { mode: 'SIMPLE', caCrl: 'crl', credentialName: 'credential' } },
  {
    name: 'mutual no server cert',
    spec: { mode: 'MUTUAL', serverCertificate: '', privateKey: 'Khan Noonien Singh', caCertificates: 'Commander William T. Riker' },
    error: 'MUTUAL TLS requires a server certificate',
    errorAt: ['tls', 'serverCertificate'],
  },
  {
    name: 'mutual no private key',
    spec: { mode: 'MUTUAL', serverCertificate: 'Khan Noonien Singh', privateKey: '', caCertificates: 'Commander William T. Riker' },
    error: 'MUTUAL TLS requires a private key',
    errorAt: ['tls', 'privateKey'],
  },
  { name: 'with CredentialNames', spec: { mode: 'MUTUAL', credentialNames: ['credential1', 'credential2'] } },
];

describe('checkGateway: Istio TestValidateGateway', () => {
  it.each(GATEWAY_CASES)('$name', (c) => {
    expectFindings(checkGateway(c.spec, CTX), c);
  });
});

describe('checkGateway: Istio TestValidateServer', () => {
  it.each(SERVER_CASES)('$name', (c) => {
    expectFindings(checkGateway({ servers: [c.spec] }, CTX), c);
  });
});

describe('checkGateway: Istio TestValidateServerPort', () => {
  const server = (port: Record<string, unknown>, bind?: string): Record<string, unknown> => ({
    servers: [{ hosts: ['foo.bar.com'], port, ...(bind === undefined ? {} : { bind }) }],
  });
  it.each<[string, Record<string, unknown>, string | undefined, string | undefined, SpecPath | undefined]>([
    ['empty: protocol', {}, undefined, 'invalid protocol', ['servers', 0, 'port', 'protocol']],
    ['empty: name', {}, undefined, 'port name', ['servers', 0, 'port', 'name']],
    ['happy', { protocol: 'http', number: 1, name: 'Henry' }, undefined, undefined, undefined],
    ['invalid protocol', { protocol: 'kafka', number: 1, name: 'Henry' }, undefined, 'invalid protocol', ['servers', 0, 'port', 'protocol']],
    ['invalid number', { protocol: 'http', number: 1 << 30, name: 'http' }, undefined, 'port number', ['servers', 0, 'port', 'number']],
    ['name, no number', { protocol: 'http', number: 0, name: 'Henry' }, undefined, 'port number', ['servers', 0, 'port', 'number']],
    ['name, no number, uds', { protocol: 'http', number: 0, name: 'Henry' }, 'uds:///tmp', 'port number', ['servers', 0, 'port', 'number']],
  ])('%s', (_name, port, bind, error, errorAt) => {
    expectFindings(checkGateway(server(port, bind), CTX), error === undefined ? {} : { error, errorAt });
  });
});

describe('validateTLSOptions: Istio TestValidateTlsOptions', () => {
  it.each(TLS_CASES)('$name', (c) => {
    expectFindings(tlsFindings(c.spec), c);
  });
});

/** One server on `port` (http/80 unless given), with the fields given. */
function gatewayWith(server: Record<string, unknown>): Record<string, unknown> {
  return { servers: [{ hosts: ['foo.example.com'], port: { number: 80, name: 'http', protocol: 'HTTP' }, ...server }] };
}
const HTTPS_PORT = { number: 443, name: 'https', protocol: 'HTTPS' };

describe('checkGateway: beyond Istio tables', () => {
  it.each(['my.gateway', 'My_Gateway', '-gw', 'a'.repeat(64)])('refuses the Gateway name %j (not a DNS-1123 label)', (name) => {
    const found = checkGateway(gatewayWith({}), { ...CTX, name });
    expectFindings(found, { error: `invalid gateway name: ${JSON.stringify(name)}`, errorAt: [] });
  });

  it.each(['gw', 'ingress-gateway', 'GW1', 'a'.repeat(63)])('accepts the Gateway name %j', (name) => {
    expectFindings(checkGateway(gatewayWith({}), { ...CTX, name }), {});
  });

  it('a null server is refused where it stands', () => {
    const found = checkGateway({ servers: [null] }, CTX);
    expect(found.map((f) => [f.severity, f.path, f.message])).toEqual([
      ['error', ['servers', 0], 'cannot have nil server'],
      ['error', ['servers', 0], 'server may not be nil'],
    ]);
  });

  it.each<[string, Record<string, unknown>, Omit<Case, 'name' | 'spec'>]>([
    ['server port protocol is case-insensitive', { port: { number: 80, name: 'http', protocol: 'Http' } }, {}],
    ['GRPC-Web', { port: { number: 80, name: 'grpc', protocol: 'grpc-web' } }, {}],
    ['HTTP_PROXY', { port: { number: 80, name: 'proxy', protocol: 'http_proxy' } }, {}],
    ['Mongo', { port: { number: 27017, name: 'mongo', protocol: 'MONGO' } }, {}],
    ['UDP parses', { port: { number: 53, name: 'dns', protocol: 'UDP' } }, {}],
    [
      'DoubleHBONE is not a protocol (Istio compares it lower-cased)',
      { port: { number: 80, name: 'h', protocol: 'DoubleHBONE' } },
      { error: 'invalid protocol "DoubleHBONE"', errorAt: ['servers', 0, 'port', 'protocol'] },
    ],
    ['targetPort', { port: { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 } }, { error: 'targetPort has no impact on Gateways', errorAt: ['servers', 0, 'port', 'targetPort'] }],
    ['bind IPv6', { bind: '::1' }, {}],
    ['bind IPv6 with zone', { bind: 'fe80::1%eth0' }, {}],
    ['bind IPv4 with a leading zero', { bind: '10.0.0.01' }, { error: '10.0.0.01 is not a valid IP', errorAt: ['servers', 0, 'bind'] }],
    ['bind CIDR', { bind: '10.0.0.0/8' }, { error: 'is not a valid IP', errorAt: ['servers', 0, 'bind'] }],
    [
      'bind relative unix path',
      { bind: 'unix://relative/sock', port: { number: 0, name: 'http', protocol: 'HTTP' } },
      { error: 'relative/sock is not an absolute path to a file', errorAt: ['servers', 0, 'bind'] },
    ],
    [
      'bind unix directory',
      { bind: 'unix:///var/run/', port: { number: 0, name: 'http', protocol: 'HTTP' } },
      { error: '/var/run/ is not an absolute path to a file', errorAt: ['servers', 0, 'bind'] },
    ],
    [
      'bind empty unix path',
      { bind: 'unix://', port: { number: 0, name: 'http', protocol: 'HTTP' } },
      { error: 'unix address must not be empty', errorAt: ['servers', 0, 'bind'] },
    ],
    ['bind unix absolute path, port 0', { bind: 'unix:///var/run/gw.sock', port: { number: 0, name: 'http', protocol: 'HTTP' } }, {}],
    ['hosts: namespace/*', { hosts: ['ns1/*'] }, {}],
    ['hosts: */*', { hosts: ['*/*'] }, {}],
    ['hosts: *', { hosts: ['*'] }, {}],
    ['hosts: ./*.example.com', { hosts: ['./*.example.com'] }, {}],
    ['hosts: bad namespace', { hosts: ['ok.example.com', 'Ns_1/foo.com'] }, { error: 'invalid namespace value "Ns_1" in gateway', errorAt: ['servers', 0, 'hosts', 1] }],
    ['hosts: empty namespace', { hosts: ['/foo.com'] }, { error: 'config namespace and dnsName in host entry cannot be empty', errorAt: ['servers', 0, 'hosts', 0] }],
    ['hosts: empty dnsName', { hosts: ['ns/'] }, { error: 'cannot be empty', errorAt: ['servers', 0, 'hosts', 0] }],
    ['hosts: IPv6 has no dot, so it is a short name', { hosts: ['::1'] }, { error: 'short names (non FQDN) are not allowed', errorAt: ['servers', 0, 'hosts', 0] }],
    ['hosts: IP after a namespace', { hosts: ['ns1/10.0.0.1'] }, {}],
    ['hosts: all-numeric top-level domain', { hosts: ['foo.123'] }, { error: 'top level domain "123" cannot be all-numeric', errorAt: ['servers', 0, 'hosts', 0] }],
    ['hosts: trailing dot', { hosts: ['foo.example.com.'] }, {}],
    ['hosts: empty list', { hosts: [] }, { error: 'server config must contain at least one host', errorAt: ['servers', 0, 'hosts'] }],
    ['HTTPS server with a credential', { port: HTTPS_PORT, tls: { mode: 'SIMPLE', credentialName: 'cert' } }, {}],
    ['TLS server in passthrough', { port: { number: 443, name: 'tls', protocol: 'TLS' }, tls: { mode: 'PASSTHROUGH' } }, {}],
    ['TLS server, empty tls (passthrough)', { port: { number: 443, name: 'tls', protocol: 'TLS' }, tls: {} }, {}],
    ['TCP server with tls', { port: { number: 9000, name: 'tcp', protocol: 'TCP' }, tls: {} }, { error: 'server cannot have TLS settings for non HTTPS/TLS ports', errorAt: ['servers', 0, 'tls'] }],
    [
      'HTTP server with passthrough certificates',
      { tls: { mode: 'PASSTHROUGH', serverCertificate: '/c.pem' } },
      {
        error: 'server cannot have TLS settings for plain text HTTP ports',
        errorAt: ['servers', 0, 'tls'],
        warning: 'PASSTHROUGH mode does not use certificates',
        warningAt: ['servers', 0, 'tls', 'serverCertificate'],
      },
    ],
    ['HTTP server, httpsRedirect in AUTO_PASSTHROUGH', { tls: { httpsRedirect: true, mode: 'AUTO_PASSTHROUGH' } }, {}],
    [
      'httpsRedirect on a TCP server',
      { port: { number: 9000, name: 'tcp', protocol: 'TCP' }, tls: { httpsRedirect: true } },
      {
        error: 'server cannot have TLS settings for non HTTPS/TLS ports',
        errorAt: ['servers', 0, 'tls'],
        warning: 'tls.httpsRedirect should only be used with http servers',
        warningAt: ['servers', 0, 'tls', 'httpsRedirect'],
      },
    ],
    [
      'TLS checks run even when the port is wrong',
      { port: { number: 0, name: 'https', protocol: 'HTTPS' }, tls: { mode: 'ISTIO_MUTUAL', privateKey: '/k.pem' } },
      { error: 'ISTIO_MUTUAL TLS cannot have associated private key', errorAt: ['servers', 0, 'tls', 'privateKey'] },
    ],
  ])('%s', (_n, server, expected) => {
    expectFindings(checkGateway(gatewayWith(server), CTX), expected);
  });

  it('HTTPS without tls is not also reported when the port is invalid (Istio checks it only for a good port)', () => {
    const found = checkGateway(gatewayWith({ port: { number: 0, name: 'https', protocol: 'HTTPS' } }), CTX);
    expect(found.map((f) => f.message)).toEqual(['port number 0 must be in the range 1..65535']);
  });

  it('duplicate port names point at each repeat, across servers', () => {
    const server = (name: string) => ({ hosts: ['a.example.com'], port: { number: 80, name, protocol: 'HTTP' } });
    const found = checkGateway({ servers: [server('web'), server('api'), server('web'), server('web')] }, CTX);
    expect(found.map((f) => [f.severity, f.path])).toEqual([
      ['error', ['servers', 2, 'port', 'name']],
      ['error', ['servers', 3, 'port', 'name']],
    ]);
    expect(found[0]!.message).toBe('port names in servers must be unique: duplicate name web');
  });

  it('reports each bad host at its index', () => {
    const found = checkGateway(gatewayWith({ hosts: ['good.example.com', 'short', 'foo.*.com'] }), CTX);
    expect(found.map((f) => f.path)).toEqual([
      ['servers', 0, 'hosts', 1],
      ['servers', 0, 'hosts', 2],
      ['servers', 0, 'hosts', 2],
    ]);
  });
});

describe('validateTLSOptions: beyond Istio tables', () => {
  it.each<[string, Record<string, unknown>, Omit<Case, 'name' | 'spec'>]>([
    [
      'TLS 1.0 without ciphers',
      { mode: 'SIMPLE', credentialName: 'c', minProtocolVersion: 'TLSV1_0' },
      { warning: 'TLS version below TLSV1_2 require setting compatible ciphers', warningAt: ['tls', 'minProtocolVersion'] },
    ],
    [
      'TLS 1.1 without ciphers',
      { mode: 'SIMPLE', credentialName: 'c', minProtocolVersion: 'TLSV1_1' },
      { warning: 'TLS version below TLSV1_2', warningAt: ['tls', 'minProtocolVersion'] },
    ],
    ['TLS 1.0 with ciphers', { mode: 'SIMPLE', credentialName: 'c', minProtocolVersion: 'TLSV1_0', cipherSuites: ['AES128-SHA'] }, {}],
    ['TLS 1.2', { mode: 'SIMPLE', credentialName: 'c', minProtocolVersion: 'TLSV1_2' }, {}],
    ['TLS_AUTO', { mode: 'SIMPLE', credentialName: 'c', minProtocolVersion: 'TLS_AUTO' }, {}],
    ['cipher ALL', { mode: 'SIMPLE', credentialName: 'c', cipherSuites: ['ALL'] }, {}],
    ['cipher operators', { mode: 'SIMPLE', credentialName: 'c', cipherSuites: ['!aNULL', '+AES128-SHA', '[AES128-SHA|AES256-SHA]'] }, {}],
    [
      'lower-case cipher name',
      { mode: 'SIMPLE', credentialName: 'c', cipherSuites: ['ecdhe-ecdsa-aes128-sha'] },
      { warning: 'ignoring invalid cipher suites: [ecdhe-ecdsa-aes128-sha]', warningAt: ['tls', 'cipherSuites', 0] },
    ],
    [
      'OpenSSL name BoringSSL lacks',
      { mode: 'SIMPLE', credentialName: 'c', cipherSuites: ['AES128-GCM-SHA256', 'DHE-RSA-AES128-SHA'] },
      { warning: 'DHE-RSA-AES128-SHA', warningAt: ['tls', 'cipherSuites', 1] },
    ],
    [
      'AUTO_PASSTHROUGH with certificates',
      { mode: 'AUTO_PASSTHROUGH', serverCertificate: '/c.pem', privateKey: '/k.pem' },
      { warning: 'AUTO_PASSTHROUGH mode does not use certificates, they will be ignored', warningAt: ['tls', 'serverCertificate'] },
    ],
    [
      'PASSTHROUGH with tlsCertificates',
      { mode: 'PASSTHROUGH', tlsCertificates: [{ serverCertificate: '/c.pem', privateKey: '/k.pem' }] },
      { warning: 'PASSTHROUGH mode does not use certificates', warningAt: ['tls', 'tlsCertificates'] },
    ],
    [
      'PASSTHROUGH with credentialName and a CRL: the CRL rule still applies',
      { mode: 'PASSTHROUGH', credentialName: 'c', caCrl: '/crl.pem' },
      {
        warning: 'PASSTHROUGH mode does not use certificates',
        warningAt: ['tls', 'caCrl'],
        error: 'CRL is not supported with credentialName. CRL has to be specified in the credential',
        errorAt: ['tls', 'caCrl'],
      },
    ],
    ['MUTUAL with credentialName and a CRL stops before the CRL rule', { mode: 'MUTUAL', credentialName: 'c', caCrl: '/crl.pem' }, {}],
    ['MUTUAL with files and a CRL', { mode: 'MUTUAL', serverCertificate: '/c', privateKey: '/k', caCertificates: '/ca', caCrl: '/crl' }, {}],
    [
      'OPTIONAL_MUTUAL says MUTUAL TLS',
      { mode: 'OPTIONAL_MUTUAL', serverCertificate: '/c', privateKey: '/k' },
      { error: 'MUTUAL TLS requires a client CA bundle', errorAt: ['tls', 'caCertificates'] },
    ],
    ['OPTIONAL_MUTUAL with credentialNames', { mode: 'OPTIONAL_MUTUAL', credentialNames: ['a', 'b'] }, {}],
    [
      'ISTIO_MUTUAL with tlsCertificates',
      { mode: 'ISTIO_MUTUAL', tlsCertificates: [{ serverCertificate: '/c', privateKey: '/k' }] },
      { error: 'ISTIO_MUTUAL TLS cannot have associated tlsCertificates', errorAt: ['tls', 'tlsCertificates'] },
    ],
    [
      'ISTIO_MUTUAL with credentialNames',
      { mode: 'ISTIO_MUTUAL', credentialNames: ['a'] },
      { error: 'ISTIO_MUTUAL TLS cannot have associated credentialNames', errorAt: ['tls', 'credentialNames'] },
    ],
    [
      'ISTIO_MUTUAL with CA bundle',
      { mode: 'ISTIO_MUTUAL', caCertificates: '/ca' },
      { error: 'ISTIO_MUTUAL TLS cannot have associated CA bundle', errorAt: ['tls', 'caCertificates'] },
    ],
    [
      'ISTIO_MUTUAL still warns about ciphers',
      { mode: 'ISTIO_MUTUAL', cipherSuites: ['nope'] },
      { warning: 'ignoring invalid cipher suites: [nope]', warningAt: ['tls', 'cipherSuites', 0] },
    ],
    [
      'a certificate without its key is no certificate source, so files are checked',
      { mode: 'SIMPLE', serverCertificate: '/c' },
      { error: 'SIMPLE TLS requires a private key', errorAt: ['tls', 'privateKey'] },
    ],
  ])('%s', (_n, tls, expected) => {
    expectFindings(tlsFindings(tls), expected);
  });

  it('warns once per distinct invalid or duplicate cipher, at its first offending entry', () => {
    const found = tlsFindings({ mode: 'SIMPLE', credentialName: 'c', cipherSuites: ['foo', 'AES128-SHA', 'foo', 'AES128-SHA', 'AES128-SHA', 'bar'] });
    expect(found.map((f) => [f.severity, f.path, f.message])).toEqual([
      ['warning', ['tls', 'cipherSuites', 0], expect.stringContaining('ignoring invalid cipher suites: [foo]')],
      ['warning', ['tls', 'cipherSuites', 3], 'ignoring duplicate cipher suites: [AES128-SHA]'],
      ['warning', ['tls', 'cipherSuites', 5], expect.stringContaining('ignoring invalid cipher suites: [bar]')],
    ]);
  });

  it('reports both missing files of each tlsCertificates entry', () => {
    const found = tlsFindings({ mode: 'SIMPLE', tlsCertificates: [{}, { serverCertificate: '/c' }] });
    expect(found.map((f) => f.path)).toEqual([
      ['tls', 'tlsCertificates', 0, 'serverCertificate'],
      ['tls', 'tlsCertificates', 0, 'privateKey'],
      ['tls', 'tlsCertificates', 1, 'privateKey'],
    ]);
  });
});
