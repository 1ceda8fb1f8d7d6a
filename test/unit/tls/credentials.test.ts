import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigTexts } from '../../../src/config/load.js';
import type { ConfigObject } from '../../../src/config/types.js';
import { credentialKey, isMaterial, loadCredentials, type MaterialResult, type TlsMaterial } from '../../../src/tls/credentials.js';
import { clientPem, serverPem, testCa, type Pem } from '../../helpers/certs.js';

// loadCredentials: where a Gateway server's certificate comes from. A Secret in the config
// (the Gateway's own namespace first), in the kubernetes.io/tls layout (tls.crt, tls.key,
// ca.crt) or the generic one (cert, key, cacert), with a NAME-cacert Secret for the CA; else
// --tls-dir: NAME.crt + NAME.key (+ NAME.ca.crt or NAME-cacert.crt), or a folder NAME/ with a
// Secret's keys as files; or serverCertificate/privateKey/caCertificates paths. What is missing
// is an error that says what was looked for.

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

let certA: Pem;
let certB: Pem;
let certC: Pem;
let ca: string;

beforeAll(() => {
  certA = serverPem(['a.example.com']);
  certB = serverPem(['b.example.com']);
  certC = clientPem('other-ca-stand-in');
  ca = testCa().cert;
});

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'meshgate-cred-unit-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function objects(yaml: string): ConfigObject[] {
  const { objects: objs, problems } = parseConfigTexts([{ file: 'test.yaml', text: yaml, mtimeMs: 1 }], { defaultNamespace: 'default' });
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return objs;
}

/** A Gateway `NS/gw` with one HTTPS server on 443 with these tls settings. */
function gateway(tls: Record<string, unknown>, ns = 'istio-system', hosts = ['a.example.com']): string {
  return JSON.stringify({
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name: 'gw', namespace: ns },
    spec: { servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts, tls }] },
  });
}

function secret(ns: string, name: string, body: { type?: string; data?: Record<string, string>; stringData?: Record<string, string> }): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, ...body });
}

function tlsSecret(ns: string, name: string, pem: Pem, withCa?: string): string {
  const data: Record<string, string> = { 'tls.crt': b64(pem.cert), 'tls.key': b64(pem.key) };
  if (withCa !== undefined) data['ca.crt'] = b64(withCa);
  return secret(ns, name, { type: 'kubernetes.io/tls', data });
}

const docs = (...d: string[]) => d.join('\n---\n');

function material(r: MaterialResult | undefined): TlsMaterial {
  if (!isMaterial(r)) throw new Error(`expected material, got ${JSON.stringify(r)}`);
  return r;
}

function missing(r: MaterialResult | undefined): { error: string; files: string[] } {
  if (r === undefined || isMaterial(r)) throw new Error(`expected an error, got ${r === undefined ? 'nothing' : `material from ${r.source}`}`);
  return r;
}

describe('credentialKey', () => {
  it('keys a credentialName (or the first of credentialNames) by the Gateway namespace, and file paths by the paths', () => {
    expect(credentialKey('ns1', { credentialName: 'c' })).toBe('credential:ns1/c');
    expect(credentialKey('ns1', { credentialNames: ['first', 'second'] })).toBe('credential:ns1/first');
    expect(credentialKey('ns1', { serverCertificate: '/a.crt', privateKey: '/a.key' })).toBe('files:/a.crt|/a.key|');
    expect(credentialKey('ns1', { serverCertificate: '/a.crt', privateKey: '/a.key', caCertificates: '/ca.crt' })).toBe('files:/a.crt|/a.key|/ca.crt');
    expect(credentialKey('ns1', { mode: 'SIMPLE' })).toBeNull();
    expect(credentialKey('ns1', { credentialName: '' })).toBeNull();
  });
});

describe('loadCredentials: Secrets in the config', () => {
  it('reads a kubernetes.io/tls Secret (base64 data: tls.crt, tls.key, ca.crt) in the Gateway namespace', async () => {
    const objs = objects(docs(gateway({ mode: 'MUTUAL', credentialName: 'cred' }), tlsSecret('istio-system', 'cred', certA, ca)));
    const m = material((await loadCredentials(objs, await tempDir())).get('credential:istio-system/cred'));
    expect(m.cert).toBe(certA.cert);
    expect(m.key).toBe(certA.key);
    expect(m.ca).toBe(ca);
    expect(m.source).toBe('Secret istio-system/cred');
    expect(m.files).toEqual([]);
  });

  it('prefers the Secret in the Gateway namespace over one of the same name elsewhere', async () => {
    const objs = objects(docs(tlsSecret('default', 'cred', certB), gateway({ credentialName: 'cred' }), tlsSecret('istio-system', 'cred', certA), tlsSecret('other', 'cred', certB)));
    const m = material((await loadCredentials(objs, await tempDir())).get('credential:istio-system/cred'));
    expect(m.cert).toBe(certA.cert);
    expect(m.source).toBe('Secret istio-system/cred');
  });

  it('takes the one Secret of that name from another namespace when the config has only one', async () => {
    const objs = objects(docs(gateway({ credentialName: 'cred' }), tlsSecret('elsewhere', 'cred', certB)));
    const m = material((await loadCredentials(objs, await tempDir())).get('credential:istio-system/cred'));
    expect(m.cert).toBe(certB.cert);
    expect(m.source).toBe('Secret elsewhere/cred');
  });

  it('does not guess between two Secrets of that name in other namespaces: the lookup goes on to --tls-dir', async () => {
    const objs = objects(docs(gateway({ credentialName: 'cred' }), tlsSecret('one', 'cred', certA), tlsSecret('two', 'cred', certB)));
    const r = missing((await loadCredentials(objs, await tempDir())).get('credential:istio-system/cred'));
    expect(r.error).toContain('no Secret named cred');
  });

  it('gives two Gateways in two namespaces each the Secret of its own namespace for the same credentialName', async () => {
    const objs = objects(docs(gateway({ credentialName: 'cred' }, 'ns1'), gateway({ credentialName: 'cred' }, 'ns2', ['b.example.com']).replace('"name":"gw"', '"name":"gw2"'), tlsSecret('ns1', 'cred', certA), tlsSecret('ns2', 'cred', certB)));
    const all = await loadCredentials(objs, await tempDir());
    expect(material(all.get('credential:ns1/cred')).cert).toBe(certA.cert);
    expect(material(all.get('credential:ns2/cred')).cert).toBe(certB.cert);
  });

  it('reads the generic layout (cert, key, cacert) and stringData', async () => {
    const objs = objects(docs(gateway({ mode: 'MUTUAL', credentialName: 'generic' }), secret('istio-system', 'generic', { stringData: { cert: certA.cert, key: certA.key, cacert: ca } })));
    const m = material((await loadCredentials(objs, await tempDir())).get('credential:istio-system/generic'));
    expect(m.cert).toBe(certA.cert);
    expect(m.key).toBe(certA.key);
    expect(m.ca).toBe(ca);
  });

  it('leaves ca null when no CA is given anywhere', async () => {
    const objs = objects(docs(gateway({ credentialName: 'cred' }), tlsSecret('istio-system', 'cred', certA)));
    expect(material((await loadCredentials(objs, await tempDir())).get('credential:istio-system/cred')).ca).toBeNull();
  });

  it('takes the CA from a NAME-cacert Secret (ca.crt or cacert) when the Secret has none', async () => {
    const objs = objects(docs(gateway({ mode: 'MUTUAL', credentialName: 'cred' }), tlsSecret('istio-system', 'cred', certA), secret('istio-system', 'cred-cacert', { data: { cacert: b64(ca) } })));
    const m = material((await loadCredentials(objs, await tempDir())).get('credential:istio-system/cred'));
    expect(m.ca).toBe(ca);
    expect(m.source).toBe('Secret istio-system/cred (+ Secret istio-system/cred-cacert)');

    const objs2 = objects(docs(gateway({ mode: 'MUTUAL', credentialName: 'cred' }), tlsSecret('istio-system', 'cred', certA), secret('istio-system', 'cred-cacert', { data: { 'ca.crt': b64(ca) } })));
    expect(material((await loadCredentials(objs2, await tempDir())).get('credential:istio-system/cred')).ca).toBe(ca);
  });

  it('prefers a NAME-cacert Secret to the ca.crt of the Secret itself, as Istio does', async () => {
    // Istio asks SDS for NAME-cacert and reads the Secret NAME only when NAME-cacert does not exist.
    const objs = objects(docs(gateway({ mode: 'MUTUAL', credentialName: 'cred' }), tlsSecret('istio-system', 'cred', certA, certC.cert), secret('istio-system', 'cred-cacert', { data: { cacert: b64(ca) } })));
    const m = material((await loadCredentials(objs, await tempDir())).get('credential:istio-system/cred'));
    expect(m.ca).toBe(ca);
    expect(m.source).toBe('Secret istio-system/cred (+ Secret istio-system/cred-cacert)');
  });

  it('takes an empty ca.crt as no CA: the NAME-cacert Secret is then read, and without one ca is null', async () => {
    const empty = secret('istio-system', 'cred', { type: 'kubernetes.io/tls', data: { 'tls.crt': b64(certA.cert), 'tls.key': b64(certA.key), 'ca.crt': '' } });
    const alone = objects(docs(gateway({ mode: 'MUTUAL', credentialName: 'cred' }), empty));
    expect(material((await loadCredentials(alone, await tempDir())).get('credential:istio-system/cred')).ca).toBeNull();
    const withCacert = objects(docs(gateway({ mode: 'MUTUAL', credentialName: 'cred' }), empty, secret('istio-system', 'cred-cacert', { data: { 'ca.crt': b64(ca) } })));
    expect(material((await loadCredentials(withCacert, await tempDir())).get('credential:istio-system/cred')).ca).toBe(ca);
  });

  it('takes an empty NAME.ca.crt in --tls-dir as no CA', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'cred.crt'), certA.cert);
    await writeFile(path.join(dir, 'cred.key'), certA.key);
    await writeFile(path.join(dir, 'cred.ca.crt'), '');
    await writeFile(path.join(dir, 'cred-cacert.crt'), ca);
    const m = material((await loadCredentials(objects(gateway({ mode: 'MUTUAL', credentialName: 'cred' })), dir)).get('credential:istio-system/cred'));
    expect(m.ca).toBe(ca);
  });

  it('says which entry a Secret lacks', async () => {
    const noKey = objects(docs(gateway({ credentialName: 'cred' }), secret('istio-system', 'cred', { data: { 'tls.crt': b64(certA.cert) } })));
    expect(missing((await loadCredentials(noKey, await tempDir())).get('credential:istio-system/cred')).error).toBe('Secret istio-system/cred has no tls.key (or key) entry');
    const noCert = objects(docs(gateway({ credentialName: 'cred' }), secret('istio-system', 'cred', { data: { 'tls.key': b64(certA.key) } })));
    expect(missing((await loadCredentials(noCert, await tempDir())).get('credential:istio-system/cred')).error).toBe('Secret istio-system/cred has no tls.crt (or cert) entry');
  });

  it('prefers a Secret in the config to files of the same name in --tls-dir', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'cred.crt'), certB.cert);
    await writeFile(path.join(dir, 'cred.key'), certB.key);
    const objs = objects(docs(gateway({ credentialName: 'cred' }), tlsSecret('istio-system', 'cred', certA)));
    expect(material((await loadCredentials(objs, dir)).get('credential:istio-system/cred')).cert).toBe(certA.cert);
  });

  it('reads credentialNames[0], and skips servers that do not terminate (PASSTHROUGH) or name no credential', async () => {
    const objs = objects(
      docs(
        JSON.stringify({
          apiVersion: 'networking.istio.io/v1',
          kind: 'Gateway',
          metadata: { name: 'gw', namespace: 'istio-system' },
          spec: {
            servers: [
              { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['a.example.com'], tls: { mode: 'SIMPLE', credentialNames: ['cred', 'unused'] } },
              { port: { number: 8443, name: 'tls', protocol: 'TLS' }, hosts: ['p.example.com'], tls: { mode: 'PASSTHROUGH', credentialName: 'passthrough-cred' } },
              { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] },
            ],
          },
        }),
        tlsSecret('istio-system', 'cred', certA),
      ),
    );
    const all = await loadCredentials(objs, await tempDir());
    expect([...all.keys()]).toEqual(['credential:istio-system/cred']);
    expect(material(all.get('credential:istio-system/cred')).cert).toBe(certA.cert);
  });
});

describe('loadCredentials: --tls-dir', () => {
  it('reads NAME.crt + NAME.key, with the files to watch (the CA candidates too, so one appearing is noticed)', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'cred.crt'), certA.cert);
    await writeFile(path.join(dir, 'cred.key'), certA.key);
    const m = material((await loadCredentials(objects(gateway({ credentialName: 'cred' })), dir)).get('credential:istio-system/cred'));
    expect(m.cert).toBe(certA.cert);
    expect(m.key).toBe(certA.key);
    expect(m.ca).toBeNull();
    expect(m.source).toBe(path.join(dir, 'cred.crt'));
    expect(m.files).toEqual(expect.arrayContaining([path.join(dir, 'cred.crt'), path.join(dir, 'cred.key'), path.join(dir, 'cred.ca.crt')]));
  });

  it('reads NAME.ca.crt as the CA, else NAME-cacert.crt', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'one.crt'), certA.cert);
    await writeFile(path.join(dir, 'one.key'), certA.key);
    await writeFile(path.join(dir, 'one.ca.crt'), ca);
    await writeFile(path.join(dir, 'two.crt'), certB.cert);
    await writeFile(path.join(dir, 'two.key'), certB.key);
    await writeFile(path.join(dir, 'two-cacert.crt'), ca);
    const objs = objects(
      docs(
        gateway({ mode: 'MUTUAL', credentialName: 'one' }, 'istio-system'),
        JSON.stringify({
          apiVersion: 'networking.istio.io/v1',
          kind: 'Gateway',
          metadata: { name: 'gw2', namespace: 'istio-system' },
          spec: { servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['b.example.com'], tls: { mode: 'MUTUAL', credentialName: 'two' } }] },
        }),
      ),
    );
    const all = await loadCredentials(objs, dir);
    const one = material(all.get('credential:istio-system/one'));
    expect(one.ca).toBe(ca);
    expect(one.files).toContain(path.join(dir, 'one.ca.crt'));
    const two = material(all.get('credential:istio-system/two'));
    expect(two.cert).toBe(certB.cert);
    expect(two.ca).toBe(ca);
    expect(two.files).toContain(path.join(dir, 'two-cacert.crt'));
  });

  it('reads a folder NAME/ with tls.crt, tls.key and ca.crt (a mounted kubernetes.io/tls Secret)', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'cred'));
    await writeFile(path.join(dir, 'cred', 'tls.crt'), certA.cert);
    await writeFile(path.join(dir, 'cred', 'tls.key'), certA.key);
    await writeFile(path.join(dir, 'cred', 'ca.crt'), ca);
    const m = material((await loadCredentials(objects(gateway({ mode: 'MUTUAL', credentialName: 'cred' })), dir)).get('credential:istio-system/cred'));
    expect(m.cert).toBe(certA.cert);
    expect(m.key).toBe(certA.key);
    expect(m.ca).toBe(ca);
    expect(m.source).toBe(path.join(dir, 'cred', 'tls.crt'));
  });

  it('reads a folder NAME/ with cert, key and cacert (a mounted generic Secret)', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'cred'));
    await writeFile(path.join(dir, 'cred', 'cert'), certA.cert);
    await writeFile(path.join(dir, 'cred', 'key'), certA.key);
    await writeFile(path.join(dir, 'cred', 'cacert'), ca);
    const m = material((await loadCredentials(objects(gateway({ mode: 'MUTUAL', credentialName: 'cred' })), dir)).get('credential:istio-system/cred'));
    expect(m.cert).toBe(certA.cert);
    expect(m.ca).toBe(ca);
  });

  it('says a certificate without its key is missing the key', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'cred.crt'), certA.cert);
    const r = missing((await loadCredentials(objects(gateway({ credentialName: 'cred' })), dir)).get('credential:istio-system/cred'));
    expect(r.error).toBe(`${path.join(dir, 'cred.crt')} exists but its key ${path.join(dir, 'cred.key')} does not`);
    expect(r.files).toContain(path.join(dir, 'cred.key'));
  });

  it('names everything it looked for when the credential is nowhere, and lists those files to watch', async () => {
    const dir = await tempDir();
    const r = missing((await loadCredentials(objects(gateway({ credentialName: 'nowhere' })), dir)).get('credential:istio-system/nowhere'));
    expect(r.error).toContain('no Secret named nowhere in the config');
    expect(r.error).toContain(path.join(dir, 'nowhere.crt'));
    expect(r.error).toContain(path.join(dir, 'nowhere.key'));
    expect(r.error).toContain(`${path.join(dir, 'nowhere')}/tls.crt`);
    expect(r.error).toContain(`meshgate certs --out ${dir}`);
    expect(r.error).toContain('--name nowhere');
    expect(r.files).toEqual(expect.arrayContaining([path.join(dir, 'nowhere.crt'), path.join(dir, 'nowhere.key')]));
  });

  it('takes an absent --tls-dir as "not found", not as a failure', async () => {
    const r = missing((await loadCredentials(objects(gateway({ credentialName: 'cred' })), path.join(os.tmpdir(), 'meshgate-no-such-dir-xyz'))).get('credential:istio-system/cred'));
    expect(r.error).toContain('no Secret named cred');
  });
});

describe('loadCredentials: serverCertificate / privateKey / caCertificates', () => {
  it('reads the three paths', async () => {
    const dir = await tempDir();
    const [c, k, a] = ['s.crt', 's.key', 'ca.pem'].map((f) => path.join(dir, f)) as [string, string, string];
    await writeFile(c, certA.cert);
    await writeFile(k, certA.key);
    await writeFile(a, ca);
    const all = await loadCredentials(objects(gateway({ mode: 'MUTUAL', serverCertificate: c, privateKey: k, caCertificates: a })), await tempDir());
    const m = material(all.get(`files:${c}|${k}|${a}`));
    expect(m.cert).toBe(certA.cert);
    expect(m.key).toBe(certA.key);
    expect(m.ca).toBe(ca);
    expect(m.source).toBe(c);
    expect(m.files).toEqual([c, k, a]);
  });

  it('names the path that does not exist', async () => {
    const dir = await tempDir();
    const [c, k, a] = ['s.crt', 's.key', 'ca.pem'].map((f) => path.join(dir, f)) as [string, string, string];
    const key = (withCa: boolean) => `files:${c}|${k}|${withCa ? a : ''}`;
    const spec = (withCa: boolean) => ({ serverCertificate: c, privateKey: k, ...(withCa ? { caCertificates: a } : {}) });
    expect(missing((await loadCredentials(objects(gateway(spec(false))), dir)).get(key(false))).error).toBe(`serverCertificate ${c} does not exist`);
    await writeFile(c, certA.cert);
    expect(missing((await loadCredentials(objects(gateway(spec(false))), dir)).get(key(false))).error).toBe(`privateKey ${k} does not exist`);
    await writeFile(k, certA.key);
    expect(missing((await loadCredentials(objects(gateway(spec(true))), dir)).get(key(true))).error).toBe(`caCertificates ${a} does not exist`);
    expect(material((await loadCredentials(objects(gateway(spec(false))), dir)).get(key(false))).ca).toBeNull();
  });
});

describe('DestinationRule tls material (TLS origination)', () => {
  function rule(tls: Record<string, unknown>, ns = 'egress'): string {
    return JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'ext', namespace: ns }, spec: { host: 'api.external.test', trafficPolicy: { portLevelSettings: [{ port: { number: 443 }, tls }] } } });
  }

  it('credentialName: a Secret holding only the CA is enough for SIMPLE', async () => {
    const objs = objects(`${rule({ mode: 'SIMPLE', credentialName: 'ext-ca' })}\n---\n${secret('egress', 'ext-ca', { data: { cacert: b64(ca) } })}`);
    const m = material((await loadCredentials(objs, await tempDir())).get('credential:egress/ext-ca'));
    expect(m.ca).toBe(ca);
    expect(m.cert).toBe('');
    expect(m.source).toBe('Secret egress/ext-ca');
  });

  it('credentialName for MUTUAL: client certificate, key and CA from a kubernetes.io/tls Secret', async () => {
    const client = clientPem('egress-client');
    const objs = objects(`${rule({ mode: 'MUTUAL', credentialName: 'client-cred' })}\n---\n${secret('egress', 'client-cred', { type: 'kubernetes.io/tls', data: { 'tls.crt': b64(client.cert), 'tls.key': b64(client.key), 'ca.crt': b64(ca) } })}`);
    const m = material((await loadCredentials(objs, await tempDir())).get('credential:egress/client-cred'));
    expect([m.cert, m.key, m.ca]).toEqual([client.cert, client.key, ca]);
  });

  it('file paths: a missing caCertificates file is an error naming it; DISABLE reads nothing', async () => {
    const objs = objects(`${rule({ mode: 'SIMPLE', caCertificates: '/nonexistent/ca.pem' })}`);
    const r = missing((await loadCredentials(objs, await tempDir())).get('client:||/nonexistent/ca.pem'));
    expect(r.error).toBe('caCertificates /nonexistent/ca.pem does not exist');
    const none = await loadCredentials(objects(rule({ mode: 'DISABLE', caCertificates: '/nonexistent/ca.pem' })), await tempDir());
    expect(none.size).toBe(0);
  });
});
