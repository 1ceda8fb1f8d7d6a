import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import type { TlsMaterial } from '../../../src/tls/credentials.js';
import { buildServerTls, type TlsFinding } from '../../../src/tls/server-tls.js';
import { serverPem, testCa, type Pem } from '../../helpers/certs.js';

// buildServerTls: the checks a terminating Gateway server's material goes through (errors take
// the server out; a certificate whose names miss the server's hosts is only a warning) and the
// context handshakes use: TLS 1.2 to 1.3 unless the server says otherwise, a client CA for the
// mutual modes. A handful of real handshakes (TLSSocket over a net.Server, as the listener does)
// show the context does what the config says.

const DAY = 86_400_000;
const HOSTS = ['a.example.com'];

function mat(pem: Pem, opts: { ca?: string | null; source?: string } = {}): TlsMaterial {
  return { cert: pem.cert, key: pem.key, ca: opts.ca ?? null, source: opts.source ?? 'tls/a-cred.crt', files: [] };
}

const good = () => serverPem(HOSTS);
const other = () => serverPem(['b.example.com']);

/** Every message a call produced, to check none carries key material. */
const allMessages: string[] = [];
function build(spec: Record<string, unknown>, material: TlsMaterial, hosts: readonly string[] = HOSTS, now?: number) {
  const r = buildServerTls(spec, material, hosts, now);
  for (const f of [...r.errors, ...r.warnings]) allMessages.push(f.message);
  return r;
}

function onlyError(r: { config: unknown; errors: TlsFinding[] }): TlsFinding {
  expect(r.config).toBeNull();
  expect(r.errors).toHaveLength(1);
  return r.errors[0]!;
}

// A server that runs the handshake the way the gateway does: a TLSSocket over an accepted socket.
const servers: net.Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function serveContext(context: tls.SecureContext): Promise<number> {
  const server = net.createServer((socket) => {
    const t = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
    t.on('error', () => socket.destroy());
    t.on('secure', () => t.end('hello'));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function handshake(port: number, opts: tls.ConnectionOptions = {}): Promise<{ protocol: string | null; cipher: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.example.com', ca: testCa().cert, ...opts }, () => {
      const out = { protocol: s.getProtocol(), cipher: s.getCipher().name };
      s.destroy();
      resolve(out);
    });
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('handshake timed out')));
  });
}

describe('buildServerTls: a good certificate', () => {
  it('builds a context with TLS 1.2 to 1.3 by default, no client certificate asked for', async () => {
    const r = build({ mode: 'SIMPLE', credentialName: 'a-cred' }, mat(good()));
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    const c = r.config!;
    expect(c.mode).toBe('SIMPLE');
    expect(c.minVersion).toBe('TLSv1.2');
    expect(c.maxVersion).toBe('TLSv1.3');
    expect(c.requestCert).toBe(false);
    expect(c.requireCert).toBe(false);
    expect(c.source).toBe('tls/a-cred.crt');
    expect(c.notAfter).toBe(new X509Certificate(good().cert).validTo);
    expect(c.subjectAltNames).toEqual([]);
    expect(c.spki).toEqual([]);
    expect(c.certHashes).toEqual([]);

    const port = await serveContext(c.context);
    expect((await handshake(port)).protocol).toBe('TLSv1.3');
    expect((await handshake(port, { maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
    // TLS 1.1 is refused by default (the client has to lower its own security level even to offer it).
    await expect(handshake(port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' })).rejects.toThrow();
  });

  it('takes the mode when none is given as SIMPLE', () => {
    expect(build({ credentialName: 'a-cred' }, mat(good())).config!.mode).toBe('SIMPLE');
  });

  it('honours minProtocolVersion and maxProtocolVersion', async () => {
    const r = build({ credentialName: 'a-cred', minProtocolVersion: 'TLSV1_1', maxProtocolVersion: 'TLSV1_2' }, mat(good()));
    expect(r.errors).toEqual([]);
    expect(r.config!.minVersion).toBe('TLSv1.1');
    expect(r.config!.maxVersion).toBe('TLSv1.2');
    const port = await serveContext(r.config!.context);
    expect((await handshake(port)).protocol).toBe('TLSv1.2');
    expect((await handshake(port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' })).protocol).toBe('TLSv1.1');

    const only13 = build({ credentialName: 'a-cred', minProtocolVersion: 'TLSV1_3' }, mat(good())).config!;
    const port13 = await serveContext(only13.context);
    await expect(handshake(port13, { maxVersion: 'TLSv1.2' })).rejects.toThrow();
    expect((await handshake(port13)).protocol).toBe('TLSv1.3');
  });

  it('limits TLS 1.2 to cipherSuites, and (as Envoy) leaves TLS 1.3 alone', async () => {
    const r = build({ credentialName: 'a-cred', cipherSuites: ['ECDHE-RSA-AES128-GCM-SHA256'] }, mat(good()));
    expect(r.errors).toEqual([]);
    const port = await serveContext(r.config!.context);
    expect(await handshake(port, { maxVersion: 'TLSv1.2' })).toEqual({ protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256' });
    await expect(handshake(port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' })).rejects.toThrow();
    expect((await handshake(port)).protocol).toBe('TLSv1.3');
  });

  it('keeps the client certificate rules: subjectAltNames, SPKI pins, hash pins (lower case, colons dropped)', () => {
    const c = build(
      { mode: 'MUTUAL', credentialName: 'a-cred', subjectAltNames: ['spiffe://cluster.local/ns/x/sa/y'], verifyCertificateSpki: ['abc='], verifyCertificateHash: ['AB:CD:EF'] },
      mat(good(), { ca: testCa().cert }),
    ).config!;
    expect(c.subjectAltNames).toEqual(['spiffe://cluster.local/ns/x/sa/y']);
    expect(c.spki).toEqual(['abc=']);
    expect(c.certHashes).toEqual(['abcdef']);
  });
});

describe('buildServerTls: errors take the server out', () => {
  it('a private key that does not match the certificate', () => {
    const e = onlyError(build({ credentialName: 'a-cred' }, { ...mat(good()), key: other().key }));
    expect(e.field).toBe('credentialName');
    expect(e.message).toContain('tls/a-cred.crt');
    expect(e.message).toContain('the private key does not match the certificate');
    expect(e.message).toContain('CN=a.example.com');
  });

  it('names serverCertificate as the field when the material came from file paths', () => {
    const e = onlyError(build({ serverCertificate: '/etc/certs/a.crt', privateKey: '/etc/certs/a.key' }, { ...mat(good(), { source: '/etc/certs/a.crt' }), key: other().key }));
    expect(e.field).toBe('serverCertificate');
    expect(e.message).toContain('/etc/certs/a.crt');
  });

  it('a certificate that is not PEM, and a key that is not a readable PEM key (an encrypted one, say)', () => {
    const notPem = onlyError(build({ credentialName: 'a-cred' }, { ...mat(good()), cert: 'not a certificate' }));
    expect(notPem.message).toContain('is not a PEM X.509 certificate');
    const encrypted = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' },
    }).privateKey;
    const enc = onlyError(build({ credentialName: 'a-cred' }, { ...mat(good()), key: encrypted }));
    expect(enc.message).toContain('not a readable PEM key');
    const swapped = onlyError(build({ credentialName: 'a-cred' }, { ...mat(good()), key: good().cert }));
    expect(swapped.message).toContain('not a readable PEM key');
  });

  it('an expired certificate, with its end date', () => {
    const pem = serverPem(HOSTS, { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') });
    const e = onlyError(build({ credentialName: 'a-cred' }, mat(pem)));
    expect(e.field).toBe('credentialName');
    expect(e.message).toMatch(/tls\/a-cred\.crt: the certificate expired on Jan {2}1 00:00:00 2021 GMT/);
    // A certificate valid today is expired at a `now` past its end.
    const later = onlyError(build({ credentialName: 'a-cred' }, mat(good()), HOSTS, Date.now() + 900 * DAY));
    expect(later.message).toContain('expired on');
    expect(build({ credentialName: 'a-cred' }, mat(good()), HOSTS, Date.now() + 800 * DAY).config).not.toBeNull();
  });

  it('a certificate not valid yet, with its start date', () => {
    const pem = serverPem(HOSTS, { notBefore: new Date('2040-01-01T00:00:00Z'), notAfter: new Date('2041-01-01T00:00:00Z') });
    const e = onlyError(build({ credentialName: 'a-cred' }, mat(pem)));
    expect(e.field).toBe('credentialName');
    expect(e.message).toMatch(/the certificate is not valid before Jan {2}1 00:00:00 2040 GMT/);
    expect(onlyError(build({ credentialName: 'a-cred' }, mat(good()), HOSTS, Date.now() - 2 * DAY)).message).toContain('not valid before');
  });

  it('MUTUAL and OPTIONAL_MUTUAL without a CA; with one they ask for (MUTUAL: require) a client certificate', () => {
    for (const mode of ['MUTUAL', 'OPTIONAL_MUTUAL']) {
      const e = onlyError(build({ mode, credentialName: 'a-cred' }, mat(good())));
      expect(e.field).toBe('credentialName');
      expect(e.message).toContain(`tls.mode ${mode} needs a CA`);
    }
    const mutual = build({ mode: 'MUTUAL', credentialName: 'a-cred' }, mat(good(), { ca: testCa().cert })).config!;
    expect([mutual.mode, mutual.requestCert, mutual.requireCert]).toEqual(['MUTUAL', true, true]);
    const optional = build({ mode: 'OPTIONAL_MUTUAL', credentialName: 'a-cred' }, mat(good(), { ca: testCa().cert })).config!;
    expect([optional.mode, optional.requestCert, optional.requireCert]).toEqual(['OPTIONAL_MUTUAL', true, false]);
  });

  it('MUTUAL with an empty CA (cert-manager leaves ca.crt empty for ACME issuers): an error, not the public root store', () => {
    // tls.createSecureContext({ ca: '' }) trusts Node's bundled public roots instead: any
    // publicly trusted client certificate would pass a MUTUAL server.
    for (const mode of ['MUTUAL', 'OPTIONAL_MUTUAL']) {
      const e = onlyError(build({ mode, credentialName: 'a-cred' }, mat(good(), { ca: '' })));
      expect(e.field).toBe('credentialName');
      expect(e.message).toMatch(/CA/);
    }
  });

  it('MUTUAL with a CA that holds no certificate (garbage, or a private key by mistake)', () => {
    for (const ca of ['not a certificate', good().key]) {
      const e = onlyError(build({ mode: 'MUTUAL', credentialName: 'a-cred' }, mat(good(), { ca })));
      expect(e.field).toBe('credentialName');
      expect(e.message).toMatch(/CA/);
      expect(e.message).not.toContain('PRIVATE KEY');
    }
  });

  it('minProtocolVersion above maxProtocolVersion', () => {
    const e = onlyError(build({ credentialName: 'a-cred', minProtocolVersion: 'TLSV1_3', maxProtocolVersion: 'TLSV1_2' }, mat(good())));
    expect(e.field).toBe('minProtocolVersion');
    expect(e.message).toBe('minProtocolVersion TLSV1_3 is above maxProtocolVersion TLSV1_2');
  });

  it('cipherSuites of which this build knows none', () => {
    const e = onlyError(build({ credentialName: 'a-cred', cipherSuites: ['NOT-A-CIPHER', 'ALSO-BOGUS'] }, mat(good())));
    expect(e.field).toBe('cipherSuites');
    expect(e.message).toContain('NOT-A-CIPHER');
  });

  it('an unknown name among known cipherSuites is reported, not silently dropped', () => {
    // OpenSSL accepts a cipher list as long as one name matches; Envoy checks every name
    // (and Istio warns about, and drops, the names it does not know).
    const r = build({ credentialName: 'a-cred', cipherSuites: ['ECDHE-RSA-AES128-GCM-SHA256', 'NOT-A-CIPHER'] }, mat(good()));
    const findings = [...r.errors, ...r.warnings].filter((f) => f.field === 'cipherSuites');
    expect(findings.map((f) => f.message).join('\n')).toContain('NOT-A-CIPHER');
  });
});

describe('buildServerTls: names that cover none of the hosts are a warning', () => {
  it('a certificate for other names: warned, still served', () => {
    const r = build({ credentialName: 'a-cred' }, mat(other()), ['a.example.com', 'c.example.com']);
    expect(r.errors).toEqual([]);
    expect(r.config).not.toBeNull();
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]!.field).toBe('credentialName');
    expect(r.warnings[0]!.message).toContain('DNS:b.example.com');
    expect(r.warnings[0]!.message).toContain('cover none of the server');
    expect(r.warnings[0]!.message).toContain('a.example.com, c.example.com');
  });

  it('no warning when one of several hosts is covered', () => {
    expect(build({ credentialName: 'a-cred' }, mat(good()), ['x.other.test', 'a.example.com']).warnings).toEqual([]);
  });

  it('a wildcard SAN *.example.com covers a.example.com, not example.com nor x.a.example.com', () => {
    const wild = serverPem(['*.example.com']);
    expect(build({ credentialName: 'a-cred' }, mat(wild), ['a.example.com']).warnings).toEqual([]);
    expect(build({ credentialName: 'a-cred' }, mat(wild), ['example.com']).warnings).toHaveLength(1);
    expect(build({ credentialName: 'a-cred' }, mat(wild), ['x.a.example.com']).warnings).toHaveLength(1);
  });

  it('a wildcard host *.example.com is covered by a certificate for a name under it or for *.example.com', () => {
    expect(build({ credentialName: 'a-cred' }, mat(good()), ['*.example.com']).warnings).toEqual([]);
    expect(build({ credentialName: 'a-cred' }, mat(serverPem(['*.example.com'])), ['*.example.com']).warnings).toEqual([]);
    expect(build({ credentialName: 'a-cred' }, mat(good()), ['*.other.test']).warnings).toHaveLength(1);
  });

  it('a wildcard host *.example.com is not covered by a name that merely contains ".example.com"', () => {
    const lookalike = serverPem(['a.example.com.evil.test']);
    expect(build({ credentialName: 'a-cred' }, mat(lookalike), ['*.example.com']).warnings).toHaveLength(1);
  });

  it('host "*" is covered by any certificate', () => {
    expect(build({ credentialName: 'a-cred' }, mat(other()), ['*']).warnings).toEqual([]);
  });
});

describe('buildServerTls: messages', () => {
  it('never carry key material, whatever went wrong', () => {
    const key = good().key;
    const cases: [Record<string, unknown>, TlsMaterial, readonly string[]][] = [
      [{ credentialName: 'a-cred' }, { ...mat(good()), key: other().key }, HOSTS],
      [{ credentialName: 'a-cred' }, { ...mat(good()), cert: key }, HOSTS],
      [{ credentialName: 'a-cred' }, { ...mat(good()), key: key.replace(/\n([A-Za-z0-9+/]{10})/, '\n!!$1') }, HOSTS],
      [{ credentialName: 'a-cred' }, { ...mat(good()), key: key.slice(0, key.length / 2) }, HOSTS],
      [{ mode: 'MUTUAL', credentialName: 'a-cred' }, mat(good()), HOSTS],
      [{ credentialName: 'a-cred', cipherSuites: ['BOGUS'] }, mat(good()), HOSTS],
      [{ credentialName: 'a-cred' }, mat(good()), ['nothing.test']],
    ];
    const messages = cases.flatMap(([spec, m, hosts]) => {
      const r = buildServerTls(spec, m, hosts);
      return [...r.errors, ...r.warnings].map((f) => f.message);
    });
    expect(messages.length).toBeGreaterThanOrEqual(cases.length);
    const keyLines = [key, other().key].flatMap((k) => k.split('\n')).filter((l) => l.length > 0 && !l.startsWith('-----'));
    for (const m of [...messages, ...allMessages]) {
      expect(m).not.toContain('PRIVATE KEY');
      for (const l of keyLines) expect(m).not.toContain(l);
    }
  });
});
