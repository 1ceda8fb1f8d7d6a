import cluster from 'node:cluster';
import os from 'node:os';
import { ConfigError } from '../runtime/config-source.js';
import { Gateway } from '../runtime/gateway.js';
import { Primary } from '../runtime/primary.js';
import { runWorker } from '../runtime/worker.js';
import { boundHeapGrowth, heapGrowthLine } from '../runtime/heap-growth.js';
import { defaultServeOptions, type ServeOptions } from '../runtime/options.js';
import { formatProblem } from '../config/problems.js';
import { createLogger, type LogFormat } from '../telemetry/log.js';
import { parse, parseCount, parseHostPort, parseLabels, parseListen, parsePort, UsageError } from './args.js';
import { SERVE_HELP } from './help.js';

export function serveOptionsFrom(argv: string[]): ServeOptions | 'help' {
  const { values } = parse('serve', argv, {
    config: { type: 'string', short: 'c', multiple: true },
    listen: { type: 'string', multiple: true },
    'status-port': { type: 'string' },
    'admin-port': { type: 'string' },
    'tls-dir': { type: 'string' },
    'default-namespace': { type: 'string' },
    workers: { type: 'string' },
    'log-format': { type: 'string' },
    'mesh-listen': { type: 'string' },
    labels: { type: 'string' },
    'stand-ins': { type: 'boolean' },
    'drain-seconds': { type: 'string' },
    'drain-delay': { type: 'string' },
    'access-log': { type: 'string' },
  });
  if (values.help) return 'help';
  const o = defaultServeOptions();
  if (values.config) o.configPaths = values.config as string[];
  if (values.listen) o.listen = parseListen(values.listen as string[]);
  if (values['status-port'] !== undefined) o.statusPort = parsePort('--status-port', values['status-port'] as string);
  if (values['admin-port'] !== undefined) o.adminPort = parsePort('--admin-port', values['admin-port'] as string);
  if (values['tls-dir'] !== undefined) o.tlsDir = values['tls-dir'] as string;
  if (values['default-namespace'] !== undefined) o.defaultNamespace = values['default-namespace'] as string;
  o.workers = values.workers !== undefined ? parseCount('--workers', values.workers as string) : os.availableParallelism();
  if (values['log-format'] !== undefined) {
    const f = values['log-format'] as string;
    if (f !== 'text' && f !== 'json') throw new UsageError(`--log-format: ${JSON.stringify(f)} must be text or json`);
    o.logFormat = f as LogFormat;
  }
  if (values['mesh-listen'] !== undefined) o.meshListen = parseHostPort('--mesh-listen', values['mesh-listen'] as string);
  if (values.labels !== undefined) o.labels = parseLabels(values.labels as string);
  o.standIns = values['stand-ins'] === true;
  if (values['access-log'] !== undefined) {
    const a = values['access-log'] as string;
    if (a !== 'stdout' && a !== 'off') throw new UsageError(`--access-log: ${JSON.stringify(a)} must be stdout or off`);
    o.accessLog = a;
  }
  if (values['drain-delay'] !== undefined) {
    const v = values['drain-delay'] as string;
    if (!/^\d+$/.test(v)) throw new UsageError(`--drain-delay: ${JSON.stringify(v)} is not a whole number of seconds`);
    o.drainDelaySeconds = Number(v);
  }
  if (values['drain-seconds'] !== undefined) {
    const v = values['drain-seconds'] as string;
    if (!/^\d+$/.test(v)) throw new UsageError(`--drain-seconds: ${JSON.stringify(v)} is not a whole number of seconds`);
    o.drainSeconds = Number(v);
  }
  return o;
}

export async function serveCommand(argv: string[]): Promise<number> {
  const opts = serveOptionsFrom(argv);
  if (opts === 'help') {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const heap = boundHeapGrowth();
  if (cluster.isWorker) process.exit(await runWorker(opts));
  const log = createLogger(opts.logFormat);
  // Signals are taken before the gateway starts: one arriving right after `ready` (or during
  // start-up) must drain or reload, not kill the process by Node's default action.
  let gateway: Gateway | Primary | null = null;
  let stopSignal: string | null = null;
  let stopped: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (stopped = resolve));
  const shutdown = (signal: string) => {
    if (stopSignal !== null) return;
    stopSignal = signal;
    if (gateway === null) return; // still starting: stops as soon as it has started
    const delay = opts.drainDelaySeconds > 0 ? `still accepting for ${opts.drainDelaySeconds} s (readiness 503, every answer closes its connection), then ` : '';
    log.info(`${signal}: draining: ${delay}no new connections; exiting when requests in flight are done, at most ${opts.drainSeconds} s after that`);
    void gateway.stop(opts.drainSeconds * 1000, opts.drainDelaySeconds * 1000).then(() => {
      log.info('stopped');
      stopped(0);
    });
  };
  const onHup = () => {
    if (gateway === null) return log.info('SIGHUP: still starting; the config being loaded is the current one');
    log.info('SIGHUP: reloading the config');
    void gateway.reload();
  };
  process.on('SIGHUP', onHup);
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    gateway = opts.workers > 1 ? await Primary.start(opts, log) : await Gateway.start(opts, log);
  } catch (e) {
    process.off('SIGHUP', onHup);
    if (e instanceof ConfigError) {
      for (const p of e.problems) if (p.severity !== 'info') log.error(formatProblem(p));
      log.error(`not started: ${e.message}; fix them (meshgate validate shows the same list)`);
      return 1;
    }
    throw e;
  }
  // After start, as a usage error must stay the only line.
  log.info(heapGrowthLine(heap));
  if (stopSignal !== null) {
    const signal = stopSignal;
    stopSignal = null;
    shutdown(signal);
  }
  return done;
}
