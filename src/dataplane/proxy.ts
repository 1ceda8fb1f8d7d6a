import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeAuthority } from '../compile/hosts.js';
import type { ActiveConfig, DataPlaneState } from './active.js';
import type { Route } from '../compile/snapshot.js';
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

export interface Routed {
  active: ActiveConfig;
  route: Route;
  view: RequestView;
  /** The target was absolute-form: its authority replaces Host upstream. */
  absolute: boolean;
}

/**
 * Listener → virtual host → route, for a request or an Upgrade. A number is the status of the
 * local reply instead: 400 for an unusable target, 404 for no route, 502 on the mesh listener
 * for a host or port outside the registry (nothing is forwarded).
 */
export function routeOf(ctx: ListenerContext, req: IncomingMessage): Routed | number {
  const active = ctx.state.active;
  const listener = active.listeners.get(ctx.name);
  const target = splitTarget(req.url ?? '/');
  if (target === null) return 400;
  if (listener === undefined) return 404;
  const authority = target.authority ?? req.headers.host;
  if (authority === undefined) return 400;
  const mesh = listener.kind === 'mesh';
  const port = mesh ? authorityPort(authority, 80) : listener.port;
  const vhost = findVirtualHost(listener.routes, normalizeAuthority(authority));
  if (vhost === null) return mesh ? 502 : 404;
  if (vhost.ports !== undefined && !vhost.ports.includes(port)) return 502;
  const view: RequestView = { req, path: target.path, rawQuery: target.rawQuery, query: null, scheme: ctx.scheme, port, authority, matched: null };
  const route = findRoute(vhost, view);
  if (route === null) return 404;
  return { active, route, view, absolute: target.authority !== undefined };
}

function handleRequest(ctx: ListenerContext, req: IncomingMessage, res: ServerResponse): void {
  // Istio's gateways do not accept HTTP/1.0 (Envoy's accept_http_10 is off): 426, as they answer.
  if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1) {
    res.shouldKeepAlive = false;
    return sendLocalReply(res, 426, '');
  }
  if (ctx.state.draining) res.shouldKeepAlive = false;
  const r = routeOf(ctx, req);
  if (typeof r === 'number') return sendLocalReply(res, r, '');
  new Exchange(ctx, r.active, req, res, r.route, r.view, r.absolute).start();
}
