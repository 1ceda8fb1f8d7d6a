import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import forge from 'node-forge';

// Development certificates: a local CA and the server/client certificates it signs, in the
// `credentialName` form the gateway reads from --tls-dir. Keys come from node:crypto (OpenSSL
// makes a 2048-bit RSA key in tens of milliseconds; forge's pure-JS keygen takes seconds);
// node-forge builds and signs the X.509 structures, which node:crypto cannot.

export interface Pem {
  cert: string;
  key: string;
}

export interface Validity {
  notBefore?: Date;
  notAfter?: Date;
}

export interface CaOptions extends Validity {
  commonName?: string;
}

export interface ServerCertOptions extends Validity {
  commonName?: string;
}

export interface ClientCertOptions extends Validity {
  /** URI SANs, e.g. spiffe://cluster.local/ns/default/sa/client. */
  uris?: string[];
  dnsNames?: string[];
}

export const CA_DAYS = 3650;
/** Apple platforms refuse TLS server certificates valid for longer than 825 days. */
export const SERVER_DAYS = 825;
export const CLIENT_DAYS = 825;

const DAY_MS = 86_400_000;
/** Starting validity an hour back absorbs clock skew between this machine and its clients. */
const BACKDATE_MS = 3_600_000;

/** Why `host` cannot go into a certificate's SANs, or null when it can. */
export function hostProblem(host: string): string | null {
  if (isIP(host)) return null;
  if (host.length > 253) return `${JSON.stringify(host)} is longer than 253 characters`;
  const labels = host.split('.');
  for (const [i, label] of labels.entries()) {
    // TLS clients honour a wildcard only as the whole leftmost label, and never alone.
    if (label === '*' && i === 0 && labels.length > 1) continue;
    if (label.includes('*')) return `${JSON.stringify(host)}: a wildcard is allowed only as the whole first label, as in *.example.com`;
    if (!/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i.test(label)) return `${JSON.stringify(host)} is not a DNS name or an IP address`;
  }
  return null;
}

/** Why `name` cannot be a credential (file) name, or null when it can. */
export function credentialNameProblem(name: string): string | null {
  // The name becomes a file name in the TLS directory: no path separators, no hidden files.
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name)) return `${JSON.stringify(name)} is not a usable credential name (letters, digits, ".", "_", "-"; not starting with ".")`;
  return null;
}

export function createDevCa(opts: CaOptions = {}): Pem {
  const keys = newKeyPair();
  const cert = newCertificate(keys.publicKey, opts, CA_DAYS);
  // A distinct name per CA: trust stores and chain builders match issuers by name, and two
  // dev CAs both called "meshgate dev CA" get mixed up once one of them is installed.
  const subject = [
    { name: 'commonName', value: opts.commonName ?? `meshgate development CA ${cert.serialNumber.slice(0, 8)}` },
    { name: 'organizationName', value: 'meshgate (development only)' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.keyPem };
}

export function issueServerCert(ca: Pem, hosts: string[], opts: ServerCertOptions = {}): Pem {
  if (hosts.length === 0) throw new Error('a server certificate needs at least one host');
  for (const h of hosts) {
    const problem = hostProblem(h);
    if (problem) throw new Error(problem);
  }
  const first = hosts[0]!;
  // X.509 caps a common name at 64 characters; clients read the SANs anyway.
  const commonName = opts.commonName ?? (first.length <= 64 ? first : 'meshgate development server');
  const altNames = hosts.map((h) => (isIP(h) ? { type: 7, value: ipBytes(h) } : { type: 2, value: h.toLowerCase() }));
  return issue(ca, commonName, opts, SERVER_DAYS, altNames, { serverAuth: true });
}

export function issueClientCert(ca: Pem, name: string, opts: ClientCertOptions = {}): Pem {
  for (const uri of opts.uris ?? []) {
    if (!URL.canParse(uri)) throw new Error(`${JSON.stringify(uri)} is not a URI`);
  }
  for (const h of opts.dnsNames ?? []) {
    const problem = hostProblem(h);
    if (problem) throw new Error(problem);
  }
  const altNames = [...(opts.uris ?? []).map((value) => ({ type: 6, value })), ...(opts.dnsNames ?? []).map((value) => ({ type: 2, value }))];
  return issue(ca, name, opts, CLIENT_DAYS, altNames, { clientAuth: true });
}

/**
 * Writes a credential as the gateway reads it from --tls-dir: NAME.crt, NAME.key (0600) and,
 * with `ca`, NAME.ca.crt (the CA that MUTUAL mode checks client certificates against).
 * Returns the paths written.
 */
export async function writeCredential(dir: string, name: string, files: { cert: string; key: string; ca?: string }): Promise<string[]> {
  const problem = credentialNameProblem(name);
  if (problem) throw new Error(problem);
  await mkdir(dir, { recursive: true });
  const base = path.join(dir, name);
  // NAME.crt goes last: a gateway that reloads when it changes then finds the new key in place.
  const plan: [string, string, number][] = [];
  if (files.ca !== undefined) plan.push([`${base}.ca.crt`, files.ca, 0o644]);
  plan.push([`${base}.key`, files.key, 0o600], [`${base}.crt`, files.cert, 0o644]);
  for (const [file, content, mode] of plan) await writeAtomically(file, content, mode);
  return plan.map(([file]) => file);
}

/**
 * Replaces `file` in one step: a reader sees the old content or the new, never half a PEM, and a
 * key is never readable by others, not even for a moment (writeFile's mode applies only to a
 * file it creates; an existing 0644 file would keep its mode).
 */
export async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, content, { mode, flag: 'wx' });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    // Name the file the caller asked for, not the temporary one, in the error.
    const err = e as NodeJS.ErrnoException;
    if (err.path === tmp) err.path = file;
    throw e;
  }
}

interface KeyPair {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
  keyPem: string;
}

function newKeyPair(): KeyPair {
  const { privateKey: keyPem } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const privateKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { privateKey, publicKey: forge.pki.setRsaPublicKey(privateKey.n, privateKey.e), keyPem };
}

function newCertificate(publicKey: forge.pki.PublicKey, validity: Validity, defaultDays: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = randomSerial();
  // X.509 times have whole seconds; dropping the milliseconds makes the dates read back equal.
  const notBefore = wholeSeconds(validity.notBefore ?? new Date(Date.now() - BACKDATE_MS));
  // Counted from notBefore so the total span is exactly the default (825 days is a hard limit).
  const notAfter = wholeSeconds(validity.notAfter ?? new Date(notBefore.getTime() + defaultDays * DAY_MS));
  if (notAfter <= notBefore) throw new Error(`notAfter (${notAfter.toISOString()}) must be later than notBefore (${notBefore.toISOString()})`);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  return cert;
}

function issue(
  ca: Pem,
  commonName: string,
  validity: Validity,
  defaultDays: number,
  altNames: { type: number; value: string }[],
  extKeyUsage: { serverAuth?: boolean; clientAuth?: boolean },
): Pem {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const keys = newKeyPair();
  const cert = newCertificate(keys.publicKey, validity, defaultDays);
  cert.setSubject([{ name: 'commonName', value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', ...extKeyUsage },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.keyPem };
}

/** 16 random bytes as hex, first byte 0x01-0x7f: DER reads the serial as signed, and a leading zero byte would not be minimal DER. */
function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f || 0x01;
  return b.toString('hex');
}

function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** An IP address as the bytes of an iPAddress SAN (forge's own parser mishandles forms such as ::ffff:1.2.3.4). */
export function ipBytes(ip: string): string {
  if (isIP(ip) === 4) return String.fromCharCode(...ip.split('.').map(Number));
  let text = ip.split('%')[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return all.map((g) => String.fromCharCode(parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff)).join('');
}
