import type { Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Envoy's codec AUTO on a plain-text connection: HTTP/2 with prior knowledge starts with the
 * client preface, anything else is HTTP/1.1. Reads just enough to tell, puts it back, and hands
 * the paused socket on. A connection that sends nothing in time, or closes first, is dropped.
 */
export function detectProtocol(socket: Socket, timeoutMs: number, then: (h2: boolean) => void): void {
  let seen: Buffer | null = null;
  const onData = (chunk: Buffer) => {
    seen = seen === null ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, PREFACE.length);
    if (seen.compare(PREFACE, 0, n, 0, n) !== 0) return done(false);
    if (seen.length >= PREFACE.length) return done(true);
  };
  const onGone = () => {
    cleanup();
    socket.destroy();
  };
  const cleanup = () => {
    socket.off('data', onData);
    socket.off('end', onGone);
    socket.off('error', onGone);
    socket.off('timeout', onGone);
    socket.setTimeout(0);
  };
  const done = (h2: boolean) => {
    cleanup();
    socket.pause();
    socket.unshift(seen!);
    then(h2);
  };
  socket.on('data', onData);
  socket.once('end', onGone);
  socket.once('error', onGone);
  socket.setTimeout(timeoutMs);
  socket.once('timeout', onGone);
}
