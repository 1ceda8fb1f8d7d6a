import { REPLY } from './local-reply.js';

/** A try ended by the gateway itself rather than by the upstream. */
export class LocalFailure extends Error {
  constructor(readonly kind: 'timeout' | 'per-try-timeout' | 'downstream') {
    super(kind);
  }
}

const CONNECT_ERRNO: Record<string, number> = { ECONNREFUSED: 111, EHOSTUNREACH: 113, ENETUNREACH: 101, ETIMEDOUT: 110 };

export function isConnectFailure(err: Error & { code?: string }): boolean {
  const c = err.code ?? '';
  return c === 'UND_ERR_CONNECT_TIMEOUT' || CONNECT_ERRNO[c] !== undefined || c === 'ENOTFOUND' || c === 'EAI_AGAIN';
}

// undici's names for an upstream answer that breaks HTTP/1.1 framing.
const PROTOCOL_ERRORS = new Set(['UND_ERR_INFO', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_EXCEEDED_MAX_SIZE', 'UND_ERR_HEADERS_OVERFLOW']);

/** The request itself could not be sent as given (undici refused an argument): the client's fault, not the upstream's. */
export function isRequestRefused(err: Error & { code?: string }): boolean {
  return err.code === 'UND_ERR_INVALID_ARG' || err.code === 'UND_ERR_NOT_SUPPORTED';
}

/** Envoy's wording for an upstream that failed before sending headers. */
export function upstreamFailureReply(err: Error & { code?: string }): string {
  const code = err.code ?? '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return `${REPLY.connectFailure}, transport failure reason: delayed connect error: 110`;
  if (CONNECT_ERRNO[code] !== undefined) return `${REPLY.connectFailure}, transport failure reason: delayed connect error: ${CONNECT_ERRNO[code]}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return REPLY.connectFailure;
  if (code.startsWith('HPE_') || PROTOCOL_ERRORS.has(code)) return REPLY.protocolError;
  return REPLY.resetBeforeHeaders;
}

