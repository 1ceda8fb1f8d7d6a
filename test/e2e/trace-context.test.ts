import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, startGateway, staticService, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { echo } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Trace context reaches the upstream as the client sent it (W3C traceparent/tracestate, B3
// single and multi header), over HTTP/1.1 and HTTP/2, and x-request-id is generated when absent
// and kept when present, so a trace and a request id follow a call through the gateway.

const TRACE = {
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7',
  b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90',
  'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
  'x-b3-spanid': 'e457b5a2e4d86bd1',
  'x-b3-parentspanid': '05e3ac9a4f6e3b90',
  'x-b3-sampled': '1',
};

describe('trace context and x-request-id', () => {
  let up: Upstream;
  let gw: TestGateway;
  beforeAll(async () => {
    up = await startUpstream({ name: 'traced' });
    gw = await startGateway({ 'gw.yaml': GATEWAY_ANY_HOST, 'svc.yaml': staticService('svc.test', [up.port]), 'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ route: [{ destination: { host: 'svc.test' } }] }]) });
  });
  afterAll(async () => {
    await gw?.stop();
    await up?.close();
  });

  it('HTTP/1.1: every trace header unchanged; x-request-id generated (a UUID) when the client sent none', async () => {
    const a = echo(await gw.get('app.example.com', { path: '/', headers: TRACE }));
    for (const [k, v] of Object.entries(TRACE)) expect(a.headers[k], k).toBe(v);
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("a client's x-request-id is kept", async () => {
    const a = echo(await gw.get('app.example.com', { path: '/', headers: { 'x-request-id': 'client-chosen-id' } }));
    expect(a.headers['x-request-id']).toBe('client-chosen-id');
  });

  it('HTTP/2: the same', async () => {
    const session = http2.connect(`http://127.0.0.1:${gw.port(80)}`);
    try {
      const body = await new Promise<string>((resolve, reject) => {
        const req = session.request({ ':path': '/', ':authority': 'app.example.com', ...TRACE });
        let data = '';
        req.setEncoding('utf8');
        req.on('data', (d) => (data += d));
        req.on('end', () => resolve(data));
        req.on('error', reject);
        req.end();
      });
      const seen = (JSON.parse(body) as { headers: Record<string, string> }).headers;
      for (const [k, v] of Object.entries(TRACE)) expect(seen[k], k).toBe(v);
      expect(seen['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      session.close();
    }
  });
});
