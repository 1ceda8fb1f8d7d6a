import { DEFAULT_UPSTREAM, type UpstreamClient, type UpstreamSettings } from './client.js';
import { H1Client } from './h1-client.js';
import { H2Client } from './h2-client.js';

/**
 * Upstream clients (connection pools), shared by every cluster and snapshot that names the same
 * endpoint with the same settings, so a config reload keeps warm connections. Counted: a client
 * nobody uses any more (an address DNS stopped returning, a cluster a reload removed) is closed,
 * once the requests still on it are done.
 */
export class UpstreamPools {
  private readonly pools = new Map<string, { client: UpstreamClient; users: number }>();
  private readonly keys = new Map<UpstreamClient, string>();

  acquire(address: string, port: number, settings: UpstreamSettings = DEFAULT_UPSTREAM): UpstreamClient {
    const host = address.includes(':') ? `[${address}]` : address;
    const s = settings;
    const origin = `${s.tls === null ? 'http' : 'https'}://${host}:${port}`;
    const key = `${s.protocol}|${origin}|${s.maxConnections}|${s.connectTimeoutMs}|${s.idleTimeoutMs}|${s.maxRequestsPerConnection}|${s.maxConcurrentStreams}|${s.tls?.poolKey ?? ''}`;
    let entry = this.pools.get(key);
    if (entry === undefined) {
      const client = s.protocol === 'http2' ? new H2Client(origin, s) : new H1Client(origin, s);
      entry = { client, users: 0 };
      this.pools.set(key, entry);
      this.keys.set(client, key);
    }
    entry.users++;
    return entry.client;
  }

  release(client: UpstreamClient): void {
    const key = this.keys.get(client);
    const entry = key === undefined ? undefined : this.pools.get(key);
    if (entry === undefined || --entry.users > 0) return;
    this.pools.delete(key!);
    this.keys.delete(client);
    void client.close().catch(() => undefined);
  }

  get size(): number {
    return this.pools.size;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.client.close().catch(() => undefined)));
    this.pools.clear();
    this.keys.clear();
  }
}
