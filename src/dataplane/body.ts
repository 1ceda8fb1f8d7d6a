import type { IncomingMessage } from 'node:http';
import { PassThrough, Readable } from 'node:stream';

/** Request bodies up to this size are kept so a retry can send them again (Envoy's buffer limit is 1 MiB too). */
export const REPLAY_LIMIT = 1024 * 1024;

export function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

export type PreparedBody = { replayable: true; data: Buffer } | { replayable: false; stream: Readable };

// Bytes all requests together may hold for replay; past it, bodies stream and are not retried.
const REPLAY_BUDGET = 64 * 1024 * 1024;
let reserved = 0;
const nothing = () => undefined;

/**
 * Reads the request body into memory when it fits REPLAY_LIMIT (and the gateway-wide budget),
 * so retries can resend it; a larger body streams on (its first part from memory) and the
 * request is not retried. `release` gives the reservation back: call it when the request ends.
 */
export function bufferForReplay(req: IncomingMessage, done: (b: PreparedBody, release: () => void) => void): void {
  const declared = Number(req.headers['content-length']);
  const want = Number.isFinite(declared) ? declared : REPLAY_LIMIT;
  if (want > REPLAY_LIMIT || reserved + want > REPLAY_BUDGET) return done({ replayable: false, stream: req }, nothing);
  reserved += want;
  let held = true;
  const release = () => {
    if (held) reserved -= want;
    held = false;
  };
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (c: Buffer) => {
    chunks.push(c);
    size += c.length;
    if (size > REPLAY_LIMIT) {
      cleanup();
      req.pause();
      release();
      done({ replayable: false, stream: Readable.from(prefixed(chunks, req), { objectMode: false }) }, nothing);
    }
  };
  const onEnd = () => {
    cleanup();
    done({ replayable: true, data: Buffer.concat(chunks, size) }, release);
  };
  const cleanup = () => {
    req.off('data', onData);
    req.off('end', onEnd);
  };
  req.on('data', onData);
  req.on('end', onEnd);
}

async function* prefixed(head: Buffer[], rest: Readable): AsyncIterable<Buffer> {
  for (const c of head) yield c;
  for await (const c of rest) yield c as Buffer;
}

/** Splits a streaming body for mirrors: mirrors that fall behind by more than `limit` bytes are cut off, never slowing the main request. */
export function teeForMirrors(req: Readable, count: number, limit = REPLAY_LIMIT): { main: Readable; mirrors: PassThrough[] } {
  const main = new PassThrough();
  const mirrors = Array.from({ length: count }, () => new PassThrough());
  req.on('data', (c: Buffer) => {
    for (const m of mirrors) {
      if (m.destroyed) continue;
      if (m.writableLength > limit) m.destroy();
      else m.write(c);
    }
  });
  req.on('end', () => {
    for (const m of mirrors) if (!m.destroyed) m.end();
  });
  req.pipe(main);
  return { main, mirrors };
}
