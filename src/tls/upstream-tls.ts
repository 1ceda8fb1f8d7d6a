import { X509Certificate, createPrivateKey } from 'node:crypto';
import tls from 'node:tls';
import type { ClientTLSSettings } from '../config/types.js';
import { isMaterial, type MaterialResult } from './credentials.js';

/**
 * TLS toward a cluster's endpoints (DestinationRule `tls`, Istio's TLS origination), compiled
 * once. The PEM text never leaves this object: toJSON (config_dump) shows where it came from.
 */
export class UpstreamTls {
  constructor(
    readonly mode: 'SIMPLE' | 'MUTUAL',
    /** SNI sent: the rule's `sni`, else the cluster's host name (Envoy's auto SNI, which Istio turns on). */
    readonly servername: string,
    /** Trusted CAs; null: the system's (Istio verifies against them when caCertificates is empty). */
    readonly ca: string | null,
    readonly cert: string | null,
    readonly key: string | null,
    /** Names the certificate must carry (any of them). */
    readonly subjectAltNames: readonly string[],
    readonly insecureSkipVerify: boolean,
    readonly source: string,
    /**
     * Check the certificate against the SNI host name: Istio's automatic SAN check, made only when
     * neither `sni` nor `subjectAltNames` is given; with an explicit `sni`, the chain alone.
     */
    readonly verifyHost: boolean,
  ) {}

  /** The SNI to send, or null for an IP address (TLS sends no SNI for those). */
  get sni(): string | null {
    return isIp(this.servername) ? null : this.servername;
  }

  /** Options for tls.connect (also what undici's connector and node:http2 take). */
  connectOptions(alpn: string): tls.ConnectionOptions {
    const sans = this.subjectAltNames;
    return {
      servername: this.sni ?? undefined,
      ca: this.ca ?? undefined,
      cert: this.cert ?? undefined,
      key: this.key ?? undefined,
      rejectUnauthorized: !this.insecureSkipVerify,
      ALPNProtocols: [alpn],
      checkServerIdentity: (host, cert) => {
        if (this.insecureSkipVerify) return undefined;
        if (sans.length === 0) return this.verifyHost ? tls.checkServerIdentity(this.servername || host, cert) : undefined;
        const names = (cert.subjectaltname ?? '').split(', ').map((p) => p.slice(p.indexOf(':') + 1));
        if (sans.some((s) => names.includes(s))) return undefined;
        const e = new Error(`the upstream certificate's names (${names.join(', ') || 'none'}) are none of subjectAltNames (${sans.join(', ')})`) as NodeJS.ErrnoException;
        e.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
        return e;
      },
    };
  }

  /** Identity of the settings: clusters share a connection pool only when these are equal. */
  get poolKey(): string {
    return JSON.stringify([this.mode, this.servername, this.ca, this.cert, this.subjectAltNames, this.insecureSkipVerify, this.verifyHost]);
  }

  toJSON(): unknown {
    return { mode: this.mode, sni: this.servername, subjectAltNames: this.subjectAltNames, insecureSkipVerify: this.insecureSkipVerify, source: this.source, systemCAs: this.ca === null };
  }
}

const isIp = (s: string) => /^[\d.]+$/.test(s) || s.includes(':');

/** Where a rule's `tls` block gets its files or Secret: the key into the credential lookup. */
export function upstreamCredentialKey(namespace: string, t: ClientTLSSettings): string | null {
  if (t.credentialName) return `credential:${namespace}/${t.credentialName}`;
  if (t.clientCertificate || t.privateKey || t.caCertificates) return `client:${t.clientCertificate ?? ''}|${t.privateKey ?? ''}|${t.caCertificates ?? ''}`;
  return null;
}

export type UpstreamTlsResult = { tls: UpstreamTls | null; error?: string };

/** A rule's `tls` for one cluster, or why it cannot be used (the cluster then refuses every request). */
export function buildUpstreamTls(t: ClientTLSSettings | undefined, host: string, material: MaterialResult | undefined, entrySans: readonly string[] = []): UpstreamTlsResult {
  const mode = t?.mode ?? 'DISABLE';
  if (t === undefined || (mode !== 'SIMPLE' && mode !== 'MUTUAL')) return { tls: null };
  const servername = t.sni ?? host;
  let ca: string | null = null;
  let cert: string | null = null;
  let key: string | null = null;
  let source = 'system CAs';
  if (material !== undefined) {
    if (!isMaterial(material)) return { tls: null, error: material.error };
    ca = material.ca;
    cert = material.cert === '' ? null : material.cert;
    key = material.key === '' ? null : material.key;
    source = material.source;
  }
  if (ca !== null) {
    try {
      new X509Certificate(ca);
    } catch {
      return { tls: null, error: `${source}: caCertificates holds no PEM certificate` };
    }
  }
  if (mode === 'MUTUAL') {
    if (cert === null || key === null) return { tls: null, error: `tls.mode MUTUAL needs a client certificate and key (clientCertificate and privateKey, or credentialName)` };
    try {
      if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) return { tls: null, error: `${source}: the client key does not match the client certificate` };
    } catch {
      return { tls: null, error: `${source}: the client certificate or key is not readable PEM` };
    }
  }
  // The ServiceEntry's subjectAltNames apply when the rule names none, as Istio reads them.
  const sans = t.subjectAltNames && t.subjectAltNames.length > 0 ? t.subjectAltNames : entrySans;
  const verifyHost = sans.length === 0 && !t.sni;
  return { tls: new UpstreamTls(mode, servername, ca, mode === 'MUTUAL' ? cert : null, mode === 'MUTUAL' ? key : null, sans, t.insecureSkipVerify === true, source, verifyHost) };
}
