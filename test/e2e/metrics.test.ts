import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, startGateway, staticService, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/wait.js';

// The status port's /stats/prometheus (and /metrics): Istio's standard metrics with the labels a
// gateway reports, so Istio's dashboards work on meshgate, and the gateway's own.

describe('Prometheus metrics on the status port', () => {
  let up: Upstream;
  let gw: TestGateway;
  let ended = 0;
  const scrape = async (p = '/stats/prometheus') => {
    const r = await fetch(`http://127.0.0.1:${gw.gateway.statusAddress!.port}${p}`);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return r.text();
  };
  const line = (text: string, re: RegExp) => text.split('\n').find((l) => re.test(l));

  beforeAll(async () => {
    up = await startUpstream({ name: 'reviews' });
    gw = await startGateway({
      'gw.yaml': GATEWAY_ANY_HOST,
      'svc.yaml': `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  ports: [{port: 9080, name: http}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: bookinfo}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{port: ${up.port}, name: http}]
`,
      'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ route: [{ destination: { host: 'reviews.bookinfo.svc.cluster.local', port: { number: 9080 } } }] }]),
    }, { labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' } });
    gw.gateway.onStreamEnd(() => ended++);
  });

  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it("counts requests with Istio's labels: destination service, response code and flags", async () => {
    for (let i = 0; i < 3; i++) expect((await gw.get('app.example.com', '/reviews/1')).status).toBe(200);
    expect((await gw.get('nowhere.example.com', '/')).status).toBe(404);
    expect(await waitFor(() => ended >= 4)).toBe(true);
    const text = await scrape();
    const ok = line(text, /^istio_requests_total\{.*response_code="200"/)!;
    expect(ok).toContain('reporter="source",source_workload="istio-ingressgateway"');
    expect(ok).toContain('destination_service="reviews.bookinfo.svc.cluster.local",destination_canonical_service="reviews"');
    expect(ok).toContain('destination_service_name="reviews",destination_service_namespace="bookinfo"');
    expect(ok).toContain('request_protocol="http"');
    expect(ok).toContain('response_flags="-"');
    expect(ok).toMatch(/ 3$/);
    const nr = line(text, /^istio_requests_total\{.*response_code="404"/)!;
    expect(nr).toContain('response_flags="NR"');
    expect(nr).toContain('destination_service="unknown"');
    expect(nr).toMatch(/ 1$/);
  });

  it("request duration and sizes as histograms with Envoy's buckets; the same at /metrics", async () => {
    const text = await scrape('/metrics');
    expect(text).toContain('# TYPE istio_request_duration_milliseconds histogram');
    const inf = line(text, /^istio_request_duration_milliseconds_bucket\{.*response_code="200".*le="\+Inf"\}/)!;
    expect(inf).toMatch(/ 3$/);
    expect(line(text, /^istio_request_duration_milliseconds_bucket\{.*response_code="200".*le="3600000"\}/)).toMatch(/ 3$/);
    expect(line(text, /^istio_response_bytes_count\{.*response_code="200"/)).toMatch(/ 3$/);
    expect(line(text, /^istio_request_bytes_bucket\{.*response_code="200".*le="1"\}/)).toMatch(/ 3$/);
  });

  it("the gateway's own: config version and reload outcomes", async () => {
    expect(line(await scrape(), /^meshgate_config_version /)).toBe('meshgate_config_version 1');
    expect(await gw.gateway.reload()).toBe(true);
    const text = await scrape();
    expect(line(text, /^meshgate_config_version /)).toBe('meshgate_config_version 2');
    expect(line(text, /^meshgate_config_reloads_total\{result="applied"\}/)).toBe('meshgate_config_reloads_total{result="applied"} 1');
    expect(line(text, /^meshgate_endpoints_ejected /)).toBe('meshgate_endpoints_ejected 0');
  });

  it("the gateway's own: client connections open now", async () => {
    const open = () => scrape().then((t) => Number(/ (\d+)$/.exec(line(t, /^meshgate_downstream_connections_active /)!)![1]));
    const base = await open();
    const socks = await Promise.all(
      [1, 2, 3].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(gw.port(), '127.0.0.1', () => resolve(s));
          }),
      ),
    );
    const until = async (n: number) => {
      const end = Date.now() + 3000;
      while ((await open()) !== n && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      return open();
    };
    expect(await until(base + 3)).toBe(base + 3);
    for (const s of socks) s.destroy();
    expect(await until(base)).toBe(base);
  });
});
