import diagnostics from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

// Where undici's HTTP/1.1 parser and Envoy part ways, and what meshgate needs to know that undici
// does not tell. Each fix reaches into undici 7's internals (its parser's prototype, a request's
// handler), so each degrades to undici's own behaviour when the shape is not found; the tests in
// test/e2e/hostile-upstream.test.ts fail then, not the gateway.
//
// - An interim `100 Continue` the gateway did not ask for (it never forwards `Expect`) is
//   swallowed as Envoy does; undici destroys the connection on it ("bad response": a 503).
// - A `304` may carry the Content-Length of the representation it stands for (RFC 9110 §8.6);
//   undici takes it as the length of a body that never comes ("content length mismatch").
// - Whether a request went out on a connection that had served requests before: a reset there
//   before any answer byte is the upstream closing an idle connection under the request
//   (istio/istio#55138), which is worth one more try on a fresh connection.

const require = createRequire(import.meta.url);

/** Told, for each request sent, whether its connection had carried requests before. */
export interface ReuseAware {
  reused: boolean;
}

let installed = false;

/** Installs the fixes once, before the first upstream connection. */
export function installUndiciFixes(): void {
  if (installed) return;
  installed = true;
  let kParser: symbol | undefined;
  try {
    kParser = (require('undici/lib/core/symbols.js') as { kParser?: symbol }).kParser;
  } catch {
    return;
  }
  const onConnected = (msg: unknown) => {
    const socket = (msg as { socket?: Record<symbol, unknown> }).socket;
    const parser = kParser !== undefined ? socket?.[kParser] : undefined;
    if (parser === undefined || parser === null) return;
    diagnostics.unsubscribe('undici:client:connected', onConnected);
    patchParser(Object.getPrototypeOf(parser) as ParserProto);
  };
  diagnostics.subscribe('undici:client:connected', onConnected);
  diagnostics.subscribe('undici:client:sendHeaders', onSendHeaders);
}

interface ParserProto {
  onHeadersComplete(this: { contentLength: string }, statusCode: number, upgrade: boolean, keepAlive: boolean): number;
}

function patchParser(proto: ParserProto): void {
  const original = proto.onHeadersComplete;
  if (typeof original !== 'function') return;
  proto.onHeadersComplete = function (statusCode, upgrade, keepAlive) {
    // 102 takes undici's path for interim answers it accepts: passed to the handler (which
    // drops every 1xx), no body, the final answer parsed next.
    if (statusCode === 100 && !upgrade) return original.call(this, 102, upgrade, keepAlive);
    if (statusCode === 304) this.contentLength = '';
    return original.call(this, statusCode, upgrade, keepAlive);
  };
}

const SENT = Symbol('meshgate.requestsSent');
let handlerKey: symbol | null | undefined;

function onSendHeaders(msg: unknown): void {
  const { request, socket } = msg as { request: Record<symbol, unknown>; socket: Socket & { [SENT]?: number } };
  const sent = socket[SENT] ?? 0;
  socket[SENT] = sent + 1;
  if (handlerKey === undefined) handlerKey = Object.getOwnPropertySymbols(request).find((s) => s.description === 'handler') ?? null;
  if (handlerKey === null) return;
  const handler = request[handlerKey] as Partial<ReuseAware> | undefined;
  if (handler !== undefined && typeof handler.reused === 'boolean') handler.reused = sent > 0;
}
