import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeAuthority } from '../compile/hosts.js';
import type { DataPlaneState } from './active.js';
import { Exchange } from './exchange.js';
import { sendLocalReply } from './local-reply.js';
import { splitTarget } from './path.js';
import { findRoute, findVirtualHost, type RequestView } from './router.js';

export interface ListenerContext {
  state: DataPlaneState;
  /** Listener name in the snapshot (`gateway:80`, `mesh`). */
  name: string;
  scheme: 'http' | 'https';
  /** Upgraded connections leave the HTTP server's bookkeeping; kept here to be closed on shutdown. */
  upgraded: Set<import('node:stream').Duplex>;
}

/** The request handler of one HTTP listener: route, run the route's filters, forward. */
export function createRequestHandler(ctx: ListenerContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => handleRequest(ctx, req, res);
}

/** The port an authority names, or the default. */
function authorityPort(authority: string, dflt: number): number {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.indexOf(']', colon) >= 0) return dflt;
  const n = Number(authority.slice(colon + 1));
  return Number.isInteger(n) && n > 0 ? n : dflt;
}

function handleRequest(ctx: ListenerContext, req: IncomingMessage, res: ServerResponse): void {
  // Istio's gateways do not accept HTTP/1.0 (Envoy's accept_http_10 is off): 426, as they answer.
  if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1) {
    res.shouldKeepAlive = false;
    return sendLocalReply(res, 426, '');
  }
  const state = ctx.state;
  if (state.draining) res.shouldKeepAlive = false;
  const active = state.active;
  const listener = active.listeners.get(ctx.name);
  const target = splitTarget(req.url ?? '/');
  if (target === null) return sendLocalReply(res, 400, '');
  if (listener === undefined) return sendLocalReply(res, 404, '');
  const authority = target.authority ?? req.headers.host;
  if (authority === undefined) return sendLocalReply(res, 400, '');
  const mesh = listener.kind === 'mesh';
  const port = mesh ? authorityPort(authority, 80) : listener.port;
  const vhost = findVirtualHost(listener.routes, normalizeAuthority(authority));
  // The mesh listener is registry-only: a host (or a port of it) no Service or ServiceEntry
  // declares is refused, and nothing is forwarded.
  if (vhost === null) return sendLocalReply(res, mesh ? 502 : 404, '');
  if (vhost.ports !== undefined && !vhost.ports.includes(port)) return sendLocalReply(res, 502, '');
  const view: RequestView = { req, path: target.path, rawQuery: target.rawQuery, query: null, scheme: ctx.scheme, port, authority, matched: null };
  const route = findRoute(vhost, view);
  if (route === null) return sendLocalReply(res, 404, '');
  new Exchange(ctx, active, req, res, route, view, target.authority !== undefined).start();
}

