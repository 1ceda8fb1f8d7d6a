import { describe, expect, it } from 'vitest';
import { compileRoutes as compileRoutesFor } from '../../helpers/compile.js';
import type { Redirect, Route } from '../../../src/compile/snapshot.js';
import { redirectLocation } from '../../../src/http/filters/redirect.js';
import { rewritePath } from '../../../src/http/rewrite.js';

// The two pure pieces behind VirtualService `redirect` and `rewrite`. The reference is what an
// Istio gateway answers: Istio's ApplyRedirect (pilot route.go) turns the redirect into Envoy's
// RedirectAction (a port equal to the scheme's default is not written; FROM_REQUEST_PORT is the
// Gateway port; FROM_PROTOCOL_DEFAULT sets no port), and Envoy's newUri builds the Location.
// `rewrite.uri` is Envoy's prefix_rewrite, `uriRegexRewrite` its regex_rewrite (RE2, all matches).

const H = 'shop.example.com';

/** Location for a GET of `path?query` with this Host on a listener of `scheme` and Gateway `port`. */
function loc(r: Partial<Redirect>, opts: { host?: string; path?: string; query?: string; scheme?: string; port?: number } = {}): string {
  return redirectLocation({ code: 301, ...r }, opts.scheme ?? 'http', opts.host ?? H, opts.path ?? '/p', opts.query ?? '', opts.port ?? 80);
}

describe('redirectLocation', () => {
  it('keeps scheme, Host and path when only the code is set', () => {
    expect(loc({}, { path: '/a/b', query: 'x=1' })).toBe(`http://${H}/a/b?x=1`);
    expect(loc({}, { host: `${H}:8000` })).toBe(`http://${H}:8000/p`);
  });

  it('uri replaces the whole path; the request query follows unless uri has its own', () => {
    expect(loc({ uri: '/new' }, { path: '/old/deep', query: 'a=1&b=2' })).toBe(`http://${H}/new?a=1&b=2`);
    expect(loc({ uri: '/new?mine=1' }, { query: 'a=1' })).toBe(`http://${H}/new?mine=1`);
    expect(loc({ uri: '/new' })).toBe(`http://${H}/new`);
    // Envoy puts a missing leading slash back.
    expect(loc({ uri: 'relative' })).toBe(`http://${H}/relative`);
  });

  it('authority replaces the Host, its port included', () => {
    expect(loc({ authority: 'other.example.com' }, { host: `${H}:8000` })).toBe('http://other.example.com/p');
    expect(loc({ authority: 'other.example.com', port: 8443 })).toBe('http://other.example.com:8443/p');
  });

  it('scheme: the Host keeps its port unless it was the default port of the old scheme', () => {
    expect(loc({ scheme: 'https' })).toBe(`https://${H}/p`);
    expect(loc({ scheme: 'https' }, { host: `${H}:80` })).toBe(`https://${H}/p`);
    expect(loc({ scheme: 'https' }, { host: `${H}:8080` })).toBe(`https://${H}:8080/p`);
    expect(loc({ scheme: 'http' }, { scheme: 'https', host: `${H}:443`, port: 443 })).toBe(`http://${H}/p`);
    // The same scheme is no change: an explicit :80 stays.
    expect(loc({ scheme: 'http' }, { host: `${H}:80` })).toBe(`http://${H}:80/p`);
  });

  it('a fixed port replaces the Host port, and is not written when it is the scheme default', () => {
    expect(loc({ port: 9443 })).toBe(`http://${H}:9443/p`);
    expect(loc({ port: 9443 }, { host: `${H}:8000` })).toBe(`http://${H}:9443/p`);
    expect(loc({ port: 443, scheme: 'https' })).toBe(`https://${H}/p`);
    expect(loc({ port: 80 })).toBe(`http://${H}/p`);
    // 80 is only implied for http.
    expect(loc({ port: 80, scheme: 'https' })).toBe(`https://${H}:80/p`);
    expect(loc({ port: 9000 }, { host: '[::1]:8080' })).toBe('http://[::1]:9000/p');
  });

  it('Istio drops a default port before Envoy sees it, so the Host port then stays', () => {
    expect(loc({ port: 80 }, { host: `${H}:8000` })).toBe(`http://${H}:8000/p`);
  });

  it('FROM_REQUEST_PORT is the Gateway port the route was built for', () => {
    expect(loc({ port: 'request' }, { port: 8080 })).toBe(`http://${H}:8080/p`);
    expect(loc({ port: 'request' }, { port: 80 })).toBe(`http://${H}/p`);
    expect(loc({ port: 'request' }, { scheme: 'https', port: 443 })).toBe(`https://${H}/p`);
    expect(loc({ port: 'request', scheme: 'https' }, { port: 8080 })).toBe(`https://${H}:8080/p`);
  });

  it('FROM_PROTOCOL_DEFAULT sets no port: Envoy\'s default handling of the Host', () => {
    expect(loc({ port: 'default', scheme: 'https' })).toBe(`https://${H}/p`);
    expect(loc({ port: 'default', scheme: 'https' }, { host: `${H}:80` })).toBe(`https://${H}/p`);
    expect(loc({ port: 'default' }, { host: `${H}:8000` })).toBe(`http://${H}:8000/p`);
  });
});

const compileRoutes = (http: object[]) => compileRoutesFor(H, http);

/** The path sent upstream for `path` on a route with this match and rewrite (the first match entry). */
function rewritten(match: object | null, rewrite: object, path: string): string {
  const [route] = compileRoutes([{ ...(match ? { match: [match] } : {}), rewrite }]);
  return rewritePath(route!.rewrite!, route!.matches?.[0] ?? null, path);
}

describe('rewritePath (rewrite.uri: Envoy prefix_rewrite)', () => {
  it('replaces the matched prefix', () => {
    expect(rewritten({ uri: { prefix: '/api/v1' } }, { uri: '/v2' }, '/api/v1/users')).toBe('/v2/users');
    expect(rewritten({ uri: { prefix: '/api/v1' } }, { uri: '/v2' }, '/api/v1')).toBe('/v2');
    // Literally: the leftover keeps its slash.
    expect(rewritten({ uri: { prefix: '/api' } }, { uri: '/' }, '/api/users')).toBe('//users');
    expect(rewritten({ uri: { prefix: '/api/' } }, { uri: '/' }, '/api/users')).toBe('/users');
  });

  it('replaces a prefix matched case-insensitively by its length', () => {
    expect(rewritten({ uri: { prefix: '/API' }, ignoreUriCase: true }, { uri: '/v2' }, '/api/Users')).toBe('/v2/Users');
  });

  it('replaces the whole path on an exact or a regex match', () => {
    expect(rewritten({ uri: { exact: '/login' } }, { uri: '/auth/login' }, '/login')).toBe('/auth/login');
    expect(rewritten({ uri: { regex: '/item/[0-9]+' } }, { uri: '/item' }, '/item/42')).toBe('/item');
  });

  it('replaces the leading / when the match has no uri condition, or there is no match', () => {
    expect(rewritten({ headers: { 'x-v': { exact: '2' } } }, { uri: '/v2/' }, '/users')).toBe('/v2/users');
    expect(rewritten(null, { uri: '/v2' }, '/users')).toBe('/v2users');
  });

  it('leaves the path alone for an authority-only rewrite', () => {
    const [route] = compileRoutes([{ match: [{ uri: { prefix: '/a' } }], rewrite: { authority: 'b.internal' } }]);
    expect(route!.rewrite!.authority).toBe('b.internal');
    expect(rewritePath(route!.rewrite!, route!.matches![0]!, '/a/x')).toBe('/a/x');
  });
});

describe('rewritePath (uriRegexRewrite: Envoy regex_rewrite)', () => {
  const rx = (match: string, rewrite: string, path: string) => rewritten({ uri: { prefix: '/' } }, { uriRegexRewrite: { match, rewrite } }, path);

  it('substitutes RE2 \\N groups', () => {
    expect(rx('^/service/([^/]+)(/.*)$', '\\2/instance/\\1', '/service/foo/v1/api')).toBe('/v1/api/instance/foo');
    expect(rx('^/(.*)$', '/prefix/\\1', '/a/b')).toBe('/prefix/a/b');
  });

  it('replaces every non-overlapping match', () => {
    expect(rx('one', 'two', '/xxx/one/yyy/one/zzz')).toBe('/xxx/two/yyy/two/zzz');
  });

  it('keeps a $ in the substitution literal', () => {
    expect(rx('^/price/([0-9]+)$', '/cost/\\1$', '/price/42')).toBe('/cost/42$');
  });

  it('leaves a path the pattern does not match unchanged, on every call', () => {
    expect(rx('^/service/(.*)$', '/s/\\1', '/other')).toBe('/other');
    const [route] = compileRoutes([{ rewrite: { uriRegexRewrite: { match: 'a', rewrite: 'b' } } }]);
    for (let i = 0; i < 3; i++) expect(rewritePath(route!.rewrite!, null, '/aaa')).toBe('/bbb');
  });
});
