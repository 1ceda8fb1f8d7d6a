import { describe, expect, it } from 'vitest';
import { parseConfigTexts } from '../../../src/config/load.js';
import { formatProblem, type Problem } from '../../../src/config/problems.js';
import { S, suggest, validate, type Schema } from '../../../src/config/schema.js';

function load(text: string, file = 'vs.yaml') {
  return parseConfigTexts([{ file, text, mtimeMs: 0 }], { defaultNamespace: 'default' });
}
const lines = (problems: readonly Problem[]) => problems.map(formatProblem);
const errorsOf = (text: string, file = 'vs.yaml') => lines(load(text, file).problems.filter((p) => p.severity === 'error'));

/** A VirtualService whose first HTTP route is `http` (indented as under `- `); the route starts on line 9. */
function vs(http: string, extraSpec = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: shop
spec:
  hosts: [reviews.example.com]
${extraSpec}  http:
  - ${http.trimStart()}`;
}

function collect(value: unknown, schema: Schema): [string, string][] {
  const out: [string, string][] = [];
  validate(value, schema, [], (p, m) => out.push([p.join('.'), m]));
  return out;
}

describe('validate (the schema engine)', () => {
  const schema = S.obj(
    {
      name: S.str(),
      count: S.int(1, 10),
      ratio: S.num(0, 1),
      on: S.bool(),
      wait: S.duration(1),
      tags: S.arr(S.str(), 1),
      labels: S.map(S.str()),
      target: S.intOrString(),
      mode: S.str({ enum: ['A', 'B'] }),
      a: S.str(),
      b: S.str(),
    },
    { required: ['name'], oneOf: [['a', 'b']] },
  );

  it('accepts a valid value', () => {
    expect(collect({ name: 'x', count: 3, ratio: 0.5, on: false, wait: '1s', tags: ['t'], labels: { k: 'v' }, target: 'http', mode: 'A', a: 'only' }, schema)).toEqual([]);
    expect(collect({ name: 'x', target: 8080 }, schema)).toEqual([]);
  });

  it('reports every mistake with its path and what was expected', () => {
    expect(
      collect({ name: 'x', count: 2.5, ratio: 2, on: 'yes', wait: '0s', tags: [], labels: { k: 1 }, target: 1.5, mode: 'C', a: '1', b: '2', extra: true }, schema),
    ).toEqual([
      ['count', 'expected an integer, got 2.5'],
      ['ratio', 'must be at most 1, got 2'],
      ['on', 'expected true or false, got the string "yes"'],
      ['wait', 'must be at least 1ms, got 0s'],
      ['tags', 'needs at least 1 item'],
      ['labels.k', 'expected a string, got number 1'],
      ['target', 'expected a port number or name, got number 1.5'],
      ['mode', '"C" is not one of A, B'],
      ['extra', 'unknown field; known fields here: name, count, ratio, on, wait, tags, labels, target, mode, a, b'],
      ['', 'only one of a, b may be set, found a and b'],
    ]);
  });

  it('treats a missing, null or empty required field as missing, and a null optional field as absent', () => {
    expect(collect({}, schema)).toEqual([['name', 'required field is missing']]);
    expect(collect({ name: null }, schema)).toEqual([['name', 'required field is missing']]);
    expect(collect({ name: '' }, schema)).toEqual([['name', 'required field is missing']]);
    expect(collect({ name: 'x', count: null, tags: null }, schema)).toEqual([]);
  });

  it('says what it got when the type is wrong', () => {
    expect(collect('text', schema)).toEqual([['', 'expected a map, got the string "text"']]);
    expect(collect([1], schema)).toEqual([['', 'expected a map, got a list']]);
    expect(collect({ name: { x: 1 } }, schema)).toEqual([['name', 'expected a string, got a map']]);
    expect(collect({ name: 'x', count: '3' }, schema)).toEqual([['count', 'expected an integer, got the string "3"']]);
    expect(collect({ name: 'x', tags: 'a' }, schema)).toEqual([['tags', 'expected a list, got the string "a"']]);
    expect(collect({ name: 'x', wait: 5 }, schema)).toEqual([['wait', 'expected a duration such as "1.5s" or "250ms", got number 5']]);
  });

  it('open objects accept fields they do not list', () => {
    expect(collect({ x: 1, y: { z: 2 } }, S.obj({ a: S.str() }, { open: true }))).toEqual([]);
  });

  it('exactlyOne: none set and two set are both errors', () => {
    const one = S.obj({ p: S.str(), q: S.str() }, { exactlyOne: ['p', 'q'] });
    expect(collect({}, one)).toEqual([['', 'one of p, q must be set']]);
    expect(collect({ p: 'a', q: 'b' }, one)).toEqual([['', 'only one of p, q may be set, found p and q']]);
    expect(collect({ q: 'b' }, one)).toEqual([]);
  });
});

describe('suggest ("did you mean")', () => {
  const fields = ['exact', 'prefix', 'regex'];
  it('finds a close misspelling, a different case and a snake_case spelling', () => {
    expect(suggest('prefx', fields)).toBe('prefix');
    expect(suggest('Prefix', fields)).toBe('prefix');
    expect(suggest('regx', fields)).toBe('regex');
    expect(suggest('per_try_timeout', ['attempts', 'perTryTimeout', 'retryOn'])).toBe('perTryTimeout');
    expect(suggest('retry-on', ['attempts', 'perTryTimeout', 'retryOn'])).toBe('retryOn');
  });
  it('suggests nothing for a word that is nothing like the known ones', () => {
    expect(suggest('destination', fields)).toBeUndefined();
    expect(suggest('zz', fields)).toBeUndefined();
  });
});

describe('field errors name file, line, column, object, field path and what was expected', () => {
  it('unknown field, with "did you mean"', () => {
    const text = vs(`match:
    - uri:
        prefx: /api
    route:
    - destination: {host: reviews}
`);
    expect(errorsOf(text)).toEqual([
      'vs.yaml:11:9: error: VirtualService shop/reviews: spec.http[0].match[0].uri.prefx: unknown field (did you mean "prefix"?); known fields here: exact, prefix, regex',
    ]);
    expect(text.split('\n')[10]).toBe('        prefx: /api');
    expect(load(text).objects).toEqual([]);
  });

  it('unknown field without a close match lists the known fields only', () => {
    expect(errorsOf(vs(`route: [{destination: {host: reviews}}]`, '  colour: blue\n'))).toEqual([
      'vs.yaml:8:3: error: VirtualService shop/reviews: spec.colour: unknown field; known fields here: hosts, gateways, http, tls, tcp, exportTo',
    ]);
  });

  it('wrong type', () => {
    expect(errorsOf(vs(`route:
    - destination: {host: reviews}
      weight: "50"
    - destination: {host: ratings}
      weight: 50
`))).toEqual(['vs.yaml:11:7: error: VirtualService shop/reviews: spec.http[0].route[0].weight: expected an integer, got the string "50"']);
  });

  it('a value out of range', () => {
    expect(errorsOf(vs(`route:
    - destination: {host: reviews, port: {number: 70000}}
`))).toEqual(['vs.yaml:10:43: error: VirtualService shop/reviews: spec.http[0].route[0].destination.port.number: must be at most 65535, got 70000']);
  });

  it('enum value', () => {
    const text = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      simple: ROUNDROBIN
`;
    expect(errorsOf(text, 'dr.yaml')).toEqual([
      'dr.yaml:8:7: error: DestinationRule shop/reviews: spec.trafficPolicy.loadBalancer.simple: "ROUNDROBIN" is not one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST',
    ]);
  });

  it('bad duration', () => {
    expect(errorsOf(vs(`route: [{destination: {host: reviews}}]
    timeout: 10 seconds
    retries: {attempts: 3, perTryTimeout: 0s}
`))).toEqual([
      'vs.yaml:10:5: error: VirtualService shop/reviews: spec.http[0].timeout: "10 seconds" is not a duration: write a number with a unit (h, m, s, ms), e.g. "1.5s" or "250ms"',
      'vs.yaml:11:28: error: VirtualService shop/reviews: spec.http[0].retries.perTryTimeout: must be at least 1ms, got 0s',
    ]);
  });

  it('bad host', () => {
    expect(errorsOf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts:
  - reviews.example.com
  - reviews_v2.example.com
  - shop/reviews.example.com
  http:
  - route: [{destination: {host: "reviews:9080"}}]
`)).toEqual([
      'vs.yaml:7:5: error: VirtualService shop/reviews: spec.hosts[1]: "reviews_v2.example.com" is not a valid host: use a DNS name, "*.suffix" or "*"',
      'vs.yaml:8:5: error: VirtualService shop/reviews: spec.hosts[2]: "shop/reviews.example.com" is not a host: the "namespace/host" form is only for Gateway servers and Sidecar egress',
      'vs.yaml:10:28: error: VirtualService shop/reviews: spec.http[0].route[0].destination.host: "reviews:9080" is not a valid host: use a DNS name, "*.suffix" or "*"',
    ]);
  });

  it('Gateway hosts take the namespace/host form; a bad namespace part is named', () => {
    const gw = (host: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: edge}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts:
    - "${host}"
`;
    for (const ok of ['*', '*.example.com', 'shop/www.example.com', './www.example.com', '*/www.example.com', 'www.example.com']) {
      expect(errorsOf(gw(ok), 'gw.yaml')).toEqual([]);
    }
    expect(errorsOf(gw('Shop_NS/www.example.com'), 'gw.yaml')).toEqual([
      'gw.yaml:8:7: error: Gateway edge/gw: spec.servers[0].hosts[0]: "Shop_NS" is not a namespace: write "namespace/host", "./host" or "*/host"',
    ]);
    expect(errorsOf(gw('www.*.com'), 'gw.yaml')).toEqual([
      'gw.yaml:8:7: error: Gateway edge/gw: spec.servers[0].hosts[0]: "www.*.com" is not a valid host: use a DNS name, "*.suffix" or "*"',
    ]);
  });

  it('missing required field: named at its parent', () => {
    expect(errorsOf(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: nohost, namespace: shop}
spec:
  subsets:
  - name: v1
    labels: {version: v1}
`, 'dr.yaml')).toEqual(['dr.yaml:4:1: error: DestinationRule shop/nohost: spec.host: required field is missing']);
    expect(errorsOf(vs(`route:
    - weight: 100
`))).toEqual(['vs.yaml:10:7: error: VirtualService shop/reviews: spec.http[0].route[0].destination: required field is missing']);
    expect(errorsOf(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: edge}
spec:
  servers:
  - port: {number: 80, name: http}
`, 'gw.yaml')).toEqual([
      'gw.yaml:6:5: error: Gateway edge/gw: spec.servers[0].port.protocol: required field is missing',
      'gw.yaml:6:5: error: Gateway edge/gw: spec.servers[0].hosts: required field is missing',
    ]);
  });

  it('a Gateway without servers, and a route without any action', () => {
    expect(errorsOf('apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {selector: {istio: ingressgateway}}\n', 'gw.yaml')).toEqual([
      'gw.yaml:4:1: error: Gateway default/gw: spec.servers: required field is missing',
    ]);
    expect(errorsOf(vs(`match: [{uri: {prefix: /}}]
    timeout: 5s
`))).toEqual(['vs.yaml:9:5: error: VirtualService shop/reviews: spec.http[0]: an HTTP route needs one of route, redirect, directResponse or delegate']);
  });

  it('oneOf violations: two match kinds, route and redirect, port and derivePort, endpoints and workloadSelector', () => {
    expect(errorsOf(vs(`match:
    - uri: {exact: /a, prefix: /b}
    route: [{destination: {host: reviews}}]
    redirect: {uri: /c}
  - redirect: {port: 8080, derivePort: FROM_REQUEST_PORT}
`))).toEqual([
      'vs.yaml:9:5: error: VirtualService shop/reviews: spec.http[0]: only one of route, redirect, directResponse, delegate may be set, found route and redirect',
      'vs.yaml:10:7: error: VirtualService shop/reviews: spec.http[0].match[0].uri: only one of exact, prefix, regex may be set, found exact and prefix',
      'vs.yaml:13:5: error: VirtualService shop/reviews: spec.http[1].redirect: only one of port, derivePort may be set, found port and derivePort',
    ]);
    expect(errorsOf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se, namespace: shop}
spec:
  hosts: [api.example.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.1}]
  workloadSelector: {labels: {app: api}}
`, 'se.yaml')).toEqual([
      'se.yaml:4:1: error: ServiceEntry shop/se: spec: only one of endpoints, workloadSelector may be set, found endpoints and workloadSelector',
    ]);
  });

  it('exactly-one violations: an abort with no status, a delay with two kinds', () => {
    expect(errorsOf(vs(`route: [{destination: {host: reviews}}]
    fault:
      abort:
        percentage: {value: 10}
      delay:
        fixedDelay: 1s
        exponentialDelay: 2s
`))).toEqual([
      'vs.yaml:11:7: error: VirtualService shop/reviews: spec.http[0].fault.abort: one of httpStatus, grpcStatus, http2Error must be set',
      'vs.yaml:13:7: error: VirtualService shop/reviews: spec.http[0].fault.delay: only one of fixedDelay, exponentialDelay may be set, found fixedDelay and exponentialDelay',
    ]);
  });

  it('reports every error of an object, each on its own line, and keeps the valid objects of the same file', () => {
    const text = `apiVersion: v1
kind: Service
metadata: {name: ok, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
---
${vs(`match:
    - uri: {regx: "^/a"}
    route:
    - destination: {host: reviews}
      weight: lots
`)}`;
    const r = load(text);
    expect(lines(r.problems)).toEqual([
      'vs.yaml:15:13: error: VirtualService shop/reviews: spec.http[0].match[0].uri.regx: unknown field (did you mean "regex"?); known fields here: exact, prefix, regex',
      'vs.yaml:18:7: error: VirtualService shop/reviews: spec.http[0].route[0].weight: expected an integer, got the string "lots"',
    ]);
    expect(r.objects.map((o) => o.ref)).toEqual(['Service shop/ok']);
  });

  it('quotes map keys that are not identifiers in the field path', () => {
    expect(errorsOf(vs(`match:
    - headers:
        x-user: {exat: admin}
    route: [{destination: {host: reviews}}]
`))).toEqual([
      'vs.yaml:11:18: error: VirtualService shop/reviews: spec.http[0].match[0].headers["x-user"].exat: unknown field (did you mean "exact"?); known fields here: exact, prefix, regex',
    ]);
  });

  it('Kubernetes kinds: Service ports are checked, fields kubectl adds are not', () => {
    expect(errorsOf(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: None
  ports:
  - name: http
    port: "80"
    protocol: HTTP
`, 'svc.yaml')).toEqual([
      'svc.yaml:8:5: error: Service shop/web: spec.ports[0].port: expected an integer, got the string "80"',
      'svc.yaml:9:5: error: Service shop/web: spec.ports[0].protocol: "HTTP" is not one of TCP, UDP, SCTP',
    ]);
    expect(errorsOf(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
endpoints:
- addresses: []
`, 'eps.yaml')).toEqual([
      'eps.yaml:1:1: error: EndpointSlice shop/web-1: addressType: required field is missing',
      'eps.yaml:5:3: error: EndpointSlice shop/web-1: endpoints[0].addresses: needs at least 1 item',
    ]);
  });
});

describe('regexes are checked the way RE2 (Envoy) reads them', () => {
  const withRegex = (re: string) => vs(`match:
    - uri:
        regex: '${re}'
    route: [{destination: {host: reviews}}]
`);
  const regexError = (re: string) => {
    const errs = load(withRegex(re)).problems.filter((p) => p.severity === 'error');
    return errs.map((p) => `${p.line}:${p.col} ${p.field}: ${p.message}`);
  };

  it('refuses lookahead and lookbehind, which RE2 does not have', () => {
    expect(regexError('/api/(?!internal).*')).toEqual(['11:9 spec.http[0].match[0].uri.regex: RE2 (the engine Istio uses) does not support lookahead or lookbehind']);
    expect(regexError('.*(?<=\\.json)')).toEqual(['11:9 spec.http[0].match[0].uri.regex: RE2 (the engine Istio uses) does not support lookahead or lookbehind']);
  });

  it('refuses backreferences', () => {
    expect(regexError('/(a+)/\\1')).toEqual(['11:9 spec.http[0].match[0].uri.regex: RE2 (the engine Istio uses) does not support backreferences']);
  });

  it('refuses escapes RE2 does not know, such as \\Z', () => {
    // RE2: "invalid escape sequence: \Z". JavaScript (without the u flag) reads \Z as a plain Z.
    expect(regexError('/api\\Z')).toHaveLength(1);
  });

  it('refuses a repetition count above 1000, as RE2 does', () => {
    // RE2: "bad repetition operator: {1001}".
    expect(regexError('a{1001}')).toHaveLength(1);
    expect(regexError('a{1000}')).toEqual([]);
  });

  it('refuses a syntax error and quotes the pattern as written', () => {
    const errs = regexError('/api/[a-');
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^11:9 spec\.http\[0\]\.match\[0\]\.uri\.regex: not a valid regular expression: /);
    // The message must be about what the user wrote, not the anchored wrapper built around it.
    expect(errs[0]).not.toContain('^(?:');
  });

  it('accepts RE2 spellings JavaScript writes differently', () => {
    for (const re of ['(?i)/API/.*', '/v[[:digit:]]+/.*', '/(?P<id>[0-9]+)', '\\Q/a.b\\E.*', '/files/\\pL+', '/x\\z']) {
      expect(regexError(re), re).toEqual([]);
    }
  });

  it('checks the regexes of headers, rewrites and CORS origins too', () => {
    const text = vs(`match:
    - headers:
        x-id: {regex: '(a)\\1'}
    rewrite:
      uriRegexRewrite: {match: '(?=x)', rewrite: /y}
    corsPolicy:
      allowOrigins: [{regex: '.*(?<!evil)'}]
    route: [{destination: {host: reviews}}]
`);
    expect(load(text).problems.map((p) => p.field)).toEqual([
      'spec.http[0].match[0].headers["x-id"].regex',
      'spec.http[0].rewrite.uriRegexRewrite.match',
      'spec.http[0].corsPolicy.allowOrigins[0].regex',
    ]);
  });
});
