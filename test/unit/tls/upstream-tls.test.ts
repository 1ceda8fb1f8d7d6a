import { describe, expect, it } from 'vitest';
import { tlsFailure } from '../../../src/upstream/errors.js';
import { buildUpstreamTls } from '../../../src/tls/upstream-tls.js';
import { clientPem, serverPem, testCa } from '../../helpers/certs.js';

const files = (m: { cert?: string; key?: string; ca?: string | null }) => ({ cert: m.cert ?? '', key: m.key ?? '', ca: m.ca ?? null, source: 'test files', files: [] });

describe('DestinationRule tls toward upstreams', () => {
  it('DISABLE, ISTIO_MUTUAL-less rules and no tls at all are plain text', () => {
    expect(buildUpstreamTls(undefined, 'a.test', undefined)).toEqual({ tls: null });
    expect(buildUpstreamTls({ mode: 'DISABLE' }, 'a.test', undefined)).toEqual({ tls: null });
  });

  it('SIMPLE: SNI is the rule`s sni, else the host; system CAs without caCertificates', () => {
    const a = buildUpstreamTls({ mode: 'SIMPLE' }, 'api.external.test', undefined).tls!;
    expect(a.sni).toBe('api.external.test');
    expect(a.ca).toBeNull();
    expect(a.verifyHost).toBe(true);
    const b = buildUpstreamTls({ mode: 'SIMPLE', sni: 'other.test' }, 'api.external.test', files({ ca: testCa().cert })).tls!;
    expect(b.sni).toBe('other.test');
    expect(b.ca).toBe(testCa().cert);
    // An explicit sni without subjectAltNames: the chain is checked, not the name (as Istio configures Envoy).
    expect(b.verifyHost).toBe(false);
    expect(buildUpstreamTls({ mode: 'SIMPLE' }, '10.0.0.1', undefined).tls!.sni).toBeNull();
  });

  it("the ServiceEntry's subjectAltNames apply when the rule names none", () => {
    expect(buildUpstreamTls({ mode: 'SIMPLE' }, 'a.test', undefined, ['spiffe://x']).tls!.subjectAltNames).toEqual(['spiffe://x']);
    expect(buildUpstreamTls({ mode: 'SIMPLE', subjectAltNames: ['b.test'] }, 'a.test', undefined, ['spiffe://x']).tls!.subjectAltNames).toEqual(['b.test']);
  });

  it('MUTUAL needs a client certificate and a key that matches it', () => {
    expect(buildUpstreamTls({ mode: 'MUTUAL' }, 'a.test', files({ ca: testCa().cert })).error).toMatch(/needs a client certificate and key/);
    const client = clientPem('egress');
    const other = serverPem(['x.test']);
    expect(buildUpstreamTls({ mode: 'MUTUAL' }, 'a.test', files({ cert: client.cert, key: other.key })).error).toMatch(/does not match/);
    const ok = buildUpstreamTls({ mode: 'MUTUAL' }, 'a.test', files({ cert: client.cert, key: client.key, ca: testCa().cert })).tls!;
    expect(ok.mode).toBe('MUTUAL');
  });

  it('a CA file that holds no certificate, or a missing file, is an error', () => {
    expect(buildUpstreamTls({ mode: 'SIMPLE' }, 'a.test', files({ ca: 'not a certificate' })).error).toMatch(/holds no PEM certificate/);
    expect(buildUpstreamTls({ mode: 'SIMPLE' }, 'a.test', { error: 'caCertificates /x does not exist', files: ['/x'] }).error).toBe('caCertificates /x does not exist');
  });

  it('config_dump shows where the material came from, never the PEM', () => {
    const client = clientPem('egress');
    const t = buildUpstreamTls({ mode: 'MUTUAL', sni: 'a.test' }, 'a.test', files({ cert: client.cert, key: client.key, ca: testCa().cert })).tls!;
    const json = JSON.stringify(t);
    expect(json).not.toMatch(/BEGIN/);
    expect(JSON.parse(json)).toEqual({ mode: 'MUTUAL', sni: 'a.test', subjectAltNames: [], insecureSkipVerify: false, source: 'test files', systemCAs: false });
  });
});

describe('a failed upstream handshake in Envoy`s words', () => {
  it('every certificate verification failure is CERTIFICATE_VERIFY_FAILED', () => {
    for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'SELF_SIGNED_CERT_IN_CHAIN']) {
      const e = tlsFailure(code, 'x')!;
      expect(e.kind).toBe('connect-failure');
      expect(e.transportFailure).toBe('TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end');
    }
  });

  it('other OpenSSL errors keep their reason; non-TLS errors are not TLS failures', () => {
    expect(tlsFailure('ERR_SSL_WRONG_VERSION_NUMBER', 'x')!.transportFailure).toBe('TLS_error:|SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER:TLS_error_end');
    expect(tlsFailure('ECONNREFUSED', 'x')).toBeNull();
    expect(tlsFailure(undefined, 'x')).toBeNull();
  });
});
