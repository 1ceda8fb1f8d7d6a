import { parseConfigTexts } from '../../../src/config/load.js';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/compile.js';
import { describeMatch } from '../../../src/compile/describe.js';
import { mergeDelegateMatches } from '../../../src/compile/match.js';
import type { Route, Snapshot } from '../../../src/compile/snapshot.js';
import { compileYaml, httpRoutes } from '../../helpers/compile.js';
import type { HTTPMatchRequest } from '../../../src/config/types.js';

// VirtualService delegation as Istio does it (pilot model/virtualservice.go: mergeVirtualServicesIfNeeded,
// mergeHTTPRoutes, mergeHTTPMatchRequests, hasConflict): a root route with `delegate` is replaced
// by the delegate's routes, each condition narrowed by the root's; a delegate route with a
// condition no root condition can hold with is dropped whole; the delegate route takes what the
// root route sets and it does not; a delegate must be exported to the root's namespace; and a
// delegate cannot delegate again.

const HOST = 'shop.example.com';

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ports: [{port: 80, name: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: team}
spec:
  ports: [{port: 8080, name: http}]
`;

const vs = (name: string, namespace: string, spec: object) =>
  JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace }, spec });

const root = (http: object[], namespace = 'default') => vs('root', namespace, { hosts: [HOST], gateways: ['default/gw'], http });

const build = (...docs: string[]): Snapshot => compileYaml([GATEWAY, ...docs].join('\n---\n'));

function routesOf(snap: Snapshot): Route[] {
  const l = snap.listeners.find((x) => x.name === 'gateway:80');
  return (l ? httpRoutes(l).exact.get(HOST)?.routes : undefined) ?? [];
}

/** Each route as `matches -> first destination cluster` (or the action type). */
function table(snap: Snapshot): string[] {
  return routesOf(snap).map((r) => {
    const m = r.matches === null ? 'any' : r.matches.map(describeMatch).join(' | ');
    const to = r.action.type === 'forward' ? r.action.destinations[0]!.cluster : r.action.type;
    return `${m} -> ${to}`;
  });
}

const warnings = (snap: Snapshot) => snap.problems.filter((p) => p.severity === 'warning').map((p) => `${p.object}: ${p.field}: ${p.message}`);

const WEB = 'outbound|80||web.default.svc.cluster.local';
const TEAM_WEB = 'outbound|8080||web.team.svc.cluster.local';

describe('mergeDelegateMatches', () => {
  const m = (x: HTTPMatchRequest) => x;

  it('takes the other side when one side has no conditions', () => {
    const r = [m({ uri: { prefix: '/a' } })];
    expect(mergeDelegateMatches(undefined, r)).toBe(r);
    expect(mergeDelegateMatches(r, undefined)).toBe(r);
    expect(mergeDelegateMatches([], r)).toBe(r);
  });

  it('keeps a delegate uri that lies inside the root one', () => {
    expect(mergeDelegateMatches([{ uri: { prefix: '/a' } }], [{ uri: { prefix: '/a/b' } }])!.map((x) => x.uri)).toEqual([{ prefix: '/a/b' }]);
    expect(mergeDelegateMatches([{ uri: { prefix: '/a' } }], [{ uri: { exact: '/a/x' } }])!.map((x) => x.uri)).toEqual([{ exact: '/a/x' }]);
    expect(mergeDelegateMatches([{ uri: { exact: '/a/x' } }], [{ uri: { exact: '/a/x' } }])!.map((x) => x.uri)).toEqual([{ exact: '/a/x' }]);
  });

  it('gives a delegate condition without uri the root uri, and merges headers and query params', () => {
    const [one] = mergeDelegateMatches(
      [{ uri: { prefix: '/a' }, headers: { 'x-root': { exact: '1' } } }],
      [{ headers: { 'x-del': { exact: '2' } }, queryParams: { q: { exact: 'v' } }, method: { exact: 'POST' } }],
    )!;
    expect(one!.uri).toEqual({ prefix: '/a' });
    expect(one!.headers).toEqual({ 'x-root': { exact: '1' }, 'x-del': { exact: '2' } });
    expect(one!.queryParams).toEqual({ q: { exact: 'v' } });
    expect(one!.method).toEqual({ exact: 'POST' });
  });

  it('refuses conditions that cannot hold together', () => {
    expect(mergeDelegateMatches([{ uri: { prefix: '/a' } }], [{ uri: { prefix: '/b' } }])).toBeNull();
    expect(mergeDelegateMatches([{ uri: { exact: '/a/x' } }], [{ uri: { exact: '/a/y' } }])).toBeNull();
    expect(mergeDelegateMatches([{ uri: { prefix: '/a' } }], [{ uri: { exact: '/b' } }])).toBeNull();
    expect(mergeDelegateMatches([{ method: { exact: 'GET' } }], [{ method: { exact: 'POST' } }])).toBeNull();
    expect(mergeDelegateMatches([{ headers: { h: { exact: '1' } } }], [{ headers: { h: { exact: '2' } } }])).toBeNull();
    expect(mergeDelegateMatches([{ port: 80 }], [{ port: 8080 }])).toBeNull();
  });

  it('pairs every delegate condition with every root condition it fits', () => {
    const merged = mergeDelegateMatches([{ uri: { prefix: '/a' } }, { uri: { prefix: '/b' } }], [{ headers: { v: { exact: '2' } } }])!;
    expect(merged.map((x) => x.uri)).toEqual([{ prefix: '/a' }, { prefix: '/b' }]);
    expect(merged.every((x) => x.headers!.v!.exact === '2')).toBe(true);
    const some = mergeDelegateMatches([{ uri: { prefix: '/a' } }, { uri: { prefix: '/b' } }], [{ uri: { prefix: '/b/1' } }])!;
    expect(some.map((x) => x.uri)).toEqual([{ prefix: '/b/1' }]);
  });

  it('drops the whole delegate route when one of its conditions fits no root condition', () => {
    expect(mergeDelegateMatches([{ uri: { prefix: '/a' } }], [{ uri: { prefix: '/a/1' } }, { uri: { prefix: '/elsewhere' } }])).toBeNull();
  });
});

describe('compile: delegation', () => {
  it('puts the delegate routes where the root route was, narrowed by the root match', () => {
    const snap = build(
      root([
        { match: [{ uri: { exact: '/health' } }], directResponse: { status: 200 } },
        { match: [{ uri: { prefix: '/shop' } }], delegate: { name: 'shop' } },
        { route: [{ destination: { host: 'web' } }] },
      ]),
      vs('shop', 'default', {
        http: [
          { match: [{ uri: { prefix: '/shop/cart' } }], route: [{ destination: { host: 'web' } }] },
          { match: [{ headers: { 'x-beta': { exact: '1' } } }], route: [{ destination: { host: 'web', port: { number: 80 } } }] },
          { route: [{ destination: { host: 'web' } }] },
        ],
      }),
    );
    expect(table(snap)).toEqual([
      'exact /health -> direct',
      `prefix /shop/cart -> ${WEB}`,
      `prefix /shop, header x-beta exact 1 -> ${WEB}`,
      `prefix /shop -> ${WEB}`,
      `any -> ${WEB}`,
    ]);
    expect(routesOf(snap).map((r) => r.source)).toEqual([
      'VirtualService default/root',
      'VirtualService default/shop',
      'VirtualService default/shop',
      'VirtualService default/shop',
      'VirtualService default/root',
    ]);
    expect(warnings(snap)).toEqual([]);
  });

  it('skips a conflicting delegate route, keeping the others', () => {
    const snap = build(
      root([{ match: [{ uri: { prefix: '/shop' } }], delegate: { name: 'shop' } }]),
      vs('shop', 'default', {
        http: [
          { match: [{ uri: { prefix: '/admin' } }], route: [{ destination: { host: 'web' } }] },
          { match: [{ uri: { prefix: '/shop/a' } }, { uri: { prefix: '/other' } }], route: [{ destination: { host: 'web' } }] },
          { match: [{ uri: { prefix: '/shop/b' } }], route: [{ destination: { host: 'web' } }] },
        ],
      }),
    );
    expect(table(snap)).toEqual([`prefix /shop/b -> ${WEB}`]);
  });

  it('resolves a delegate in another namespace, with its short host names in that namespace', () => {
    const snap = build(
      root([{ match: [{ uri: { prefix: '/team' } }], delegate: { name: 'team-routes', namespace: 'team' } }]),
      vs('team-routes', 'team', { http: [{ route: [{ destination: { host: 'web' } }] }] }),
    );
    expect(table(snap)).toEqual([`prefix /team -> ${TEAM_WEB}`]);
    expect(routesOf(snap)[0]!.source).toBe('VirtualService team/team-routes');
  });

  it('uses a delegate exported to the root namespace, not one kept to its own', () => {
    const exported = build(
      root([{ match: [{ uri: { prefix: '/team' } }], delegate: { name: 'd', namespace: 'team' } }]),
      vs('d', 'team', { exportTo: ['default'], http: [{ route: [{ destination: { host: 'web' } }] }] }),
    );
    expect(table(exported)).toEqual([`prefix /team -> ${TEAM_WEB}`]);
    const hidden = build(
      root([{ match: [{ uri: { prefix: '/team' } }], delegate: { name: 'd', namespace: 'team' } }]),
      vs('d', 'team', { exportTo: ['.'], http: [{ route: [{ destination: { host: 'web' } }] }] }),
    );
    expect(table(hidden)).toEqual([]);
    expect(warnings(hidden).join('\n')).toMatch(/VirtualService default\/root: spec\.http\[0\]\.delegate: .*not exported/);
    const sameNamespace = build(
      root([{ match: [{ uri: { prefix: '/own' } }], delegate: { name: 'd' } }]),
      vs('d', 'default', { exportTo: ['.'], http: [{ route: [{ destination: { host: 'web' } }] }] }),
    );
    expect(table(sameNamespace)).toEqual([`prefix /own -> ${WEB}`]);
  });

  it('warns about and skips a delegate that does not exist', () => {
    const snap = build(
      root([
        { match: [{ uri: { prefix: '/gone' } }], delegate: { name: 'missing' } },
        { route: [{ destination: { host: 'web' } }] },
      ]),
    );
    expect(table(snap)).toEqual([`any -> ${WEB}`]);
    expect(warnings(snap).join('\n')).toMatch(/spec\.http\[0\]\.delegate: delegate VirtualService default\/missing does not exist/);
  });

  it('refuses nested delegation, as Istio\'s webhook does: the delegate that delegates again is left out', () => {
    const { objects, problems } = parseConfigTexts([{ file: 'd.yaml', text: [GATEWAY,
      root([{ match: [{ uri: { prefix: '/a' } }], delegate: { name: 'middle' } }]),
      vs('middle', 'default', { http: [{ match: [{ uri: { prefix: '/a/b' } }], delegate: { name: 'leaf' } }] }),
      vs('leaf', 'default', { http: [{ route: [{ destination: { host: 'web' } }] }] }),
    ].join('\n---\n') }], { defaultNamespace: 'default' });
    expect(problems.filter((p) => p.severity === 'error').map((p) => `${p.object}: ${p.field}: ${p.message}`)).toContain('VirtualService default/middle: spec.http[0].delegate: delegate HTTP route cannot contain delegate');
    expect(objects.map((o) => o.name)).not.toContain('middle');
  });

  it('gives delegate routes what the root route sets and they do not', () => {
    const snap = build(
      root([
        {
          match: [{ uri: { prefix: '/api' } }],
          delegate: { name: 'api' },
          timeout: '3s',
          rewrite: { uri: '/v1' },
          headers: { request: { set: { 'x-root': 'yes' } } },
          corsPolicy: { allowOrigins: [{ exact: 'https://app.example.com' }] },
          retries: { attempts: 2, retryOn: '5xx' },
        },
      ]),
      vs('api', 'default', {
        http: [
          { match: [{ uri: { prefix: '/api/own' } }], timeout: '1s', rewrite: { uri: '/own' }, headers: { request: { set: { 'x-own': 'yes' } } }, route: [{ destination: { host: 'web' } }] },
          { route: [{ destination: { host: 'web' } }] },
        ],
      }),
    );
    const [own, inherited] = routesOf(snap);
    expect(inherited!.timeoutMs).toBe(3000);
    expect(inherited!.rewrite).toEqual({ uri: '/v1' });
    expect(inherited!.requestHeaders!.set).toEqual([['x-root', 'yes']]);
    expect(inherited!.cors).not.toBeNull();
    expect(inherited!.retry!.retries).toBe(2);
    expect(own!.timeoutMs).toBe(1000);
    expect(own!.rewrite).toEqual({ uri: '/own' });
    expect(own!.requestHeaders!.set).toEqual([['x-own', 'yes']]);
    expect(own!.cors).not.toBeNull();
  });

  it('does not serve a delegate VirtualService on its own', () => {
    const snap = build(
      root([{ match: [{ uri: { prefix: '/a' } }], delegate: { name: 'd' } }]),
      vs('d', 'default', { http: [{ route: [{ destination: { host: 'web' } }] }] }),
    );
    const hosts = snap.listeners.map(httpRoutes).flatMap((t) => [...t.exact.keys(), ...t.wildcards.map((w) => w.vhost.domain), ...(t.any ? ['*'] : [])]);
    expect(hosts).toEqual([HOST]);
    expect(table(snap)).toEqual([`prefix /a -> ${WEB}`]);
  });
});
