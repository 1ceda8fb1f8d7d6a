const noop = () => undefined;

/**
 * Runs a task one at a time. A call while it runs queues one more run after it; further calls
 * join that queued run, so a burst of requests costs at most two runs and the last one sees the
 * newest state (SIGHUPs, file changes).
 */
export class CoalescingRunner<T> {
  private current: Promise<T> | null = null;
  private next: Promise<T> | null = null;

  constructor(private readonly task: () => Promise<T>) {}

  run(): Promise<T> {
    if (this.next !== null) return this.next;
    if (this.current === null) return this.start();
    const after = this.current.then(noop, noop);
    this.next = after.then(() => {
      this.next = null;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<T> {
    const p = this.task();
    this.current = p;
    const clear = () => {
      if (this.current === p) this.current = null;
    };
    p.then(clear, clear);
    return p;
  }
}
