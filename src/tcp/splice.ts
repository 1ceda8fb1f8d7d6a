import type { Socket } from 'node:net';

/**
 * Joins two connected sockets both ways, as Envoy's tcp_proxy: a side's FIN is passed on (pipe
 * ends the other side's write) and what the other side still sends reaches it. A side is closed
 * once both its directions are done, or it failed; the other then gets what is queued for it
 * (end() flushes) and is closed too. `done` runs once, when both are closed. `upstream` must have
 * been made with allowHalfOpen.
 */
export function splice(client: Socket, upstream: Socket, idleMs: number, onIdle: () => void, done: () => void): void {
  client.allowHalfOpen = true;
  client.pipe(upstream);
  upstream.pipe(client);
  client.setTimeout(idleMs, () => {
    onIdle();
    upstream.destroy();
    client.destroy();
  });
  let open = 2;
  const closed = (other: Socket) => {
    if (!other.destroyed) {
      if (other.writableEnded) other.destroy();
      else other.end(() => other.destroy());
    }
    if (--open === 0) done();
  };
  if (client.destroyed) closed(upstream);
  else client.once('close', () => closed(upstream));
  if (upstream.destroyed) closed(client);
  else upstream.once('close', () => closed(client));
}

/**
 * Connects `upstream`'s life to the client's until it connects: `failed` if either closes (or the
 * timeout passes) first, with whether the client was the one; `connected` otherwise, the waiting
 * listeners gone.
 */
export function awaitConnect(client: Socket, upstream: Socket, timeoutMs: number, connected: () => void, failed: (byClient: boolean, timedOut: boolean) => void): void {
  const timer = setTimeout(() => settle(false, true), timeoutMs);
  const onClientClose = () => settle(true, false);
  const onUpstreamClose = () => settle(false, false);
  function settle(byClient: boolean, timedOut: boolean): void {
    clearTimeout(timer);
    client.off('close', onClientClose);
    upstream.off('close', onUpstreamClose);
    upstream.off('connect', onConnect);
    upstream.destroy();
    failed(byClient, timedOut);
  }
  function onConnect(): void {
    clearTimeout(timer);
    client.off('close', onClientClose);
    upstream.off('close', onUpstreamClose);
    connected();
  }
  client.once('close', onClientClose);
  upstream.once('close', onUpstreamClose);
  upstream.once('connect', onConnect);
  upstream.on('error', () => undefined);
}
