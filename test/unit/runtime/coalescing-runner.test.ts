import { describe, expect, it } from 'vitest';
import { CoalescingRunner } from '../../../src/runtime/coalescing-runner.js';

// Reloads go through this: one at a time, and a burst of requests while one runs costs one more run.

describe('CoalescingRunner', () => {
  it('runs one at a time; calls during a run share one more run, which starts after it', async () => {
    const log: string[] = [];
    let n = 0;
    let release: (() => void) | null = null;
    const runner = new CoalescingRunner(async () => {
      const id = ++n;
      log.push(`start ${id}`);
      await new Promise<void>((r) => (release = r));
      log.push(`end ${id}`);
      return id;
    });
    const a = runner.run();
    const b = runner.run();
    const c = runner.run();
    expect(b).toBe(c);
    expect(log).toEqual(['start 1']);
    release!();
    expect(await a).toBe(1);
    await expect.poll(() => log.length).toBe(3);
    expect(log).toEqual(['start 1', 'end 1', 'start 2']);
    release!();
    expect(await b).toBe(2);
    expect(await c).toBe(2);
    expect(n).toBe(2);
  });

  it('a failed run does not stop the next one', async () => {
    let n = 0;
    const runner = new CoalescingRunner(async () => {
      n++;
      if (n === 1) throw new Error('bad config');
      return n;
    });
    const a = runner.run();
    const b = runner.run();
    await expect(a).rejects.toThrow('bad config');
    expect(await b).toBe(2);
  });
});
