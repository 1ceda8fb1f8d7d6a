import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createAdminServer } from '../admin/admin.js';
import { createStatusServer } from '../admin/status.js';
import type { Snapshot } from '../compile/snapshot.js';
import { formatProblemForLog } from '../config/problems.js';
import { ActiveConfig, type DataPlaneState } from '../dataplane/active.js';
import { createRequestHandler, type ListenerContext } from '../dataplane/proxy.js';
import { handleUpgrade } from '../dataplane/upgrade.js';
import { UpstreamPools } from '../dataplane/upstream.js';
import { createLogger, type Logger } from '../telemetry/log.js';
import { buildSnapshot, ConfigError } from './config-source.js';
import { listenAddressFor, type HostPort, type ServeOptions } from './options.js';
import { startStandIns, type StandIn } from './standins.js';

const MAX_HEADER_BYTES = 60 * 1024;
const STREAM_IDLE_MS = 5 * 60_000;
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
  private state!: DataPlaneState;
  private readonly servers = new Map<string, http.Server>();
  private status: FastifyInstance | null = null;
  private admin: FastifyInstance | null = null;
  private standIns: StandIn[] = [];
  private readonly upgraded: Set<import('node:stream').Duplex>[] = [];
  private draining = false;
  private started = false;
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

  private async boot(): Promise<void> {
    const { snapshot, problems, files } = await buildSnapshot(this.opts.configPaths, {
      defaultNamespace: this.opts.defaultNamespace,
      labels: this.opts.labels,
      mesh: this.opts.meshListen !== undefined,
    });
    for (const p of problems) (p.severity === 'warning' ? this.log.warn : this.log.info)(formatProblemForLog(p));
    this.log.info(`config loaded from ${files.length} file(s): ${snapshot.listeners.length} listener(s), ${snapshot.clusters.size} cluster(s)`);
    this.state = { active: new ActiveConfig(snapshot, this.pools), draining: false };

    if (this.opts.standIns) this.standIns = await startStandIns(snapshot, this.log);

    for (const l of snapshot.listeners) {
      const addr = l.kind === 'mesh' ? this.opts.meshListen! : listenAddressFor(this.opts, l.port);
      await this.listen(l.name, l.port, addr);
    }
    if (!snapshot.listeners.some((l) => l.kind === 'gateway')) this.log.warn('no Gateway server to serve: check the config paths and --labels');

    this.status = createStatusServer(this);
    const st = await this.status.listen({ port: this.opts.statusPort, host: '0.0.0.0' }).then(() => this.status!.server.address() as AddressInfo);
    this.statusAddress = { host: st.address, port: st.port };
    this.admin = createAdminServer(() => this.snapshot);
    const ad = await this.admin.listen({ port: this.opts.adminPort, host: '127.0.0.1' }).then(() => this.admin!.server.address() as AddressInfo);
    this.adminAddress = { host: ad.address, port: ad.port };
    this.log.info(`status on ${st.address}:${st.port} (/healthz/ready), admin on 127.0.0.1:${ad.port} (/config_dump, /routes)`);
    if (this.opts.workers > 1) this.log.info(`serving from this one process (--workers ${this.opts.workers}: several worker processes are not available in this version yet)`);
    this.started = true;
    this.log.info('ready');
  }

  private async listen(name: string, gatewayPort: number, addr: HostPort): Promise<void> {
    const listenerCtx: ListenerContext = { state: this.state, name, scheme: 'http', upgraded: new Set() };
    this.upgraded.push(listenerCtx.upgraded);
    const server = http.createServer(
      {
        // Envoy has no request timeout by default: long uploads must not be cut off. Headers
        // still have to arrive in time, which bounds slow-loris clients.
        requestTimeout: 0,
        headersTimeout: 60_000,
        // Idle keep-alive connections are closed by the stream idle timeout below, as Envoy's idle
        // timeout closes them; 0 here also keeps Node from adding a Keep-Alive header Envoy never sends.
        keepAliveTimeout: 0,
        // Envoy's default request header limit; larger requests get 431.
        maxHeaderSize: MAX_HEADER_BYTES,
        // A missing Host is the router's to answer, as an Envoy local reply.
        requireHostHeader: false,
      },
      createRequestHandler(listenerCtx),
    );
    server.on('upgrade', (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => handleUpgrade(listenerCtx, req, socket, head));
    server.on('clientError', onClientError);
    server.on('connect', onConnect);
    // Envoy's stream idle timeout: a connection silent this long (a stalled upload, a client
    // that never reads) is closed, releasing whatever its request held.
    server.setTimeout(STREAM_IDLE_MS);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(`cannot listen on ${addr.host ?? '*'}:${addr.port} for gateway port ${gatewayPort}: ${e.code ?? e.message} (use --listen ${gatewayPort}=[HOST:]PORT to choose another)`)),
      );
      server.listen(addr.port, addr.host, () => resolve());
    });
    const a = server.address() as AddressInfo;
    this.servers.set(name, server);
    this.bound.push({ name, gatewayPort, address: a.address, port: a.port });
    this.log.info(name === 'mesh' ? `listening: mesh on ${a.address}:${a.port}` : `listening: gateway port ${gatewayPort} on ${a.address}:${a.port}`);
  }

  /**
   * Load the config again and swap it in if it is valid: requests in flight finish on the config
   * they started with. A config with errors, or one that needs other listening ports, is refused
   * with a log line and the current one keeps serving. True when the new config is live.
   */
  async reload(): Promise<boolean> {
    let built;
    try {
      built = await buildSnapshot(this.opts.configPaths, {
        defaultNamespace: this.opts.defaultNamespace,
        labels: this.opts.labels,
        mesh: this.opts.meshListen !== undefined,
        version: this.snapshot.version + 1,
      });
    } catch (e) {
      const problems = e instanceof ConfigError ? e.problems.filter((p) => p.severity === 'error') : [];
      for (const p of problems) this.log.error(formatProblemForLog(p));
      this.log.error(`reload refused: ${(e as Error).message}; still serving config version ${this.snapshot.version}`);
      return false;
    }
    const names = (s: Snapshot) => s.listeners.map((l) => l.name).sort().join(',');
    if (names(built.snapshot) !== names(this.snapshot)) {
      this.log.error(`reload refused: the new config needs listeners ${names(built.snapshot) || 'none'} instead of ${names(this.snapshot)}; restart meshgate to change listening ports`);
      return false;
    }
    for (const p of built.problems) if (p.severity === 'warning') this.log.warn(formatProblemForLog(p));
    const old = this.state.active;
    this.state.active = new ActiveConfig(built.snapshot, this.pools);
    old.stop();
    this.log.info(`config version ${built.snapshot.version} live: ${built.snapshot.clusters.size} cluster(s) from ${built.files.length} file(s)`);
    return true;
  }

  /**
   * Stop accepting, let requests in flight finish (their connections close after the answer),
   * release everything. Whatever still runs after `deadlineMs` is cut.
   */
  async stop(deadlineMs = DRAIN_DEADLINE_MS): Promise<void> {
    this.draining = true;
    if (this.state) this.state.draining = true;
    const servers = [...this.servers.values()];
    const idle = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 100);
    const deadline = setTimeout(() => {
      servers.forEach((s) => s.closeAllConnections());
      for (const set of this.upgraded) for (const s of set) s.destroy();
    }, deadlineMs);
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeIdleConnections();
          }),
      ),
    );
    clearInterval(idle);
    clearTimeout(deadline);
    this.servers.clear();
    await this.status?.close();
    await this.admin?.close();
    await Promise.all(this.standIns.map((s) => new Promise<void>((r) => s.server.close(() => r()))));
    this.state?.active.stop();
    await this.pools.close();
  }

  /** Address of a listener by gateway port (0: the mesh listener), for tests and logs. */
  addressOf(gatewayPort: number): { host: string; port: number } {
    const b = this.bound.find((x) => (gatewayPort === 0 ? x.name === 'mesh' : x.gatewayPort === gatewayPort && x.name !== 'mesh'));
    if (!b) throw new Error(`no listener for gateway port ${gatewayPort}`);
    return { host: b.address, port: b.port };
  }
}

/** CONNECT is for the egress gateway's forward proxy; every other server refuses it. */
function onConnect(_req: http.IncomingMessage, socket: import('node:stream').Duplex): void {
  socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nserver: istio-envoy\r\nconnection: close\r\n\r\n');
}

function onClientError(err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const body = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nserver: istio-envoy\r\nconnection: close\r\n\r\n${body}`);
}
