import net, { type AddressInfo, type Socket } from 'node:net';
import type { FilterChainConfig } from '../compile/snapshot.js';
import type { HttpContext } from '../http/active-stream.js';
import { HttpConnectionManager } from '../http/connection-manager.js';
import { chainKey, type DataPlaneState } from '../http/state.js';
import { selectChain } from './filter-chain.js';

/**
 * One listening socket, as an Envoy listener: each accepted connection gets the filter chain
 * the current config picks for it, and that chain's terminal (the HTTP connection manager,
 * for now) takes it from there.
 */
export class Listener {
  private readonly server: net.Server;
  private readonly sockets = new Set<Socket>();
  private readonly managers = new Map<string, HttpConnectionManager>();
  address: AddressInfo | null = null;

  constructor(
    readonly name: string,
    readonly gatewayPort: number,
    private readonly state: DataPlaneState,
  ) {
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
    const chain = config === undefined ? null : selectChain(config.chains, { transport: 'raw', serverName: null });
    if (chain === null) {
      socket.destroy();
      return;
    }
    this.managerFor(chain).accept(socket);
  }

  private managerFor(chain: FilterChainConfig): HttpConnectionManager {
    let m = this.managers.get(chain.name);
    if (m === undefined) {
      const ctx: HttpContext = { state: this.state, listener: this.name, chain: chain.name, chainKey: chainKey(this.name, chain.name), scheme: 'http' };
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
