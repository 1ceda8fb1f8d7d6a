import { describe, expect, it } from 'vitest';
import { compile, DEFAULT_ROUTE_TIMEOUT_MS } from '../../../src/compile/compile.js';
import type { Route } from '../../../src/compile/snapshot.js';
import { parseConfigTexts } from '../../../src/config/load.js';
import { compileRoutes } from '../../helpers/compile.js';

// How HTTPRoute `timeout`, `retries` (Istio's HTTPRetry) and `fault` (HTTPFaultInjection)
// compile into the route the data plane runs. Istio's translation (pilot retry.ConvertPolicy,
// route translateFault) is the reference: `attempts` is Envoy's num_retries, integers in
// `retryOn` are retriable status codes, and an unset retryOn means Istio's default policy.

const HOST = 'app.example.com';

/** Compiles one VirtualService whose `http` routes are given (each matching its own /rN prefix). */
function routes(...http: object[]): Route[] {
  return compileRoutes(HOST, http.map((h, i) => ({ match: [{ uri: { prefix: `/r${i}` } }], ...h })));
}

const one = (http: object): Route => routes(http)[0]!;

/** Validation problems (errors) for a VirtualService with these `http` fields. */
function errorsFor(http: object): string[] {
  const text = JSON.stringify({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'app', namespace: 'default' },
    spec: { hosts: [HOST], http: [{ route: [{ destination: { host: 'backend.test' } }], ...http }] },
  });
  const { problems } = parseConfigTexts([{ file: 'vs.yaml', text }], { defaultNamespace: 'default' });
  return problems.filter((p) => p.severity === 'error').map((p) => `${p.field ?? ''}: ${p.message}`);
}

describe('route timeout', () => {
  it('defaults to 15 s, and a duration is kept as written', () => {
    expect(DEFAULT_ROUTE_TIMEOUT_MS).toBe(15_000);
    expect(routes({}, { timeout: '250ms' }, { timeout: '1.5s' }, { timeout: '1m' }).map((r) => r.timeoutMs)).toEqual([15_000, 250, 1500, 60_000]);
  });

  it('refuses 0s, as Istio does (a duration under 1ms)', () => {
    expect(errorsFor({ timeout: '0s' })).not.toEqual([]);
  });

  it('refuses a timeout that is not a duration', () => {
    expect(errorsFor({ timeout: 'soon' })).not.toEqual([]);
  });
});

describe('retries', () => {
  it('has no retry policy unless the route sets retries', () => {
    expect(one({}).retry).toBeNull();
  });

  it('has no retry policy for `attempts: 0` (Istio: explicitly disabled), nor for an empty retries block', () => {
    expect(one({ retries: { attempts: 0 } }).retry).toBeNull();
    expect(one({ retries: {} }).retry).toBeNull();
  });

  it('refuses retryOn or perTryTimeout with `attempts: 0` (or none), as Istio\'s webhook does', () => {
    for (const retries of [{ attempts: 0, retryOn: '5xx' }, { perTryTimeout: '1s' }]) {
      expect(errorsFor({ retries })).toEqual(['spec.http[0].retries.attempts: http retry policy configured when attempts are set to 0 (disabled)']);
    }
  });

  it('takes `attempts` as the number of retries after the first try', () => {
    expect(one({ retries: { attempts: 2, retryOn: '5xx' } }).retry!.retries).toBe(2);
    expect(one({ retries: { attempts: 1 } }).retry!.retries).toBe(1);
  });

  it('uses Istio\'s default conditions when only attempts is set: connect-failure, refused-stream, retriable-status-codes 503', () => {
    expect(one({ retries: { attempts: 3 } }).retry).toMatchObject({
      retries: 3,
      perTryTimeoutMs: 0,
      on5xx: false,
      onGatewayError: false,
      onReset: false,
      onConnectFailure: true,
      onRefusedStream: true,
      onRetriable4xx: false,
      statusCodes: [503],
    });
  });

  it('treats an empty retryOn like an unset one (Istio only parses a non-empty retryOn)', () => {
    expect(one({ retries: { attempts: 1, retryOn: '' } }).retry).toMatchObject({ onConnectFailure: true, onRefusedStream: true, statusCodes: [503] });
  });

  it('retryOn written out as Istio\'s default text brings its own (no) bare codes, not the default 503; routes sharing a retryOn each get it', () => {
    const written = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
    expect(one({ retries: { attempts: 1, retryOn: written } }).retry).toMatchObject({ onConnectFailure: true, onRefusedStream: true, statusCodes: [], grpcCodes: [14, 1] });
    expect(one({ retries: { attempts: 1 } }).retry).toMatchObject({ onConnectFailure: true, statusCodes: [503], grpcCodes: [14, 1] });
    expect(one({ retries: { attempts: 2, retryOn: '503,5xx' } }).retry).toMatchObject({ retries: 2, on5xx: true, statusCodes: [503] });
    expect(one({ retries: { attempts: 4, retryOn: '503,5xx' } }).retry).toMatchObject({ retries: 4, on5xx: true, statusCodes: [503] });
  });

  it('reads each Envoy condition of retryOn, and nothing it does not name', () => {
    expect(one({ retries: { attempts: 1, retryOn: '5xx' } }).retry).toMatchObject({ on5xx: true, onGatewayError: false, onReset: false, onConnectFailure: false, onRetriable4xx: false, statusCodes: [] });
    expect(one({ retries: { attempts: 1, retryOn: 'gateway-error' } }).retry).toMatchObject({ on5xx: false, onGatewayError: true, onConnectFailure: false, statusCodes: [] });
    expect(one({ retries: { attempts: 1, retryOn: 'reset' } }).retry).toMatchObject({ onReset: true, on5xx: false, onGatewayError: false });
    expect(one({ retries: { attempts: 1, retryOn: 'connect-failure' } }).retry).toMatchObject({ onConnectFailure: true, onReset: false, on5xx: false });
    expect(one({ retries: { attempts: 1, retryOn: 'retriable-4xx' } }).retry).toMatchObject({ onRetriable4xx: true, on5xx: false, statusCodes: [] });
    expect(one({ retries: { attempts: 1, retryOn: 'refused-stream' } }).retry).toMatchObject({ onRefusedStream: true, onConnectFailure: false });
  });

  it('refuses spaces around the commas of retryOn, as Istio does', () => {
    expect(errorsFor({ retries: { attempts: 3, retryOn: 'gateway-error, connect-failure' } })).toEqual(['spec.http[0].retries.retryOn: " connect-failure" is not a valid retryOn policy']);
  });

  it('reads a list of conditions', () => {
    expect(one({ retries: { attempts: 3, retryOn: 'gateway-error,connect-failure,refused-stream' } }).retry).toMatchObject({
      onGatewayError: true,
      onConnectFailure: true,
      onRefusedStream: true,
      on5xx: false,
      onReset: false,
      statusCodes: [],
    });
  });

  it('takes bare integers in retryOn as retriable status codes, with or without `retriable-status-codes`', () => {
    expect(one({ retries: { attempts: 1, retryOn: '503,504' } }).retry!.statusCodes).toEqual([503, 504]);
    expect(one({ retries: { attempts: 1, retryOn: 'retriable-status-codes,418' } }).retry!.statusCodes).toEqual([418]);
    expect(one({ retries: { attempts: 1, retryOn: '503,reset' } }).retry).toMatchObject({ statusCodes: [503], onReset: true, on5xx: false });
  });

  it('retries no status for `retriable-status-codes` without codes (Istio replaces the default 503 with the codes given)', () => {
    expect(one({ retries: { attempts: 1, retryOn: 'retriable-status-codes' } }).retry!.statusCodes).toEqual([]);
    expect(one({ retries: { attempts: 1, retryOn: 'connect-failure,retriable-status-codes' } }).retry!.statusCodes).toEqual([]);
  });

  it('reads perTryTimeout as milliseconds; unset means none (the route timeout bounds every try)', () => {
    expect(one({ retries: { attempts: 2, perTryTimeout: '200ms' } }).retry!.perTryTimeoutMs).toBe(200);
    expect(one({ retries: { attempts: 2, perTryTimeout: '2s' } }).retry!.perTryTimeoutMs).toBe(2000);
    expect(one({ retries: { attempts: 2 } }).retry!.perTryTimeoutMs).toBe(0);
  });

  it('backs off from Envoy\'s 25 ms base interval, or the route\'s retries.backoff', () => {
    expect(one({ retries: { attempts: 2 } }).retry!.backoffBaseMs).toBe(25);
    expect(one({ retries: { attempts: 2, backoff: '100ms' } }).retry!.backoffBaseMs).toBe(100);
  });

  it('compiles retries per route, independently', () => {
    const [a, b, c] = routes({ retries: { attempts: 1, retryOn: '5xx' } }, {}, { retries: { attempts: 4, retryOn: '409' } });
    expect(a!.retry).toMatchObject({ retries: 1, on5xx: true });
    expect(b!.retry).toBeNull();
    expect(c!.retry).toMatchObject({ retries: 4, on5xx: false, statusCodes: [409] });
  });

  it('refuses an unknown retry condition, a negative attempts and a perTryTimeout under 1 ms', () => {
    expect(errorsFor({ retries: { attempts: 1, retryOn: '5xx,sometimes' } }).join('\n')).toContain('sometimes');
    expect(errorsFor({ retries: { attempts: -1 } })).not.toEqual([]);
    expect(errorsFor({ retries: { attempts: 1, perTryTimeout: '0s' } })).not.toEqual([]);
  });
});

describe('fault injection', () => {
  it('has no fault policy unless the route sets fault', () => {
    expect(one({}).fault).toBeNull();
  });

  it('reads an abort: status and percentage', () => {
    expect(one({ fault: { abort: { httpStatus: 503, percentage: { value: 50 } } } }).fault).toEqual({ delayMs: 0, delayPercent: 0, abortStatus: 503, abortPercent: 50 });
    expect(one({ fault: { abort: { httpStatus: 400, percentage: { value: 0.1 } } } }).fault!.abortPercent).toBe(0.1);
  });

  it('reads a delay: fixedDelay and percentage, or the deprecated integer percent', () => {
    expect(one({ fault: { delay: { fixedDelay: '5s', percentage: { value: 100 } } } }).fault).toEqual({ delayMs: 5000, delayPercent: 100, abortStatus: 0, abortPercent: 0 });
    expect(one({ fault: { delay: { fixedDelay: '300ms', percent: 30 } } }).fault).toMatchObject({ delayMs: 300, delayPercent: 30 });
  });

  it('applies a delay or abort without percentage to no request (Istio: "If left unspecified, no request will be delayed"; "If not specified, no request will be aborted")', () => {
    expect(one({ fault: { delay: { fixedDelay: '5s' } } }).fault).toMatchObject({ delayMs: 5000, delayPercent: 0 });
    expect(one({ fault: { abort: { httpStatus: 500 } } }).fault).toMatchObject({ abortStatus: 500, abortPercent: 0 });
  });

  it('reads delay and abort together', () => {
    expect(one({ fault: { delay: { fixedDelay: '1s', percentage: { value: 10 } }, abort: { httpStatus: 418, percentage: { value: 20 } } } }).fault).toEqual({
      delayMs: 1000,
      delayPercent: 10,
      abortStatus: 418,
      abortPercent: 20,
    });
  });

  it('refuses an abort status outside 200-599, a percentage over 100 and a delay without fixedDelay', () => {
    expect(errorsFor({ fault: { abort: { httpStatus: 600, percentage: { value: 100 } } } })).not.toEqual([]);
    expect(errorsFor({ fault: { abort: { httpStatus: 503, percentage: { value: 101 } } } })).not.toEqual([]);
    expect(errorsFor({ fault: { delay: { percentage: { value: 100 } } } })).not.toEqual([]);
  });
});
