import type { Labels } from '../config/types.js';
import type { LogFormat } from '../telemetry/log.js';
import type { DownstreamTimeouts } from '../http/limits.js';

export interface HostPort {
  host?: string;
  port: number;
}

export interface ServeOptions {
  configPaths: string[];
  /** Gateway port → local address; ports not listed use DEFAULT_LISTEN or their own number. */
  listen: Map<number, HostPort>;
  statusPort: number;
  adminPort: number;
  tlsDir: string;
  defaultNamespace: string;
  workers: number;
  logFormat: LogFormat;
  meshListen?: HostPort;
  labels?: Labels;
  standIns: boolean;
  /** Reload when a config file changes (SIGHUP reloads either way). */
  watchConfig: boolean;
  /** How long requests in flight and tunnels may run after SIGTERM before they are cut. */
  drainSeconds: number;
  /** How long the listeners keep accepting after SIGTERM (readiness already 503), for load balancers to notice. */
  drainDelaySeconds: number;
  /** Where access log lines go (one per request or TCP connection, in --log-format). */
  accessLog: 'stdout' | 'off';
  /** Ports of this gateway served elsewhere (a primary's status and admin ports): never a tunnel's target. */
  reservedPorts?: number[];
  /** Client-side timeouts (Envoy's defaults unless set; tests shorten them). */
  timeouts?: Partial<DownstreamTimeouts>;
}

export const DEFAULT_LISTEN: ReadonlyMap<number, number> = new Map([
  [80, 8080],
  [443, 8443],
]);

export function listenAddressFor(opts: Pick<ServeOptions, 'listen'>, gatewayPort: number): HostPort {
  return opts.listen.get(gatewayPort) ?? { port: DEFAULT_LISTEN.get(gatewayPort) ?? gatewayPort };
}

export function defaultServeOptions(): ServeOptions {
  return {
    configPaths: ['./gateways'],
    listen: new Map(),
    statusPort: 15021,
    adminPort: 15000,
    tlsDir: './tls',
    defaultNamespace: 'default',
    workers: 1,
    logFormat: 'text',
    standIns: false,
    watchConfig: true,
    drainSeconds: 25,
    drainDelaySeconds: 0,
    accessLog: 'stdout',
  };
}
