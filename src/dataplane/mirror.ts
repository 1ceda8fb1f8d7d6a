import type { UpstreamHandler } from './upstream.js';

/** Envoy's shadow host: `-shadow` after the host name, before any port. */
export function shadowHost(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.indexOf(']', colon) >= 0) return `${authority}-shadow`;
  return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
}

/** Handler for a mirrored copy: reads and forgets the answer, never reports anything. */
export class MirrorSink implements UpstreamHandler {
  private timer: NodeJS.Timeout | null = null;
  constructor(timeoutMs: number) {
    if (timeoutMs > 0) {
      this.timer = setTimeout(() => this.abortFn?.(new Error('mirror timeout')), timeoutMs);
      this.timer.unref();
    }
  }
  private abortFn: ((err?: Error) => void) | null = null;
  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
  }
  onHeaders(): boolean {
    return true;
  }
  onData(): boolean {
    return true;
  }
  onComplete(): void {
    if (this.timer) clearTimeout(this.timer);
  }
  onError(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
