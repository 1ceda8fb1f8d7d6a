import { describe, expect, it } from 'vitest';
import { startServe, type ServeProcess } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';

// `serve` bounds how far V8 lets the heap grow between full collections (src/runtime/heap-growth.ts),
// and says so once started (a usage error stays the only line), unless node's own command line
// sets it.

const ARGS = ['-c', 'gateways', '--workers', '1', '--listen', '80=127.0.0.1:0', '--listen', '443=127.0.0.1:0', '--status-port', '0', '--admin-port', '0'];

function heapLines(log: string): string[] {
  return log.split('\n').filter((l) => / info\s+heap: /.test(l));
}

/** The heap line follows `ready`: waits for it, and for anything after it. */
async function startedHeapLines(gw: ServeProcess): Promise<string[]> {
  expect(await waitFor(() => heapLines(gw.log()).length > 0)).toBe(true);
  await new Promise((r) => setTimeout(r, 200));
  return heapLines(gw.log());
}

describe('meshgate serve: heap growth between full collections', () => {
  it('is bounded to 50 % by default, said once started', async () => {
    const gw = await startServe(ARGS);
    try {
      const lines = await startedHeapLines(gw);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/info\s+heap: a full collection each time the heap grows 50 % past what the last one kept \(node --heap-growing-percent=N to change, 0 for V8's own\)$/);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it("is left as node's command line sets it", async () => {
    const gw = await startServe(ARGS, { nodeArgs: ['--heap-growing-percent=20'] });
    try {
      expect(await startedHeapLines(gw)).toEqual([expect.stringMatching(/heap: a full collection each time the heap grows 20 % past what the last one kept, as node --heap-growing-percent says$/)]);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it("is V8's own with node --heap-growing-percent=0", async () => {
    const gw = await startServe(ARGS, { nodeArgs: ['--heap-growing-percent=0'] });
    try {
      expect(await startedHeapLines(gw)).toEqual([expect.stringMatching(/heap: V8's own growth between full collections .*, as node --heap-growing-percent says$/)]);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it('is said once with workers: by the primary', async () => {
    const gw = await startServe(ARGS.map((a) => (a === '1' ? '2' : a)));
    try {
      expect(await startedHeapLines(gw)).toHaveLength(1);
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });
});
