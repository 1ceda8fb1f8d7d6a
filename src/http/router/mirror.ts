import type { Readable } from 'node:stream';
import type { ResponseHandler } from '../../upstream/client.js';
import type { ClusterRuntime } from '../../upstream/cluster.js';
import { UpstreamError } from '../../upstream/errors.js';

/** Envoy's shadow host: `-shadow` after the host name, before any port. */
export function shadowHost(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.indexOf(']', colon) >= 0) return `${authority}-shadow`;
  return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
}

// Mirrors still waiting for a connection this long after the route timeout are given up.
const MIRROR_DEFAULT_TIMEOUT_MS = 15_000;

/**
 * Handler for a mirrored copy: reads and forgets the answer, never reports anything, and gives
 * its mirror slot back when it ends or times out (even before it reached a socket).
 */
const MIRROR_TIMEOUT = new UpstreamError('timeout', 0, 'mirror timeout');

export class MirrorSink implements ResponseHandler {
  private readonly timer: NodeJS.Timeout;
  private abortFn: ((err: UpstreamError) => void) | null = null;
  private expired = false;
  private released = false;

  constructor(
    private readonly cluster: ClusterRuntime,
    timeoutMs: number,
    private readonly body: Readable | null,
  ) {
    this.timer = setTimeout(() => this.expire(), timeoutMs > 0 ? timeoutMs : MIRROR_DEFAULT_TIMEOUT_MS);
    this.timer.unref();
  }

  onStart(abort: (err: UpstreamError) => void): void {
    this.abortFn = abort;
    if (this.expired) abort(MIRROR_TIMEOUT);
  }

  onHeaders(): boolean {
    return true;
  }

  onData(): boolean {
    return true;
  }

  onEnd(): void {
    this.release();
  }

  onError(): void {
    this.release();
  }

  private expire(): void {
    this.expired = true;
    this.body?.destroy();
    this.abortFn?.(MIRROR_TIMEOUT);
    this.release();
  }

  private release(): void {
    clearTimeout(this.timer);
    if (this.released) return;
    this.released = true;
    this.cluster.releaseMirror();
  }
}
