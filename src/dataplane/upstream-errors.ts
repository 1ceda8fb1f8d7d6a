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

/** Envoy's wording for an upstream that failed before sending headers. */
export function upstreamFailureReply(err: Error & { code?: string }): string {
  const code = err.code ?? '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return `${REPLY.connectFailure}, transport failure reason: delayed connect error: 110`;
  if (CONNECT_ERRNO[code] !== undefined) return `${REPLY.connectFailure}, transport failure reason: delayed connect error: ${CONNECT_ERRNO[code]}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return REPLY.connectFailure;
  if (code.startsWith('HPE_') || code === 'UND_ERR_INFO') return REPLY.protocolError;
  return REPLY.resetBeforeHeaders;
}

