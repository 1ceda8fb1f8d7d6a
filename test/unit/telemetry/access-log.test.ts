import { describe, expect, it } from 'vitest';
import { Flag, StreamRecord } from '../../../src/http/stream-record.js';
import { AccessLog, accessLogFields, textLine } from '../../../src/telemetry/access-log.js';

function record(): StreamRecord {
  const r = new StreamRecord('HTTP/1.1', '10.1.2.3', 1000);
  r.method = 'GET';
  r.path = '/productpage';
  r.authority = 'bookinfo.example.com';
  r.responseCode = 200;
  r.details = 'via_upstream';
  r.bytesReceived = 0;
  r.bytesSent = 5293;
  r.durationMs = 12.4;
  r.upstreamMs = 10.6;
  r.requestId = 'a1b2';
  r.upstreamHost = '10.0.0.7:9080';
  r.cluster = 'outbound|9080||productpage.default.svc.cluster.local';
  r.route = 'VirtualService default/bookinfo http[0]';
  r.requestHeaders = { 'user-agent': 'curl/8.5.0', 'x-forwarded-for': '203.0.113.9' };
  return r;
}

describe("access log in Istio's default TEXT format", () => {
  it('writes the fields in Envoy order, `-` for what is unknown', () => {
    const line = textLine(accessLogFields(record()));
    expect(line).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] /);
    expect(line.slice(line.indexOf(']') + 2)).toBe(
      '"GET /productpage HTTP/1.1" 200 - via_upstream - "-" 0 5293 12 11 "203.0.113.9" "curl/8.5.0" "a1b2" "bookinfo.example.com" "10.0.0.7:9080" outbound|9080||productpage.default.svc.cluster.local - - 10.1.2.3 - VirtualService default/bookinfo http[0]\n',
    );
  });

  it("a local reply: the flags and details, no upstream; a TCP connection: no method or path, SNI as the server name", () => {
    const r = record();
    r.responseCode = 404;
    r.flags = Flag.NR;
    r.details = 'route_not_found';
    r.upstreamHost = null;
    r.cluster = null;
    r.upstreamMs = -1;
    r.route = null;
    expect(textLine(accessLogFields(r))).toMatch(/"GET \/productpage HTTP\/1\.1" 404 NR route_not_found - "-" 0 5293 12 - .* "-" - - - 10\.1\.2\.3 - -\n$/);
    const t = new StreamRecord('TCP', '10.1.2.3', 1000);
    t.authority = 'db.example.com';
    t.durationMs = 3;
    expect(textLine(accessLogFields(t))).toMatch(/"- - TCP" 0 - - - "-" 0 0 3 - "-" "-" "-" "db\.example\.com" "-" - - - 10\.1\.2\.3 db\.example\.com -\n$/);
  });

  it('JSON: one object per line with the same fields under Istio`s keys', async () => {
    const out: string[] = [];
    const log = new AccessLog('json', { write: (s: string) => out.push(s) });
    log.onStreamEnd(record());
    log.onStreamEnd(record());
    // Lines are gathered per turn of the event loop: one write for both.
    await new Promise((r) => setImmediate(r));
    expect(out).toHaveLength(1);
    const lines = out[0]!.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ method: 'GET', path: '/productpage', protocol: 'HTTP/1.1', response_code: 200, response_flags: '-', user_agent: 'curl/8.5.0', x_forwarded_for: '203.0.113.9', upstream_cluster: 'outbound|9080||productpage.default.svc.cluster.local', upstream_service_time: '11', duration: 12 });
  });
});
