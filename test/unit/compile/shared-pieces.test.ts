import { describe, expect, it } from 'vitest';
import { compileRoutes } from '../../helpers/compile.js';

// Routes that write the same retries, rewrite or header edits share one compiled (read-only)
// piece; routes that write different ones each get their own, with their own values.
describe('compiled route pieces shared between routes that write the same', () => {
  const retries = { attempts: 2, perTryTimeout: '2s', retryOn: '5xx,reset' };
  const headers = { request: { set: { 'X-Route': 'a' } }, response: { remove: ['X-Internal'] } };
  const routes = compileRoutes('shared.test', [
    { name: 'one', match: [{ uri: { prefix: '/one' } }], retries, headers, rewrite: { uri: '/v1/' } },
    { name: 'two', match: [{ uri: { prefix: '/two' } }], retries: { ...retries }, headers: structuredClone(headers), rewrite: { uri: '/v1/' } },
    { name: 'three', match: [{ uri: { prefix: '/three' } }], retries: { ...retries, attempts: 3 }, headers: { request: { set: { 'X-Route': 'b' } } }, rewrite: { uri: '/v2/' } },
    { name: 'four', match: [{ uri: { prefix: '/four' } }], retries: { ...retries, retryOn: '5xx' }, headers: { request: { add: { 'X-Route': 'a' } } }, rewrite: { uri: '/v1/', authority: 'b.test' } },
  ]);
  const [one, two, three, four] = routes;

  it('the same retries, rewrite and header edits: one piece each', () => {
    expect(two!.retry).toBe(one!.retry);
    expect(two!.rewrite).toBe(one!.rewrite);
    expect(two!.requestHeaders).toBe(one!.requestHeaders);
    expect(two!.responseHeaders).toBe(one!.responseHeaders);
  });

  it('different ones: pieces of their own, with their own values', () => {
    expect(three!.retry).toMatchObject({ retries: 3, perTryTimeoutMs: 2000, on5xx: true, onReset: true });
    expect(four!.retry).toMatchObject({ retries: 2, on5xx: true, onReset: false });
    expect(one!.retry).toMatchObject({ retries: 2, on5xx: true, onReset: true });
    expect(three!.rewrite).toEqual({ uri: '/v2/' });
    expect(four!.rewrite).toEqual({ uri: '/v1/', authority: 'b.test' });
    expect(one!.rewrite).toEqual({ uri: '/v1/' });
    expect(one!.requestHeaders).toEqual({ set: [['x-route', 'a']], add: [], remove: [] });
    expect(three!.requestHeaders).toEqual({ set: [['x-route', 'b']], add: [], remove: [] });
    expect(four!.requestHeaders).toEqual({ set: [], add: [['x-route', 'a']], remove: [] });
    expect(one!.responseHeaders).toEqual({ set: [], add: [], remove: ['x-internal'] });
    expect(three!.responseHeaders).toBeNull();
  });
});

describe('compiled route pieces: a field written with nothing under it is not an absent one', () => {
  it('retries with backoff and perTryTimeout written empty (null) do not share with retries that leave them out, either order', () => {
    const [nullFirst, absentSecond] = compileRoutes('null-first.test', [
      { name: 'n', match: [{ uri: { prefix: '/n' } }], retries: { attempts: 3, backoff: null, perTryTimeout: null } },
      { name: 'a', match: [{ uri: { prefix: '/a' } }], retries: { attempts: 3 } },
    ]);
    expect(absentSecond!.retry).toMatchObject({ retries: 3, backoffBaseMs: 25, perTryTimeoutMs: 0 });
    expect(nullFirst!.retry).not.toBe(absentSecond!.retry);
    const [absentFirst] = compileRoutes('absent-first.test', [{ name: 'a', match: [{ uri: { prefix: '/a' } }], retries: { attempts: 3 } }]);
    expect(absentFirst!.retry).toMatchObject({ retries: 3, backoffBaseMs: 25, perTryTimeoutMs: 0 });
  });
});
