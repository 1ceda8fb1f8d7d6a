import net, { type AddressInfo, type Socket } from 'node:net';
import type { HttpChainConfig, ListenerConfig } from '../compile/snapshot.js';
import type { HttpContext } from '../http/active-stream.js';
import { HttpConnectionManager } from '../http/connection-manager.js';
import { chainKey, type DataPlaneState } from '../http/state.js';
import { proxyTcp } from '../tcp/tcp-proxy.js';
import type { Logger } from '../telemetry/log.js';
import { RateLimitedWarning } from '../telemetry/rate-limited.js';
import { inspectClientHello, MAX_CLIENT_HELLO_BYTES } from './client-hello.js';
import { selectChain } from './filter-chain.js';
import { HANDSHAKE_TIMEOUT_MS, terminateTls } from './tls-terminate.js';

// At most one handshake-failure line per listener per second; the rest are counted into the next line.

/**
 * One listening socket, as an Envoy listener: each accepted connection gets the filter chain
 * the current config picks for it, and that chain's terminal (the HTTP connection manager,
 * for now) takes it from there.
 */
export class Listener {
  private readonly server: net.Server;
  private readonly sockets = new Set<Socket>();

  /** Client connections open now. */
  get connections(): number {
    return this.sockets.size;
  }
  private readonly managers = new Map<string, HttpConnectionManager>();
  address: AddressInfo | null = null;

  private readonly refusals: RateLimitedWarning;

  constructor(
    readonly name: string,
    readonly gatewayPort: number,
    private readonly state: DataPlaneState,
    log: Logger | null = null,
  ) {
    this.refusals = new RateLimitedWarning(log);
    this.server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
  }

  async listen(port: number, host: string | undefined): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.address = this.server.address() as AddressInfo;
    return this.address;
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    const config = this.state.active.listeners.get(this.name);
    if (config === undefined) return void socket.destroy();
    if (!config.chains.some((c) => c.match.transport === 'tls')) return this.dispatch(config, socket, 'raw', null);
    this.inspect(config, socket);
  }

  /** Envoy's tls_inspector: read the ClientHello (or see that the client speaks plain text), put it back, choose the chain. */
  private inspect(config: ListenerConfig, socket: Socket): void {
    let seen: Buffer | null = null;
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onGone);
      socket.off('end', onGone);
    };
    const onGone = () => {
      cleanup();
      socket.destroy();
    };
    const timer = setTimeout(onGone, HANDSHAKE_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      seen = seen === null ? chunk : Buffer.concat([seen, chunk]);
      const hello = inspectClientHello(seen);
      if (hello.kind === 'need-more' && seen.length <= MAX_CLIENT_HELLO_BYTES) return;
      cleanup();
      socket.pause();
      socket.unshift(seen);
      if (hello.kind === 'tls') return this.dispatch(config, socket, 'tls', hello.serverName);
      if (hello.kind === 'not-tls') return this.dispatch(config, socket, 'raw', null);
      this.tlsRefused(config, null, `not a valid TLS ClientHello (${hello.kind === 'invalid' ? hello.reason : 'too large'})`);
      socket.destroy();
    };
    socket.on('data', onData);
    socket.once('error', onGone);
    socket.once('end', onGone);
  }

  private dispatch(config: ListenerConfig, socket: Socket, transport: 'raw' | 'tls', serverName: string | null): void {
    const chain = selectChain(config.chains, { transport, serverName });
    if (chain === null) {
      if (transport === 'tls') this.tlsRefused(config, serverName, 'no server on this port has that host');
      else if (config.chains.some((c) => c.match.transport === 'tls')) this.tlsRefused(config, null, 'the client spoke plain text to a TLS port');
      return void socket.destroy();
    }
    if (chain.tls === null) {
      if (chain.type === 'http') return this.managerFor(chain).accept(socket);
      return proxyTcp(socket, this.name, chain, serverName, this.state);
    }
    terminateTls(
      socket,
      chain.tls,
      serverName,
      chain.type === 'http',
      (t) => (chain.type === 'http' ? this.managerFor(chain).acceptTls(t) : proxyTcp(t, this.name, chain, serverName, this.state)),
      (reason) => {
        if (reason !== null) this.tlsRefused(config, serverName, reason, chain.name);
      },
    );
  }

  /** A handshake that failed, in words: what the client asked for and what this port serves (Envoy logs only filter_chain_not_found). */
  private tlsRefused(config: ListenerConfig, serverName: string | null, reason: string, chain?: string): void {
    this.refusals.warn(() => {
      const names = config.chains.filter((c) => c.match.transport === 'tls').map((c) => (c.match.serverNames.length > 0 ? c.match.serverNames.join(', ') : '* (any name, and no SNI)'));
      return `TLS connection refused on gateway port ${this.gatewayPort}${chain ? ` (${chain})` : ''}: ${reason}; the client sent ${serverName === null ? 'no SNI' : `SNI ${serverName}`}; this port serves ${names.join('; ') || 'no TLS server (see the config warnings)'}`;
    });
  }


  private managerFor(chain: HttpChainConfig): HttpConnectionManager {
    let m = this.managers.get(chain.name);
    if (m === undefined) {
      const ctx: HttpContext = { state: this.state, listener: this.name, chain: chain.name, chainKey: chainKey(this.name, chain.name), scheme: chain.tls === null ? 'http' : 'https' };
      m = new HttpConnectionManager(ctx);
      this.managers.set(chain.name, m);
    }
    return m;
  }

  /**
   * Stops accepting and lets the connections finish: HTTP/1.1 answers close their connections,
   * idle ones close now, HTTP/2 ones get GOAWAY. What is still open after `deadlineMs` is cut.
   */
  async stop(deadlineMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const m of this.managers.values()) m.drain();
    const idle = setInterval(() => {
      for (const m of this.managers.values()) m.closeIdle();
    }, 100);
    const deadline = setTimeout(() => {
      for (const m of this.managers.values()) m.destroyAll();
      for (const s of this.sockets) s.destroy();
    }, deadlineMs);
    await closed;
    clearInterval(idle);
    clearTimeout(deadline);
    for (const m of this.managers.values()) m.close();
  }
}
