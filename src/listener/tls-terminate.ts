import { createHash, type X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { ServerTlsConfig } from '../tls/server-tls.js';

/** What the request path may know of a terminated TLS connection; set on the TLSSocket under TLS_INFO. */
export interface TlsConnectionInfo {
  serverName: string | null;
  /** Envoy's x-forwarded-client-cert value for this connection's client certificate; null without one. */
  clientCertDetails: string | null;
}

export const TLS_INFO = Symbol('meshgate.tls');

// Envoy's default listener_filters_timeout, applied to the handshake as well: a client that
// opens a connection and stalls must not hold it for ever.
export const HANDSHAKE_TIMEOUT_MS = 15_000;

const ALPN_HTTP = ['h2', 'http/1.1'];

function uriAndDnsSans(cert: X509Certificate): { uris: string[]; dns: string[] } {
  const uris: string[] = [];
  const dns: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('URI:')) uris.push(part.slice(4));
    else if (part.startsWith('DNS:')) dns.push(part.slice(4));
  }
  return { uris, dns };
}

/**
 * Envoy's SANITIZE_SET with Istio's gateway details (Hash, Subject, URI, DNS):
 * `Hash=<sha256 hex>;Subject="CN=...";URI=spiffe://...;DNS=name`.
 */
function clientCertDetails(cert: X509Certificate): string {
  const subject = cert.subject.split('\n').reverse().join(',').replace(/"/g, '\\"');
  const hash = createHash('sha256').update(cert.raw).digest('hex');
  const { uris, dns } = uriAndDnsSans(cert);
  let out = `Hash=${hash};Subject="${subject}"`;
  for (const u of uris) out += `;URI=${u}`;
  for (const d of dns) out += `;DNS=${d}`;
  return out;
}

/** Why a verified client certificate is still refused (subjectAltNames, SPKI, hash pins); null when it is accepted. */
function pinRefusal(cert: X509Certificate, cfg: ServerTlsConfig): string | null {
  if (cfg.subjectAltNames.length > 0) {
    const { uris, dns } = uriAndDnsSans(cert);
    const names = [...uris, ...dns];
    if (!cfg.subjectAltNames.some((n) => names.includes(n))) return `client certificate names (${names.join(', ') || 'none'}) are not among subjectAltNames`;
  }
  if (cfg.spki.length > 0) {
    const spki = createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    if (!cfg.spki.includes(spki)) return 'client certificate public key is not among verifyCertificateSpki';
  }
  if (cfg.certHashes.length > 0) {
    const hash = createHash('sha256').update(cert.raw).digest('hex');
    if (!cfg.certHashes.includes(hash)) return 'client certificate is not among verifyCertificateHash';
  }
  return null;
}

/**
 * Runs the server side of a TLS handshake on a connection whose ClientHello was read and put
 * back. `done` gets the secure socket; `fail` a reason in words (the socket is destroyed).
 */
export function terminateTls(socket: Socket, cfg: ServerTlsConfig, serverName: string | null, http: boolean, done: (t: TLSSocket) => void, fail: (reason: string) => void): void {
  const t = new tls.TLSSocket(socket, {
    isServer: true,
    secureContext: cfg.context,
    requestCert: cfg.requestCert,
    // MUTUAL: OpenSSL refuses a missing or untrusted certificate during the handshake, so the client
    // hears a TLS alert. OPTIONAL_MUTUAL: judged below, since no certificate is fine.
    rejectUnauthorized: cfg.requireCert,
    ALPNProtocols: http ? ALPN_HTTP : undefined,
  });
  let settled = false;
  const timer = setTimeout(() => refuse('no TLS handshake within 15 s'), HANDSHAKE_TIMEOUT_MS);
  function refuse(reason: string): void {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    t.destroy();
    socket.destroy();
    fail(reason);
  }
  const onError = (e: Error) => refuse(e.message);
  const onClose = () => refuse('the client closed the connection during the handshake');
  t.on('error', onError);
  t.once('close', onClose);
  t.once('secure', () => {
    if (settled) return;
    let details: string | null = null;
    if (cfg.requestCert) {
      const cert = t.getPeerX509Certificate();
      if (cert !== undefined) {
        if (!t.authorized) return refuse(`client certificate refused: ${String(t.authorizationError)}`);
        const why = pinRefusal(cert, cfg);
        if (why !== null) return refuse(why);
        details = clientCertDetails(cert);
      } else if (cfg.requireCert) return refuse('no client certificate (tls.mode MUTUAL)');
    }
    settled = true;
    clearTimeout(timer);
    t.off('error', onError);
    t.off('close', onClose);
    // What tls.Server does for its own sockets: node:http2 waits for a 'secureConnect' that a
    // server-side socket never emits while this flag is still up.
    (t as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
    const info: TlsConnectionInfo = { serverName, clientCertDetails: details };
    (t as unknown as Record<symbol, TlsConnectionInfo>)[TLS_INFO] = info;
    done(t);
  });
}

/** The TLS facts of the connection a request came on, or null on plain text. */
export function tlsInfoOf(socket: unknown): TlsConnectionInfo | null {
  if (socket === null || socket === undefined) return null;
  return (socket as Record<symbol, TlsConnectionInfo | undefined>)[TLS_INFO] ?? null;
}
