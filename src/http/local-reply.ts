import type { HeaderMap } from './downstream.js';

/**
 * Answers the gateway gives itself, byte for byte as Envoy words them, so that scripts and
 * dashboards written against an Istio gateway keep working.
 */
export const REPLY = {
  noHealthyUpstream: 'no healthy upstream',
  connectFailure: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  resetBeforeHeaders: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  remoteReset: 'upstream connect error or disconnect/reset before headers. reset reason: remote reset',
  refusedStream: 'upstream connect error or disconnect/reset before headers. reset reason: remote refused stream reset',
  protocolError: 'upstream connect error or disconnect/reset before headers. reset reason: protocol error',
  timeout: 'upstream request timeout',
  overflow: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
  faultAbort: 'fault filter abort',
} as const;

/** Whether a request is gRPC (Envoy: content-type application/grpc, with or without +proto etc.). */
export function isGrpc(headers: HeaderMap): boolean {
  const ct = headers['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc') && (ct.length === 16 || ct[16] === '+' || ct[16] === ';');
}

/** Envoy's httpToGrpcStatus, for local replies to gRPC requests. */
export function grpcStatusOf(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}


/** grpc-message is percent-encoded (gRPC over HTTP/2 spec): anything outside printable ASCII, and `%`. */
export function grpcMessage(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * The head of a local reply. For a gRPC request it is Envoy's trailers-only answer: HTTP 200,
 * `content-type: application/grpc`, `grpc-status` (given, or mapped from the HTTP status) and
 * the text as `grpc-message`, no body. Returns the status to send and whether a body follows.
 */
export function localReplyHead(status: number, body: string, grpc: boolean, grpcStatus: number | null, out: string[]): { status: number; withBody: boolean } {
  if (grpc) {
    out.push('content-type', 'application/grpc', 'grpc-status', String(grpcStatus ?? grpcStatusOf(status)));
    if (body !== '') out.push('grpc-message', grpcMessage(body));
    out.push('server', 'istio-envoy');
    return { status: 200, withBody: false };
  }
  if (body.length > 0) out.push('content-length', String(Buffer.byteLength(body)), 'content-type', 'text/plain', 'server', 'istio-envoy');
  else out.push('content-length', '0', 'server', 'istio-envoy');
  return { status, withBody: body.length > 0 };
}
