import { lookup } from 'node:dns/promises';
import net, { isIP, type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { egressTarget, refusalReason } from '../compile/egress.js';
import { unmapped } from '../http/downstream.js';
import type { DataPlaneState } from '../http/state.js';
import { Flag, StreamRecord } from '../http/stream-record.js';
import { REPLY } from '../http/local-reply.js';
import { forbiddenAddress, isLocalAddress } from './address-guard.js';
import { awaitConnect, splice } from '../tcp/splice.js';

// A tunnel idle both ways this long is closed (Envoy's tcp_proxy default idle timeout).
const TUNNEL_IDLE_MS = 3_600_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const NOTHING_DECLARED: ReadonlySet<string> = new Set();

export interface TunnelContext {
  state: DataPlaneState;
  listener: string;
  chain: string;
}

/** `host:port` of a CONNECT request (authority-form, IPv6 in brackets); null when it is not one. */
export function connectTarget(url: string | undefined): { host: string; port: number } | null {
  if (url === undefined) return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(url);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (m[1] ?? m[2]!).toLowerCase(), port };
}

function answer(socket: Socket, status: number, reason: string, body: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncontent-type: text/plain\r\nserver: istio-envoy\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * A forward proxy's CONNECT: a TCP tunnel to a host and port the egress policy allows (a
 * ServiceEntry declares them, or ALLOW_ANY), never to the gateway's own ports, never to a
 * loopback or link-local address a ServiceEntry does not name itself. Refusals connect nothing.
 */
export function openTunnel(ctx: TunnelContext, req: IncomingMessage, socket: Socket, head: Buffer): void {
  const { state } = ctx;
  const rec = new StreamRecord('HTTP/1.1', unmapped(socket.remoteAddress), performance.now());
  rec.listener = ctx.listener;
  rec.chain = ctx.chain;
  rec.method = 'CONNECT';
  rec.authority = req.url ?? '';
  let finished = false;
  const finish = (status: number, flags: number, details: string) => {
    if (finished) return;
    finished = true;
    rec.responseCode = status;
    rec.flags |= flags;
    rec.details = details;
    rec.durationMs = performance.now() - rec.startMs;
    state.streamEnded(rec);
  };
  const refuse = (status: number, reason: string, body: string, details: string, flags: number, why?: string) => {
    if (why !== undefined) state.egressRefused(rec.authority, why, unmapped(socket.remoteAddress));
    answer(socket, status, reason, body);
    finish(status, flags, details);
  };
  socket.on('error', () => socket.destroy());

  const target = connectTarget(req.url);
  if (target === null) return refuse(400, 'Bad Request', 'Bad Request', 'invalid_connect_target', 0);
  const snapshot = state.active.snapshot;
  const decision = egressTarget(snapshot.egress, target.host, target.port);
  if (decision === null && snapshot.egress.mode === 'REGISTRY_ONLY') {
    return refuse(403, 'Forbidden', '', 'egress_not_declared', Flag.NR, refusalReason(snapshot.egress, target.host, target.port));
  }
  const cluster = decision?.cluster ? state.active.clusters.get(decision.cluster) : undefined;
  rec.cluster = decision?.cluster ?? null;
  rec.route = decision?.target.ref ?? 'ALLOW_ANY';

  const connectTo = (address: string, port: number, release: () => void) => {
    if (state.isOwnPort(port) && isLocalAddress(address)) {
      release();
      return refuse(403, 'Forbidden', '', 'egress_own_port', Flag.NR, `${target.host}:${target.port} is this gateway's own port`);
    }
    rec.upstreamHost = `${address}:${port}`;
    rec.attempts = 1;
    const upstream = net.connect({ host: address, port, noDelay: true, allowHalfOpen: true });
    awaitConnect(
      socket,
      upstream,
      cluster?.config.pool.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      () => {
        rec.responseStartMs = performance.now() - rec.startMs;
        socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        splice(socket, upstream, TUNNEL_IDLE_MS, () => undefined, () => {
          release();
          rec.upgraded = true;
          rec.bytesReceived = socket.bytesRead;
          rec.bytesSent = socket.bytesWritten;
          finish(200, 0, 'via_upstream');
        });
      },
      (byClient) => {
        release();
        if (byClient) return finish(0, Flag.DC, 'downstream_remote_disconnect');
        answer(socket, 503, 'Service Unavailable', REPLY.connectFailure);
        finish(503, Flag.UF, 'upstream_connect_failure');
      },
    );
  };

  const ep = cluster?.pick() ?? null;
  // A DNS-found external host with no endpoint left may be one the address guard emptied: the
  // lookup below says so, in words, instead of a bare "no healthy upstream".
  if (cluster !== undefined && (ep !== null || cluster.config.addressGuard === undefined)) {
    if (ep === null) return refuse(503, 'Service Unavailable', REPLY.noHealthyUpstream, 'no_healthy_upstream', Flag.UH);
    if (!cluster.admitConnection()) return refuse(503, 'Service Unavailable', REPLY.overflow, 'overflow', Flag.UO);
    let released = false;
    return connectTo(ep.address, ep.port, () => {
      if (!released) cluster.releaseConnection();
      released = true;
    });
  }
  // No endpoints declared (resolution NONE, a wildcard host, ALLOW_ANY): the requested name, resolved here.
  const resolved = isIP(target.host) !== 0 ? Promise.resolve(target.host) : lookup(target.host).then((a) => a.address);
  resolved.then(
    (address) => {
      if (socket.destroyed) return finish(0, Flag.DC, 'downstream_remote_disconnect');
      const why = forbiddenAddress(unmapped(address), decision?.target.declared ?? NOTHING_DECLARED);
      if (why !== null) return refuse(403, 'Forbidden', '', 'egress_forbidden_address', Flag.NR, `${isIP(target.host) !== 0 ? why : `${target.host} resolves to ${why}`}; only a ServiceEntry that names that address itself allows it`);
      connectTo(address, target.port, () => undefined);
    },
    () => refuse(503, 'Service Unavailable', REPLY.connectFailure, 'upstream_connect_failure', Flag.UF),
  );
}
