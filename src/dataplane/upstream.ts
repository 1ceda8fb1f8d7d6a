import { Pool, type Dispatcher } from 'undici';

/**
 * The one seam between the data plane and the upstream HTTP client. Everything upstream goes
 * through `dispatch` with a streaming handler, so undici can be replaced by a leaner client
 * (see bench/) without touching routing or filters.
 */
export type UpstreamHandler = Dispatcher.DispatchHandler;

export interface UpstreamRequest {
  method: string;
  path: string;
  headers: string[];
  body: NodeJS.ReadableStream | null;
  /** The protocol an Upgrade request asks for (`websocket`); the handler then gets onUpgrade. */
  upgrade?: string;
}

export interface Upstream {
  readonly origin: string;
  dispatch(req: UpstreamRequest, handler: UpstreamHandler): void;
  close(): Promise<void>;
}

export interface UpstreamSettings {
  /** 0 means unlimited. */
  maxConnections: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** 0 means unlimited. */
  maxRequestsPerConnection: number;
}

export const DEFAULT_UPSTREAM: UpstreamSettings = { maxConnections: 0, connectTimeoutMs: 10_000, idleTimeoutMs: 60_000, maxRequestsPerConnection: 0 };

class UndiciUpstream implements Upstream {
  readonly origin: string;
  private readonly pool: Pool;
  /**
   * maxRequestsPerConnection 1: every request asks for `connection: close`. Otherwise undefined,
   * never false: an explicit false would undo undici's own close-after-HEAD.
   */
  private readonly reset: true | undefined;

  constructor(origin: string, s: UpstreamSettings) {
    this.origin = origin;
    this.reset = s.maxRequestsPerConnection === 1 ? true : undefined;
    this.pool = new Pool(origin, {
      connections: s.maxConnections > 0 ? s.maxConnections : null,
      connectTimeout: s.connectTimeoutMs,
      keepAliveTimeout: s.idleTimeoutMs,
      keepAliveMaxTimeout: s.idleTimeoutMs,
      // Route timeouts are the router's job; these are only backstops against a stuck socket.
      headersTimeout: 0,
      bodyTimeout: 0,
      pipelining: 1,
      // Envoy accepts up to 60 KiB of response headers from upstreams.
      maxHeaderSize: 60 * 1024,
      // undici lets maxRequestsPerClient + 1 requests through one socket (it post-increments its
      // counter, nodejs/undici#5033), so ask for one less; 1 itself is handled per request (reset).
      ...(s.maxRequestsPerConnection > 1 ? { maxRequestsPerClient: s.maxRequestsPerConnection - 1 } : {}),
    });
  }

  dispatch(req: UpstreamRequest, handler: UpstreamHandler): void {
    this.pool.dispatch(
      { origin: this.origin, path: req.path, method: req.method, headers: req.headers, body: req.body as never, reset: this.reset, upgrade: req.upgrade },
      handler,
    );
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * Upstream connection pools, shared by every cluster and snapshot that names the same endpoint
 * with the same settings, so a config reload keeps warm connections. Counted: a pool nobody uses
 * any more (an address DNS stopped returning, a cluster a reload removed) is closed, once the
 * requests still on it are done.
 */
export class UpstreamPools {
  private readonly pools = new Map<string, { upstream: Upstream; users: number }>();
  private readonly keys = new Map<Upstream, string>();

  acquire(address: string, port: number, settings: UpstreamSettings = DEFAULT_UPSTREAM): Upstream {
    const host = address.includes(':') ? `[${address}]` : address;
    const origin = `http://${host}:${port}`;
    const key = `${origin}|${settings.maxConnections}|${settings.connectTimeoutMs}|${settings.idleTimeoutMs}|${settings.maxRequestsPerConnection}`;
    let entry = this.pools.get(key);
    if (entry === undefined) {
      entry = { upstream: new UndiciUpstream(origin, settings), users: 0 };
      this.pools.set(key, entry);
      this.keys.set(entry.upstream, key);
    }
    entry.users++;
    return entry.upstream;
  }

  release(upstream: Upstream): void {
    const key = this.keys.get(upstream);
    const entry = key === undefined ? undefined : this.pools.get(key);
    if (entry === undefined || --entry.users > 0) return;
    this.pools.delete(key!);
    this.keys.delete(upstream);
    void upstream.close().catch(() => undefined);
  }

  get size(): number {
    return this.pools.size;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.upstream.close().catch(() => undefined)));
    this.pools.clear();
    this.keys.clear();
  }
}
