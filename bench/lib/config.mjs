// Config directories for the meshgate processes under test:
//  - seed: the shipped example (gateways/*) with its Endpoints pointed at the bench upstream;
//  - route table: the same plus a generated Gateway and HOSTS VirtualServices × ROUTES uri-prefix routes;
//  - https: the same plus an HTTPS server on gateway port 443 and a VirtualService bound to it.
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

const CONFIG_EXT = /\.(ya?ml|json)$/i;

/**
 * Copies the example config into `dir`, dropping its Endpoints/EndpointSlice objects (they point
 * at `npm start`'s stand-ins) and adding one Endpoints per Service that points every service
 * port at 127.0.0.1:`upstreamPort`. Returns what it wrote, for the report.
 */
export function writeSeedConfig(srcDir, dir, upstreamPort) {
  fs.mkdirSync(dir, { recursive: true });
  const services = [];
  let dropped = 0;
  for (const file of fs.readdirSync(srcDir).filter((f) => CONFIG_EXT.test(f)).sort()) {
    const text = fs.readFileSync(path.join(srcDir, file), 'utf8');
    const docs = parseAllDocuments(text);
    const keep = [];
    for (const doc of docs) {
      const obj = doc.toJS();
      if (obj === null || typeof obj !== 'object') continue;
      if (obj.kind === 'Endpoints' || obj.kind === 'EndpointSlice') {
        dropped++;
        continue;
      }
      if (obj.kind === 'Service') services.push(obj);
      keep.push(doc);
    }
    if (keep.length === docs.length) fs.copyFileSync(path.join(srcDir, file), path.join(dir, file));
    else if (keep.length > 0) fs.writeFileSync(path.join(dir, file), keep.map((d) => d.toString()).join('---\n'));
  }
  if (services.length === 0) throw new Error(`no Service in ${srcDir}: nothing to point at the bench upstream`);
  const endpoints = services.map((s) => {
    const ports = (s.spec?.ports ?? []).map((p) => `    - ${p.name ? `name: ${p.name}\n      ` : ''}port: ${upstreamPort}`);
    return [
      'apiVersion: v1',
      'kind: Endpoints',
      'metadata:',
      `  name: ${s.metadata.name}`,
      ...(s.metadata.namespace ? [`  namespace: ${s.metadata.namespace}`] : []),
      'subsets:',
      '- addresses:',
      '  - ip: 127.0.0.1',
      '  ports:',
      ...ports,
    ].join('\n');
  });
  fs.writeFileSync(path.join(dir, 'zz-bench-endpoints.yml'), '# Written by bench/run.mjs: the seed services, served by the bench upstream.\n' + endpoints.join('\n---\n') + '\n');
  return {
    services: services.map((s) => ({ namespace: s.metadata.namespace ?? 'default', name: s.metadata.name, port: s.spec?.ports?.[0]?.port ?? 80 })),
    droppedEndpoints: dropped,
  };
}

/**
 * The seed config plus a route table of `hosts` VirtualServices (one host each, `routes`
 * uri-prefix routes each, the last one `prefix: /`), bound to their own Gateway on port 80
 * (`*.bench.example`). All routes go to the seed's service, so only routing differs.
 * Returns the request that hits the last route of the host in the middle of the table.
 */
export function writeRouteTableConfig(srcDir, dir, upstreamPort, { hosts = 1000, routes = 10 } = {}) {
  const seed = writeSeedConfig(srcDir, dir, upstreamPort);
  const { namespace: ns, name: svcName, port: svcPort } = seed.services[0];
  const pad = (n) => String(n).padStart(4, '0');
  const parts = [
    [
      'apiVersion: networking.istio.io/v1alpha3',
      'kind: Gateway',
      'metadata:',
      '  name: bench-route-table',
      `  namespace: ${ns}`,
      'spec:',
      '  selector:',
      '    istio: ingressgateway',
      '  servers:',
      '  - port:',
      '      number: 80',
      '      name: http-bench',
      '      protocol: HTTP',
      '    hosts:',
      '    - "*.bench.example"',
    ].join('\n'),
  ];
  for (let h = 0; h < hosts; h++) {
    const lines = [
      'apiVersion: networking.istio.io/v1alpha3',
      'kind: VirtualService',
      'metadata:',
      `  name: rt-${pad(h)}`,
      `  namespace: ${ns}`,
      'spec:',
      '  hosts:',
      `  - h-${pad(h)}.bench.example`,
      '  gateways:',
      '  - bench-route-table',
      '  http:',
    ];
    for (let r = 0; r < routes; r++) {
      const prefix = r === routes - 1 ? '/' : `/app-${pad(h)}/r${r}/`;
      lines.push(
        `  - name: r${r}`,
        '    match:',
        '    - uri:',
        `        prefix: ${prefix}`,
        '    route:',
        '    - destination:',
        `        host: ${svcName}`,
        '        port:',
        `          number: ${svcPort}`,
      );
    }
    parts.push(lines.join('\n'));
  }
  fs.writeFileSync(path.join(dir, 'zz-bench-route-table.yml'), '# Written by bench/run.mjs: the large route table scenario.\n' + parts.join('\n---\n') + '\n');
  const middle = Math.floor(hosts / 2);
  return { host: `h-${pad(middle)}.bench.example`, path: '/index.html', hosts, routes, routeName: `r${routes - 1}` };
}

/**
 * The seed config plus an HTTPS server on gateway port 443 (`tls: {mode: SIMPLE, credentialName}`,
 * hosts `*`) and a VirtualService binding `host` to it, routed to the seed's service. Hosts `*`
 * and not `host`: wrk sends the URL's host as SNI, here 127.0.0.1 (it has no --resolve), and a
 * server for `host` alone would refuse that handshake. Routing still goes by the Host header.
 */
export function writeHttpsConfig(srcDir, dir, upstreamPort, { host, credentialName }) {
  const seed = writeSeedConfig(srcDir, dir, upstreamPort);
  const { namespace: ns, name: svcName, port: svcPort } = seed.services[0];
  const docs = [
    [
      'apiVersion: networking.istio.io/v1alpha3',
      'kind: Gateway',
      'metadata:',
      '  name: bench-https',
      `  namespace: ${ns}`,
      'spec:',
      '  selector:',
      '    istio: ingressgateway',
      '  servers:',
      '  - port:',
      '      number: 443',
      '      name: https-bench',
      '      protocol: HTTPS',
      '    tls:',
      '      mode: SIMPLE',
      `      credentialName: ${credentialName}`,
      '    hosts:',
      '    - "*"',
    ],
    [
      'apiVersion: networking.istio.io/v1alpha3',
      'kind: VirtualService',
      'metadata:',
      '  name: bench-https',
      `  namespace: ${ns}`,
      'spec:',
      '  hosts:',
      `  - ${host}`,
      '  gateways:',
      '  - bench-https',
      '  http:',
      '  - route:',
      '    - destination:',
      `        host: ${svcName}`,
      '        port:',
      `          number: ${svcPort}`,
    ],
  ];
  fs.writeFileSync(path.join(dir, 'zz-bench-https.yml'), '# Written by bench/run.mjs: the HTTPS case.\n' + docs.map((d) => d.join('\n')).join('\n---\n') + '\n');
  return seed;
}

/**
 * A large config for the scale case: one Gateway for `*.scale.example` on port 80 and `vs`
 * VirtualServices of 4 uri-prefix routes (the last `prefix: /`), in files of `perFile`; each file
 * also holds the ServiceEntry (STATIC, 127.0.0.1:`upstreamPort`) and DestinationRule (round
 * robin, a connection pool) of the service its VirtualServices route to. Returns the files and
 * the request that takes the last route of the VirtualService in the middle. With `wildcard`,
 * each VirtualService's host is `*.h-NNNNN.scale.example` (requested as `x.h-NNNNN…`).
 */
/** A STATIC ServiceEntry for `host` on port 80, its one endpoint on 127.0.0.1:upstreamPort. */
export function scaleServiceEntry(name, host, upstreamPort) {
  return [
    'apiVersion: networking.istio.io/v1',
    'kind: ServiceEntry',
    `metadata: {name: ${name}, namespace: default}`,
    'spec:',
    `  hosts: [${host}]`,
    '  location: MESH_INTERNAL',
    '  resolution: STATIC',
    '  ports: [{number: 80, name: http, protocol: HTTP}]',
    `  endpoints: [{address: 127.0.0.1, ports: {http: ${upstreamPort}}}]`,
  ].join('\n');
}

/**
 * `regex`: the first three routes of each VirtualService match a regular expression instead of a
 * prefix (90,000 at 30,000 VirtualServices); the catch-all stays a prefix.
 *
 * `features`: each route also has what production routes usually carry (a timeout, retries,
 * request and response header edits; a URI rewrite on all but the catch-all route, which the
 * load requests): the config doubles in size and every check and compile step of those fields runs.
 */
export function writeScaleConfig(dir, upstreamPort, { vs, perFile = 100, wildcard = false, features = false, regex = false }) {
  fs.mkdirSync(dir, { recursive: true });
  const pad = (n) => String(n).padStart(5, '0');
  fs.writeFileSync(path.join(dir, '00-gateway.yaml'), [
    'apiVersion: networking.istio.io/v1',
    'kind: Gateway',
    'metadata: {name: scale, namespace: default}',
    'spec:',
    '  servers:',
    '  - port: {number: 80, name: http, protocol: HTTP}',
    '    hosts: ["*.scale.example"]',
    '',
  ].join('\n'));
  const files = [];
  for (let f = 0; f * perFile < vs; f++) {
    const svc = `svc-${pad(f)}.scale.internal`;
    const docs = [
      scaleServiceEntry(`svc-${pad(f)}`, svc, upstreamPort),
      [
        'apiVersion: networking.istio.io/v1',
        'kind: DestinationRule',
        `metadata: {name: svc-${pad(f)}, namespace: default}`,
        'spec:',
        `  host: ${svc}`,
        '  trafficPolicy:',
        '    loadBalancer: {simple: ROUND_ROBIN}',
        '    connectionPool: {http: {http1MaxPendingRequests: 1024, maxRequestsPerConnection: 0}}',
      ].join('\n'),
    ];
    for (let h = f * perFile; h < Math.min(vs, (f + 1) * perFile); h++) {
      const lines = [
        'apiVersion: networking.istio.io/v1',
        'kind: VirtualService',
        `metadata: {name: vs-${pad(h)}, namespace: default}`,
        'spec:',
        wildcard ? `  hosts: ["*.h-${pad(h)}.scale.example"]` : `  hosts: [h-${pad(h)}.scale.example]`,
        '  gateways: [scale]',
        '  http:',
      ];
      for (let r = 0; r < 4; r++) {
        lines.push(`  - name: r${r}`);
        if (features) {
          lines.push(
            '    timeout: 5s',
            '    retries: {attempts: 2, perTryTimeout: 2s, retryOn: "5xx,reset,connect-failure"}',
            `    headers: {request: {set: {x-scale-route: r${r}}}, response: {remove: [x-internal]}}`,
          );
          if (r !== 3) lines.push('    rewrite: {uri: /v1/}');
        }
        lines.push(
          regex && r !== 3
            ? `    match: [{uri: {regex: "/app-${pad(h)}/r${r}/[a-z]+/[0-9]+"}}]`
            : `    match: [{uri: {prefix: ${r === 3 ? '/' : `/app-${pad(h)}/r${r}/`}}}]`,
          `    route: [{destination: {host: ${svc}, port: {number: 80}}}]`,
        );
      }
      docs.push(lines.join('\n'));
    }
    const file = path.join(dir, `vs-${pad(f)}.yaml`);
    fs.writeFileSync(file, docs.join('\n---\n') + '\n');
    files.push(file);
  }
  const middle = Math.floor(vs / 2);
  return { files, host: `${wildcard ? 'x.' : ''}h-${pad(middle)}.scale.example`, path: '/index.html' };
}
