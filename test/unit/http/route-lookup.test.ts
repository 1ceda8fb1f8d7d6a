import { describe, expect, it } from 'vitest';
import { stringMatcher } from '../../../src/compile/match.js';
import type { CompiledMatch, Route, RouteTable, VirtualHost } from '../../../src/compile/snapshot.js';
import { findRoute, findVirtualHost, matches, matchString, type RequestView } from '../../../src/http/route-lookup.js';

function vhost(domain: string, routes: Route[] = []): VirtualHost {
  return { domain, routes };
}

function table(exact: string[], wildcards: string[], any: boolean): RouteTable {
  return {
    name: 'http.80',
    exact: new Map(exact.map((d) => [d, vhost(d)])),
    // As compile() leaves them: longest suffix first.
    wildcards: wildcards
      .map((d) => ({ suffix: d.slice(1), vhost: vhost(d) }))
      .sort((a, b) => b.suffix.length - a.suffix.length),
    any: any ? vhost('*') : null,
  };
}

function view(opts: { method?: string; path?: string; query?: string; headers?: Record<string, string>; port?: number; scheme?: string } = {}): RequestView {
  return { method: opts.method ?? 'GET', headers: opts.headers ?? {}, path: opts.path ?? '/', rawQuery: opts.query ?? '', query: null, scheme: opts.scheme ?? 'http', port: opts.port ?? 80, authority: (opts.headers?.host as string | undefined) ?? '', matched: null };
}

function match(m: Partial<CompiledMatch>): CompiledMatch {
  return { uri: null, method: null, authority: null, scheme: null, headers: [], query: [], port: 0, ...m };
}

let nextIndex = 0;
function route(name: string, ms: CompiledMatch[] | null): Route {
  return {
    source: 'VirtualService default/test',
    index: nextIndex++,
    name,
    matches: ms,
    action: { type: 'forward', destinations: [{ cluster: `outbound|80||${name}`, host: name, port: 80, weight: 100, requestHeaders: null, responseHeaders: null }], totalWeight: 100 },
    timeoutMs: 15_000,
    rewrite: null,
    requestHeaders: null,
    responseHeaders: null,
    retry: null,
    fault: null,
    cors: null,
    mirrors: null,
    label: name,
    filters: [],
  };
}

describe('findVirtualHost', () => {
  const t = table(['a.example.com', 'example.com'], ['*.example.com', '*.deep.example.com', '*.com'], true);

  it('an exact host beats every wildcard', () => {
    expect(findVirtualHost(t, 'a.example.com')?.domain).toBe('a.example.com');
    expect(findVirtualHost(t, 'example.com')?.domain).toBe('example.com');
  });

  it('the longest matching wildcard suffix wins', () => {
    expect(findVirtualHost(t, 'x.deep.example.com')?.domain).toBe('*.deep.example.com');
    expect(findVirtualHost(t, 'y.x.deep.example.com')?.domain).toBe('*.deep.example.com');
    expect(findVirtualHost(t, 'b.example.com')?.domain).toBe('*.example.com');
    expect(findVirtualHost(t, 'deep.example.com')?.domain).toBe('*.example.com');
    expect(findVirtualHost(t, 'other.com')?.domain).toBe('*.com');
  });

  it('`*` is the last resort', () => {
    expect(findVirtualHost(t, 'example.org')?.domain).toBe('*');
    expect(findVirtualHost(t, 'localhost')?.domain).toBe('*');
  });

  it('`*.example.com` matches one or more labels but not example.com itself', () => {
    const w = table([], ['*.example.com'], false);
    expect(findVirtualHost(w, 'a.example.com')?.domain).toBe('*.example.com');
    expect(findVirtualHost(w, 'a.b.example.com')?.domain).toBe('*.example.com');
    expect(findVirtualHost(w, 'example.com')).toBeNull();
    expect(findVirtualHost(w, 'badexample.com')).toBeNull();
  });

  it('null when nothing matches and there is no `*`', () => {
    const w = table(['a.example.com'], [], false);
    expect(findVirtualHost(w, 'b.example.com')).toBeNull();
    expect(findVirtualHost(table([], [], false), 'a.example.com')).toBeNull();
  });
});

describe('matchString', () => {
  it('exact', () => {
    const m = stringMatcher({ exact: '/a' });
    expect(matchString(m, '/a')).toBe(true);
    expect(matchString(m, '/a/')).toBe(false);
    expect(matchString(m, '/A')).toBe(false);
    expect(matchString(m, undefined)).toBe(false);
  });

  it('prefix', () => {
    const m = stringMatcher({ prefix: '/api' });
    expect(matchString(m, '/api')).toBe(true);
    expect(matchString(m, '/api/v1')).toBe(true);
    expect(matchString(m, '/apiary')).toBe(true);
    expect(matchString(m, '/ap')).toBe(false);
    expect(matchString(m, '/x/api')).toBe(false);
    expect(matchString(m, undefined)).toBe(false);
  });

  it('regex is a full match', () => {
    const m = stringMatcher({ regex: '/a.c' });
    expect(matchString(m, '/abc')).toBe(true);
    expect(matchString(m, '/abcd')).toBe(false);
    expect(matchString(m, 'x/abc')).toBe(false);
    expect(matchString(m, undefined)).toBe(false);
  });

  it('an empty StringMatch means present: any value, even empty, but not absent', () => {
    const m = stringMatcher({});
    expect(matchString(m, 'anything')).toBe(true);
    expect(matchString(m, '')).toBe(true);
    expect(matchString(m, undefined)).toBe(false);
  });

  it('case-insensitive (ignoreUriCase) exact, prefix and regex', () => {
    expect(matchString(stringMatcher({ exact: '/Caseless' }, true), '/CASELESS')).toBe(true);
    expect(matchString(stringMatcher({ exact: '/Caseless' }, true), '/caseless2')).toBe(false);
    expect(matchString(stringMatcher({ prefix: '/Pre' }, true), '/pREfix')).toBe(true);
    expect(matchString(stringMatcher({ prefix: '/Pre' }, true), '/pxe')).toBe(false);
    expect(matchString(stringMatcher({ regex: '/r[a-z]+' }, true), '/RABC')).toBe(true);
    expect(matchString(stringMatcher({ regex: '/r[a-z]+' }, true), '/R123')).toBe(false);
    expect(matchString(stringMatcher({ exact: '/Caseless' }), '/CASELESS')).toBe(false);
  });
});

describe('matches: the fields of one match are ANDed', () => {
  it('uri', () => {
    const m = match({ uri: stringMatcher({ prefix: '/api' }) });
    expect(matches(m, view({ path: '/api/x' }))).toBe(true);
    expect(matches(m, view({ path: '/web' }))).toBe(false);
  });

  it('the uri is matched without the query string', () => {
    const m = match({ uri: stringMatcher({ exact: '/search' }) });
    expect(matches(m, view({ path: '/search', query: 'q=1' }))).toBe(true);
  });

  it('method', () => {
    const m = match({ method: stringMatcher({ exact: 'POST' }) });
    expect(matches(m, view({ method: 'POST' }))).toBe(true);
    expect(matches(m, view({ method: 'GET' }))).toBe(false);
  });

  it('authority', () => {
    const m = match({ authority: stringMatcher({ prefix: 'api.' }) });
    expect(matches(m, view({ headers: { host: 'api.example.com' } }))).toBe(true);
    expect(matches(m, view({ headers: { host: 'www.example.com' } }))).toBe(false);
  });

  it('scheme', () => {
    const m = match({ scheme: stringMatcher({ exact: 'http' }) });
    expect(matches(m, view({ scheme: 'http' }))).toBe(true);
    expect(matches(m, view({ scheme: 'https' }))).toBe(false);
  });

  it('headers: exact, prefix, regex and present', () => {
    const m = match({
      headers: [
        { name: 'x-exact', m: stringMatcher({ exact: 'yes' }), invert: false },
        { name: 'x-prefix', m: stringMatcher({ prefix: 'pre' }), invert: false },
        { name: 'x-regex', m: stringMatcher({ regex: 'v[0-9]+' }), invert: false },
        { name: 'x-present', m: stringMatcher({}), invert: false },
      ],
    });
    const ok = { 'x-exact': 'yes', 'x-prefix': 'prefix', 'x-regex': 'v12', 'x-present': '' };
    expect(matches(m, view({ headers: ok }))).toBe(true);
    expect(matches(m, view({ headers: { ...ok, 'x-exact': 'yes!' } }))).toBe(false);
    expect(matches(m, view({ headers: { ...ok, 'x-prefix': 'xpre' } }))).toBe(false);
    expect(matches(m, view({ headers: { ...ok, 'x-regex': 'v12a' } }))).toBe(false);
    const { 'x-present': _gone, ...noPresent } = ok;
    expect(matches(m, view({ headers: noPresent }))).toBe(false);
  });

  it('withoutHeaders: matches when the header is absent or does not match', () => {
    const m = match({ headers: [{ name: 'x-block', m: stringMatcher({ exact: 'yes' }), invert: true }] });
    expect(matches(m, view())).toBe(true);
    expect(matches(m, view({ headers: { 'x-block': 'no' } }))).toBe(true);
    expect(matches(m, view({ headers: { 'x-block': 'yes' } }))).toBe(false);
  });

  it('queryParams: exact and regex, parsed from the raw query', () => {
    const m = match({ query: [{ name: 'version', m: stringMatcher({ exact: 'v2' }) }, { name: 'id', m: stringMatcher({ regex: '[0-9]+' }) }] });
    expect(matches(m, view({ query: 'version=v2&id=42' }))).toBe(true);
    expect(matches(m, view({ query: 'id=42&version=v2&x=1' }))).toBe(true);
    expect(matches(m, view({ query: 'version=v22&id=42' }))).toBe(false);
    expect(matches(m, view({ query: 'version=v2&id=4x' }))).toBe(false);
    expect(matches(m, view({ query: 'id=42' }))).toBe(false);
    expect(matches(m, view({ query: '' }))).toBe(false);
  });

  it('queryParams are compared as sent, not percent-decoded (Envoy parses the query without decoding)', () => {
    const m = match({ query: [{ name: 'version', m: stringMatcher({ exact: 'v2' }) }] });
    expect(matches(m, view({ query: 'version=v2' }))).toBe(true);
    expect(matches(m, view({ query: 'version=v%32' }))).toBe(false);
    const spaced = match({ query: [{ name: 'q', m: stringMatcher({ exact: 'a+b' }) }] });
    expect(matches(spaced, view({ query: 'q=a+b' }))).toBe(true);
  });

  it('port: 0 is any port, otherwise the listener port must be equal', () => {
    expect(matches(match({ port: 8080 }), view({ port: 8080 }))).toBe(true);
    expect(matches(match({ port: 8080 }), view({ port: 80 }))).toBe(false);
    expect(matches(match({ port: 0 }), view({ port: 80 }))).toBe(true);
  });

  it('every field must hold', () => {
    const m = match({ uri: stringMatcher({ exact: '/and' }), headers: [{ name: 'x-and', m: stringMatcher({ exact: '1' }), invert: false }] });
    expect(matches(m, view({ path: '/and', headers: { 'x-and': '1' } }))).toBe(true);
    expect(matches(m, view({ path: '/and' }))).toBe(false);
    expect(matches(m, view({ path: '/other', headers: { 'x-and': '1' } }))).toBe(false);
  });

  it('an empty match matches everything', () => {
    expect(matches(match({}), view({ path: '/anything', method: 'DELETE' }))).toBe(true);
  });
});

describe('findRoute', () => {
  const first = route('first', [match({ uri: stringMatcher({ prefix: '/first' }) })]);
  const shadowed = route('shadowed', [match({ uri: stringMatcher({ prefix: '/first/second' }) })]);
  const either = route('either', [match({ uri: stringMatcher({ exact: '/or-a' }) }), match({ uri: stringMatcher({ exact: '/or-b' }) })]);
  const post = route('post', [match({ uri: stringMatcher({ prefix: '/api' }), method: stringMatcher({ exact: 'POST' }) })]);
  const api = route('api', [match({ uri: stringMatcher({ prefix: '/api' }) })]);
  const host = vhost('a.example.com', [first, shadowed, either, post, api]);

  it('the first route whose conditions hold wins', () => {
    expect(findRoute(host, view({ path: '/first/second' }))?.name).toBe('first');
    expect(findRoute(host, view({ path: '/api/x', method: 'POST' }))?.name).toBe('post');
    expect(findRoute(host, view({ path: '/api/x', method: 'GET' }))?.name).toBe('api');
  });

  it('several match entries are ORed', () => {
    expect(findRoute(host, view({ path: '/or-a' }))?.name).toBe('either');
    expect(findRoute(host, view({ path: '/or-b' }))?.name).toBe('either');
    expect(findRoute(host, view({ path: '/or-c' }))).toBeNull();
  });

  it('null when no route matches', () => {
    expect(findRoute(host, view({ path: '/nothing' }))).toBeNull();
    expect(findRoute(vhost('empty'), view())).toBeNull();
  });

  it('a route without match conditions matches everything, in its place in the order', () => {
    const h = vhost('b.example.com', [route('specific', [match({ uri: stringMatcher({ exact: '/x' }) })]), route('catch-all', null), route('never', null)]);
    expect(findRoute(h, view({ path: '/x' }))?.name).toBe('specific');
    expect(findRoute(h, view({ path: '/y' }))?.name).toBe('catch-all');
  });
});
