/**
 * Why a request to an upstream ended without a complete answer, in Envoy's terms. Clients turn
 * their library's errors into these; the router decides retries, outlier marks, the local reply
 * and the response flag from the kind alone.
 *
 * - connect-failure: no connection (refused, unreachable, connect timeout, DNS failure)
 * - reset: the connection closed or broke
 * - remote-reset: an HTTP/2 upstream reset the stream
 * - refused-stream: an HTTP/2 upstream refused the stream before processing it (safe to retry)
 * - protocol: the answer broke HTTP framing
 * - invalid-request: the client refused to send the request as given (not the upstream's fault)
 * - timeout / per-try-timeout / downstream: the gateway itself ended the try
 */
export type UpstreamErrorKind =
  | 'connect-failure'
  | 'reset'
  | 'remote-reset'
  | 'refused-stream'
  | 'protocol'
  | 'invalid-request'
  | 'timeout'
  | 'per-try-timeout'
  | 'downstream';

export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamErrorKind,
    /** The errno number of a failed connect (111 for ECONNREFUSED), or 0. */
    readonly errno = 0,
    message: string = kind,
    /** Envoy's "transport failure reason" of a failed TLS handshake, or ''. */
    readonly transportFailure = '',
  ) {
    super(message);
  }

  /** Ended by the gateway, not by the upstream. */
  get local(): boolean {
    return this.kind === 'timeout' || this.kind === 'per-try-timeout' || this.kind === 'downstream';
  }
}

// Reused: these carry no per-request detail.
export const TIMEOUT = new UpstreamError('timeout');
export const PER_TRY_TIMEOUT = new UpstreamError('per-try-timeout');
export const DOWNSTREAM_GONE = new UpstreamError('downstream');

const CONNECT_ERRNO: Record<string, number> = { ECONNREFUSED: 111, EHOSTUNREACH: 113, ENETUNREACH: 101, ETIMEDOUT: 110, ECONNRESET: 104 };

/** A failed connect, from a Node or undici error code. */
export function connectFailure(code: string | undefined): UpstreamError {
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return new UpstreamError('connect-failure', 110);
  return new UpstreamError('connect-failure', CONNECT_ERRNO[code ?? ''] ?? 0);
}

export function isConnectError(code: string | undefined): boolean {
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || (code !== 'ECONNRESET' && CONNECT_ERRNO[code ?? ''] !== undefined);
}

// Node's names for a certificate OpenSSL would not verify (and our subjectAltNames check).
const VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A TLS handshake toward an upstream that failed, as Envoy (BoringSSL) words it in a local reply:
 * `TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end`.
 * Null when the error is no TLS failure.
 */
export function tlsFailure(code: string | undefined, message: string): UpstreamError | null {
  if (code === undefined) return null;
  let reason: string | null = null;
  if (VERIFY_CODES.has(code)) reason = 'TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end';
  else if (code.startsWith('ERR_SSL_')) reason = `TLS_error:|SSL routines:OPENSSL_internal:${code.slice(8)}:TLS_error_end`;
  else if (code === 'EPROTO') reason = 'TLS_error:|SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER:TLS_error_end';
  return reason === null ? null : new UpstreamError('connect-failure', 0, message, reason);
}
