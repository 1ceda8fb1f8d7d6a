import type { Logger } from './log.js';

/**
 * Warnings a client can cause (refused handshakes, refused egress), at most one line a second:
 * the next line says how many were left out. The message is built only for lines written.
 */
export class RateLimitedWarning {
  private last = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger | null,
    private readonly intervalMs = 1000,
  ) {}

  warn(message: () => string): void {
    if (this.log === null) return;
    const now = Date.now();
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.last = now;
    const more = this.suppressed > 0 ? ` (+${this.suppressed} more refused in the last second)` : '';
    this.suppressed = 0;
    this.log.warn(message() + more);
  }
}
