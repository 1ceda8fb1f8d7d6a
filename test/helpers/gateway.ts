import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Gateway } from '../../src/runtime/gateway.js';
import { defaultServeOptions, type ServeOptions } from '../../src/runtime/options.js';
import { createLogger, silentLogger } from '../../src/telemetry/log.js';
import { request, type Answer, type RequestOptions } from './http.js';

export interface TestGateway {
  gateway: Gateway;
  dir: string;
  /** Every line the gateway logged (text format), oldest first. */
  lines: string[];
  /** Local port serving the given Gateway port (default 80). */
  port(gatewayPort?: number): number;
  /** A request to the listener of `gatewayPort` (default 80) with this Host header. */
  get(host: string, pathOrOpts?: string | Partial<RequestOptions>, gatewayPort?: number): Promise<Answer>;
  stop(): Promise<void>;
}

export async function writeConfigDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshgate-test-'));
  for (const [name, text] of Object.entries(files)) {
    const full = path.join(dir, name);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, text);
  }
  return dir;
}

/**
 * Starts the real gateway in this process on the given config, every listener on an
 * ephemeral 127.0.0.1 port. `files` maps file names to YAML text.
 */
export async function startGateway(files: Record<string, string>, extra: Partial<ServeOptions> & { gatewayPorts?: number[]; keepLog?: boolean } = {}): Promise<TestGateway> {
  const dir = await writeConfigDir(files);
  const opts = defaultServeOptions();
  opts.configPaths = [dir];
  opts.statusPort = 0;
  opts.adminPort = 0;
  // Tests reload by hand, at the moment they choose; a watcher would add reloads of its own.
  opts.watchConfig = false;
  opts.accessLog = 'off';
  const ports = extra.gatewayPorts ?? [80, 443, 8080, 9080];
  for (const p of ports) opts.listen.set(p, { host: '127.0.0.1', port: 0 });
  const { gatewayPorts: _g, keepLog: _k, ...rest } = extra;
  Object.assign(opts, rest);
  for (const [k, v] of extra.listen ?? []) opts.listen.set(k, v);
  const lines: string[] = [];
  const gateway = await Gateway.start(opts, extra.keepLog ? createLogger('text', (l) => lines.push(l)) : silentLogger);
  const port = (gp = 80) => gateway.addressOf(gp).port;
  return {
    gateway,
    dir,
    lines,
    port,
    get: (host, pathOrOpts, gp = 80) => {
      const o = typeof pathOrOpts === 'string' ? { path: pathOrOpts } : (pathOrOpts ?? {});
      return request({ port: port(gp), ...o, headers: { host, ...(o.headers ?? {}) } });
    },
    stop: async () => {
      await gateway.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** YAML for a ServiceEntry whose STATIC endpoints are the given local upstreams. */
export function staticService(host: string, ports: number[], opts: { port?: number; namespace?: string; labels?: Record<string, string>[] } = {}): string {
  const port = opts.port ?? 80;
  const eps = ports
    .map((p, i) => {
      const labels = opts.labels?.[i];
      const lab = labels ? `\n    labels: {${Object.entries(labels).map(([k, v]) => `${k}: ${v}`).join(', ')}}` : '';
      return `  - address: 127.0.0.1\n    ports: {http: ${p}}${lab}`;
    })
    .join('\n');
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${host.replace(/[^a-z0-9]/g, '-')}
  namespace: ${opts.namespace ?? 'default'}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: ${port}, name: http, protocol: HTTP}
  endpoints:
${eps}
`;
}

/** A Gateway `default/gw` with one HTTP server on port 80 for every host. */
export const GATEWAY_ANY_HOST = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;

/** A VirtualService in `default` bound to `gw`, as one YAML (JSON) document. */
export function virtualServiceYaml(name: string, hosts: string[], httpRoutes: object[]): string {
  return JSON.stringify({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, namespace: 'default' },
    spec: { hosts, gateways: ['gw'], http: httpRoutes },
  });
}
