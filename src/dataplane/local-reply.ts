import type { ServerResponse } from 'node:http';

/**
 * Answers the gateway gives itself, byte for byte as Envoy words them, so that scripts and
 * dashboards written against an Istio gateway keep working.
 */
export const REPLY = {
  noHealthyUpstream: 'no healthy upstream',
  connectFailure: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  resetBeforeHeaders: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  protocolError: 'upstream connect error or disconnect/reset before headers. reset reason: protocol error',
  timeout: 'upstream request timeout',
  overflow: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
} as const;

export function sendLocalReply(res: ServerResponse, status: number, body: string, extraHeaders?: readonly string[]): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers = body.length > 0
    ? ['content-length', String(Buffer.byteLength(body)), 'content-type', 'text/plain', 'server', 'istio-envoy']
    : ['content-length', '0', 'server', 'istio-envoy'];
  if (extraHeaders) headers.push(...extraHeaders);
  res.writeHead(status, headers);
  res.end(body);
}
