import { describe, expect, it } from 'vitest';
import { grpcMessage, grpcStatusOf, isGrpc, localReplyHead } from '../../../src/http/local-reply.js';
import { grpcTimeoutMs } from '../../../src/http/router/router.js';
import { flagString, Flag } from '../../../src/http/stream-record.js';

describe('local replies', () => {
  it('a plain reply carries its length, text/plain when it has a body, and server: istio-envoy', () => {
    const h: string[] = [];
    expect(localReplyHead(503, 'no healthy upstream', false, null, h)).toEqual({ status: 503, withBody: true });
    expect(h).toEqual(['content-length', '19', 'content-type', 'text/plain', 'server', 'istio-envoy']);
    const e: string[] = [];
    expect(localReplyHead(404, '', false, null, e)).toEqual({ status: 404, withBody: false });
    expect(e).toEqual(['content-length', '0', 'server', 'istio-envoy']);
  });

  it('a gRPC reply is trailers-only: 200, application/grpc, grpc-status from the HTTP status, the text as grpc-message', () => {
    const h: string[] = [];
    expect(localReplyHead(504, 'upstream request timeout', true, null, h)).toEqual({ status: 200, withBody: false });
    expect(h).toEqual(['content-type', 'application/grpc', 'grpc-status', '14', 'grpc-message', 'upstream request timeout', 'server', 'istio-envoy']);
    const g: string[] = [];
    localReplyHead(200, '', true, 8, g);
    expect(g).toEqual(['content-type', 'application/grpc', 'grpc-status', '8', 'server', 'istio-envoy']);
  });

  it("maps HTTP statuses to gRPC codes as Envoy's httpToGrpcStatus", () => {
    expect([400, 401, 403, 404, 429, 502, 503, 504, 500, 418].map(grpcStatusOf)).toEqual([13, 16, 7, 12, 14, 14, 14, 14, 2, 2]);
  });

  it('percent-encodes grpc-message outside printable ASCII, and % itself', () => {
    expect(grpcMessage('100% sure: ü')).toBe('100%25 sure: %C3%BC');
  });

  it('recognises gRPC by content-type application/grpc, with +proto or parameters', () => {
    expect(isGrpc({ 'content-type': 'application/grpc' })).toBe(true);
    expect(isGrpc({ 'content-type': 'application/grpc+proto' })).toBe(true);
    expect(isGrpc({ 'content-type': 'application/grpc-web' })).toBe(false);
    expect(isGrpc({ 'content-type': 'application/json' })).toBe(false);
    expect(isGrpc({})).toBe(false);
  });
});

describe('grpc-timeout', () => {
  it('reads 1-8 digits and a unit (H M S m u n) as milliseconds, at least 1', () => {
    expect(grpcTimeoutMs('200m')).toBe(200);
    expect(grpcTimeoutMs('3S')).toBe(3000);
    expect(grpcTimeoutMs('1M')).toBe(60_000);
    expect(grpcTimeoutMs('2H')).toBe(7_200_000);
    expect(grpcTimeoutMs('1500u')).toBe(2);
    expect(grpcTimeoutMs('5n')).toBe(1);
  });

  it('ignores what is not a grpc-timeout', () => {
    for (const v of ['', 'm', '10', '10x', '123456789S', '-1S', '1.5S', undefined]) expect(grpcTimeoutMs(v)).toBeUndefined();
  });
});

describe('response flags', () => {
  it('render as Envoy writes %RESPONSE_FLAGS%: short names joined by commas, - for none', () => {
    expect(flagString(0)).toBe('-');
    expect(flagString(Flag.UF | Flag.URX)).toBe('UF,URX');
    expect(flagString(Flag.DI | Flag.FI)).toBe('DI,FI');
  });
});
