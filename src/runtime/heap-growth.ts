import v8 from 'node:v8';

// V8 lets the old generation grow to a multiple of what the last full collection kept (a factor
// it picks, up to 4) before it collects again. A gateway keeps its config for life (about 200 MB
// at 30,000 VirtualServices), so the garbage that outlives young collections (a socket and its
// closures for each connect an upstream refuses) piled up to 530 MiB of RSS at 30,000 before a
// full collection took it back. `npm run bench:refused`, the gateway on one core: growing by 50 %
// held the same storm at 344 MiB for 1.02 times the CPU; by 30 %, 309 MiB for 1.16 times. Start-up
// and requests under normal load were as before: their garbage dies young.
export const HEAP_GROWING_PERCENT = 50;

/** The growth set on node's command line (`node --heap-growing-percent=N`), if any. */
export function heapGrowingPercentOnCommandLine(execArgv: readonly string[]): number | undefined {
  for (let i = 0; i < execArgv.length; i++) {
    const m = /^--heap[-_]growing[-_]percent(?:=(.*))?$/.exec(execArgv[i]!);
    if (m === null) continue;
    const value = m[1] ?? execArgv[i + 1];
    const n = Number(value);
    if (value !== undefined && value !== '' && Number.isInteger(n) && n >= 0) return n;
  }
  return undefined;
}

export interface HeapGrowth {
  /** 0: V8's own, growing with the heap. */
  percent: number;
  fromCommandLine: boolean;
}

/**
 * Bounds how far the heap grows between full collections, unless node's command line already
 * says (`--heap-growing-percent` is refused in NODE_OPTIONS). V8 reads the setting at each full
 * collection, so setting it once the process runs takes effect from the next one.
 */
export function boundHeapGrowth(execArgv: readonly string[] = process.execArgv): HeapGrowth {
  const given = heapGrowingPercentOnCommandLine(execArgv);
  if (given !== undefined) return { percent: given, fromCommandLine: true };
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return { percent: HEAP_GROWING_PERCENT, fromCommandLine: false };
}

/** The start-up line that says what bounds the heap, for whoever sizes the pod's memory limit. */
export function heapGrowthLine(g: HeapGrowth): string {
  const how = g.percent === 0 ? "V8's own growth between full collections (up to 4 times what the last one kept)" : `a full collection each time the heap grows ${g.percent} % past what the last one kept`;
  return `heap: ${how}${g.fromCommandLine ? ', as node --heap-growing-percent says' : ' (node --heap-growing-percent=N to change, 0 for V8\'s own)'}`;
}
