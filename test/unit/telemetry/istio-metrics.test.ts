import { describe, expect, it } from 'vitest';
import { Flag, StreamRecord } from '../../../src/http/stream-record.js';
import { IstioMetrics } from '../../../src/telemetry/istio-metrics.js';

const rec = (protocol: 'HTTP/1.1' | 'TCP', cluster: string | null, f: Partial<StreamRecord> = {}) => Object.assign(new StreamRecord(protocol, '10.0.0.1', 0), { cluster, ...f });

describe('IstioMetrics', () => {
  it('TCP connections: opened, closed and bytes per destination', () => {
    const m = new IstioMetrics({ workload: 'istio-ingressgateway', namespace: 'istio-system' });
    m.onStreamEnd(rec('TCP', 'outbound|27017||mongo.db.svc.cluster.local', { bytesSent: 100, bytesReceived: 40 }));
    m.onStreamEnd(rec('TCP', 'outbound|27017||mongo.db.svc.cluster.local', { bytesSent: 5, bytesReceived: 2 }));
    const text = m.render();
    expect(text).toMatch(/^istio_tcp_connections_opened_total\{.*destination_service="mongo\.db\.svc\.cluster\.local".*request_protocol="tcp".*\} 2$/m);
    expect(text).toMatch(/^istio_tcp_sent_bytes_total\{.*\} 105$/m);
    expect(text).toMatch(/^istio_tcp_received_bytes_total\{.*\} 42$/m);
  });

  it('gRPC requests: request_protocol grpc and grpc_response_status; a subset is the destination version', () => {
    const m = new IstioMetrics({ workload: 'gw', namespace: 'istio-system' });
    m.onStreamEnd(rec('HTTP/1.1', 'outbound|9080|v2|reviews.default.svc.cluster.local', { responseCode: 200, grpcStatus: '14', flags: Flag.UF, durationMs: 7 }));
    const text = m.render();
    expect(text).toMatch(/^istio_requests_total\{.*destination_version="v2".*request_protocol="grpc",response_code="200",grpc_response_status="14",response_flags="UF".*\} 1$/m);
    expect(text).toMatch(/^istio_request_duration_milliseconds_bucket\{.*le="5"\} 0$/m);
    expect(text).toMatch(/^istio_request_duration_milliseconds_bucket\{.*le="10"\} 1$/m);
    expect(text).toMatch(/^istio_request_duration_milliseconds_sum\{.*\} 7$/m);
  });

  it('label values are escaped for the exposition format', () => {
    const m = new IstioMetrics({ workload: 'a"b\\c', namespace: 'n' });
    m.onStreamEnd(rec('HTTP/1.1', null, { responseCode: 404 }));
    expect(m.render()).toContain('source_workload="a\\"b\\\\c"');
  });

  it('several processes\' counts sum into one series per label set, buckets and TCP bytes included', () => {
    const a = new IstioMetrics({ workload: 'gw', namespace: 'istio-system' });
    const b = new IstioMetrics({ workload: 'gw', namespace: 'istio-system' });
    a.onStreamEnd(rec('HTTP/1.1', 'outbound|80||web.default.svc.cluster.local', { responseCode: 200, durationMs: 3 }));
    b.onStreamEnd(rec('HTTP/1.1', 'outbound|80||web.default.svc.cluster.local', { responseCode: 200, durationMs: 30 }));
    b.onStreamEnd(rec('HTTP/1.1', null, { responseCode: 404, flags: Flag.NR }));
    a.onStreamEnd(rec('TCP', 'outbound|27017||mongo.db.svc.cluster.local', { bytesSent: 10, bytesReceived: 1 }));
    b.onStreamEnd(rec('TCP', 'outbound|27017||mongo.db.svc.cluster.local', { bytesSent: 5, bytesReceived: 2 }));
    // Through structured clone, as the workers' answers travel.
    const text = IstioMetrics.merged([structuredClone(a.state()), structuredClone(b.state())]).render();
    const ok = text.split('\n').filter((l) => /^istio_requests_total\{.*response_code="200"/.test(l));
    expect(ok).toHaveLength(1);
    expect(ok[0]).toMatch(/ 2$/);
    expect(text).toMatch(/^istio_requests_total\{.*response_code="404",grpc_response_status="",response_flags="NR".*\} 1$/m);
    expect(text).toMatch(/^istio_request_duration_milliseconds_bucket\{.*response_code="200".*le="5"\} 1$/m);
    expect(text).toMatch(/^istio_request_duration_milliseconds_bucket\{.*response_code="200".*le="50"\} 2$/m);
    expect(text).toMatch(/^istio_request_duration_milliseconds_sum\{.*response_code="200".*\} 33$/m);
    expect(text).toMatch(/^istio_tcp_connections_opened_total\{.*\} 2$/m);
    expect(text).toMatch(/^istio_tcp_sent_bytes_total\{.*\} 15$/m);
    // The same as one process that saw it all.
    expect(IstioMetrics.merged([a.state()]).render()).toBe(a.render());
  });
});
