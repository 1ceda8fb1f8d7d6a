import type { ServerResponse } from 'node:http';
import type { LiveEndpoint } from './cluster.js';
import { LocalFailure } from './upstream-errors.js';
import type { UpstreamHandler } from './upstream.js';

/** What an Attempt reports to: the request it is a try of. */
export interface AttemptOwner {
  readonly res: ServerResponse;
  onAttemptHeaders(at: Attempt, status: number, raw: Buffer[]): boolean;
  onAttemptComplete(at: Attempt): void;
  onAttemptError(at: Attempt, err: Error): void;
}

/** One try upstream, as an undici dispatch handler; the Exchange decides what reaches the client. */
export class Attempt implements UpstreamHandler {
  timer: NodeJS.Timeout | null = null;
  /** When this try was sent, for x-envoy-upstream-service-time. */
  readonly startMs = Date.now();
  private abortFn: ((err?: Error) => void) | null = null;
  private pendingAbort: Error | null = null;
  private resumeFn: (() => void) | null = null;
  private drainListener: (() => void) | null = null;
  private discarded = false;
  private done = false;

  constructor(
    private readonly ex: AttemptOwner,
    readonly endpoint: LiveEndpoint,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    if (this.pendingAbort !== null) abort(this.pendingAbort);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    this.resumeFn = resume;
    return this.ex.onAttemptHeaders(this, statusCode, rawHeaders);
  }

  onData(chunk: Buffer): boolean {
    if (this.discarded) return true;
    const res = this.ex.res;
    if (res.write(chunk)) return true;
    if (this.drainListener === null) this.drainListener = () => this.resumeFn?.();
    res.once('drain', this.drainListener);
    return false;
  }

  onComplete(): void {
    this.end();
    if (!this.discarded) this.ex.onAttemptComplete(this);
  }

  onError(err: Error): void {
    this.end();
    if (!this.discarded) this.ex.onAttemptError(this, err);
  }

  abort(err: Error): void {
    if (this.abortFn !== null) return this.abortFn(err);
    if (this.pendingAbort !== null) return;
    // Not on a socket yet (connecting, or queued in the pool): undici would report the abort only
    // once it gets there. Kill it then, but let the exchange move on now.
    this.pendingAbort = err;
    const reported = this.discarded;
    this.discarded = true;
    this.end();
    if (!reported) this.ex.onAttemptError(this, err);
  }

  /** Drop this try's answer (a retry follows). */
  discard(): void {
    this.discarded = true;
    this.clearTimer();
    this.abort(new LocalFailure('downstream'));
  }

  clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private end(): void {
    if (this.done) return;
    this.done = true;
    this.clearTimer();
    this.endpoint.active--;
  }
}

/** setTimeout target (no closure per try). */
export function onPerTryTimeout(at: Attempt): void {
  at.timer = null;
  at.abort(new LocalFailure('per-try-timeout'));
}

