import { PassThrough, Readable } from 'node:stream';

/** Request bodies up to this size are kept so a retry can send them again (Envoy's buffer limit is 1 MiB too). */
export const REPLAY_LIMIT = 1024 * 1024;

export type PreparedBody = { replayable: true; data: Buffer } | { replayable: false; stream: Readable };

// Bytes all requests together may hold for replay; past it, bodies stream and are not retried.
const REPLAY_BUDGET = 64 * 1024 * 1024;
let reserved = 0;
const nothing = () => undefined;

/** Bytes reserved for replay right now, gateway-wide (tests read it to prove nothing leaks). */
export function replayBytesReserved(): number {
  return reserved;
}

/**
 * Reads a request body into memory when it fits REPLAY_LIMIT (and the gateway-wide budget), so
 * retries can resend it; a larger body streams on (its first part from memory) and the request
 * is not retried. Returns the reservation's release: the caller calls it when its request ends,
 * however it ends (an upload the client abandons never reaches `done`).
 */
export function bufferForReplay(body: Readable, contentLength: string | undefined, done: (b: PreparedBody) => void): () => void {
  const declared = Number(contentLength);
  const want = contentLength !== undefined && Number.isFinite(declared) ? declared : REPLAY_LIMIT;
  if (want > REPLAY_LIMIT || reserved + want > REPLAY_BUDGET) {
    done({ replayable: false, stream: body });
    return nothing;
  }
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
      body.pause();
      release();
      done({ replayable: false, stream: Readable.from(prefixed(chunks, body), { objectMode: false }) });
    }
  };
  const onEnd = () => {
    cleanup();
    done({ replayable: true, data: Buffer.concat(chunks, size) });
  };
  const cleanup = () => {
    body.off('data', onData);
    body.off('end', onEnd);
  };
  body.on('data', onData);
  body.on('end', onEnd);
  return release;
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
