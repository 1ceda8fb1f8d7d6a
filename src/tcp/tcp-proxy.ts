import net, { isIPv4, type Socket } from 'node:net';
import type { Subnets, TcpChainConfig, TcpDestination, TcpRoute } from '../compile/snapshot.js';
import { unmapped } from '../http/downstream.js';
import type { DataPlaneState } from '../http/state.js';
import { Flag, StreamRecord } from '../http/stream-record.js';
import { awaitConnect, splice } from './splice.js';

// Envoy's tcp_proxy idle_timeout default: a connection silent both ways this long is closed.
const TCP_IDLE_MS = 3_600_000;

function sniMatches(patterns: readonly string[], sni: string | null): boolean {
  if (sni === null) return false;
  for (const p of patterns) {
    if (p === sni || p === '*') return true;
    if (p.startsWith('*.') && sni.endsWith(p.slice(1)) && sni.length > p.length - 1) return true;
  }
  return false;
}

function inSubnets(s: Subnets | null, address: string | undefined): boolean {
  if (s === null) return true;
  if (address === undefined) return false;
  const a = unmapped(address);
  return s.list.check(a, isIPv4(a) ? 'ipv4' : 'ipv6');
}

/** The first route that takes this connection: by SNI (tls routes), the address it came to and the client's address. */
export function selectTcpRoute(routes: readonly TcpRoute[], sni: string | null, local?: string, remote?: string): TcpRoute | null {
  for (const r of routes) {
    if (r.matches === null) return r;
    for (const m of r.matches) {
      if ((m.sniHosts === null || sniMatches(m.sniHosts, sni)) && inSubnets(m.destinationSubnets, local) && inSubnets(m.sourceSubnets, remote)) return r;
    }
  }
  return null;
}

function pickDestination(r: TcpRoute): TcpDestination | null {
  if (r.destinations.length === 1) return r.destinations[0]!;
  if (r.totalWeight <= 0) return null;
  let x = Math.random() * r.totalWeight;
  for (const d of r.destinations) {
    x -= d.weight;
    if (x < 0) return d;
  }
  return r.destinations[r.destinations.length - 1]!;
}

/**
 * Envoy's TCP proxy: one connection in, one to an endpoint of the route's cluster, bytes copied
 * both ways until either side closes. `client` is the raw socket (plain TCP, TLS passthrough,
 * its first bytes put back) or the terminated TLS socket. One stream record per connection.
 */
export function proxyTcp(client: Socket, listener: string, chain: TcpChainConfig, sni: string | null, state: DataPlaneState): void {
  const rec = new StreamRecord('TCP', unmapped(client.remoteAddress), performance.now());
  rec.listener = listener;
  rec.chain = chain.name;
  rec.authority = sni ?? '';
  let finished = false;
  const finish = (flags: number, details: string) => {
    if (finished) return;
    finished = true;
    rec.flags |= flags;
    if (rec.details === '') rec.details = details;
    rec.durationMs = performance.now() - rec.startMs;
    state.streamEnded(rec);
  };
  const refuse = (flag: number, details: string) => {
    client.destroy();
    finish(flag, details);
  };
  const route = selectTcpRoute(chain.routes, sni, client.localAddress, client.remoteAddress);
  if (route === null) return refuse(Flag.NR, 'filter_chain_not_found');
  rec.route = route.source;
  const dest = pickDestination(route);
  const cluster = dest === null ? undefined : state.active.clusters.get(dest.cluster);
  if (dest === null || cluster === undefined) return refuse(Flag.NC, 'cluster_not_found');
  rec.cluster = dest.cluster;
  const ep = cluster.pick();
  if (ep === null) return refuse(Flag.UH, 'no_healthy_upstream');
  if (!cluster.admitConnection()) return refuse(Flag.UO, 'overflow');
  rec.upstreamHost = ep.hostPort;
  rec.attempts = 1;

  // Half-open from the start: a client FIN that arrives before the upstream connects is kept.
  client.allowHalfOpen = true;
  client.on('error', () => undefined);
  const upstream = net.connect({ host: ep.address, port: ep.port, noDelay: true, allowHalfOpen: true });
  awaitConnect(
    client,
    upstream,
    cluster.config.pool.connectTimeoutMs,
    () => {
      rec.responseStartMs = performance.now() - rec.startMs;
      splice(client, upstream, TCP_IDLE_MS, () => (rec.details = 'idle_timeout'), () => {
        rec.bytesReceived = client.bytesRead;
        rec.bytesSent = client.bytesWritten;
        cluster.releaseConnection();
        finish(0, 'closed');
      });
      client.resume();
    },
    (byClient, timedOut) => {
      client.destroy();
      cluster.releaseConnection();
      if (timedOut) finish(Flag.UF, 'upstream_connect_timeout');
      else if (byClient) finish(Flag.DC, 'downstream_remote_disconnect');
      else finish(Flag.UF, 'upstream_connect_failure');
    },
  );
}
