import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createAdminServer } from '../admin/admin.js';
import { describeCluster } from '../admin/clusters.js';
import { MAX_DYNAMIC_CLUSTERS } from '../egress/forward-route.js';
import { AccessLog } from '../telemetry/access-log.js';
import { IstioMetrics } from '../telemetry/istio-metrics.js';
import { renderMetrics, type DataPlaneCounts } from '../telemetry/own-metrics.js';
import { createStatusServer } from '../admin/status.js';
import type { Snapshot } from '../compile/snapshot.js';
import { ActiveConfig, DataPlaneState } from '../http/state.js';
import type { StreamEndListener } from '../http/stream-record.js';
import { Listener } from '../listener/listener.js';
import { ClusterManager } from '../upstream/cluster-manager.js';
import type { ClusterRuntime } from '../upstream/cluster.js';
import { UpstreamPools } from '../upstream/pools.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { CoalescingRunner } from './coalescing-runner.js';
import { compileLoaded, FileConfigSource, logProblem, nextConfig, serveCompileOptions, type ConfigSource } from './config-source.js';
import { listenAddressFor, type HostPort, type ServeOptions } from './options.js';
import { startStandIns, type StandIn } from './standins.js';

// Requests still running this long after SIGTERM are cut, so the process does exit.
const DRAIN_DEADLINE_MS = 25_000;
// Writes to a pipe of up to 4096 bytes (PIPE_BUF) are atomic, so lines from several workers never
// interleave; header text is latin1, at most 2 bytes a character in UTF-8.
const PIPE_BUF_CHARS = 2048;

export type GatewayRole = 'single' | 'worker';

export interface BoundListener {
  name: string;
  gatewayPort: number;
  address: string;
  port: number;
}

/** The log line saying where a listener listens (the test helpers and operators read it). */
export function listeningLine(b: BoundListener, meshOnBarePort: boolean): string {
  if (b.name !== 'mesh') return `listening: gateway port ${b.gatewayPort} on ${b.address}:${b.port}`;
  if (meshOnBarePort) return `listening: mesh on ${b.address}:${b.port} (loopback only; --mesh-listen 0.0.0.0:${b.port} accepts calls from other hosts, and forwards them to every registry service)`;
  return `listening: mesh on ${b.address}:${b.port}`;
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
    private readonly source: ConfigSource,
    private readonly role: GatewayRole,
  ) {}

  /**
   * `single`: the whole gateway in this process (config files, listeners, status and admin ports).
   * `worker`: listeners only, serving what a primary process pushes through `source`.
   */
  static async start(
    opts: ServeOptions,
    log: Logger = createLogger(opts.logFormat),
    source: ConfigSource = new FileConfigSource(opts.configPaths, { defaultNamespace: opts.defaultNamespace, tlsDir: opts.tlsDir }),
    role: GatewayRole = 'single',
  ): Promise<Gateway> {
    const gw = new Gateway(opts, log, source, role);
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
    const { snapshot, problems, files } = compileLoaded(await this.source.read(), { ...serveCompileOptions(this.opts, undefined, 1), cache: this.source.compileCache });
    if (this.role === 'single') {
      for (const p of problems) logProblem(this.log, p);
      this.log.info(`config loaded from ${files.length} file(s): ${snapshot.listeners.length} listener(s), ${snapshot.clusters.size} cluster(s)`);
    }
    this.state = new DataPlaneState(new ActiveConfig(snapshot, this.clusters.sync(snapshot.clusters).runtimes), this.log);
    this.state.dynamicCluster = (cfg) => this.clusters.dynamic(cfg, MAX_DYNAMIC_CLUSTERS);
    if (this.opts.timeouts !== undefined) this.state.timeouts = { ...this.state.timeouts, ...this.opts.timeouts };
    const labels = this.opts.labels ?? {};
    this.istioMetrics = new IstioMetrics({ workload: labels.app ?? labels.istio ?? 'meshgate', namespace: this.opts.defaultNamespace });
    this.state.onStreamEnd(this.istioMetrics.onStreamEnd);
    if (this.opts.accessLog === 'stdout') {
      // Workers share stdout: writes of at most PIPE_BUF bytes keep their lines whole.
      this.accessLog = new AccessLog(this.opts.logFormat, process.stdout, this.role === 'worker' ? PIPE_BUF_CHARS : Infinity);
      this.state.onStreamEnd(this.accessLog.onStreamEnd);
    }
    for (const port of this.opts.reservedPorts ?? []) this.state.ownPorts.add(port);

    if (this.opts.standIns && this.role === 'single') this.standIns = await startStandIns(snapshot, this.log);

    for (const l of snapshot.listeners) await this.listen(l.name, l.port);
    if (this.role === 'worker') {
      this.started = true;
      return;
    }
    if (!snapshot.listeners.some((l) => l.kind === 'gateway')) this.log.warn('no Gateway server to serve: check the config paths and --labels');

    this.status = createStatusServer(this);
    const st = await this.status.listen({ port: this.opts.statusPort, host: '0.0.0.0' }).then(() => this.status!.server.address() as AddressInfo);
    this.statusAddress = { host: st.address, port: st.port };
    this.admin = createAdminServer({
      snapshot: () => this.snapshot,
      egressRefusals: () => this.state.egressRefusals,
      clusters: () => this.clusterList().map((c) => describeCluster(c)),
      ready: () => this.ready(),
    });
    const ad = await this.admin.listen({ port: this.opts.adminPort, host: '127.0.0.1' }).then(() => this.admin!.server.address() as AddressInfo);
    this.adminAddress = { host: ad.address, port: ad.port };
    this.state.ownPorts.add(st.port).add(ad.port);
    this.log.info(`status on ${st.address}:${st.port} (/healthz/ready), admin on 127.0.0.1:${ad.port} (/config_dump, /routes, /clusters, /egress, /explain)`);
    this.started = true;
    if (this.opts.watchConfig) {
      this.source.watch((what) => {
        this.log.info(`${what} changed: reloading`);
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
    if (this.role === 'single') this.log.info(listeningLine(this.bound.at(-1)!, this.opts.meshListen?.host === undefined));
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
    const started = performance.now();
    const next = await nextConfig(this.source, this.opts, this.snapshot, this.log, this.role === 'single');
    if (next === null) {
      this.reloadsRefused++;
      return false;
    }
    const { built } = next;
    const { runtimes, retired, kept } = this.clusters.sync(built.snapshot.clusters);
    this.state.active = new ActiveConfig(built.snapshot, runtimes);
    for (const c of retired) c.stop();
    if (this.role === 'single') this.log.info(`config version ${built.snapshot.version} live in ${Math.round(performance.now() - started)} ms: ${built.snapshot.clusters.size} cluster(s), ${kept} kept with their state, ${built.filesSummary}`);
    this.reloadsApplied++;
    return true;
  }

  /** The clusters serving now, as balancing sees them. */
  clusterList(): ClusterRuntime[] {
    return [...this.state.active.clusters.values()];
  }

  /** What this process counted, as plain data: a primary sums it over its workers. */
  metricsState(): DataPlaneCounts {
    let ejected = 0;
    let active = 0;
    for (const c of this.state.active.clusters.values()) {
      active += c.active;
      for (const e of c.endpoints) if (e.ejectedUntil !== 0) ejected++;
    }
    let connections = 0;
    for (const l of this.listeners) connections += l.connections;
    return { istio: this.istioMetrics!.state(), ejected, active, connections, egressRefusals: new Map(this.state.egressRefusals) };
  }

  /** The status port's /stats/prometheus: Istio's metrics, then the gateway's own. */
  metrics(): string {
    const counts = this.metricsState();
    return renderMetrics([counts], { version: this.snapshot.version, reloadsApplied: this.reloadsApplied, reloadsRefused: this.reloadsRefused });
  }

  /**
   * Drains and stops: readiness turns 503 and every answer closes its connection at once; the
   * listeners keep accepting for `delayMs` (a load balancer's health check needs that long to
   * notice, and a connection refused meanwhile would be a failed request), then stop; what is
   * still in flight gets until `deadlineMs` after that.
   */
  async stop(deadlineMs = DRAIN_DEADLINE_MS, delayMs = 0): Promise<void> {
    this.draining = true;
    this.source.close();
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
