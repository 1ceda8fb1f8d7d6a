import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createAdminServer } from '../admin/admin.js';
import { MAX_DYNAMIC_CLUSTERS } from '../egress/forward-route.js';
import { AccessLog } from '../telemetry/access-log.js';
import { IstioMetrics } from '../telemetry/istio-metrics.js';
import { createStatusServer } from '../admin/status.js';
import type { Snapshot } from '../compile/snapshot.js';
import { formatProblemForLog, type Problem } from '../config/problems.js';
import { ActiveConfig, DataPlaneState } from '../http/state.js';
import type { StreamEndListener } from '../http/stream-record.js';
import { Listener } from '../listener/listener.js';
import { ClusterManager } from '../upstream/cluster-manager.js';
import { UpstreamPools } from '../upstream/pools.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { CoalescingRunner } from './coalescing-runner.js';
import { buildSnapshot, ConfigError, tlsServersOf } from './config-source.js';
import { ConfigWatch, FolderWatch } from './file-watch.js';
import { listenAddressFor, type HostPort, type ServeOptions } from './options.js';
import { startStandIns, type StandIn } from './standins.js';

// Requests still running this long after SIGTERM are cut, so the process does exit.
const DRAIN_DEADLINE_MS = 25_000;

export interface BoundListener {
  name: string;
  gatewayPort: number;
  address: string;
  port: number;
}

/** The gateway process: config → snapshot → listeners, plus the status and admin ports. */
export class Gateway {
  private readonly pools = new UpstreamPools();
  private readonly clusters = new ClusterManager(this.pools);
  private state!: DataPlaneState;
  private readonly listeners: Listener[] = [];
  private status: FastifyInstance | null = null;
  private admin: FastifyInstance | null = null;
  private standIns: StandIn[] = [];
  private draining = false;
  private started = false;
  private readonly reloads = new CoalescingRunner(() => this.reloadOnce());
  private readonly certWatch = new FolderWatch(() => {
    this.log.info('certificate files changed: reloading');
    void this.reload();
  });
  private configWatch: ConfigWatch | null = null;
  private accessLog: AccessLog | null = null;
  private istioMetrics: IstioMetrics | null = null;
  private reloadsApplied = 0;
  private reloadsRefused = 0;
  readonly bound: BoundListener[] = [];
  statusAddress: HostPort | null = null;
  adminAddress: HostPort | null = null;

  private constructor(
    private readonly opts: ServeOptions,
    private readonly log: Logger,
  ) {}

  static async start(opts: ServeOptions, log: Logger = createLogger(opts.logFormat)): Promise<Gateway> {
    const gw = new Gateway(opts, log);
    try {
      await gw.boot();
    } catch (e) {
      await gw.stop();
      throw e;
    }
    return gw;
  }

  get snapshot(): Snapshot {
    return this.state.active.snapshot;
  }

  ready(): boolean {
    return this.started && !this.draining;
  }

  /** Subscribes to the end of every stream (the finished stream record); returns the unsubscribe. */
  onStreamEnd(listener: StreamEndListener): () => void {
    return this.state.onStreamEnd(listener);
  }

  private async boot(): Promise<void> {
    const { snapshot, problems, files, tlsFiles } = await buildSnapshot(this.opts.configPaths, {
      defaultNamespace: this.opts.defaultNamespace,
      labels: this.opts.labels,
      mesh: this.opts.meshListen !== undefined,
      tlsDir: this.opts.tlsDir,
    });
    for (const p of problems) this.logProblem(p);
    this.certWatch.set(tlsFiles);
    this.log.info(`config loaded from ${files.length} file(s): ${snapshot.listeners.length} listener(s), ${snapshot.clusters.size} cluster(s)`);
    this.state = new DataPlaneState(new ActiveConfig(snapshot, this.clusters.sync(snapshot.clusters).runtimes), this.log);
    this.state.dynamicCluster = (cfg) => this.clusters.dynamic(cfg, MAX_DYNAMIC_CLUSTERS);
    const labels = this.opts.labels ?? {};
    this.istioMetrics = new IstioMetrics({ workload: labels.app ?? labels.istio ?? 'meshgate', namespace: this.opts.defaultNamespace });
    this.state.onStreamEnd(this.istioMetrics.onStreamEnd);
    if (this.opts.accessLog === 'stdout') {
      this.accessLog = new AccessLog(this.opts.logFormat);
      this.state.onStreamEnd(this.accessLog.onStreamEnd);
    }

    if (this.opts.standIns) this.standIns = await startStandIns(snapshot, this.log);

    for (const l of snapshot.listeners) await this.listen(l.name, l.port);
    if (!snapshot.listeners.some((l) => l.kind === 'gateway')) this.log.warn('no Gateway server to serve: check the config paths and --labels');

    this.status = createStatusServer(this);
    const st = await this.status.listen({ port: this.opts.statusPort, host: '0.0.0.0' }).then(() => this.status!.server.address() as AddressInfo);
    this.statusAddress = { host: st.address, port: st.port };
    this.admin = createAdminServer({ snapshot: () => this.snapshot, egressRefusals: () => this.state.egressRefusals, clusters: () => this.state.active.clusters, ready: () => this.ready() });
    const ad = await this.admin.listen({ port: this.opts.adminPort, host: '127.0.0.1' }).then(() => this.admin!.server.address() as AddressInfo);
    this.adminAddress = { host: ad.address, port: ad.port };
    this.state.ownPorts.add(st.port).add(ad.port);
    this.log.info(`status on ${st.address}:${st.port} (/healthz/ready), admin on 127.0.0.1:${ad.port} (/config_dump, /routes, /clusters, /egress, /explain)`);
    if (this.opts.workers > 1) this.log.info(`serving from this one process (--workers ${this.opts.workers}: several worker processes are not available in this version yet)`);
    this.started = true;
    if (this.opts.watchConfig) {
      this.configWatch = new ConfigWatch(this.opts.configPaths, () => {
        this.log.info('config files changed: reloading');
        void this.reload();
      });
    }
    this.log.info('ready');
  }

  private async listen(name: string, gatewayPort: number): Promise<void> {
    const mesh = name === 'mesh';
    const addr = mesh ? this.opts.meshListen! : listenAddressFor(this.opts, gatewayPort);
    // The mesh listener forwards to every registry host: open to the network it would be an
    // open proxy into the cluster, so a bare port means loopback.
    const host = mesh && addr.host === undefined ? '127.0.0.1' : addr.host;
    const listener = new Listener(name, gatewayPort, this.state, this.log);
    let a: AddressInfo;
    try {
      a = await listener.listen(addr.port, host);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new Error(
        mesh
          ? `cannot listen on ${host}:${addr.port} for the mesh listener: ${code} (use --mesh-listen [HOST:]PORT to choose another)`
          : `cannot listen on ${host ?? '*'}:${addr.port} for gateway port ${gatewayPort}: ${code} (use --listen ${gatewayPort}=[HOST:]PORT to choose another)`,
      );
    }
    this.listeners.push(listener);
    this.bound.push({ name, gatewayPort, address: a.address, port: a.port });
    this.state.ownPorts.add(a.port);
    this.state.listenerPorts.set(name, a.port);
    if (!mesh) this.log.info(`listening: gateway port ${gatewayPort} on ${a.address}:${a.port}`);
    else if (addr.host === undefined) this.log.info(`listening: mesh on ${a.address}:${a.port} (loopback only; --mesh-listen 0.0.0.0:${addr.port} accepts calls from other hosts, and forwards them to every registry service)`);
    else this.log.info(`listening: mesh on ${a.address}:${a.port}`);
  }

  /**
   * Load the config again and swap it in if it is valid: requests in flight finish on the config
   * they started with. A config with errors, or one that needs other listening ports, is refused
   * with a log line and the current one keeps serving. Reloads run one at a time; asking while
   * one runs queues one more, which reads the files afresh. True when the new config is live.
   */
  reload(): Promise<boolean> {
    return this.reloads.run();
  }

  private async reloadOnce(): Promise<boolean> {
    if (this.draining) return false;
    const version = this.snapshot.version + 1;
    let built;
    try {
      built = await buildSnapshot(this.opts.configPaths, {
        defaultNamespace: this.opts.defaultNamespace,
        labels: this.opts.labels,
        mesh: this.opts.meshListen !== undefined,
        version,
        tlsDir: this.opts.tlsDir,
        previousTls: tlsServersOf(this.snapshot),
      });
    } catch (e) {
      const problems = e instanceof ConfigError ? e.problems.filter((p) => p.severity === 'error') : [];
      for (const p of problems) this.log.error(formatProblemForLog(p));
      this.log.error(`reload refused: ${(e as Error).message}; still serving config version ${this.snapshot.version}`);
      this.reloadsRefused++;
      return false;
    }
    const names = (s: Snapshot) => s.listeners.map((l) => l.name).sort().join(',');
    if (names(built.snapshot) !== names(this.snapshot)) {
      this.log.error(`reload refused: the new config needs listeners ${names(built.snapshot) || 'none'} instead of ${names(this.snapshot)}; restart meshgate to change listening ports`);
      this.reloadsRefused++;
      return false;
    }
    for (const p of built.problems) if (p.severity !== 'info') this.logProblem(p);
    this.certWatch.set(built.tlsFiles);
    const { runtimes, retired, kept } = this.clusters.sync(built.snapshot.clusters);
    this.state.active = new ActiveConfig(built.snapshot, runtimes);
    for (const c of retired) c.stop();
    this.log.info(`config version ${built.snapshot.version} live: ${built.snapshot.clusters.size} cluster(s), ${kept} kept with their state, from ${built.files.length} file(s)`);
    this.reloadsApplied++;
    return true;
  }

  /** The status port's /stats/prometheus: Istio's metrics, then the gateway's own. */
  metrics(): string {
    let ejected = 0;
    let active = 0;
    for (const c of this.state.active.clusters.values()) {
      active += c.active;
      for (const e of c.endpoints) if (e.ejectedUntil !== 0) ejected++;
    }
    let refused = 0;
    for (const n of this.state.egressRefusals.values()) refused += n;
    const own = [
      '# HELP meshgate_config_version The config version serving now (1 at start, +1 per applied reload).',
      '# TYPE meshgate_config_version gauge',
      `meshgate_config_version ${this.snapshot.version}`,
      '# HELP meshgate_config_reloads_total Reloads by result: applied, or refused (the last good config kept serving).',
      '# TYPE meshgate_config_reloads_total counter',
      `meshgate_config_reloads_total{result="applied"} ${this.reloadsApplied}`,
      `meshgate_config_reloads_total{result="refused"} ${this.reloadsRefused}`,
      '# HELP meshgate_endpoints_ejected Endpoints outlier detection holds out now.',
      '# TYPE meshgate_endpoints_ejected gauge',
      `meshgate_endpoints_ejected ${ejected}`,
      '# HELP meshgate_upstream_requests_active Requests in flight to upstream clusters.',
      '# TYPE meshgate_upstream_requests_active gauge',
      `meshgate_upstream_requests_active ${active}`,
      '# HELP meshgate_egress_refused_total Forward-proxy requests refused (no ServiceEntry, forbidden address, own port); admin /egress has them by host.',
      '# TYPE meshgate_egress_refused_total counter',
      `meshgate_egress_refused_total ${refused}`,
    ];
    return (this.istioMetrics?.render() ?? '') + own.join('\n') + '\n';
  }

  private logProblem(p: Problem): void {
    (p.severity === 'error' ? this.log.error : p.severity === 'warning' ? this.log.warn : this.log.info)(formatProblemForLog(p));
  }

  /**
   * Stop accepting, let requests in flight finish (their connections close after the answer),
   * release everything. Whatever still runs after `deadlineMs` is cut.
   */
  /**
   * Drains and stops: readiness turns 503 and every answer closes its connection at once; the
   * listeners keep accepting for `delayMs` (a load balancer's health check needs that long to
   * notice, and a connection refused meanwhile would be a failed request), then stop; what is
   * still in flight gets until `deadlineMs` after that.
   */
  async stop(deadlineMs = DRAIN_DEADLINE_MS, delayMs = 0): Promise<void> {
    this.draining = true;
    this.certWatch.close();
    this.configWatch?.close();
    if (this.state) this.state.draining = true;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    await Promise.all(this.listeners.map((l) => l.stop(deadlineMs)));
    await this.status?.close();
    await this.admin?.close();
    await Promise.all(this.standIns.map((s) => new Promise<void>((r) => s.server.close(() => r()))));
    this.clusters.stopAll();
    await this.pools.close();
    this.accessLog?.flush();
  }

  /** Address of a listener by gateway port (0: the mesh listener), for tests and logs. */
  addressOf(gatewayPort: number): { host: string; port: number } {
    const b = this.bound.find((x) => (gatewayPort === 0 ? x.name === 'mesh' : x.gatewayPort === gatewayPort && x.name !== 'mesh'));
    if (!b) throw new Error(`no listener for gateway port ${gatewayPort}`);
    return { host: b.address, port: b.port };
  }
}
