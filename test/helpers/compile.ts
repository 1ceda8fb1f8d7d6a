import { expect } from 'vitest';
import { compile, type CompileOptions } from '../../src/compile/compile.js';
import type { ListenerConfig, Route, RouteTable, Snapshot } from '../../src/compile/snapshot.js';
import { parseConfigTexts } from '../../src/config/load.js';

/** Parses YAML as one file (failing the test on any load error) and compiles it. */
export function compileYaml(text: string, opts: CompileOptions = {}): Snapshot {
  const { objects, problems } = parseConfigTexts([{ file: 'test.yaml', text, mtimeMs: 1_700_000_000_000 }], { defaultNamespace: 'default' });
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return compile(objects, opts);
}

/**
 * The compiled routes of one VirtualService for `host` on a Gateway port 80 (hosts "*"), its
 * `http` entries given as objects; entries without an action route to a STATIC `backend.test`.
 */
export function compileRoutes(host: string, http: object[]): Route[] {
  const vs = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'app', namespace: 'default' },
    spec: { hosts: [host], gateways: ['gw'], http: http.map((h) => ({ route: [{ destination: { host: 'backend.test' } }], ...h })) },
  };
  const snapshot = compileYaml(`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: backend, namespace: default}
spec:
  hosts: [backend.test]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: 9001}}]
---
${JSON.stringify(vs)}
`);
  const l = snapshot.listeners.find((x) => x.port === 80);
  const vhost = l ? httpRoutes(l).exact.get(host) : undefined;
  if (!vhost) throw new Error('no virtual host compiled');
  return vhost.routes;
}

/** The route table of a listener's HTTP filter chain (plain-text listeners have one). */
export function httpRoutes(l: ListenerConfig): RouteTable {
  const chain = l.chains.find((c) => c.type === 'http');
  if (!chain) throw new Error(`listener ${l.name} has no HTTP filter chain`);
  return chain.routes;
}
