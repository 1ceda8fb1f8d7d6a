import type { Readable } from 'node:stream';
import type { ClusterRuntime } from './cluster.js';
import type { UpstreamHandler } from './upstream.js';

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
export class MirrorSink implements UpstreamHandler {
  private readonly timer: NodeJS.Timeout;
  private abortFn: ((err?: Error) => void) | null = null;
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

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    if (this.expired) abort(new Error('mirror timeout'));
  }

  onHeaders(): boolean {
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.release();
  }

  onError(): void {
    this.release();
  }

  private expire(): void {
    this.expired = true;
    this.body?.destroy();
    this.abortFn?.(new Error('mirror timeout'));
    this.release();
  }

  private release(): void {
    clearTimeout(this.timer);
    if (this.released) return;
    this.released = true;
    this.cluster.releaseMirror();
  }
}
