import * as grpc from '@grpc/grpc-js';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamRecord } from '../../src/http/stream-record.js';
import { GATEWAY_ANY_HOST, startGateway, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { deadPort } from '../helpers/upstream.js';

// gRPC end to end with a real client and server (@grpc/grpc-js, no protobuf: JSON messages in
// Buffers): the client speaks h2c to the gateway's port 80, the gateway speaks h2c to the
// server because the ServiceEntry port says `protocol: GRPC`. Messages, metadata, trailers and
// statuses must pass through as they would through Envoy; the gateway's own answers to gRPC
// requests are Envoy's trailers-only replies (HTTP 200, grpc-status, grpc-message), so a gRPC
// client sees a gRPC status instead of a protocol error.

const SERVICE_PATH = '/meshgate.test.Echo';
const BACKEND = 'echo.grpc.test';

const HOST = 'grpc.example.com';
const TIMEOUT_HOST = 'timeout.grpc.example.com';
const ABORT_GRPC_HOST = 'abort-grpc.grpc.example.com';
const ABORT_HTTP_HOST = 'abort-http.grpc.example.com';
const RETRY_HOST = 'retry.grpc.example.com';
const EMPTY_HOST = 'empty.grpc.example.com';
const DEAD_HOST = 'dead.grpc.example.com';
const NO_ROUTE_HOST = 'nothing-here.grpc.example.com';

type Msg = Record<string, unknown>;

const serialize = (m: Msg): Buffer => Buffer.from(JSON.stringify(m), 'utf8');
const deserialize = (b: Buffer): Msg => JSON.parse(b.toString('utf8')) as Msg;

function method(name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Msg, Msg> {
  return {
    path: `${SERVICE_PATH}/${name}`,
    requestStream,
    responseStream,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
    originalName: name,
  };
}

const ECHO_SERVICE: grpc.ServiceDefinition = {
  Unary: method('Unary', false, false),
  ServerStream: method('ServerStream', false, true),
  ClientStream: method('ClientStream', true, false),
  Bidi: method('Bidi', true, true),
  Fail: method('Fail', false, false),
  FailAfterHeaders: method('FailAfterHeaders', false, false),
  Slow: method('Slow', false, false),
  Flaky: method('Flaky', false, false),
};

/** The client side of ECHO_SERVICE, as makeGenericClientConstructor builds it. */
interface EchoClient extends grpc.Client {
  Unary(req: Msg, md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<Msg>): grpc.ClientUnaryCall;
  Fail(req: Msg, md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<Msg>): grpc.ClientUnaryCall;
  FailAfterHeaders(req: Msg, md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<Msg>): grpc.ClientUnaryCall;
  Slow(req: Msg, md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<Msg>): grpc.ClientUnaryCall;
  Flaky(req: Msg, md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<Msg>): grpc.ClientUnaryCall;
  ServerStream(req: Msg, md: grpc.Metadata, opts: grpc.CallOptions): grpc.ClientReadableStream<Msg>;
  ClientStream(md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<Msg>): grpc.ClientWritableStream<Msg>;
  Bidi(md: grpc.Metadata, opts: grpc.CallOptions): grpc.ClientDuplexStream<Msg, Msg>;
}

type UnaryMethod = 'Unary' | 'Fail' | 'FailAfterHeaders' | 'Slow' | 'Flaky';

const EchoClientCtor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');

/** What the server saw: calls per method (and per `key` for Flaky), request metadata of the last Unary. */
interface ServerLog {
  calls: Map<string, number>;
  flaky: Map<string, number>;
  unaryMetadata: grpc.Metadata | null;
  slowCancelled: number;
  /** `key:x-envoy-attempt-count` of each Flaky call. */
  flakyAttemptCounts: string[];
}

const STREAM_COUNT = 300;
const SLOW_MS = 2000;
const TRAIL_BIN = Buffer.from([0, 1, 2, 0xfe, 0xff]);
const FAIL_DETAILS = 'no such widget: ünïcode, 100% sure';

function startServer(log: ServerLog): { server: grpc.Server; impl: grpc.UntypedServiceImplementation } {
  const count = (name: string) => log.calls.set(name, (log.calls.get(name) ?? 0) + 1);
  const slowTimers = new Set<NodeJS.Timeout>();
  const impl: grpc.UntypedServiceImplementation = {
    Unary(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      count('Unary');
      log.unaryMetadata = call.metadata.clone();
      const init = new grpc.Metadata();
      init.set('x-init', 'hello-from-server');
      call.sendMetadata(init);
      const trailer = new grpc.Metadata();
      trailer.set('x-trail', 'bye-from-server');
      trailer.set('x-trail-bin', TRAIL_BIN);
      cb(null, { echo: call.request, peer: 'echo' }, trailer);
    },
    ServerStream(call: grpc.ServerWritableStream<Msg, Msg>) {
      count('ServerStream');
      const n = Number(call.request.count);
      const init = new grpc.Metadata();
      init.set('x-init', 'stream');
      call.sendMetadata(init);
      const size = Number(call.request.size ?? 0);
      for (let i = 0; i < n; i++) call.write({ i, pad: 'x'.repeat(size > 0 ? size : i % 50) });
      const trailer = new grpc.Metadata();
      trailer.set('x-sent', String(n));
      call.end(trailer);
    },
    ClientStream(call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      count('ClientStream');
      let n = 0;
      let sum = 0;
      let inOrder = true;
      call.on('data', (m: Msg) => {
        if (m.i !== n) inOrder = false;
        n++;
        sum += Number(m.i);
      });
      call.on('end', () => cb(null, { count: n, sum, inOrder }));
    },
    Bidi(call: grpc.ServerDuplexStream<Msg, Msg>) {
      count('Bidi');
      let n = 0;
      call.on('data', (m: Msg) => {
        call.write({ reply: m.i, seq: n++ });
      });
      call.on('end', () => {
        const trailer = new grpc.Metadata();
        trailer.set('x-echoed', String(n));
        call.end(trailer);
      });
    },
    Fail(_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      count('Fail');
      const md = new grpc.Metadata();
      md.set('x-why', 'missing');
      // No metadata sent first: grpc-js answers trailers-only (status in the response headers).
      cb({ code: grpc.status.NOT_FOUND, details: FAIL_DETAILS, metadata: md });
    },
    FailAfterHeaders(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      count('FailAfterHeaders');
      const init = new grpc.Metadata();
      init.set('x-init', 'before-failure');
      call.sendMetadata(init);
      const md = new grpc.Metadata();
      md.set('x-why', 'missing-later');
      // Headers went out already: the status travels in real trailers.
      setTimeout(() => cb({ code: grpc.status.NOT_FOUND, details: FAIL_DETAILS, metadata: md }), 20);
    },
    Slow(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      count('Slow');
      const t = setTimeout(() => {
        slowTimers.delete(t);
        cb(null, { slow: true });
      }, SLOW_MS);
      slowTimers.add(t);
      call.on('cancelled', () => {
        log.slowCancelled++;
        clearTimeout(t);
        slowTimers.delete(t);
      });
    },
    Flaky(call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) {
      count('Flaky');
      const key = String(call.request.key);
      const n = (log.flaky.get(key) ?? 0) + 1;
      log.flaky.set(key, n);
      log.flakyAttemptCounts.push(`${key}:${call.metadata.get('x-envoy-attempt-count').join(',')}`);
      // A key starting with `always` never succeeds.
      if (n === 1 || key.startsWith('always')) cb({ code: grpc.status.UNAVAILABLE, details: `not yet (${key} call ${n})` });
      else cb(null, { key, call: n });
    },
  };
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, impl);
  return { server, impl };
}

function bindServer(server: grpc.Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
}

/** A ServiceEntry with one `grpc` port (protocol GRPC) on 80 and these local STATIC endpoints (none: no endpoints at all). */
function grpcService(host: string, ports: number[]): string {
  const eps = ports.length === 0 ? '' : `  endpoints:\n${ports.map((p) => `  - address: 127.0.0.1\n    ports: {grpc: ${p}}`).join('\n')}\n`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${host.replace(/[^a-z0-9]/g, '-')}
  namespace: default
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 80, name: grpc, protocol: GRPC}
${eps}`;
}

const to = (host: string) => [{ destination: { host, port: { number: 80 } } }];

interface UnaryResult {
  err: grpc.ServiceError | null;
  res: Msg | undefined;
  /** Initial metadata (response headers), when any arrived before the status. */
  headers: grpc.Metadata | null;
  status: grpc.StatusObject;
}

/** Deadline for every call, so that a broken pass-through fails a test instead of hanging it. */
const callOptions = (): grpc.CallOptions => ({ deadline: Date.now() + 10_000 });

function unary(client: EchoClient, name: UnaryMethod, req: Msg, md = new grpc.Metadata()): Promise<UnaryResult> {
  return new Promise((resolve) => {
    let headers: grpc.Metadata | null = null;
    let answer: { err: grpc.ServiceError | null; res: Msg | undefined } | null = null;
    let status: grpc.StatusObject | null = null;
    const settle = () => {
      if (answer !== null && status !== null) resolve({ ...answer, headers, status });
    };
    const call = client[name](req, md, callOptions(), (err, res) => {
      answer = { err, res };
      settle();
    });
    call.on('metadata', (m: grpc.Metadata) => (headers = m));
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      settle();
    });
  });
}

describe('gRPC through the gateway (real @grpc/grpc-js client and server)', () => {
  let gw: TestGateway;
  let server: grpc.Server;
  const log: ServerLog = { calls: new Map(), flaky: new Map(), unaryMetadata: null, slowCancelled: 0, flakyAttemptCounts: [] };
  const records: StreamRecord[] = [];
  const clients: grpc.Client[] = [];

  beforeAll(async () => {
    server = startServer(log).server;
    const serverPort = await bindServer(server);
    const dead = await deadPort();
    gw = await startGateway({
      'gateway.yaml': GATEWAY_ANY_HOST,
      'services.yaml': [grpcService(BACKEND, [serverPort]), grpcService('empty.grpc.test', []), grpcService('dead.grpc.test', [dead])].join('---\n'),
      'vs-main.yaml': virtualServiceYaml('grpc-main', [HOST], [{ route: to(BACKEND) }]),
      'vs-timeout.yaml': virtualServiceYaml('grpc-timeout', [TIMEOUT_HOST], [{ route: to(BACKEND), timeout: '0.3s' }]),
      'vs-abort-grpc.yaml': virtualServiceYaml('grpc-abort-grpc', [ABORT_GRPC_HOST], [
        { route: to(BACKEND), fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } } },
      ]),
      'vs-abort-http.yaml': virtualServiceYaml('grpc-abort-http', [ABORT_HTTP_HOST], [
        { route: to(BACKEND), fault: { abort: { httpStatus: 403, percentage: { value: 100 } } } },
      ]),
      'vs-retry.yaml': virtualServiceYaml('grpc-retry', [RETRY_HOST], [{ route: to(BACKEND), retries: { attempts: 2, retryOn: 'unavailable' } }]),
      'vs-empty.yaml': virtualServiceYaml('grpc-empty', [EMPTY_HOST], [{ route: to('empty.grpc.test') }]),
      'vs-dead.yaml': virtualServiceYaml('grpc-dead', [DEAD_HOST], [{ route: to('dead.grpc.test') }]),
    });
    gw.gateway.onStreamEnd((rec) => records.push(rec));
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
    if (server) await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    server?.forceShutdown();
  });

  /** A client on the gateway's port 80 whose :authority is `host`. */
  function clientFor(host: string): EchoClient {
    const c = new EchoClientCtor(`127.0.0.1:${gw.port(80)}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': host }) as unknown as EchoClient;
    clients.push(c);
    return c;
  }

  /** The stream record of the one request to `host` for `method` that ended after `mark` (records.length before the call). */
  async function recordOf(mark: number, host: string, name: string): Promise<StreamRecord> {
    const path = `${SERVICE_PATH}/${name}`;
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = records.slice(mark).filter((r) => r.authority === host && r.path === path);
      if (found.length > 1) throw new Error(`${found.length} records for ${host}${path}`);
      if (found.length === 1) return found[0]!;
      if (Date.now() > deadline) throw new Error(`no stream record for ${host}${path}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  describe('calls pass through intact', () => {
    it('unary: message, request metadata, initial and trailing metadata, OK; the record says HTTP/2, 200, via_upstream', async () => {
      const client = clientFor(HOST);
      const md = new grpc.Metadata();
      md.set('x-client', 'hello-from-client');
      md.set('x-client-bin', Buffer.from([9, 8, 7, 0, 255]));
      const before = log.calls.get('Unary') ?? 0;
      const mark = records.length;
      const r = await unary(client, 'Unary', { text: 'ping', n: 42, nested: { ok: true } }, md);

      expect(r.err).toBeNull();
      expect(r.res).toEqual({ echo: { text: 'ping', n: 42, nested: { ok: true } }, peer: 'echo' });
      expect(r.status.code).toBe(grpc.status.OK);
      // Initial metadata (response headers) from the server, with the gateway's own headers added.
      expect(r.headers).not.toBeNull();
      expect(r.headers!.get('x-init')).toEqual(['hello-from-server']);
      expect(r.headers!.get('server')).toEqual(['istio-envoy']);
      expect(r.headers!.get('x-envoy-upstream-service-time')).toHaveLength(1);
      // Trailing metadata from the server, text and binary.
      expect(r.status.metadata.get('x-trail')).toEqual(['bye-from-server']);
      expect(r.status.metadata.get('x-trail-bin')).toEqual([TRAIL_BIN]);

      // The request metadata reached the server, with what the gateway adds upstream.
      expect(log.calls.get('Unary')).toBe(before + 1);
      const seen = log.unaryMetadata!;
      expect(seen.get('x-client')).toEqual(['hello-from-client']);
      expect(seen.get('x-client-bin')).toEqual([Buffer.from([9, 8, 7, 0, 255])]);
      expect(seen.get('x-forwarded-proto')).toEqual(['http']);
      expect(seen.get('x-request-id')).toHaveLength(1);
      expect(seen.get('x-envoy-attempt-count')).toEqual(['1']);

      const rec = await recordOf(mark, HOST, 'Unary');
      expect(rec.protocol).toBe('HTTP/2');
      expect(rec.responseCode).toBe(200);
      expect(rec.details).toBe('via_upstream');
      expect(rec.flagString).toBe('-');
      expect(rec.method).toBe('POST');
      expect(rec.cluster).toContain(BACKEND);
      expect(rec.attempts).toBe(1);
      // Read from the upstream's trailers.
      expect(rec.grpcStatus).toBe('0');
    });

    it('50 concurrent unary calls on one channel each get their own answer', async () => {
      const client = clientFor(HOST);
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => unary(client, 'Unary', { i })));
      results.forEach((r, i) => {
        expect(r.status.code).toBe(grpc.status.OK);
        expect(r.res).toEqual({ echo: { i }, peer: 'echo' });
      });
    });

    it(`server streaming: ${STREAM_COUNT} messages in order, then the trailing metadata`, async () => {
      const client = clientFor(HOST);
      const mark = records.length;
      const call = client.ServerStream({ count: STREAM_COUNT }, new grpc.Metadata(), callOptions());
      const got: Msg[] = [];
      let headers: grpc.Metadata | null = null;
      call.on('metadata', (m: grpc.Metadata) => (headers = m));
      call.on('data', (m: Msg) => got.push(m));
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        call.on('error', () => undefined);
        call.on('status', resolve);
      });
      expect(status.code).toBe(grpc.status.OK);
      expect(got).toHaveLength(STREAM_COUNT);
      got.forEach((m, i) => expect(m).toEqual({ i, pad: 'x'.repeat(i % 50) }));
      expect(headers!.get('x-init')).toEqual(['stream']);
      expect(status.metadata.get('x-sent')).toEqual([String(STREAM_COUNT)]);
      const rec = await recordOf(mark, HOST, 'ServerStream');
      expect(rec.details).toBe('via_upstream');
      expect(rec.responseCode).toBe(200);
    });

    it(`client streaming: ${STREAM_COUNT} messages in order reach the server, its one answer comes back`, async () => {
      const client = clientFor(HOST);
      const mark = records.length;
      const result = await new Promise<{ err: grpc.ServiceError | null; res: Msg | undefined }>((resolve) => {
        const call = client.ClientStream(new grpc.Metadata(), callOptions(), (err, res) => resolve({ err, res }));
        for (let i = 0; i < STREAM_COUNT; i++) call.write({ i, pad: 'y'.repeat(i % 70) });
        call.end();
      });
      expect(result.err).toBeNull();
      expect(result.res).toEqual({ count: STREAM_COUNT, sum: (STREAM_COUNT * (STREAM_COUNT - 1)) / 2, inOrder: true });
      const rec = await recordOf(mark, HOST, 'ClientStream');
      expect(rec.details).toBe('via_upstream');
      expect(rec.bytesReceived).toBeGreaterThan(STREAM_COUNT * 5);
    });

    it(`bidi streaming: ${STREAM_COUNT} messages each way, interleaved, then the trailing metadata`, async () => {
      const client = clientFor(HOST);
      const call = client.Bidi(new grpc.Metadata(), callOptions());
      const got: Msg[] = [];
      const status = new Promise<grpc.StatusObject>((resolve) => {
        call.on('error', () => undefined);
        call.on('status', resolve);
      });
      // Ping-pong: each message is written only after the answer to the previous one arrived,
      // so this passes only if the gateway streams both ways without buffering either.
      await new Promise<void>((resolve) => {
        call.on('data', (m: Msg) => {
          got.push(m);
          if (got.length < STREAM_COUNT) call.write({ i: got.length });
          else {
            call.end();
            resolve();
          }
        });
        call.write({ i: 0 });
      });
      const s = await status;
      expect(s.code).toBe(grpc.status.OK);
      expect(got).toHaveLength(STREAM_COUNT);
      got.forEach((m, i) => expect(m).toEqual({ reply: i, seq: i }));
      expect(s.metadata.get('x-echoed')).toEqual([String(STREAM_COUNT)]);
    });

    it('large messages (1 MiB each way) cross the HTTP/2 flow-control windows on both legs', async () => {
      const client = clientFor(HOST);
      const big = 'z'.repeat(1024 * 1024);
      const r = await unary(client, 'Unary', { big });
      expect(r.status.code).toBe(grpc.status.OK);
      expect((r.res!.echo as Msg).big).toBe(big);
    });

    it('server streaming of 300 × 16 KiB messages (about 5 MB) arrives complete', async () => {
      const client = clientFor(HOST);
      const call = client.ServerStream({ count: STREAM_COUNT, size: 16 * 1024 }, new grpc.Metadata(), callOptions());
      let n = 0;
      let bad = 0;
      call.on('data', (m: Msg) => {
        if (m.i !== n || (m.pad as string).length !== 16 * 1024) bad++;
        n++;
      });
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        call.on('error', () => undefined);
        call.on('status', resolve);
      });
      expect(status.code).toBe(grpc.status.OK);
      expect(n).toBe(STREAM_COUNT);
      expect(bad).toBe(0);
    });

    it('bidi streaming: a burst written at once comes back complete and in order', async () => {
      const client = clientFor(HOST);
      const call = client.Bidi(new grpc.Metadata(), callOptions());
      const got: Msg[] = [];
      call.on('data', (m: Msg) => got.push(m));
      const status = new Promise<grpc.StatusObject>((resolve) => {
        call.on('error', () => undefined);
        call.on('status', resolve);
      });
      for (let i = 0; i < STREAM_COUNT; i++) call.write({ i });
      call.end();
      const s = await status;
      expect(s.code).toBe(grpc.status.OK);
      expect(got.map((m) => m.reply)).toEqual(Array.from({ length: STREAM_COUNT }, (_, i) => i));
    });
  });

  describe('cancellation', () => {
    it('a client cancelling a call cancels the upstream call; the record says DC', async () => {
      const client = clientFor(HOST);
      const cancelledBefore = log.slowCancelled;
      const callsBefore = log.calls.get('Slow') ?? 0;
      const mark = records.length;
      const call = client.Slow({}, new grpc.Metadata(), callOptions(), () => undefined);
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      // Cancel once the server has the call.
      await expect.poll(() => log.calls.get('Slow') ?? 0, { timeout: 2000 }).toBe(callsBefore + 1);
      call.cancel();
      expect((await status).code).toBe(grpc.status.CANCELLED);
      await expect.poll(() => log.slowCancelled, { timeout: 2000 }).toBe(cancelledBefore + 1);
      const rec = await recordOf(mark, HOST, 'Slow');
      expect(rec.hasFlag('DC')).toBe(true);
      expect(rec.details).toBe('downstream_remote_disconnect');
    });
  });

  describe('server error statuses arrive unchanged', () => {
    it('a trailers-only NOT_FOUND with details and metadata', async () => {
      const client = clientFor(HOST);
      const mark = records.length;
      const r = await unary(client, 'Fail', {});
      expect(r.err).not.toBeNull();
      expect(r.status).toMatchObject({ code: grpc.status.NOT_FOUND, details: FAIL_DETAILS });
      expect(r.status.metadata.get('x-why')).toEqual(['missing']);
      const rec = await recordOf(mark, HOST, 'Fail');
      expect(rec.responseCode).toBe(200);
      expect(rec.details).toBe('via_upstream');
      expect(rec.flagString).toBe('-');
      // Read from the trailers-only response's headers.
      expect(rec.grpcStatus).toBe('5');
    });

    it('a NOT_FOUND after initial metadata: headers first, then the status in real trailers', async () => {
      const client = clientFor(HOST);
      const mark = records.length;
      const r = await unary(client, 'FailAfterHeaders', {});
      expect((await recordOf(mark, HOST, 'FailAfterHeaders')).grpcStatus).toBe('5');
      expect(r.status.code).toBe(grpc.status.NOT_FOUND);
      expect(r.status.details).toBe(FAIL_DETAILS);
      expect(r.headers!.get('x-init')).toEqual(['before-failure']);
      expect(r.status.metadata.get('x-why')).toEqual(['missing-later']);
    });
  });

  describe("the gateway's own answers are gRPC statuses (Envoy's trailers-only local replies)", () => {
    it("a client's grpc-timeout shorter than the route timeout is the timeout (Istio sets max_grpc_timeout to the route timeout)", async () => {
      // A bare HTTP/2 client: grpc-js would enforce its deadline itself, hiding the gateway's.
      const session = http2.connect(`http://127.0.0.1:${gw.port(80)}`);
      try {
        const mark = records.length;
        const payload = serialize({});
        const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, payload.length]), payload]);
        const req = session.request({ ':method': 'POST', ':path': `${SERVICE_PATH}/Slow`, ':authority': HOST, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '200m' });
        req.end(frame);
        const head = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          req.on('response', resolve);
          req.on('error', reject);
        });
        req.resume();
        expect(head[':status']).toBe(200);
        expect(head['grpc-status']).toBe('14');
        expect(head['grpc-message']).toBe('upstream request timeout');
        const rec = await recordOf(mark, HOST, 'Slow');
        expect(rec.flagString).toBe('UT');
      } finally {
        session.close();
      }
    });

    it('no route: UNIMPLEMENTED (404 → 12), flag NR, nothing forwarded', async () => {
      const client = clientFor(NO_ROUTE_HOST);
      const before = log.calls.get('Unary') ?? 0;
      const mark = records.length;
      const r = await unary(client, 'Unary', { x: 1 });
      expect(r.status.code).toBe(grpc.status.UNIMPLEMENTED);
      // Envoy's route_not_found reply has no body, so no grpc-message.
      expect(r.status.details).toBe('');
      expect(log.calls.get('Unary') ?? 0).toBe(before);
      const rec = await recordOf(mark, NO_ROUTE_HOST, 'Unary');
      expect(rec.responseCode).toBe(200);
      expect(rec.grpcStatus).toBe('12');
      expect(rec.details).toBe('route_not_found');
      expect(rec.flagString).toBe('NR');
    });

    it('no endpoint (STATIC ServiceEntry without endpoints): UNAVAILABLE `no healthy upstream`, flag UH', async () => {
      const client = clientFor(EMPTY_HOST);
      const mark = records.length;
      const r = await unary(client, 'Unary', {});
      expect(r.status.code).toBe(grpc.status.UNAVAILABLE);
      expect(r.status.details).toBe('no healthy upstream');
      const rec = await recordOf(mark, EMPTY_HOST, 'Unary');
      expect(rec.responseCode).toBe(200);
      expect(rec.grpcStatus).toBe('14');
      expect(rec.details).toBe('no_healthy_upstream');
      expect(rec.flagString).toBe('UH');
    });

    it('a dead endpoint: UNAVAILABLE with the connect failure as message, flag UF', async () => {
      const client = clientFor(DEAD_HOST);
      const mark = records.length;
      const r = await unary(client, 'Unary', {});
      expect(r.status.code).toBe(grpc.status.UNAVAILABLE);
      // Envoy appends the transport failure on Linux: ", transport failure reason: delayed connect error: 111".
      expect(r.status.details).toMatch(/^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure(, transport failure reason: delayed connect error: 111)?$/);
      const rec = await recordOf(mark, DEAD_HOST, 'Unary');
      expect(rec.responseCode).toBe(200);
      expect(rec.grpcStatus).toBe('14');
      expect(rec.details).toBe('upstream_reset_before_response_started{connection_failure}');
      expect(rec.flagString).toBe('UF');
    });

    it('route timeout (`timeout: 0.3s`) on a slow method: UNAVAILABLE `upstream request timeout`, flag UT, the upstream call cancelled', async () => {
      const client = clientFor(TIMEOUT_HOST);
      const before = log.calls.get('Slow') ?? 0;
      const cancelledBefore = log.slowCancelled;
      const mark = records.length;
      const r = await unary(client, 'Slow', {});
      expect(r.status.code).toBe(grpc.status.UNAVAILABLE);
      expect(r.status.details).toBe('upstream request timeout');
      expect(log.calls.get('Slow')).toBe(before + 1);
      const rec = await recordOf(mark, TIMEOUT_HOST, 'Slow');
      expect(rec.responseCode).toBe(200);
      expect(rec.grpcStatus).toBe('14');
      expect(rec.details).toBe('upstream_response_timeout');
      expect(rec.flagString).toBe('UT');
      // The gateway reset its upstream stream: the server sees the call cancelled.
      await expect.poll(() => log.slowCancelled, { timeout: 2000 }).toBe(cancelledBefore + 1);
    });

    it('fault abort `grpcStatus: UNAVAILABLE`: UNAVAILABLE `fault filter abort`, flag FI, nothing forwarded', async () => {
      const client = clientFor(ABORT_GRPC_HOST);
      const before = log.calls.get('Unary') ?? 0;
      const mark = records.length;
      const r = await unary(client, 'Unary', {});
      expect(r.status.code).toBe(grpc.status.UNAVAILABLE);
      expect(r.status.details).toBe('fault filter abort');
      expect(log.calls.get('Unary') ?? 0).toBe(before);
      const rec = await recordOf(mark, ABORT_GRPC_HOST, 'Unary');
      expect(rec.responseCode).toBe(200);
      expect(rec.grpcStatus).toBe('14');
      expect(rec.details).toBe('fault_filter_abort');
      expect(rec.flagString).toBe('FI');
    });

    it('fault abort `httpStatus: 403` to a gRPC request: PERMISSION_DENIED (7) `fault filter abort`, flag FI', async () => {
      const client = clientFor(ABORT_HTTP_HOST);
      const before = log.calls.get('Unary') ?? 0;
      const mark = records.length;
      const r = await unary(client, 'Unary', {});
      expect(r.status.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(r.status.details).toBe('fault filter abort');
      expect(log.calls.get('Unary') ?? 0).toBe(before);
      const rec = await recordOf(mark, ABORT_HTTP_HOST, 'Unary');
      expect(rec.responseCode).toBe(200);
      expect(rec.grpcStatus).toBe('7');
      expect(rec.details).toBe('fault_filter_abort');
      expect(rec.flagString).toBe('FI');
    });
  });

  describe('gRPC-aware retries (retryOn reads grpc-status)', () => {
    it('`retries: {attempts: 2, retryOn: unavailable}`: an UNAVAILABLE first call is retried, the client gets OK', async () => {
      const client = clientFor(RETRY_HOST);
      const mark = records.length;
      const r = await unary(client, 'Flaky', { key: 'with-retry' });
      expect(r.err).toBeNull();
      expect(r.status.code).toBe(grpc.status.OK);
      expect(r.res).toEqual({ key: 'with-retry', call: 2 });
      expect(log.flaky.get('with-retry')).toBe(2);
      // Envoy's x-envoy-attempt-count upstream: 1, then 2 on the retry.
      expect(log.flakyAttemptCounts.filter((c) => c.startsWith('with-retry:'))).toEqual(['with-retry:1', 'with-retry:2']);
      const rec = await recordOf(mark, RETRY_HOST, 'Flaky');
      expect(rec.attempts).toBe(2);
      expect(rec.details).toBe('via_upstream');
      expect(rec.flagString).toBe('-');
    });

    it('without retries the client gets the UNAVAILABLE of the first call', async () => {
      const client = clientFor(HOST);
      const r = await unary(client, 'Flaky', { key: 'no-retry' });
      expect(r.status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'not yet (no-retry call 1)' });
      expect(log.flaky.get('no-retry')).toBe(1);
    });

    it('retries exhausted: the last UNAVAILABLE reaches the client after 1 + 2 calls, flag URX', async () => {
      const client = clientFor(RETRY_HOST);
      const mark = records.length;
      const r = await unary(client, 'Flaky', { key: 'always-down' });
      expect(r.status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'not yet (always-down call 3)' });
      expect(log.flaky.get('always-down')).toBe(3);
      const rec = await recordOf(mark, RETRY_HOST, 'Flaky');
      expect(rec.attempts).toBe(3);
      expect(rec.responseCode).toBe(200);
      expect(rec.details).toBe('via_upstream');
      expect(rec.flagString).toBe('URX');
    });

    it('a status not in retryOn (NOT_FOUND) is not retried', async () => {
      const client = clientFor(RETRY_HOST);
      const before = log.calls.get('Fail') ?? 0;
      const r = await unary(client, 'Fail', {});
      expect(r.status.code).toBe(grpc.status.NOT_FOUND);
      expect(log.calls.get('Fail')).toBe(before + 1);
    });
  });
});
