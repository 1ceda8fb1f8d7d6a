import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ClientTLSSettings, ConfigObject, DestinationRuleSpec, GatewaySpec, SecretBody, TrafficPolicy } from '../config/types.js';
import { upstreamCredentialKey } from './upstream-tls.js';

/**
 * Certificate material for a Gateway server, wherever it came from. PEM text only: nothing here
 * is ever logged or put into a problem message, only `source` and `files`.
 */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** Trusted CAs for client certificates (MUTUAL, OPTIONAL_MUTUAL); null when none was given. */
  ca: string | null;
  /** Where it was read, for messages: `Secret istio-system/my-cred`, `tls/my-cred.crt`. */
  source: string;
  /** Files read, so that a change to any of them reloads the config. */
  files: string[];
}

/** A credential that could not be read, with the reason in words. */
export interface MissingMaterial {
  error: string;
  /** What should have existed, so the watcher notices when it appears. */
  files: string[];
}

export type MaterialResult = TlsMaterial | MissingMaterial;

export function isMaterial(r: MaterialResult | undefined): r is TlsMaterial {
  return r !== undefined && (r as TlsMaterial).cert !== undefined;
}

/** Material by reference key (`credentialKey`), resolved before compiling. */
export type CredentialLookup = ReadonlyMap<string, MaterialResult>;

/** A server's TLS settings name their material one of three ways; this is the lookup key of each. */
export function credentialKey(gatewayNamespace: string, tls: Record<string, unknown>): string | null {
  const names = tls.credentialNames;
  const credential = typeof tls.credentialName === 'string' && tls.credentialName !== '' ? tls.credentialName : Array.isArray(names) && typeof names[0] === 'string' ? names[0] : undefined;
  if (credential !== undefined) {
    // The client-certificate CA comes from caCertCredentialName when given, for the verifying modes only.
    const caName = caCredentialOf(tls);
    return `credential:${gatewayNamespace}/${credential}${caName === undefined ? '' : `${CA_SEP}${caName}`}`;
  }
  if (typeof tls.serverCertificate === 'string' && typeof tls.privateKey === 'string') {
    return `files:${tls.serverCertificate}|${tls.privateKey}|${typeof tls.caCertificates === 'string' ? tls.caCertificates : ''}`;
  }
  return null;
}

const TERMINATING = new Set(['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL']);
const CA_SEP = '|ca:';

function caCredentialOf(tls: Record<string, unknown>): string | undefined {
  const name = tls.caCertCredentialName;
  const verifying = tls.mode === 'MUTUAL' || tls.mode === 'OPTIONAL_MUTUAL';
  return verifying && typeof name === 'string' && name !== '' ? name : undefined;
}

/** Every credential the served Gateways reference, read from Secrets in the config or from files. */
export async function loadCredentials(objects: readonly ConfigObject[], tlsDir: string): Promise<Map<string, MaterialResult>> {
  const secrets = objects.filter((o) => o.kind === 'Secret') as ConfigObject<SecretBody>[];
  const out = new Map<string, MaterialResult>();
  for (const gw of objects.filter((o) => o.kind === 'Gateway') as ConfigObject<GatewaySpec>[]) {
    for (const server of gw.spec.servers ?? []) {
      const tls = server.tls as Record<string, unknown> | undefined;
      if (!tls || !TERMINATING.has(String(tls.mode ?? 'SIMPLE'))) continue;
      const key = credentialKey(gw.namespace, tls);
      if (key === null || out.has(key)) continue;
      if (key.startsWith('credential:')) {
        const caName = caCredentialOf(tls);
        const name = key.slice(key.indexOf('/') + 1, caName === undefined ? undefined : key.lastIndexOf(CA_SEP));
        const material = fromSecret(secrets, gw.namespace, name) ?? (await fromTlsDir(tlsDir, name));
        out.set(key, caName === undefined ? material : await withCaCredential(material, secrets, gw.namespace, caName, tlsDir));
      } else {
        out.set(key, await fromPaths(tls.serverCertificate as string, tls.privateKey as string, typeof tls.caCertificates === 'string' ? tls.caCertificates : null));
      }
    }
  }
  for (const dr of objects.filter((o) => o.kind === 'DestinationRule') as ConfigObject<DestinationRuleSpec>[]) {
    for (const t of clientTlsBlocks(dr.spec)) {
      if (t.mode !== 'SIMPLE' && t.mode !== 'MUTUAL') continue;
      const key = upstreamCredentialKey(dr.namespace, t);
      if (key === null || out.has(key)) continue;
      if (t.credentialName) {
        out.set(key, fromSecretForClient(secrets, dr.namespace, t.credentialName) ?? (await fromTlsDirForClient(tlsDir, t.credentialName)));
      } else {
        out.set(key, await fromClientPaths(t));
      }
    }
  }
  return out;
}

/** Every `tls` block of a rule: its traffic policy, port-level settings, subsets and theirs. */
function clientTlsBlocks(spec: DestinationRuleSpec): ClientTLSSettings[] {
  const of = (tp: TrafficPolicy | undefined) => [tp?.tls, ...(tp?.portLevelSettings ?? []).map((p) => p.tls)];
  return [...of(spec.trafficPolicy), ...(spec.subsets ?? []).flatMap((s) => of(s.trafficPolicy))].filter((t): t is ClientTLSSettings => t !== undefined);
}

/**
 * Upstream TLS material: all parts optional (SIMPLE needs at most a CA); '' stands for a part
 * not given. A file named but missing is an error.
 */
async function fromClientPaths(t: ClientTLSSettings): Promise<MaterialResult> {
  const files = [t.clientCertificate, t.privateKey, t.caCertificates].filter((f): f is string => typeof f === 'string' && f !== '');
  const read = async (f: string | undefined, field: string): Promise<string | MissingMaterial> => {
    if (!f) return '';
    const text = await readIfExists(f);
    return text === null ? { error: `${field} ${f} does not exist`, files } : text;
  };
  const cert = await read(t.clientCertificate, 'clientCertificate');
  if (typeof cert !== 'string') return cert;
  const key = await read(t.privateKey, 'privateKey');
  if (typeof key !== 'string') return key;
  const ca = await read(t.caCertificates, 'caCertificates');
  if (typeof ca !== 'string') return ca;
  return { cert, key, ca: present(ca) ? ca : null, source: t.caCertificates || t.clientCertificate || 'files', files };
}

/** A Secret for a DestinationRule's credentialName: a CA alone (SIMPLE) or a client certificate, key and CA (MUTUAL). */
function fromSecretForClient(secrets: ConfigObject<SecretBody>[], namespace: string, name: string): MaterialResult | null {
  const s = findSecret(secrets, namespace, name);
  if (!s) return null;
  const caSecret = findSecret(secrets, s.namespace, `${name}-cacert`);
  const ca = caSecret ? secretField(caSecret, ['ca.crt', 'cacert']) : secretField(s, ['ca.crt', 'cacert']);
  return { cert: secretField(s, ['tls.crt', 'cert']) ?? '', key: secretField(s, ['tls.key', 'key']) ?? '', ca, source: `Secret ${s.namespace}/${s.name}`, files: [] };
}

async function fromTlsDirForClient(dir: string, name: string): Promise<MaterialResult> {
  const full = await fromTlsDir(dir, name);
  if (isMaterial(full)) return full;
  // A CA alone is enough for SIMPLE: NAME.ca.crt, or NAME/ca.crt.
  for (const f of [path.join(dir, `${name}.ca.crt`), path.join(dir, name, 'ca.crt')]) {
    if (/[/\\]|^\.\.?$/.test(name)) break;
    const ca = await readIfExists(f);
    if (present(ca)) return { cert: '', key: '', ca, source: f, files: [f] };
  }
  return full;
}

/** Istio reads a gateway's credentials from its own namespace; a config with one namespace's worth of Secrets also works from any. */
function findSecret(secrets: ConfigObject<SecretBody>[], namespace: string, name: string): ConfigObject<SecretBody> | undefined {
  const same = secrets.find((s) => s.name === name && s.namespace === namespace);
  if (same) return same;
  const any = secrets.filter((s) => s.name === name);
  return any.length === 1 ? any[0] : undefined;
}

/** Text with nothing in it is absent, as Istio's secret reader takes it (cert-manager leaves ca.crt empty for ACME issuers). */
const present = (text: string | null | undefined): text is string => typeof text === 'string' && text.trim() !== '';

function secretField(s: ConfigObject<SecretBody>, names: string[]): string | null {
  for (const n of names) {
    const str = s.spec.stringData?.[n];
    if (present(str)) return str;
    const b64 = s.spec.data?.[n];
    if (typeof b64 === 'string') {
      const text = Buffer.from(b64, 'base64').toString('utf8');
      if (present(text)) return text;
    }
  }
  return null;
}

function fromSecret(secrets: ConfigObject<SecretBody>[], namespace: string, name: string): MaterialResult | null {
  const s = findSecret(secrets, namespace, name);
  if (!s) return null;
  const where = `Secret ${s.namespace}/${s.name}`;
  const cert = secretField(s, ['tls.crt', 'cert']);
  const key = secretField(s, ['tls.key', 'key']);
  if (cert === null) return { error: `${where} has no tls.crt (or cert) entry`, files: [] };
  if (key === null) return { error: `${where} has no tls.key (or key) entry`, files: [] };
  // Istio's convention for MUTUAL: a second Secret, NAME-cacert, holds the CA, and is read first
  // (GetCaCert); the credential's own ca.crt only when there is no such Secret.
  const caSecret = findSecret(secrets, s.namespace, `${name}-cacert`);
  const ca = caSecret ? secretField(caSecret, ['ca.crt', 'cacert']) : secretField(s, ['ca.crt', 'cacert']);
  return { cert, key, ca, source: caSecret ? `${where} (+ Secret ${caSecret.namespace}/${caSecret.name})` : where, files: [] };
}

/**
 * A server's material with its client-certificate CA taken from caCertCredentialName instead: a
 * Secret with ca.crt (or cacert); for a name ending in -cacert, also the ca.crt of the Secret
 * without the suffix, as Istio's SDS reads such names; else NAME.crt, NAME.ca.crt or NAME/ca.crt
 * in --tls-dir.
 */
async function withCaCredential(material: MaterialResult, secrets: ConfigObject<SecretBody>[], namespace: string, caName: string, tlsDir: string): Promise<MaterialResult> {
  if (!isMaterial(material)) return material;
  const candidates = [caName, ...(caName.endsWith('-cacert') ? [caName.slice(0, -'-cacert'.length)] : [])];
  for (const n of candidates) {
    const s = findSecret(secrets, namespace, n);
    const ca = s ? secretField(s, ['ca.crt', 'cacert']) : null;
    if (s && ca !== null) return { ...material, ca, source: `${material.source} (CA: Secret ${s.namespace}/${s.name})` };
  }
  if (!/[/\\]/.test(caName) && caName !== '.' && caName !== '..') {
    const files = [path.join(tlsDir, `${caName}.crt`), path.join(tlsDir, `${caName}.ca.crt`), path.join(tlsDir, caName, 'ca.crt')];
    for (const f of files) {
      const text = await readIfExists(f);
      if (present(text)) return { ...material, ca: text, source: `${material.source} (CA: ${f})`, files: [...material.files, f] };
    }
    return { error: `caCertCredentialName ${caName}: no Secret ${namespace}/${caName} with ca.crt in the config and no ${files.join(' or ')}`, files: [...material.files, ...files] };
  }
  return { error: `caCertCredentialName ${caName}: no Secret ${namespace}/${caName} with ca.crt in the config`, files: material.files };
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

/** `--tls-dir`: NAME.crt + NAME.key (+ NAME.ca.crt or NAME-cacert.crt), or a folder NAME/ holding a Secret's keys as files. */
async function fromTlsDir(dir: string, name: string): Promise<MaterialResult> {
  // A credential is a name in --tls-dir, never a path out of it.
  if (name === '' || name === '.' || name === '..' || /[/\\]/.test(name)) return { error: `credentialName "${name}" is not a plain name (no /, \\ or ..), so it is not looked up in --tls-dir`, files: [] };
  const flat = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`), cas: [path.join(dir, `${name}.ca.crt`), path.join(dir, `${name}-cacert.crt`)] };
  const folder = path.join(dir, name);
  const layouts = [
    flat,
    { cert: path.join(folder, 'tls.crt'), key: path.join(folder, 'tls.key'), cas: [path.join(folder, 'ca.crt')] },
    { cert: path.join(folder, 'cert'), key: path.join(folder, 'key'), cas: [path.join(folder, 'cacert')] },
  ];
  for (const l of layouts) {
    const cert = await readIfExists(l.cert);
    if (cert === null) continue;
    const key = await readIfExists(l.key);
    if (key === null) return { error: `${l.cert} exists but its key ${l.key} does not`, files: [l.cert, l.key] };
    let ca: string | null = null;
    let caFile: string | null = null;
    for (const c of l.cas) {
      const text = await readIfExists(c);
      if (present(text)) {
        ca = text;
        caFile = c;
        break;
      }
    }
    return { cert, key, ca, source: l.cert, files: caFile ? [l.cert, l.key, caFile] : [l.cert, l.key, ...l.cas] };
  }
  return {
    error: `no Secret named ${name} in the config and no ${flat.cert} + ${flat.key} (or ${folder}/tls.crt + tls.key) in --tls-dir; create one with: meshgate certs --out ${dir} --hosts HOST --name ${name}`,
    files: [flat.cert, flat.key, path.join(folder, 'tls.crt')],
  };
}

async function fromPaths(certFile: string, keyFile: string, caFile: string | null): Promise<MaterialResult> {
  const cert = await readIfExists(certFile);
  if (cert === null) return { error: `serverCertificate ${certFile} does not exist`, files: [certFile, keyFile] };
  const key = await readIfExists(keyFile);
  if (key === null) return { error: `privateKey ${keyFile} does not exist`, files: [certFile, keyFile] };
  let ca: string | null = null;
  if (caFile !== null) {
    ca = await readIfExists(caFile);
    if (ca === null) return { error: `caCertificates ${caFile} does not exist`, files: [certFile, keyFile, caFile] };
  }
  return { cert, key, ca, source: certFile, files: caFile ? [certFile, keyFile, caFile] : [certFile, keyFile] };
}
