import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDevCa, hostProblem, ipBytes, issueClientCert, issueServerCert, writeCredential } from '../../../src/tls/dev-certs.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

const ca = createDevCa();
const caX = new X509Certificate(ca.cert);

describe('createDevCa', () => {
  it('is a self-signed CA whose key matches, with a distinct name', () => {
    expect(caX.ca).toBe(true);
    expect(caX.verify(caX.publicKey)).toBe(true);
    expect(caX.checkPrivateKey(createPrivateKey(ca.key))).toBe(true);
    expect(caX.subject).toMatch(/^CN=meshgate development CA [0-9a-f]{8}\nO=meshgate \(development only\)$/);
    expect(caX.issuer).toBe(caX.subject);
    expect(new X509Certificate(createDevCa().cert).subject).not.toBe(caX.subject);
  });

  it('is valid from an hour ago for ten years, with a positive 16-byte serial', () => {
    const from = Date.parse(caX.validFrom);
    expect(Math.abs(from - (Date.now() - 3_600_000))).toBeLessThan(60_000);
    expect(Date.parse(caX.validTo) - from).toBe(3650 * 86_400_000);
    expect(caX.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/);
  });

  it('takes a common name and validity dates', () => {
    const notBefore = new Date('2030-01-01T00:00:00Z');
    const notAfter = new Date('2060-06-30T12:34:56Z'); // past 2049: GeneralizedTime, not UTCTime
    const x = new X509Certificate(createDevCa({ commonName: 'test CA', notBefore, notAfter }).cert);
    expect(x.subject).toContain('CN=test CA');
    expect(new Date(x.validFrom)).toEqual(notBefore);
    expect(new Date(x.validTo)).toEqual(notAfter);
  });

  it('refuses a validity that ends before it starts', () => {
    expect(() => createDevCa({ notBefore: new Date('2030-01-01'), notAfter: new Date('2029-01-01') })).toThrow(/must be later/);
  });
});

describe('issueServerCert', () => {
  const hosts = ['mynginx.example.com', '*.apps.example.com', 'localhost', '127.0.0.1', '::1'];
  const server = issueServerCert(ca, hosts);
  const x = new X509Certificate(server.cert);

  it('chains to the CA and matches its own key', () => {
    expect(x.verify(caX.publicKey)).toBe(true);
    expect(x.checkIssued(caX)).toBe(true);
    expect(x.verify(new X509Certificate(createDevCa().cert).publicKey)).toBe(false);
    expect(x.checkPrivateKey(createPrivateKey(server.key))).toBe(true);
    expect(x.ca).toBe(false);
    expect(server.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it('names every host: DNS SANs (wildcards too) and IP SANs', () => {
    expect(x.subjectAltName).toBe('DNS:mynginx.example.com, DNS:*.apps.example.com, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(x.subject).toBe('CN=mynginx.example.com');
    expect(x.checkHost('mynginx.example.com')).toBe('mynginx.example.com');
    expect(x.checkHost('shop.apps.example.com')).toBe('*.apps.example.com'); // the SAN that matched
    expect(x.checkHost('a.b.apps.example.com')).toBeUndefined();
    expect(x.checkHost('other.example.com')).toBeUndefined();
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.checkIP('::1')).toBe('::1');
    expect(x.checkIP('127.0.0.2')).toBeUndefined();
  });

  it('is for servers only', () => {
    expect(x.keyUsage).toEqual([SERVER_AUTH]);
  });

  it('is valid for 825 days from an hour ago by default, or for the dates given', () => {
    expect(Date.parse(x.validTo) - Date.parse(x.validFrom)).toBe(825 * 86_400_000);
    const notBefore = new Date('2025-03-01T10:00:00.900Z');
    const notAfter = new Date('2025-03-02T10:00:00Z');
    const y = new X509Certificate(issueServerCert(ca, ['a.test'], { notBefore, notAfter }).cert);
    expect(new Date(y.validFrom)).toEqual(new Date('2025-03-01T10:00:00Z'));
    expect(new Date(y.validTo)).toEqual(notAfter);
  });

  it('takes a common name; a host too long for one leaves a generic name', () => {
    expect(new X509Certificate(issueServerCert(ca, ['a.test'], { commonName: 'shop' }).cert).subject).toBe('CN=shop');
    const long = `${'a'.repeat(60)}.example.com`;
    const y = new X509Certificate(issueServerCert(ca, [long]).cert);
    expect(y.subject).toBe('CN=meshgate development server');
    expect(y.checkHost(long)).toBe(long);
  });

  it('refuses hosts a certificate cannot carry', () => {
    expect(() => issueServerCert(ca, [])).toThrow(/at least one host/);
    expect(() => issueServerCert(ca, ['foo*.example.com'])).toThrow(/wildcard/);
    expect(() => issueServerCert(ca, ['*'])).toThrow(/wildcard/);
    expect(() => issueServerCert(ca, ['a.*.example.com'])).toThrow(/wildcard/);
    expect(() => issueServerCert(ca, ['bad host'])).toThrow(/not a DNS name or an IP address/);
  });
});

describe('issueClientCert', () => {
  const uri = 'spiffe://cluster.local/ns/default/sa/client';
  const client = issueClientCert(ca, 'client', { uris: [uri], dnsNames: ['client.example.com'] });
  const x = new X509Certificate(client.cert);

  it('chains to the CA, names the client and is for clients only', () => {
    expect(x.verify(caX.publicKey)).toBe(true);
    expect(x.checkPrivateKey(createPrivateKey(client.key))).toBe(true);
    expect(x.subject).toBe('CN=client');
    expect(x.keyUsage).toEqual([CLIENT_AUTH]);
  });

  it('carries the URI and DNS SANs given, and none when none are given', () => {
    expect(x.subjectAltName).toBe(`URI:${uri}, DNS:client.example.com`);
    expect(new X509Certificate(issueClientCert(ca, 'plain').cert).subjectAltName).toBeUndefined();
  });

  it('honours validity dates', () => {
    const notBefore = new Date('2024-01-01T00:00:00Z');
    const notAfter = new Date('2024-01-02T00:00:00Z');
    const y = new X509Certificate(issueClientCert(ca, 'old', { notBefore, notAfter }).cert);
    expect(new Date(y.validFrom)).toEqual(notBefore);
    expect(new Date(y.validTo)).toEqual(notAfter);
  });

  it('refuses a URI that is not one', () => {
    expect(() => issueClientCert(ca, 'c', { uris: ['not a uri'] })).toThrow(/not a URI/);
  });
});

describe('hostProblem and ipBytes', () => {
  it('accepts DNS names, leftmost wildcards and IP addresses', () => {
    for (const h of ['example.com', 'a-b.example.com', '*.example.com', 'localhost', '10.0.0.1', 'fe80::1', '_svc.example.com']) expect(hostProblem(h)).toBeNull();
    for (const h of ['', '-a.example.com', 'example.com.', 'a..b', '*.', 'é.example.com']) expect(hostProblem(h)).not.toBeNull();
  });

  it('encodes IPv4, compressed IPv6 and IPv4-mapped IPv6 as SAN bytes', () => {
    const hex = (ip: string) => Buffer.from(ipBytes(ip), 'latin1').toString('hex');
    expect(hex('192.168.1.20')).toBe('c0a80114');
    expect(hex('::1')).toBe('00000000000000000000000000000001');
    expect(hex('2001:db8::ff00:42:8329')).toBe('20010db8000000000000ff0000428329');
    expect(hex('::ffff:1.2.3.4')).toBe('00000000000000000000ffff01020304');
    expect(hex('1:2:3:4:5:6:7:8')).toBe('00010002000300040005000600070008');
  });
});

describe('writeCredential', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const server = issueServerCert(ca, ['a.test']);

  it('writes NAME.crt, NAME.key (0600) and NAME.ca.crt into a directory it creates', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'meshgate-devcerts-'));
    dirs.push(root);
    const dir = path.join(root, 'nested', 'tls');
    const written = await writeCredential(dir, 'a.test', { ...server, ca: ca.cert });
    expect(written.sort()).toEqual([path.join(dir, 'a.test.ca.crt'), path.join(dir, 'a.test.crt'), path.join(dir, 'a.test.key')]);
    expect(await readFile(path.join(dir, 'a.test.crt'), 'utf8')).toBe(server.cert);
    expect(await readFile(path.join(dir, 'a.test.key'), 'utf8')).toBe(server.key);
    expect(await readFile(path.join(dir, 'a.test.ca.crt'), 'utf8')).toBe(ca.cert);
    expect((await stat(path.join(dir, 'a.test.key'))).mode & 0o777).toBe(0o600);
  });

  it('writes no CA file without a CA, and a replaced key is 0600 even where a readable file was', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'meshgate-devcerts-'));
    dirs.push(dir);
    await writeFile(path.join(dir, 'b.key'), 'old', { mode: 0o644 });
    expect(await writeCredential(dir, 'b', server)).toEqual([path.join(dir, 'b.key'), path.join(dir, 'b.crt')]);
    expect((await stat(path.join(dir, 'b.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(dir, 'b.key'), 'utf8')).toBe(server.key);
  });

  it('refuses a name that is not a plain file name', async () => {
    await expect(writeCredential(os.tmpdir(), '../escape', server)).rejects.toThrow(/not a usable credential name/);
    await expect(writeCredential(os.tmpdir(), '.hidden', server)).rejects.toThrow(/not a usable credential name/);
  });
});

describe('test/helpers/certs.ts', () => {
  it('caches one CA and a certificate per argument list, all chaining to it', async () => {
    const { clientPem, serverPem, testCa, writeTlsDir } = await import('../../helpers/certs.js');
    expect(testCa()).toBe(testCa());
    expect(serverPem(['a.test'])).toBe(serverPem(['a.test']));
    expect(serverPem(['a.test'])).not.toBe(serverPem(['b.test']));
    expect(clientPem('c', { uris: ['spiffe://x/y'] })).toBe(clientPem('c', { uris: ['spiffe://x/y'] }));
    const helperCa = new X509Certificate(testCa().cert);
    expect(new X509Certificate(clientPem().cert).verify(helperCa.publicKey)).toBe(true);

    const dir = await writeTlsDir({ plain: { hosts: ['a.test'] }, mtls: { hosts: ['b.test'], mutual: true }, given: { ...serverPem(['c.test']), ca: 'CA TEXT' } });
    try {
      expect((await readdir(dir)).sort()).toEqual(['ca.crt', 'given.ca.crt', 'given.crt', 'given.key', 'mtls.ca.crt', 'mtls.crt', 'mtls.key', 'plain.crt', 'plain.key']);
      expect(await readFile(path.join(dir, 'plain.crt'), 'utf8')).toBe(serverPem(['a.test']).cert);
      expect(await readFile(path.join(dir, 'mtls.ca.crt'), 'utf8')).toBe(testCa().cert);
      expect(await readFile(path.join(dir, 'ca.crt'), 'utf8')).toBe(testCa().cert);
      expect(await readFile(path.join(dir, 'given.ca.crt'), 'utf8')).toBe('CA TEXT');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
