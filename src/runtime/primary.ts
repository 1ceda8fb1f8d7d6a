import cluster, { type Worker } from 'node:cluster';
import net, { type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createAdminServer } from '../admin/admin.js';
import { createStatusServer } from '../admin/status.js';
import type { Snapshot } from '../compile/snapshot.js';
import type { Logger } from '../telemetry/log.js';
import { renderMetrics, sumRefusals, type DataPlaneCounts } from '../telemetry/own-metrics.js';
import { CoalescingRunner } from './coalescing-runner.js';
import { compileLoaded, FileConfigSource, logProblem, nextConfig, sameReads, serveCompileOptions, toWire, type LoadedConfig, type WireConfig } from './config-source.js';
import { listeningLine, type BoundListener } from './gateway.js';
import { listenAddressFor, type HostPort, type ServeOptions } from './options.js';
import { startStandIns, type StandIn } from './standins.js';
import { WORKER_SLOT_ENV, type FromWorker, type ToWorker } from './worker-protocol.js';

// A replacement that dies this soon after it started is crash-looping: the next one waits this long.
const CRASH_LOOP_MS = 1000;
// How long the primary waits for a worker's answer (metrics, clusters, a config applied).
const ANSWER_TIMEOUT_MS = 5000;

interface Slot {
  slot: number;
  worker: Worker;
  startedAt: number;
  /** 1 for the first worker of the slot, +1 per replacement. */
  generation: number;
  ready: boolean;
  version: number;
  /** Counts from the last scrape: added to the retired sum when the worker dies, so counters never go back. */
  lastCounts: DataPlaneCounts | null;
  versionWaiters: ((version: number) => void)[];
  /** Which read of each config file this worker holds (toWire). */
  held: Map<string, number>;
  /** The worker's hello, kept until this process has a config to answer it with. */
  hello?: FromWorker & { type: 'hello' };
  /** Whether the worker said hello: before that, a message to it is lost. */
  listening: boolean;
  /** Of the config files, how many the worker read itself as this process did, at its start. */
  readItself?: number;
}

/**
 * `serve --workers N`: this process loads, watches and checks the config, serves the status and
 * admin ports, and hands every worker the same objects; N worker processes share the listening
 * sockets (node:cluster, connections dealt round robin) and serve the traffic. A worker that dies
 * is replaced and logged; metrics are summed over the workers.
 */
export class Primary {
  private readonly source: FileConfigSource;
  private loaded!: LoadedConfig;
  private snapshot!: Snapshot;
  private readonly slots = new Map<number, Slot>();
  private readonly reloads = new CoalescingRunner(() => this.reloadOnce());
  private readonly pending = new Map<number, (m: FromWorker & { type: 'answer' }) => void>();
  private nextAsk = 1;
  private retired: DataPlaneCounts[] = [];
  private replaced = 0;
  private reloadsApplied = 0;
  private reloadsRefused = 0;
  private draining = false;
  private started = false;
  private status: FastifyInstance | null = null;
  private admin: FastifyInstance | null = null;
  private standIns: StandIn[] = [];
  private listenPlan: [number, HostPort][] = [];
  private meshPlan: HostPort | undefined;
  private reservedPorts: number[] = [];
  /** Whether the config, listening plan and ports are there for a worker's hello to be answered. */
  private configured = false;

  private constructor(
    private readonly opts: ServeOptions,
    private readonly log: Logger,
  ) {
    this.source = new FileConfigSource(opts.configPaths, { defaultNamespace: opts.defaultNamespace, tlsDir: opts.tlsDir });
  }

  static async start(opts: ServeOptions, log: Logger): Promise<Primary> {
    const p = new Primary(opts, log);
    try {
      await p.boot();
    } catch (e) {
      await p.stop(0);
      throw e;
    }
    return p;
  }

  ready(): boolean {
    return this.started && !this.draining && [...this.slots.values()].some((s) => s.ready);
  }

  private async boot(): Promise<void> {
    // Workers start first: each reads the config files itself meanwhile (OwnRead), and those it
    // read as this process did are not sent over. At 30,000 VirtualServices with 2 workers, ready
    // came 6.3 s after start when they started after this read and took every object over IPC.
    //
    // Workers accept from the shared sockets themselves (the kernel deals connections): the
    // round-robin alternative passes every connection through this process, which cost 40-70 %
    // of the new-connection rate here, and a connection handed to a worker as it died was never
    // closed. NODE_CLUSTER_SCHED_POLICY=rr still chooses it.
    if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: process.argv[1], args: process.argv.slice(2), serialization: 'advanced' });
    cluster.on('message', (worker, msg: FromWorker) => this.onMessage(worker, msg));
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    const first = Promise.all(Array.from({ length: this.opts.workers }, (_, i) => this.fork(i + 1)));
    // Awaited below; a boot that fails before that stops the workers, whose promises then reject.
    first.catch(() => undefined);

    this.loaded = await this.source.read();
    const built = compileLoaded(this.loaded, serveCompileOptions(this.opts, undefined, 1));
    this.snapshot = built.snapshot;
    for (const p of built.problems) logProblem(this.log, p);
    this.log.info(`config loaded from ${built.files.length} file(s): ${this.snapshot.listeners.length} listener(s), ${this.snapshot.clusters.size} cluster(s)`);
    if (!this.snapshot.listeners.some((l) => l.kind === 'gateway')) this.log.warn('no Gateway server to serve: check the config paths and --labels');
    if (this.opts.standIns) this.standIns = await startStandIns(this.snapshot, this.log);

    this.status = createStatusServer(this);
    const st = await this.status.listen({ port: this.opts.statusPort, host: '0.0.0.0' }).then(() => this.status!.server.address() as AddressInfo);
    this.admin = createAdminServer({
      snapshot: () => this.snapshot,
      egressRefusals: async () => sumRefusals(await this.counts()),
      clusters: () => this.clusters(),
      ready: () => this.ready(),
    });
    const ad = await this.admin.listen({ port: this.opts.adminPort, host: '127.0.0.1' }).then(() => this.admin!.server.address() as AddressInfo);
    this.reservedPorts = [st.port, ad.port];
    await this.planListeners();
    this.configured = true;
    for (const s of this.slots.values()) if (s.hello !== undefined) this.answerHello(s);

    const bound = await first;
    for (const b of bound[0]!) this.log.info(listeningLine(b, this.opts.meshListen?.host === undefined));
    this.log.info(`status on ${st.address}:${st.port} (/healthz/ready), admin on 127.0.0.1:${ad.port} (/config_dump, /routes, /clusters, /egress, /explain)`);
    const slots = [...this.slots.values()];
    this.log.info(`${this.opts.workers} worker processes serving (pids ${slots.map((s) => s.worker.process.pid).join(', ')}), sharing the listeners; ${readItselfSummary(slots, this.loaded.files.length)}`);
    this.started = true;
    if (this.opts.watchConfig) {
      this.source.watch((what) => {
        this.log.info(`${what} changed: reloading`);
        void this.reload();
      });
    }
    this.log.info('ready');
  }

  /** Workers must all listen on the same ports: a `:0` is turned into a free port here, once. */
  private async planListeners(): Promise<void> {
    for (const l of this.snapshot.listeners) {
      if (l.kind !== 'gateway') continue;
      const addr = listenAddressFor(this.opts, l.port);
      this.listenPlan.push([l.port, addr.port === 0 ? { host: addr.host, port: await freePort(addr.host) } : addr]);
    }
    const mesh = this.opts.meshListen;
    if (mesh !== undefined) this.meshPlan = mesh.port === 0 ? { host: mesh.host, port: await freePort(mesh.host ?? '127.0.0.1') } : mesh;
  }

  /** Starts the worker of a slot; resolves with its listeners once it serves, rejects if it cannot start. */
  private fork(slot: number): Promise<BoundListener[]> {
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
    const s: Slot = { slot, worker, startedAt: Date.now(), generation: (this.slots.get(slot)?.generation ?? 0) + 1, ready: false, version: 0, lastCounts: null, versionWaiters: [], held: new Map(), listening: false };
    this.slots.set(slot, s);
    return new Promise((resolve, reject) => {
      const onMessage = (msg: FromWorker) => {
        if (msg.type === 'hello') {
          s.listening = true;
          s.hello = msg;
          if (this.configured) this.answerHello(s);
        } else if (msg.type === 'ready') {
          cleanup();
          resolve(msg.bound);
        } else if (msg.type === 'failed') {
          cleanup();
          reject(new Error(msg.message));
        }
      };
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        reject(new Error(`worker ${slot} exited (${signal ?? `code ${code}`}) before it served`));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
    });
  }

  /** The first config for a worker: what it did not read itself as this process did, and where to listen. */
  private answerHello(s: Slot): void {
    const own = sameReads(this.loaded, s.hello?.files ?? []);
    s.hello = undefined;
    s.readItself = own.size;
    this.sendTo(s, { type: 'config', config: this.wireConfig(s, own), listen: this.listenPlan, meshListen: this.meshPlan, reservedPorts: this.reservedPorts });
  }

  /** The config as the worker of this slot needs it: what it does not hold yet, by file. */
  private wireConfig(s: Slot, own?: ReadonlySet<string>): WireConfig {
    const wire = toWire(this.loaded, s.held, own);
    wire.config = { ...wire.config, version: this.snapshot.version };
    return wire;
  }

  private sendTo(s: Slot, msg: ToWorker): void {
    if (s.worker.isConnected()) s.worker.send(msg);
  }

  private slotOf(worker: Worker): Slot | undefined {
    for (const s of this.slots.values()) if (s.worker === worker) return s;
    return undefined;
  }

  private onMessage(worker: Worker, msg: FromWorker): void {
    const s = this.slotOf(worker);
    if (s === undefined) return;
    if (msg.type === 'ready') {
      s.ready = true;
      s.version = msg.version;
      // It started on the config of its time; a reload may have happened meanwhile.
      if (msg.version !== this.snapshot.version) this.sendTo(s, { type: 'config', config: this.wireConfig(s) });
    } else if (msg.type === 'applied') {
      if (!msg.ok) this.log.error(`worker ${s.slot} refused config version ${this.snapshot.version} (see its lines above); it serves version ${msg.version}`);
      s.version = msg.version;
      for (const w of s.versionWaiters.splice(0)) w(msg.version);
    } else if (msg.type === 'answer') {
      this.pending.get(msg.id)?.(msg);
      this.pending.delete(msg.id);
    }
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const s = this.slotOf(worker);
    if (s === undefined) return;
    s.ready = false;
    for (const w of s.versionWaiters.splice(0)) w(s.version);
    if (s.lastCounts !== null) this.retired.push({ ...s.lastCounts, ejected: 0, active: 0, connections: 0 });
    if (this.draining || !this.started) return;
    const why = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
    // A replacement that dies at once again is crash-looping: do not spin.
    const wait = s.generation > 1 && Date.now() - s.startedAt < CRASH_LOOP_MS ? CRASH_LOOP_MS : 0;
    this.log.error(`worker ${s.slot} (pid ${worker.process.pid}) ${why}; its open connections are lost; starting a replacement${wait > 0 ? ` in ${wait} ms (the last replacement died right after starting too)` : ''}`);
    this.replaced++;
    setTimeout(() => {
      if (this.draining) return;
      this.fork(s.slot).then(
        () => this.log.info(`worker ${s.slot} replaced (pid ${this.slots.get(s.slot)?.worker.process.pid}), serving config version ${this.snapshot.version}`),
        (e: unknown) => this.log.error(`worker ${s.slot} could not be replaced: ${(e as Error).message}`),
      );
    }, wait).unref();
  }

  private ask(s: Slot, what: 'counts' | 'clusters'): Promise<(FromWorker & { type: 'answer' }) | null> {
    if (!s.ready) return Promise.resolve(null);
    const id = this.nextAsk++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, ANSWER_TIMEOUT_MS);
      this.pending.set(id, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      this.sendTo(s, { type: 'ask', id, what });
    });
  }

  /** Every worker is asked at once: one slow to answer delays a scrape by its own timeout, not the sum. */
  private async counts(): Promise<DataPlaneCounts[]> {
    const slots = [...this.slots.values()];
    const answers = await Promise.all(slots.map((s) => this.ask(s, 'counts')));
    const live: DataPlaneCounts[] = [];
    answers.forEach((a, i) => {
      if (a?.counts === undefined) return;
      slots[i]!.lastCounts = a.counts;
      live.push(a.counts);
    });
    return [...live, ...this.retired];
  }

  private async clusters(): Promise<unknown[]> {
    const slots = [...this.slots.values()].sort((a, b) => a.slot - b.slot);
    const answers = await Promise.all(slots.map((s) => this.ask(s, 'clusters')));
    return slots.flatMap((s, i) => (answers[i]?.clusters ?? []).map((c) => ({ worker: s.slot, ...(c as object) })));
  }

  /** The status port's metrics: Istio's counters summed over the workers, dead ones included. */
  async metrics(): Promise<string> {
    const running = [...this.slots.values()].filter((s) => s.ready).length;
    return renderMetrics(await this.counts(), {
      version: this.snapshot.version,
      reloadsApplied: this.reloadsApplied,
      reloadsRefused: this.reloadsRefused,
      workers: { running, replaced: this.replaced },
    });
  }

  reload(): Promise<boolean> {
    return this.reloads.run();
  }

  /** Reads and checks the config here, then hands it to every worker and waits until all serve it. */
  private async reloadOnce(): Promise<boolean> {
    if (this.draining) return false;
    const next = await nextConfig(this.source, this.opts, this.snapshot, this.log, true);
    if (next === null) {
      this.reloadsRefused++;
      return false;
    }
    const { loaded, built } = next;
    this.loaded = loaded;
    this.snapshot = built.snapshot;
    const version = built.snapshot.version;
    const live = [...this.slots.values()].filter((s) => s.ready);
    const applied = await Promise.all(
      live.map(
        (s) =>
          new Promise<boolean>((resolve) => {
            const t = setTimeout(() => resolve(false), ANSWER_TIMEOUT_MS);
            s.versionWaiters.push((v) => {
              clearTimeout(t);
              resolve(v === version);
            });
            this.sendTo(s, { type: 'config', config: this.wireConfig(s) } satisfies ToWorker);
          }),
      ),
    );
    const n = applied.filter(Boolean).length;
    this.log.info(`config version ${version} live in ${n} of ${live.length} worker(s), ${built.filesSummary}`);
    this.reloadsApplied++;
    return true;
  }

  /** Drains every worker (as Gateway.stop drains one process) and waits for all of them to exit. */
  async stop(deadlineMs: number, delayMs = 0): Promise<void> {
    this.draining = true;
    this.source.close();
    const exits = [...this.slots.values()]
      .filter((s) => !s.worker.isDead())
      .map(
        (s) =>
          new Promise<void>((resolve) => {
            // Beyond the deadline a worker that hangs is killed: the primary does exit.
            const kill = setTimeout(() => s.worker.process.kill('SIGKILL'), delayMs + deadlineMs + 5000);
            s.worker.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            // One still starting (a boot that failed while it read the config) would not hear
            // the word, and holds no connection: it is stopped at once.
            if (!s.listening) s.worker.process.kill('SIGKILL');
            else this.sendTo(s, { type: 'drain', delayMs, deadlineMs });
          }),
      );
    await Promise.all(exits);
    await this.status?.close();
    await this.admin?.close();
    await Promise.all(this.standIns.map((s) => new Promise<void>((r) => s.server.close(() => r()))));
  }
}

/** `each read the 300 config file(s) itself`, or which workers were sent files, and how many. */
function readItselfSummary(slots: readonly Slot[], files: number): string {
  const short = slots.filter((s) => s.readItself !== files);
  if (short.length === 0) return `each read the ${files} config file(s) itself`;
  return short.map((s) => `worker ${s.slot} was sent the objects of ${files - (s.readItself ?? 0)} of the ${files} config file(s), not having read them as this process did`).join('; ');
}

function freePort(host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
