import { createHash, type X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { sanNames } from '../tls/san.js';
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

/** Envoy's urlEncodeQueryParameter: everything but RFC 3986 unreserved characters, as %XX. */
function urlEncoded(text: string): string {
  return text.replace(/[^A-Za-z0-9\-._~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * x-forwarded-client-cert as an Istio gateway has Envoy set it (forward_client_cert_details
 * SANITIZE_SET; set_current_client_cert_details Subject, Cert, URI, DNS), in Envoy's order:
 * `By=<our URI SAN>;Hash=<sha256 hex>;Cert="<url-encoded PEM>";Subject="CN=...";URI=...;DNS=...`.
 * URI is there even when empty, as Envoy writes it.
 */
function clientCertDetails(cert: X509Certificate, localUris: readonly string[]): string {
  const subject = cert.subject.split('\n').reverse().join(',').replace(/"/g, '\\"');
  const hash = createHash('sha256').update(cert.raw).digest('hex');
  // OpenSSL's PEM, as Envoy writes it: 64-column base64, \n line ends.
  const pem = cert.toString();
  const { uris, dns } = sanNames(cert.subjectAltName);
  let out = '';
  for (const by of localUris) out += `By=${by};`;
  out += `Hash=${hash};Cert="${urlEncoded(pem)}";Subject="${subject}"`;
  if (uris.length === 0) out += ';URI=';
  for (const u of uris) out += `;URI=${u}`;
  for (const d of dns) out += `;DNS=${d}`;
  return out;
}

/** OpenSSL's reasons in words an operator reads; anything else on one line. */
function handshakeFailure(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return 'no client certificate (tls.mode MUTUAL)';
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_NO_PROTOCOLS_AVAILABLE':
      return 'the client offered no TLS version this server accepts (minProtocolVersion/maxProtocolVersion)';
    case 'ERR_SSL_NO_SHARED_CIPHER':
      return 'no cipher suite in common with the client (cipherSuites)';
    case 'ERR_SSL_HTTP_REQUEST':
      return 'the client spoke plain HTTP to a TLS server';
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN':
      return "the client refused this server's certificate (it does not trust the CA that signed it, or the names do not match)";
    default:
      return `TLS handshake failed: ${e.message.replace(/\s+/g, ' ').trim()}`;
  }
}

/** Why a verified client certificate is still refused (subjectAltNames, SPKI, hash pins); null when it is accepted. */
function pinRefusal(cert: X509Certificate, cfg: ServerTlsConfig): string | null {
  if (cfg.subjectAltNames.length > 0) {
    const { uris, dns } = sanNames(cert.subjectAltName);
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
 * back. `done` gets the secure socket; `fail` a reason in words, or null when the client just went
 * away (the socket is destroyed either way).
 */
export function terminateTls(socket: Socket, cfg: ServerTlsConfig, serverName: string | null, http: boolean, done: (t: TLSSocket) => void, fail: (reason: string | null) => void): void {
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
  function refuse(reason: string | null): void {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    t.destroy();
    socket.destroy();
    fail(reason);
  }
  // A client that goes away mid-handshake (a load generator stopping, a port scan) refused
  // nothing: null, and no log line.
  const onError = (e: NodeJS.ErrnoException) => refuse(e.code === 'ECONNRESET' || e.code === 'EPIPE' ? null : handshakeFailure(e));
  const onClose = () => refuse(null);
  t.on('error', onError);
  t.once('close', onClose);
  t.once('secure', () => {
    if (settled) return;
    let details: string | null = null;
    if (cfg.requestCert) {
      const cert = t.getPeerX509Certificate();
      if (cert !== undefined) {
        // Node sets `authorized` only on tls.Server's own sockets; ask OpenSSL as tls.Server does.
        const verifyError = (t as unknown as { _handle: { verifyError(): Error | null } | null })._handle?.verifyError() ?? null;
        if (verifyError !== null) return refuse(`client certificate refused: ${verifyError.message} (not signed by the server's CA, or expired)`);
        const why = pinRefusal(cert, cfg);
        if (why !== null) return refuse(why);
        details = clientCertDetails(cert, cfg.localUris);
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
