import { createPrivateKey, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { TlsMaterial } from './credentials.js';
import { sanNames } from './san.js';

export type TerminatingMode = 'SIMPLE' | 'MUTUAL' | 'OPTIONAL_MUTUAL';

/** A terminating Gateway server's TLS, compiled once: the context handshakes use, and how client certificates are judged. */
export interface ServerTlsConfig {
  mode: TerminatingMode;
  /** Where the certificate came from (never the key itself). */
  source: string;
  context: tls.SecureContext;
  minVersion: tls.SecureVersion;
  maxVersion: tls.SecureVersion;
  /** Ask for a client certificate (MUTUAL, OPTIONAL_MUTUAL); `requireCert`: refuse clients without one. */
  requestCert: boolean;
  requireCert: boolean;
  subjectAltNames: string[];
  /** base64 SHA-256 of the client certificate's SubjectPublicKeyInfo (verifyCertificateSpki). */
  spki: string[];
  /** hex SHA-256 of the client certificate, lower case without colons (verifyCertificateHash). */
  certHashes: string[];
  /** The server certificate's validity end, for logs. */
  notAfter: string;
  /** URI SANs of the server certificate: x-forwarded-client-cert's `By` fields. */
  localUris: string[];
}

export interface TlsFinding {
  field: string;
  message: string;
}

const VERSIONS: Record<string, tls.SecureVersion> = { TLSV1_0: 'TLSv1', TLSV1_1: 'TLSv1.1', TLSV1_2: 'TLSv1.2', TLSV1_3: 'TLSv1.3' };

function hostsCovered(cert: X509Certificate, hosts: readonly string[]): boolean {
  const dnsNames = sanNames(cert.subjectAltName).dns.map((n) => n.toLowerCase());
  for (const h of hosts) {
    if (h === '*') return true;
    if (h.startsWith('*.')) {
      // A wildcard host is covered by the same wildcard, or by any name one or more levels under it.
      const suffix = h.slice(1).toLowerCase();
      if (cert.checkHost(`probe${suffix}`) !== undefined || dnsNames.some((n) => n.endsWith(suffix) && n.length > suffix.length)) return true;
    } else if (cert.checkHost(h) !== undefined) return true;
  }
  return false;
}

/** The certificates in a PEM bundle; empty when it holds none (empty text, a key, garbage). */
function certificatesIn(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)) {
    try {
      out.push(new X509Certificate(m[0]));
    } catch {
      // Not a certificate: the bundle is judged by the ones that are.
    }
  }
  return out;
}

/** Each OpenSSL cipher name on its own: a list is accepted when any one name is known, hiding the others. */
function unknownCiphers(suites: readonly string[]): string[] {
  return suites.filter((name) => {
    try {
      tls.createSecureContext({ ciphers: name, minVersion: 'TLSv1', maxVersion: 'TLSv1.2' });
      return false;
    } catch {
      return true;
    }
  });
}

/**
 * Checks a server's material and builds its context. Errors take the server out of service;
 * warnings (SANs not covering its hosts) do not. No message carries key material.
 */
export function buildServerTls(
  spec: Record<string, unknown>,
  material: TlsMaterial,
  hosts: readonly string[],
  now = Date.now(),
): { config: ServerTlsConfig | null; errors: TlsFinding[]; warnings: TlsFinding[] } {
  const errors: TlsFinding[] = [];
  const warnings: TlsFinding[] = [];
  const mode = String(spec.mode ?? 'SIMPLE') as TerminatingMode;
  const credField = typeof spec.credentialName === 'string' ? 'credentialName' : typeof spec.serverCertificate === 'string' ? 'serverCertificate' : 'credentialNames';
  const fail = (field: string, message: string) => {
    errors.push({ field, message });
    return { config: null, errors, warnings };
  };

  let cert: X509Certificate;
  try {
    cert = new X509Certificate(material.cert);
  } catch {
    return fail(credField, `${material.source}: the certificate is not a PEM X.509 certificate`);
  }
  try {
    const key = createPrivateKey(material.key);
    if (!cert.checkPrivateKey(key)) return fail(credField, `${material.source}: the private key does not match the certificate (${cert.subject.replace(/\n/g, ', ')})`);
  } catch {
    return fail(credField, `${material.source}: the private key is not a readable PEM key (encrypted keys are not supported)`);
  }
  if (Date.parse(cert.validFrom) > now) return fail(credField, `${material.source}: the certificate is not valid before ${cert.validFrom}`);
  if (Date.parse(cert.validTo) < now) return fail(credField, `${material.source}: the certificate expired on ${cert.validTo}`);
  if (!hostsCovered(cert, hosts)) {
    warnings.push({ field: credField, message: `${material.source}: the certificate's names (${cert.subjectAltName ?? 'no subjectAltName'}) cover none of the server's hosts (${hosts.join(', ')}); clients that check names will refuse it` });
  }
  const mutual = mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  if (mutual && material.ca === null) {
    return fail(credField, `${material.source}: tls.mode ${mode} needs a CA to verify client certificates (ca.crt in the Secret, a NAME-cacert Secret, NAME.ca.crt in --tls-dir, or caCertificates)`);
  }
  // An empty CA would make Node trust its whole public root store: any public client certificate.
  if (mutual && certificatesIn(material.ca!).length === 0) {
    return fail(credField, `${material.source}: the CA for tls.mode ${mode} holds no PEM certificate, so no client certificate could be verified`);
  }
  const minVersion = VERSIONS[String(spec.minProtocolVersion ?? '')] ?? 'TLSv1.2';
  const maxVersion = VERSIONS[String(spec.maxProtocolVersion ?? '')] ?? 'TLSv1.3';
  if (minVersion > maxVersion) return fail('minProtocolVersion', `minProtocolVersion ${String(spec.minProtocolVersion)} is above maxProtocolVersion ${String(spec.maxProtocolVersion)}`);
  const listed = Array.isArray(spec.cipherSuites) ? (spec.cipherSuites as string[]) : [];
  // Istio drops the names it does not know, with a warning, and keeps the rest.
  const unknown = unknownCiphers(listed);
  if (unknown.length > 0 && unknown.length < listed.length) warnings.push({ field: 'cipherSuites', message: `ignoring cipher suites this build does not know: ${unknown.join(', ')}` });
  const suites = unknown.length < listed.length ? listed.filter((n) => !unknown.includes(n)) : listed;
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({
      cert: material.cert,
      key: material.key,
      ca: mutual ? material.ca! : undefined,
      minVersion,
      maxVersion,
      // TLS 1.0 and 1.1 need OpenSSL's lowest security level to be offered at all.
      ciphers: suites.length > 0 ? suites.join(':') + (minVersion < 'TLSv1.2' ? ':@SECLEVEL=0' : '') : minVersion < 'TLSv1.2' ? 'DEFAULT:@SECLEVEL=0' : undefined,
    });
  } catch (e) {
    const msg = (e as Error).message;
    if (suites.length > 0 && /cipher/i.test(msg)) return fail('cipherSuites', `none of ${suites.join(', ')} is a cipher suite this build knows (${msg})`);
    return fail(credField, `${material.source}: ${mutual ? 'the certificate, key or CA' : 'the certificate or key'} cannot be used (${msg})`);
  }
  const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
  return {
    config: {
      mode,
      source: material.source,
      context,
      minVersion,
      maxVersion,
      requestCert: mutual,
      requireCert: mode === 'MUTUAL',
      subjectAltNames: list(spec.subjectAltNames),
      spki: list(spec.verifyCertificateSpki),
      certHashes: list(spec.verifyCertificateHash).map((h) => h.replace(/:/g, '').toLowerCase()),
      notAfter: cert.validTo,
      localUris: sanNames(cert.subjectAltName).uris,
    },
    errors,
    warnings,
  };
}
