import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, staticService, startGateway, type TestGateway } from '../helpers/gateway.js';
import { echo, type Answer } from '../helpers/http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// VirtualService HTTP features through real sockets: one in-process gateway, real upstream
// servers, and the answers an Istio ingress gateway (Envoy) gives for the same YAML.

/** An upstream that records each request with its whole body; `slow` answers after 2 s, `reset` drops the connection. */
interface Recorder {
  up: Upstream;
  hits: { method: string; url: string; host: string; body: string }[];
  /** Requests it has answered (the slow one answers 2 s late). */
  answered: number;
}

async function startRecorder(name: string, mode: 'ok' | 'slow' | 'reset' = 'ok'): Promise<Recorder> {
  const rec: Recorder = { up: undefined as unknown as Upstream, hits: [], answered: 0 };
  rec.up = await startUpstream({
    name,
    handler: (req, res) => {
      if (mode === 'reset') {
        rec.hits.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', body: '' });
        req.socket.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        rec.hits.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', body: Buffer.concat(chunks).toString('utf8') });
        const answer = () => {
          if (res.destroyed) return;
          rec.answered++;
          res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
          res.end(name);
        };
        if (mode === 'slow') setTimeout(answer, 2000).unref();
        else answer();
      });
    },
  });
  return rec;
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A GET whose body is kept as bytes (direct responses with binary bodies). */
function getBytes(port: number, host: string, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const BINARY = Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x68, 0x69, 0x0a]);

function config(ports: Record<string, number>): Record<string, string> {
  const services = Object.entries(ports)
    .map(([host, port]) => staticService(host, [port]))
    .join('---\n');
  const dest = (host: string) => `[{destination: {host: ${host}}}]`;
  const backend = dest('backend.test.internal');
  return {
    'services.yaml': services,
    'gateway.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 8080, name: http-alt, protocol: HTTP}
    hosts: ["*"]
`,
    'redirect.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: redirects, namespace: default}
spec:
  hosts: [redirect.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {exact: /old}}]
    redirect: {uri: /new/path}
  - match: [{uri: {prefix: /authority}}]
    redirect: {authority: other.example.com, redirectCode: 302}
  - match: [{uri: {prefix: /scheme}}]
    redirect: {scheme: https}
  - match: [{uri: {prefix: /port}}]
    redirect: {port: 9443}
  - match: [{uri: {prefix: /request-port}}]
    redirect: {derivePort: FROM_REQUEST_PORT}
  - match: [{uri: {prefix: /protocol-default}}]
    redirect: {scheme: https, derivePort: FROM_PROTOCOL_DEFAULT}
  - match: [{uri: {prefix: /to-https-443}}]
    redirect: {scheme: https, port: 443}
  - match: [{uri: {prefix: /own-query}}]
    redirect: {uri: "/target?fixed=1", redirectCode: 308}
  - match: [{uri: {prefix: /hsts}}]
    redirect: {scheme: https, redirectCode: 307}
    headers:
      response:
        set: {strict-transport-security: max-age=31536000}
  - route: ${backend}
`,
    'rewrite.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: rewrites, namespace: default}
spec:
  hosts: [rewrite.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /api/v1}}]
    rewrite: {uri: /v2}
    route: ${backend}
  - match: [{uri: {prefix: /strip}}]
    rewrite: {uri: /}
    route: ${backend}
  - match: [{uri: {exact: /exact}}]
    rewrite: {uri: /replaced/whole}
    route: ${backend}
  - match: [{uri: {regex: "/rx/[a-z]+"}}]
    rewrite: {uri: /from-regex}
    route: ${backend}
  - match: [{uri: {prefix: /casefold}, ignoreUriCase: true}]
    rewrite: {uri: /cf}
    route: ${backend}
  - match: [{headers: {x-rewrite: {exact: base}}}]
    rewrite: {uri: /base/}
    route: ${backend}
  - match: [{uri: {prefix: /service}}]
    rewrite:
      uriRegexRewrite: {match: "^/service/([^/]+)(/.*)$", rewrite: "\\\\2/instance/\\\\1"}
    route: ${backend}
  - match: [{uri: {prefix: /every}}]
    rewrite:
      uriRegexRewrite: {match: "one", rewrite: "two"}
    route: ${backend}
  - match: [{uri: {prefix: /host}}]
    rewrite: {authority: rewritten.internal}
    route: ${backend}
  - route: ${backend}
`,
    'headers.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: headers, namespace: default}
spec:
  hosts: [headers.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /single}}]
    headers: &routeOps
      request:
        set: {x-route-set: route, x-both: route}
        add: {x-added: route}
        remove: [x-drop]
      response:
        set: {x-resp-route: route, x-resp-both: route}
        add: {x-resp-added: route}
        remove: [x-upstream]
    route:
    - destination: {host: backend.test.internal}
      headers: &destOps
        request:
          set: {x-dest-set: dest, x-both: dest}
          remove: [x-dest-drop]
        response:
          set: {x-resp-dest: dest, x-resp-both: dest}
  - match: [{uri: {prefix: /weighted}}]
    headers: *routeOps
    route:
    - destination: {host: backend.test.internal}
      weight: 100
      headers: *destOps
    - destination: {host: backend2.test.internal}
      weight: 0
  - route: ${backend}
`,
    'direct.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: direct, namespace: default}
spec:
  hosts: [direct.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {exact: /string}}]
    directResponse: {status: 503, body: {string: "down for maintenance"}}
    headers: {response: {set: {retry-after: "120"}}}
  - match: [{uri: {exact: /bytes}}]
    directResponse: {status: 200, body: {bytes: "${BINARY.toString('base64')}"}}
  - match: [{uri: {exact: /empty}}]
    directResponse: {status: 200}
  - route: ${backend}
`,
    // Fields written with nothing under them read as null; Istio's checks let that through.
    'empty-fields.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: empty-fields, namespace: default}
spec:
  hosts: [empty-fields.example.com]
  gateways: [gw]
  http:
  - match:
    - uri: {prefix: /empty}
      headers:
      withoutHeaders:
      queryParams:
    route: ${backend}
  - match: [{uri: {prefix: /renamed}}]
    rewrite: {uri: /as-rewritten}
    headers:
      request:
    route: ${backend}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: no-http, namespace: default}
spec:
  hosts: [no-http.example.com]
  gateways: [gw]
  http:
  tcp:
  - route: ${backend}
`,
    'cors.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cors, namespace: default}
spec:
  hosts: [cors.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /matchers}}]
    corsPolicy:
      allowOrigins:
      - exact: https://exact.example.com
      - prefix: https://prefix.
      - regex: "https://[a-z]+\\\\.regex\\\\.example\\\\.com"
      allowMethods: [GET, POST, PATCH]
      allowHeaders: [x-custom, content-type]
      exposeHeaders: [x-exposed, x-other]
      maxAge: 24h
      allowCredentials: true
    route: ${backend}
  - match: [{uri: {prefix: /legacy}}]
    corsPolicy: {allowOrigin: [https://legacy.example.com], allowMethods: [GET]}
    route: ${backend}
  - match: [{uri: {prefix: /any}}]
    corsPolicy: {allowOrigin: ["*"], allowMethods: [GET]}
    route: ${backend}
  - match: [{uri: {prefix: /exact-star}}]
    corsPolicy: {allowOrigins: [{exact: "*"}], allowMethods: [GET]}
    route: ${backend}
  - match: [{uri: {prefix: /precedence}}]
    corsPolicy: {allowOrigins: [{exact: https://new.example.com}], allowOrigin: [https://old.example.com], allowMethods: [GET]}
    route: ${backend}
  - match: [{uri: {prefix: /ignore}}]
    corsPolicy: {allowOrigins: [{exact: https://exact.example.com}], allowMethods: [GET], unmatchedPreflights: IGNORE}
    route: ${backend}
  - match: [{uri: {prefix: /upstream-cors}}]
    corsPolicy: {allowOrigins: [{exact: https://exact.example.com}], exposeHeaders: [x-exposed]}
    route: ${dest('corsup.test.internal')}
  - route: ${backend}
`,
    'mirror.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mirror, namespace: default}
spec:
  hosts: [mirror.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /full}}]
    route: ${backend}
    mirror: {host: mirror.test.internal}
  - match: [{uri: {prefix: /legacy-zero}}]
    route: ${backend}
    mirror: {host: never.test.internal}
    mirrorPercentage: {value: 0}
  - match: [{uri: {prefix: /percent}}]
    route: ${backend}
    mirrors:
    - destination: {host: never.test.internal}
      percentage: {value: 0}
    - destination: {host: half.test.internal}
      percentage: {value: 50}
    - destination: {host: sentinel.test.internal}
  - match: [{uri: {prefix: /slow}}]
    route: ${backend}
    mirror: {host: slow.test.internal}
  - match: [{uri: {prefix: /mirror-drops}}]
    route: ${backend}
    mirrors:
    - destination: {host: reset.test.internal}
  - route: ${backend}
`,
    'delegate.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: default}
spec:
  hosts: [delegate.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /same}}]
    delegate: {name: same-delegate}
  - match: [{uri: {prefix: /team}}]
    delegate: {name: team-delegate, namespace: team}
  - match: [{uri: {prefix: /hidden}}]
    delegate: {name: hidden-delegate, namespace: team}
  - match: [{uri: {prefix: /inherit}}]
    headers: {request: {set: {x-from-root: root}}}
    timeout: 0.2s
    delegate: {name: inherit-delegate}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: same-delegate, namespace: default}
spec:
  http:
  - match: [{uri: {prefix: /same/v1}}]
    headers: {request: {set: {x-delegate-route: v1}}}
    route: ${backend}
  - match: [{headers: {x-variant: {exact: b}}}]
    route: ${dest('backend2.test.internal')}
  - match: [{uri: {prefix: /elsewhere}}]
    route: ${dest('backend2.test.internal')}
  - match: [{uri: {prefix: /same/mixed}}, {uri: {prefix: /elsewhere-too}}]
    route: ${dest('backend2.test.internal')}
  - route: ${backend}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: team-delegate, namespace: team}
spec:
  http:
  - match: [{uri: {prefix: /team/api}}]
    route: ${dest('backend2.test.internal')}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hidden-delegate, namespace: team}
spec:
  exportTo: ["."]
  http:
  - route: ${backend}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: inherit-delegate, namespace: default}
spec:
  http:
  - match: [{uri: {prefix: /inherit/own}}]
    headers: {request: {set: {x-own: delegate}}}
    timeout: 5s
    route: ${backend}
  - route: ${backend}
`,
    'timeout.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: timeouts, namespace: default}
spec:
  hosts: [timeout.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /short}}]
    timeout: 0.2s
    route: ${backend}
  - route: ${backend}
`,
  };
}

let gw: TestGateway;
let backend: Upstream;
let backend2: Upstream;
let corsUp: Upstream;
let mirror: Recorder;
let never: Recorder;
let half: Recorder;
let sentinel: Recorder;
let slow: Recorder;
let reset: Recorder;

beforeAll(async () => {
  [backend, backend2] = await Promise.all([startUpstream({ name: 'backend' }), startUpstream({ name: 'backend2' })]);
  corsUp = await startUpstream({
    name: 'corsup',
    handler: (_req, res) => {
      res.writeHead(200, { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'x-from-upstream', 'x-upstream': 'corsup' });
      res.end('corsup');
    },
  });
  [mirror, never, half, sentinel, slow, reset] = await Promise.all([
    startRecorder('mirror'),
    startRecorder('never'),
    startRecorder('half'),
    startRecorder('sentinel'),
    startRecorder('slow', 'slow'),
    startRecorder('reset', 'reset'),
  ]);
  gw = await startGateway(
    config({
      'backend.test.internal': backend.port,
      'backend2.test.internal': backend2.port,
      'corsup.test.internal': corsUp.port,
      'mirror.test.internal': mirror.up.port,
      'never.test.internal': never.up.port,
      'half.test.internal': half.up.port,
      'sentinel.test.internal': sentinel.up.port,
      'slow.test.internal': slow.up.port,
      'reset.test.internal': reset.up.port,
    }),
    { gatewayPorts: [80, 8080] },
  );
});

afterAll(async () => {
  const ups = [backend, backend2, corsUp, ...[mirror, never, half, sentinel, slow, reset].map((r) => r?.up)];
  await Promise.all(ups.map((u) => u?.close()));
  await gw?.stop();
});

describe('redirect', () => {
  const get = (path: string, host = 'redirect.example.com', port = 80) => gw.get(host, path, port);

  it('replaces the whole path with redirect.uri, keeps the query, answers 301 by default', async () => {
    const a = await get('/old?a=1&b=two');
    expect(a.status).toBe(301);
    expect(a.headers.location).toBe('http://redirect.example.com/new/path?a=1&b=two');
    expect(a.body).toBe('');
    expect(a.headers.server).toBe('istio-envoy');
  });

  it('does not redirect a path the exact match does not cover', async () => {
    const a = await get('/old/more');
    expect(a.status).toBe(200);
    expect(a.headers.location).toBeUndefined();
    expect(echo(a).url).toBe('/old/more');
  });

  it('takes the query string of redirect.uri when it has one (and drops the request one)', async () => {
    const a = await get('/own-query/x?dropped=1');
    expect(a.status).toBe(308);
    expect(a.headers.location).toBe('http://redirect.example.com/target?fixed=1');
  });

  it('replaces the authority (and any port the Host carried) with redirectCode', async () => {
    const a = await get('/authority/x?q=1');
    expect(a.status).toBe(302);
    expect(a.headers.location).toBe('http://other.example.com/authority/x?q=1');
    const b = await get('/authority/y', 'redirect.example.com:8000');
    expect(b.headers.location).toBe('http://other.example.com/authority/y');
  });

  it('changes the scheme; a default port of the old scheme is dropped, any other port kept', async () => {
    expect((await get('/scheme/x')).headers.location).toBe('https://redirect.example.com/scheme/x');
    expect((await get('/scheme/x', 'redirect.example.com:80')).headers.location).toBe('https://redirect.example.com/scheme/x');
    expect((await get('/scheme/x', 'redirect.example.com:8000')).headers.location).toBe('https://redirect.example.com:8000/scheme/x');
  });

  it('sets a fixed port, replacing the one the Host carried', async () => {
    expect((await get('/port/x')).headers.location).toBe('http://redirect.example.com:9443/port/x');
    expect((await get('/port/x', 'redirect.example.com:8000')).headers.location).toBe('http://redirect.example.com:9443/port/x');
  });

  it('omits the port when it is the default of the target scheme', async () => {
    expect((await get('/to-https-443/x')).headers.location).toBe('https://redirect.example.com/to-https-443/x');
  });

  it('derivePort FROM_REQUEST_PORT uses the Gateway port the request came in on (80 is implied for http)', async () => {
    expect((await get('/request-port/x', 'redirect.example.com', 8080)).headers.location).toBe('http://redirect.example.com:8080/request-port/x');
    expect((await get('/request-port/x', 'redirect.example.com', 80)).headers.location).toBe('http://redirect.example.com/request-port/x');
  });

  it('derivePort FROM_PROTOCOL_DEFAULT leaves the port to the scheme', async () => {
    expect((await get('/protocol-default/x?k=v')).headers.location).toBe('https://redirect.example.com/protocol-default/x?k=v');
    expect((await get('/protocol-default/x', 'redirect.example.com:80')).headers.location).toBe('https://redirect.example.com/protocol-default/x');
  });

  it('applies the route response headers to the redirect', async () => {
    const a = await get('/hsts');
    expect(a.status).toBe(307);
    expect(a.headers.location).toBe('https://redirect.example.com/hsts');
    expect(a.headers['strict-transport-security']).toBe('max-age=31536000');
    expect((await get('/scheme/x')).headers['strict-transport-security']).toBeUndefined();
  });

  it('never contacts the upstream for a redirect', async () => {
    await get('/old');
    await get('/port/y');
    const redirected = ['/new', '/old?', '/authority', '/scheme', '/port', '/request-port', '/protocol-default', '/to-https-443', '/own-query', '/hsts'];
    const hits = backend.seen.filter((s) => s.headers.host?.startsWith('redirect.example.com') && redirected.some((p) => s.url.startsWith(p)));
    expect(hits).toEqual([]);
    expect(backend.seen.some((s) => s.url === '/old/more')).toBe(true);
  });
});

describe('rewrite', () => {
  const get = (path: string, headers: Record<string, string> = {}) => gw.get('rewrite.example.com', { path, headers }).then(echo);

  it('replaces the matched prefix with rewrite.uri and keeps the query', async () => {
    const e = await get('/api/v1/users?x=1&y=2');
    expect(e.url).toBe('/v2/users?x=1&y=2');
    expect(e.headers.host).toBe('rewrite.example.com');
  });

  it('replaces only the prefix, literally (Envoy prefix_rewrite: /strip/users with uri / gives //users)', async () => {
    expect((await get('/strip/users')).url).toBe('//users');
    expect((await get('/strip')).url).toBe('/');
  });

  it('leaves a path that no rewriting route matches alone', async () => {
    expect((await get('/api/v2/users?x=1')).url).toBe('/api/v2/users?x=1');
    expect((await get('/exact/more')).url).toBe('/exact/more');
  });

  it('replaces the whole path on an exact or regex match', async () => {
    expect((await get('/exact?y=2')).url).toBe('/replaced/whole?y=2');
    expect((await get('/rx/abc?k=v')).url).toBe('/from-regex?k=v');
  });

  it('replaces a prefix matched case-insensitively', async () => {
    expect((await get('/CaseFold/Item')).url).toBe('/cf/Item');
  });

  it('on a route without a uri match replaces the leading /', async () => {
    expect((await get('/foo/bar?q=1', { 'x-rewrite': 'base' })).url).toBe('/base/foo/bar?q=1');
    expect((await get('/foo/bar?q=1', { 'x-rewrite': 'other' })).url).toBe('/foo/bar?q=1');
  });

  it('uriRegexRewrite substitutes \\1 groups and keeps the query', async () => {
    expect((await get('/service/foo/bar/baz?z=3')).url).toBe('/bar/baz/instance/foo?z=3');
    // The pattern does not match: the path goes up unchanged.
    expect((await get('/service')).url).toBe('/service');
  });

  it('uriRegexRewrite replaces every match, not only the first', async () => {
    expect((await get('/every/one/x/one?one=1')).url).toBe('/every/two/x/two?one=1');
  });

  it('rewrite.authority changes the Host sent upstream, not the path', async () => {
    const e = await get('/host/x?h=1');
    expect(e.headers.host).toBe('rewritten.internal');
    expect(e.url).toBe('/host/x?h=1');
    expect((await get('/other')).headers.host).toBe('rewrite.example.com');
  });
});

describe('headers', () => {
  const send = (path: string) =>
    gw.get('headers.example.com', {
      path,
      headers: { 'x-drop': 'client', 'x-dest-drop': 'client', 'x-added': 'client', 'x-both': 'client', 'x-keep': 'client' },
    });

  const common = (a: Answer) => {
    expect(a.status).toBe(200);
    const up = echo(a).headers;
    expect(up['x-route-set']).toBe('route');
    expect(up['x-dest-set']).toBe('dest');
    expect(up['x-added']).toBe('client, route');
    expect(up['x-drop']).toBeUndefined();
    expect(up['x-dest-drop']).toBeUndefined();
    expect(up['x-keep']).toBe('client');
    expect(a.headers['x-resp-route']).toBe('route');
    expect(a.headers['x-resp-dest']).toBe('dest');
    expect(a.headers['x-resp-added']).toBe('route');
    expect(a.headers['x-upstream']).toBeUndefined();
    expect(a.headers['content-type']).toBe('application/json');
    return up;
  };

  it('single destination: route and destination edits apply, the destination one last (Istio folds it into the route)', async () => {
    const a = await send('/single');
    const up = common(a);
    expect(up['x-both']).toBe('dest');
    expect(a.headers['x-resp-both']).toBe('dest');
  });

  it('weighted destinations: the route-level edits apply after the destination-level ones', async () => {
    const a = await send('/weighted');
    const up = common(a);
    expect(up['x-both']).toBe('route');
    expect(a.headers['x-resp-both']).toBe('route');
  });

  it('a route without header edits passes headers through untouched', async () => {
    const a = await send('/plain');
    const up = echo(a).headers;
    expect(up['x-drop']).toBe('client');
    expect(up['x-both']).toBe('client');
    expect(up['x-added']).toBe('client');
    expect(up['x-route-set']).toBeUndefined();
    expect(a.headers['x-upstream']).toBe('backend');
    expect(a.headers['x-resp-route']).toBeUndefined();
  });
});

describe('fields written with nothing under them', () => {
  it('a match whose headers, withoutHeaders and queryParams are empty tests its URI only', async () => {
    const a = await gw.get('empty-fields.example.com', '/empty/x?q=1');
    expect(a.status).toBe(200);
    expect(a.headers['x-upstream']).toBe('backend');
    expect((await gw.get('empty-fields.example.com', '/other')).status).toBe(404);
  });

  it('a route whose request header edits are empty still rewrites its URI', async () => {
    const a = await gw.get('empty-fields.example.com', '/renamed');
    expect(a.status).toBe(200);
    expect(backend.seen.some((s) => s.headers.host?.startsWith('empty-fields.example.com') && s.url === '/as-rewritten')).toBe(true);
  });

  it('a VirtualService whose http is empty gives its host no HTTP routes (404 route_not_found)', async () => {
    const a = await gw.get('no-http.example.com', '/');
    expect(a.status).toBe(404);
    expect(a.headers.server).toBe('istio-envoy');
  });
});

describe('directResponse', () => {
  it('answers with body.string, text/plain, and the route response headers', async () => {
    const a = await gw.get('direct.example.com', '/string');
    expect(a.status).toBe(503);
    expect(a.body).toBe('down for maintenance');
    expect(a.headers['content-type']).toBe('text/plain');
    expect(a.headers['content-length']).toBe(String('down for maintenance'.length));
    expect(a.headers['retry-after']).toBe('120');
  });

  it('answers with the decoded body.bytes', async () => {
    const a = await getBytes(gw.port(), 'direct.example.com', '/bytes');
    expect(a.status).toBe(200);
    expect(a.body.equals(BINARY)).toBe(true);
    expect(a.headers['content-length']).toBe(String(BINARY.length));
  });

  it('answers with no body when none is configured', async () => {
    const a = await gw.get('direct.example.com', '/empty');
    expect(a.status).toBe(200);
    expect(a.body).toBe('');
    expect(a.headers['content-length']).toBe('0');
    expect(a.headers['content-type']).toBeUndefined();
  });

  it('never contacts the upstream; other paths still reach it', async () => {
    const other = await gw.get('direct.example.com', '/string/not-exact');
    expect(other.status).toBe(200);
    expect(echo(other).url).toBe('/string/not-exact');
    const hits = backend.seen.filter((s) => s.headers.host === 'direct.example.com');
    expect(hits.map((h) => h.url)).toEqual(['/string/not-exact']);
  });
});

describe('corsPolicy', () => {
  const preflight = (path: string, origin: string, extra: Record<string, string> = {}) =>
    gw.get('cors.example.com', { method: 'OPTIONS', path, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-custom', ...extra } });
  const actual = (path: string, origin?: string) => gw.get('cors.example.com', { path, headers: origin ? { origin } : {} });
  const optionsSeen = (path: string) => backend.seen.filter((s) => s.method === 'OPTIONS' && s.url === path);

  it('answers a preflight from an allowed (exact) origin itself, with the policy', async () => {
    const a = await preflight('/matchers/exact', 'https://exact.example.com');
    expect(a.status).toBe(200);
    expect(a.body).toBe('');
    expect(a.headers['access-control-allow-origin']).toBe('https://exact.example.com');
    expect(a.headers['access-control-allow-methods']).toBe('GET,POST,PATCH');
    expect(a.headers['access-control-allow-headers']).toBe('x-custom,content-type');
    expect(a.headers['access-control-max-age']).toBe('86400');
    expect(a.headers['access-control-allow-credentials']).toBe('true');
    expect(a.headers['access-control-expose-headers']).toBeUndefined();
    expect(a.headers['x-upstream']).toBeUndefined();
    expect(optionsSeen('/matchers/exact')).toEqual([]);
  });

  it('allows origins by prefix and by regex (the whole origin must match)', async () => {
    const p = await preflight('/matchers/prefix', 'https://prefix.example.org');
    expect(p.headers['access-control-allow-origin']).toBe('https://prefix.example.org');
    const r = await preflight('/matchers/regex', 'https://app.regex.example.com');
    expect(r.headers['access-control-allow-origin']).toBe('https://app.regex.example.com');
    const bad = await preflight('/matchers/regex-bad', 'https://app.regex.example.com.evil.net');
    expect(bad.headers['access-control-allow-origin']).toBeUndefined();
    expect(optionsSeen('/matchers/regex-bad')).toHaveLength(1);
  });

  it('forwards a preflight from a disallowed origin upstream, adding no CORS headers', async () => {
    const a = await preflight('/matchers/evil', 'https://evil.example.com');
    expect(a.status).toBe(200);
    expect(a.headers['x-upstream']).toBe('backend');
    expect(echo(a).method).toBe('OPTIONS');
    for (const h of ['access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age', 'access-control-allow-credentials']) {
      expect(a.headers[h]).toBeUndefined();
    }
    expect(optionsSeen('/matchers/evil')).toHaveLength(1);
  });

  it('unmatchedPreflights IGNORE answers a disallowed preflight 200 itself, without allow-origin', async () => {
    const a = await preflight('/ignore/evil', 'https://evil.example.com');
    expect(a.status).toBe(200);
    expect(a.headers['access-control-allow-origin']).toBeUndefined();
    expect(a.headers['x-upstream']).toBeUndefined();
    expect(optionsSeen('/ignore/evil')).toEqual([]);
    const ok = await preflight('/ignore/ok', 'https://exact.example.com');
    expect(ok.headers['access-control-allow-origin']).toBe('https://exact.example.com');
    expect(ok.headers['access-control-allow-methods']).toBe('GET');
  });

  it('adds allow-origin, expose-headers and allow-credentials to the answer to an allowed actual request', async () => {
    const a = await actual('/matchers/data', 'https://exact.example.com');
    expect(a.status).toBe(200);
    expect(a.headers['x-upstream']).toBe('backend');
    expect(a.headers['access-control-allow-origin']).toBe('https://exact.example.com');
    expect(a.headers['access-control-expose-headers']).toBe('x-exposed,x-other');
    expect(a.headers['access-control-allow-credentials']).toBe('true');
    expect(a.headers['access-control-allow-methods']).toBeUndefined();
    expect(a.headers['access-control-max-age']).toBeUndefined();
  });

  it('adds nothing for a disallowed origin or a request without Origin', async () => {
    for (const a of [await actual('/matchers/data', 'https://evil.example.com'), await actual('/matchers/data')]) {
      expect(a.status).toBe(200);
      expect(a.headers['access-control-allow-origin']).toBeUndefined();
      expect(a.headers['access-control-expose-headers']).toBeUndefined();
      expect(a.headers['access-control-allow-credentials']).toBeUndefined();
    }
  });

  it('treats OPTIONS without Access-Control-Request-Method as an actual request (forwarded)', async () => {
    const a = await gw.get('cors.example.com', { method: 'OPTIONS', path: '/matchers/not-preflight', headers: { origin: 'https://exact.example.com' } });
    expect(a.headers['x-upstream']).toBe('backend');
    expect(a.headers['access-control-allow-origin']).toBe('https://exact.example.com');
    expect(a.headers['access-control-allow-methods']).toBeUndefined();
    expect(optionsSeen('/matchers/not-preflight')).toHaveLength(1);
  });

  it('legacy allowOrigin matches exactly', async () => {
    expect((await preflight('/legacy/a', 'https://legacy.example.com')).headers['access-control-allow-origin']).toBe('https://legacy.example.com');
    const other = await preflight('/legacy/b', 'https://legacy.example.com.evil.net');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect(other.headers['x-upstream']).toBe('backend');
  });

  it('allowOrigin "*" and allowOrigins exact "*" allow any origin, echoing it back', async () => {
    for (const path of ['/any/a', '/exact-star/a']) {
      const a = await preflight(path, 'https://whoever.test');
      expect(a.headers['access-control-allow-origin']).toBe('https://whoever.test');
      expect(a.headers['access-control-allow-methods']).toBe('GET');
      const g = await actual(path, 'https://someone.else');
      expect(g.headers['access-control-allow-origin']).toBe('https://someone.else');
    }
  });

  it('allowOrigins, when set, takes precedence over the legacy allowOrigin', async () => {
    expect((await preflight('/precedence/new', 'https://new.example.com')).headers['access-control-allow-origin']).toBe('https://new.example.com');
    const old = await preflight('/precedence/old', 'https://old.example.com');
    expect(old.headers['access-control-allow-origin']).toBeUndefined();
    expect(optionsSeen('/precedence/old')).toHaveLength(1);
  });

  it('overrides the allow-origin the upstream sent for an allowed origin, and leaves it alone otherwise', async () => {
    const a = await actual('/upstream-cors', 'https://exact.example.com');
    expect(a.headers['x-upstream']).toBe('corsup');
    expect(a.headers['access-control-allow-origin']).toBe('https://exact.example.com');
    expect(a.headers['access-control-expose-headers']).toBe('x-exposed');
    const b = await actual('/upstream-cors', 'https://evil.example.com');
    expect(b.headers['access-control-allow-origin']).toBe('*');
    expect(b.headers['access-control-expose-headers']).toBe('x-from-upstream');
  });
});

describe('mirror', () => {
  it('sends a copy, body included, with the Host suffixed -shadow; the answer comes from the main route', async () => {
    await gw.get('mirror.example.com', '/plain/not-mirrored');
    const body = 'hello mirror body';
    const a = await gw.get('mirror.example.com', { method: 'POST', path: '/full/echo?q=1', body, headers: { 'content-type': 'text/plain', 'x-trace': 't1' } });
    expect(a.status).toBe(200);
    expect(a.headers['x-upstream']).toBe('backend');
    expect(echo(a).bodyBytes).toBe(body.length);
    await until(() => mirror.hits.length >= 1, 'the mirrored copy');
    expect(mirror.hits).toEqual([{ method: 'POST', url: '/full/echo?q=1', host: 'mirror.example.com-shadow', body }]);
  });

  it('puts -shadow before the port of the Host', async () => {
    const a = await gw.get('mirror.example.com:80', '/full/port');
    expect(echo(a).headers.host).toBe('mirror.example.com:80');
    await until(() => mirror.hits.some((h) => h.url === '/full/port'), 'the mirrored copy');
    expect(mirror.hits.find((h) => h.url === '/full/port')!.host).toBe('mirror.example.com-shadow:80');
  });

  it('mirrors nothing at percentage 0, about half at 50, everything without a percentage', async () => {
    for (let i = 0; i < 20; i++) expect((await gw.get('mirror.example.com', `/legacy-zero/${i}`)).status).toBe(200);
    const n = 200;
    for (let batch = 0; batch < n; batch += 20) {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => gw.get('mirror.example.com', `/percent/${batch + i}`)));
      for (const a of answers) expect(a.status).toBe(200);
    }
    await until(() => sentinel.hits.length >= n, 'every copy at the 100% mirror');
    await sleep(100);
    expect(sentinel.hits).toHaveLength(n);
    expect(never.hits).toEqual([]);
    expect(half.hits.length).toBeGreaterThan(n * 0.3);
    expect(half.hits.length).toBeLessThan(n * 0.7);
    expect(half.hits.every((h) => h.host === 'mirror.example.com-shadow' && h.url.startsWith('/percent/'))).toBe(true);
  });

  it('answers while a slow mirror is still busy', async () => {
    const body = 'x'.repeat(10_000);
    const a = await gw.get('mirror.example.com', { method: 'PUT', path: '/slow/1', body });
    // The mirror takes 2 s to answer; the client already has the main answer.
    expect(slow.answered).toBe(0);
    expect(a.status).toBe(200);
    expect(echo(a).bodyBytes).toBe(body.length);
    await until(() => slow.hits.length >= 1, 'the slow mirror to get its copy');
    expect(slow.hits[0]!.body.length).toBe(body.length);
    const b = await gw.get('mirror.example.com', '/slow/2');
    expect(b.status).toBe(200);
    expect(slow.answered).toBe(0);
  });

  it('answers normally when the mirror resets the connection', async () => {
    // (Not under /reset: the default upstream itself drops connections for such paths.)
    const a = await gw.get('mirror.example.com', { method: 'POST', path: '/mirror-drops/1', body: 'payload' });
    expect(a.status).toBe(200);
    expect(echo(a).bodyBytes).toBe(7);
    await until(() => reset.hits.length >= 1, 'the resetting mirror to get its copy');
    const b = await gw.get('mirror.example.com', '/mirror-drops/2');
    expect(b.status).toBe(200);
    expect(b.headers['x-upstream']).toBe('backend');
  });
});

describe('delegate', () => {
  const get = (path: string, headers: Record<string, string> = {}) => gw.get('delegate.example.com', { path, headers });

  it('serves the routes of a delegate in the same namespace under the root prefix', async () => {
    const a = await get('/same/v1/items');
    expect(a.status).toBe(200);
    expect(a.headers['x-upstream']).toBe('backend');
    expect(echo(a).headers['x-delegate-route']).toBe('v1');
    const b = await get('/same/anything');
    expect(b.headers['x-upstream']).toBe('backend');
    expect(echo(b).headers['x-delegate-route']).toBeUndefined();
  });

  it('narrows a delegate match by the root match (header-only delegate route keeps the root prefix)', async () => {
    expect((await get('/same/anything', { 'x-variant': 'b' })).headers['x-upstream']).toBe('backend2');
    // Outside the root prefix the same header does not select the delegate route.
    expect((await get('/elsewhere/x', { 'x-variant': 'b' })).status).toBe(404);
  });

  it('does not serve a delegate route that conflicts with the root match', async () => {
    expect((await get('/elsewhere')).status).toBe(404);
    // One conflicting condition drops the whole delegate route; the delegate's catch-all takes it.
    const a = await get('/same/mixed/x');
    expect(a.status).toBe(200);
    expect(a.headers['x-upstream']).toBe('backend');
    expect((await get('/elsewhere-too')).status).toBe(404);
  });

  it('serves a delegate from another namespace', async () => {
    const a = await get('/team/api/x');
    expect(a.status).toBe(200);
    expect(a.headers['x-upstream']).toBe('backend2');
    expect((await get('/team/other')).status).toBe(404);
  });

  it('does not use a delegate that is not exported to the root namespace', async () => {
    expect((await get('/hidden/x')).status).toBe(404);
  });

  it('refuses nested delegation, as Istio\'s webhook does: a gateway will not start on it, and names the object and field', async () => {
    const nested = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: nested-delegate, namespace: default}
spec:
  http:
  - match: [{uri: {prefix: /nested/deeper}}]
    delegate: {name: same-delegate}
`;
    await expect(startGateway({ 'gw.yaml': GATEWAY_ANY_HOST, 'nested.yaml': nested })).rejects.toThrow(/VirtualService default\/nested-delegate: spec\.http\[0\]/);
  });

  it('delegate routes inherit what the root route sets and they do not (headers, timeout)', async () => {
    const a = await get('/inherit/x');
    expect(echo(a).headers['x-from-root']).toBe('root');
    const slowOne = await get('/inherit/x/delay/1000');
    expect(slowOne.status).toBe(504);
    expect(slowOne.body).toBe('upstream request timeout');
    const own = await get('/inherit/own/delay/300');
    expect(own.status).toBe(200);
    expect(echo(own).headers['x-own']).toBe('delegate');
    expect(echo(own).headers['x-from-root']).toBeUndefined();
  });
});

describe('timeout per route', () => {
  it('answers 504 upstream request timeout on the route with timeout: 0.2s', async () => {
    const a = await gw.get('timeout.example.com', '/short/delay/1000');
    expect(a.status).toBe(504);
    expect(a.body).toBe('upstream request timeout');
    expect(a.headers['content-type']).toBe('text/plain');
  });

  it('waits for the same upstream on the route without a timeout', async () => {
    const a = await gw.get('timeout.example.com', '/long/delay/1000');
    expect(a.status).toBe(200);
    expect(echo(a).url).toBe('/long/delay/1000');
  });
});
