import { describe, expect, it } from 'vitest';
import { covers, intersect, isWildcard, namespaceAllows, normalizeAuthority, parseGatewayHost } from '../../../src/compile/hosts.js';

describe('isWildcard', () => {
  it('is true for `*` and `*.suffix`, false for concrete names', () => {
    expect(isWildcard('*')).toBe(true);
    expect(isWildcard('*.example.com')).toBe(true);
    expect(isWildcard('a.example.com')).toBe(false);
    expect(isWildcard('example.com')).toBe(false);
  });
});

describe('covers', () => {
  it('`*` covers every host, concrete or wildcard', () => {
    expect(covers('*', 'a.example.com')).toBe(true);
    expect(covers('*', 'localhost')).toBe(true);
    expect(covers('*', '*.example.com')).toBe(true);
    expect(covers('*', '*')).toBe(true);
  });

  it('an exact name covers only itself', () => {
    expect(covers('a.example.com', 'a.example.com')).toBe(true);
    expect(covers('a.example.com', 'b.example.com')).toBe(false);
    expect(covers('a.example.com', 'x.a.example.com')).toBe(false);
    expect(covers('a.example.com', '*.example.com')).toBe(false);
    expect(covers('a.example.com', '*')).toBe(false);
  });

  it('`*.example.com` covers one or more labels before the suffix', () => {
    expect(covers('*.example.com', 'a.example.com')).toBe(true);
    expect(covers('*.example.com', 'a.b.example.com')).toBe(true);
  });

  it('`*.example.com` does not cover example.com itself, nor a name merely ending in the same letters', () => {
    expect(covers('*.example.com', 'example.com')).toBe(false);
    expect(covers('*.example.com', 'badexample.com')).toBe(false);
    expect(covers('*.example.com', 'example.com.evil.org')).toBe(false);
    expect(covers('*.example.com', 'a.example.org')).toBe(false);
  });

  it('a wildcard covers a narrower wildcard, not a wider one', () => {
    expect(covers('*.example.com', '*.a.example.com')).toBe(true);
    expect(covers('*.com', '*.example.com')).toBe(true);
    expect(covers('*.example.com', '*.example.com')).toBe(true);
    expect(covers('*.example.com', '*.com')).toBe(false);
    expect(covers('*.example.com', '*')).toBe(false);
  });
});

describe('intersect', () => {
  it('is the more specific of the two when one covers the other', () => {
    expect(intersect('*.example.com', 'a.example.com')).toBe('a.example.com');
    expect(intersect('a.example.com', '*.example.com')).toBe('a.example.com');
    expect(intersect('*', '*.example.com')).toBe('*.example.com');
    expect(intersect('*.example.com', '*')).toBe('*.example.com');
    expect(intersect('*', '*')).toBe('*');
    expect(intersect('*.com', '*.example.com')).toBe('*.example.com');
    expect(intersect('a.example.com', 'a.example.com')).toBe('a.example.com');
  });

  it('is undefined for disjoint hosts', () => {
    expect(intersect('a.example.com', 'b.example.com')).toBeUndefined();
    expect(intersect('*.example.com', '*.example.org')).toBeUndefined();
    expect(intersect('*.example.com', 'example.com')).toBeUndefined();
    expect(intersect('example.com', '*.example.com')).toBeUndefined();
  });
});

describe('parseGatewayHost', () => {
  it('a bare host allows every namespace and is lower-cased', () => {
    expect(parseGatewayHost('Foo.Example.COM')).toEqual({ namespace: '*', host: 'foo.example.com' });
    expect(parseGatewayHost('*')).toEqual({ namespace: '*', host: '*' });
  });

  it('splits the `ns/host` forms', () => {
    expect(parseGatewayHost('./own.example.com')).toEqual({ namespace: '.', host: 'own.example.com' });
    expect(parseGatewayHost('team-a/Team.example.com')).toEqual({ namespace: 'team-a', host: 'team.example.com' });
    expect(parseGatewayHost('*/shared.example.com')).toEqual({ namespace: '*', host: 'shared.example.com' });
    expect(parseGatewayHost('~/nobody.example.com')).toEqual({ namespace: '~', host: 'nobody.example.com' });
    expect(parseGatewayHost('prod/*.example.com')).toEqual({ namespace: 'prod', host: '*.example.com' });
  });
});

describe('namespaceAllows', () => {
  it('`*/host` lets any namespace bind', () => {
    expect(namespaceAllows({ namespace: '*', host: 'h' }, 'apps', 'istio-system')).toBe(true);
    expect(namespaceAllows({ namespace: '*', host: 'h' }, 'istio-system', 'istio-system')).toBe(true);
  });

  it('`./host` lets only the Gateway’s own namespace bind', () => {
    expect(namespaceAllows({ namespace: '.', host: 'h' }, 'istio-system', 'istio-system')).toBe(true);
    expect(namespaceAllows({ namespace: '.', host: 'h' }, 'apps', 'istio-system')).toBe(false);
  });

  it('`ns/host` lets only that namespace bind, whatever the Gateway’s namespace', () => {
    expect(namespaceAllows({ namespace: 'team-a', host: 'h' }, 'team-a', 'istio-system')).toBe(true);
    expect(namespaceAllows({ namespace: 'team-a', host: 'h' }, 'team-b', 'istio-system')).toBe(false);
    expect(namespaceAllows({ namespace: 'team-a', host: 'h' }, 'istio-system', 'istio-system')).toBe(false);
  });

  it('`~/host` lets no namespace bind', () => {
    expect(namespaceAllows({ namespace: '~', host: 'h' }, 'istio-system', 'istio-system')).toBe(false);
    expect(namespaceAllows({ namespace: '~', host: 'h' }, 'apps', 'istio-system')).toBe(false);
  });
});

describe('normalizeAuthority', () => {
  it('lower-cases the host and removes `:port`', () => {
    expect(normalizeAuthority('MyNginx.Example.COM')).toBe('mynginx.example.com');
    expect(normalizeAuthority('MyNginx.Example.COM:80')).toBe('mynginx.example.com');
    expect(normalizeAuthority('a.example.com:8080')).toBe('a.example.com');
    expect(normalizeAuthority('localhost')).toBe('localhost');
  });

  it('keeps IPv6 literals whole and strips only a port after the bracket', () => {
    expect(normalizeAuthority('[::1]')).toBe('[::1]');
    expect(normalizeAuthority('[::1]:8080')).toBe('[::1]');
    expect(normalizeAuthority('[2001:DB8::1]:80')).toBe('[2001:db8::1]');
  });

  it('drops the trailing dot of a fully qualified name', () => {
    expect(normalizeAuthority('a.example.com.')).toBe('a.example.com');
    expect(normalizeAuthority('a.example.com.:80')).toBe('a.example.com');
  });
});
