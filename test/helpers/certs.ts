import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDevCa, issueClientCert, issueServerCert, writeAtomically, writeCredential, type ClientCertOptions, type Pem, type ServerCertOptions } from '../../src/tls/dev-certs.js';

// One CA per test process and certificates cached by their arguments: an RSA key takes a
// tenth of a second or more, and most tests only need "a certificate for these hosts".

export type { Pem };

let ca: Pem | null = null;
const servers = new Map<string, Pem>();
const clients = new Map<string, Pem>();

/** The test CA every certificate from this helper chains to. */
export function testCa(): Pem {
  ca ??= createDevCa({ commonName: 'meshgate test CA' });
  return ca;
}

/** A server certificate for `hosts` (DNS names, *.wildcards, IP addresses), signed by testCa(). */
export function serverPem(hosts: string[] = ['localhost', '127.0.0.1'], opts: ServerCertOptions = {}): Pem {
  const key = JSON.stringify([hosts, opts]);
  let pem = servers.get(key);
  if (!pem) servers.set(key, (pem = issueServerCert(testCa(), hosts, opts)));
  return pem;
}

/** A client certificate with CN=name (optionally URI/DNS SANs), signed by testCa(). */
export function clientPem(name = 'client', opts: ClientCertOptions = {}): Pem {
  const key = JSON.stringify([name, opts]);
  let pem = clients.get(key);
  if (!pem) clients.set(key, (pem = issueClientCert(testCa(), name, opts)));
  return pem;
}

/**
 * One credential in a --tls-dir: a server certificate for `hosts` (with `mutual`, NAME.ca.crt
 * is testCa(), the CA a MUTUAL server checks clients against), or PEM text given as is.
 */
export type TlsDirEntry = { hosts: string[]; mutual?: boolean; opts?: ServerCertOptions } | { cert: string; key: string; ca?: string };

const dirs: string[] = [];
let cleanupRegistered = false;

/**
 * Writes credentials into a fresh temporary directory, for `meshgate serve --tls-dir`, and
 * returns it: `{ 'mynginx-cred': { hosts: ['mynginx.example.com'] } }` gives
 * DIR/mynginx-cred.crt and DIR/mynginx-cred.key. DIR/ca.crt is always testCa()'s certificate.
 * The directory is removed when the test process exits (or remove it yourself earlier).
 */
export async function writeTlsDir(entries: Record<string, TlsDirEntry>): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshgate-tls-'));
  dirs.push(dir);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.once('exit', () => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
  }
  await writeAtomically(path.join(dir, 'ca.crt'), testCa().cert, 0o644);
  for (const [name, entry] of Object.entries(entries)) {
    if ('hosts' in entry) {
      const pem = serverPem(entry.hosts, entry.opts);
      await writeCredential(dir, name, entry.mutual ? { ...pem, ca: testCa().cert } : pem);
    } else {
      await writeCredential(dir, name, entry);
    }
  }
  return dir;
}
