import cluster from 'node:cluster';
import { describeCluster } from '../admin/clusters.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { CompileCache } from '../compile/compile-cache.js';
import { compileAhead, fromWire, PushedConfigSource, readOwn, type HeldFiles, type LoadedConfig, type OwnRead } from './config-source.js';
import { Gateway } from './gateway.js';
import type { ServeOptions } from './options.js';
import { WORKER_SLOT_ENV, type FromWorker, type ToWorker } from './worker-protocol.js';

function send(msg: FromWorker): void {
  if (process.connected) process.send!(msg);
}

function prefixed(log: Logger, prefix: string): Logger {
  return { info: (m) => log.info(prefix + m), warn: (m) => log.warn(prefix + m), error: (m) => log.error(prefix + m) };
}

/**
 * A worker process of `serve --workers N`: waits for the primary's config, listens on the shared
 * ports, then applies each config the primary pushes and answers its questions. It drains on the
 * primary's word, on its own SIGTERM/SIGINT (a terminal's Ctrl-C reaches every process of the
 * group), or when the primary is gone.
 */
export async function runWorker(opts: ServeOptions): Promise<number> {
  if (!cluster.isWorker) throw new Error('runWorker outside a cluster worker');
  const log = prefixed(createLogger(opts.logFormat), `worker ${process.env[WORKER_SLOT_ENV] ?? cluster.worker!.id}: `);
  let gateway: Gateway | null = null;
  let source: PushedConfigSource | null = null;
  let finished: (code: number) => void = () => undefined;
  const done = new Promise<number>((r) => (finished = r));
  let stopping = false;

  const drain = (delayMs: number, deadlineMs: number) => {
    if (stopping) return;
    stopping = true;
    if (gateway === null) return finished(0);
    void gateway.stop(deadlineMs, delayMs).then(() => finished(0));
  };
  process.on('SIGTERM', () => drain(opts.drainDelaySeconds * 1000, opts.drainSeconds * 1000));
  process.on('SIGINT', () => drain(opts.drainDelaySeconds * 1000, opts.drainSeconds * 1000));
  process.on('SIGHUP', () => undefined); // the primary reloads and pushes the result
  process.on('disconnect', () => drain(0, opts.drainSeconds * 1000));

  // The config files' objects as the primary sent them: a file it sends by name only is one of these.
  const held: HeldFiles = new Map();
  // The config files as this worker read them at its start, until the primary's first config.
  let ownRead: OwnRead | undefined;
  const compileCache = new CompileCache();

  process.on('message', (msg: ToWorker) => {
    if (msg.type === 'config') {
      let config: LoadedConfig;
      try {
        config = fromWire(msg.config, held, ownRead);
        ownRead = undefined;
      } catch (e) {
        // The primary and this worker disagree on what it holds: a fresh worker starts clean.
        log.error(`${(e as Error).message}; exiting, to be replaced`);
        return finished(1);
      }
      if (source === null) {
        source = new PushedConfigSource(config, compileCache);
        const own: ServeOptions = { ...opts, watchConfig: false, standIns: false, reservedPorts: msg.reservedPorts };
        if (msg.listen) own.listen = new Map(msg.listen);
        if (msg.meshListen) own.meshListen = msg.meshListen;
        Gateway.start(own, log, source, 'worker').then(
          (gw) => {
            gateway = gw;
            if (stopping) return void gw.stop(0).then(() => finished(0));
            send({ type: 'ready', version: gw.snapshot.version, bound: gw.bound });
          },
          (e: unknown) => {
            send({ type: 'failed', message: (e as Error).message });
            finished(1);
          },
        );
        return;
      }
      source.push(config);
      if (gateway === null) return; // still starting: it reads the newest config when it starts
      const gw = gateway;
      void gw.reload().then((ok) => send({ type: 'applied', version: gw.snapshot.version, ok }));
      return;
    }
    if (msg.type === 'ask') {
      if (gateway === null) return send({ type: 'answer', id: msg.id });
      if (msg.what === 'counts') return send({ type: 'answer', id: msg.id, counts: gateway.metricsState() });
      return send({ type: 'answer', id: msg.id, clusters: gateway.clusterList().map((c) => describeCluster(c)) });
    }
    if (msg.type === 'drain') drain(msg.delayMs, msg.deadlineMs);
  });
  // Read here while the primary reads too (listening already, for a drain meanwhile); the
  // primary says which files it read the same.
  try {
    ownRead = await readOwn(opts.configPaths, opts.defaultNamespace);
  } catch {
    // The primary reads the same files and says what is wrong with them; it sends the objects.
    ownRead = undefined;
  }
  if (stopping) return done;
  send({ type: 'hello', files: ownRead?.digests });
  // While the primary still reads: its config's compile then finds most of the work done.
  if (ownRead !== undefined) await compileAhead(ownRead, opts, compileCache, () => source === null && !stopping);
  return done;
}
