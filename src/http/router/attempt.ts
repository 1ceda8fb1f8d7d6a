import type { ResponseHandler } from '../../upstream/client.js';
import type { LiveEndpoint } from '../../upstream/cluster.js';
import { DOWNSTREAM_GONE, PER_TRY_TIMEOUT, type UpstreamError } from '../../upstream/errors.js';

/** What an Attempt reports to: the request it is a try of. */
export interface AttemptOwner {
  /** `end`: the head is the whole answer (no body, no trailers); the try is settled already. */
  onAttemptHeaders(at: Attempt, status: number, headers: string[], end: boolean): boolean;
  onAttemptData(at: Attempt, chunk: Buffer): boolean;
  onAttemptEnd(at: Attempt, trailers: string[] | null): void;
  onAttemptError(at: Attempt, err: UpstreamError): void;
  onBodySent(bytes: number): void;
}

/** One try upstream; the router decides what of it reaches the client. */
export class Attempt implements ResponseHandler {
  timer: NodeJS.Timeout | null = null;
  /** When this try was sent, for x-envoy-upstream-service-time. */
  readonly startMs = Date.now();
  /** Resumes a paused answer (the client was not keeping up). */
  resume: (() => void) | null = null;
  private abortFn: ((err: UpstreamError) => void) | null = null;
  private pendingAbort: UpstreamError | null = null;
  private discarded = false;
  private done = false;

  constructor(
    private readonly owner: AttemptOwner,
    readonly endpoint: LiveEndpoint,
  ) {}

  onStart(abort: (err: UpstreamError) => void): void {
    this.abortFn = abort;
    if (this.pendingAbort !== null) abort(this.pendingAbort);
  }

  onHeaders(status: number, headers: string[], resume: () => void, end = false): boolean {
    this.resume = resume;
    // A head that ends the answer settles the try now, so that the stream ending with it does not
    // cancel the upstream stream as unfinished.
    if (end) this.end();
    return this.owner.onAttemptHeaders(this, status, headers, end);
  }

  onData(chunk: Buffer): boolean {
    if (this.discarded) return true;
    return this.owner.onAttemptData(this, chunk);
  }

  onEnd(trailers: string[] | null): void {
    this.end();
    if (!this.discarded) this.owner.onAttemptEnd(this, trailers);
  }

  onError(err: UpstreamError): void {
    this.end();
    if (!this.discarded) this.owner.onAttemptError(this, err);
  }

  onBodySent(bytes: number): void {
    this.owner.onBodySent(bytes);
  }

  abort(err: UpstreamError): void {
    if (this.abortFn !== null) return this.abortFn(err);
    if (this.pendingAbort !== null) return;
    // Not on a connection yet (connecting, or queued in the pool): the client would report the
    // abort only once it gets there. Kill it then, but let the request move on now.
    this.pendingAbort = err;
    const reported = this.discarded;
    this.discarded = true;
    this.end();
    if (!reported) this.owner.onAttemptError(this, err);
  }

  /** Drop this try's answer (a retry follows). */
  discard(): void {
    this.discarded = true;
    this.clearTimer();
    this.abort(DOWNSTREAM_GONE);
  }

  /** The try has ended (answer complete, or failed). */
  get settled(): boolean {
    return this.done;
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
  at.abort(PER_TRY_TIMEOUT);
}
