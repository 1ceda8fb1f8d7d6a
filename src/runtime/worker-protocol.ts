import type { DataPlaneCounts } from '../telemetry/own-metrics.js';
import type { WireConfig } from './config-source.js';
import type { BoundListener } from './gateway.js';
import type { HostPort } from './options.js';

// Messages between the primary and its workers (node:cluster IPC, structured clone): the primary
// reads and checks the config and hands every worker the same objects (each file once, until it
// changes: config-source.ts, WireConfig), but for the files a worker read itself at its start
// as the primary did; workers serve and count.

export type ToWorker =
  | {
      type: 'config';
      config: WireConfig;
      /** First message only: where to listen (ports the primary chose for `:0`) and ports it serves itself. */
      listen?: [number, HostPort][];
      meshListen?: HostPort;
      reservedPorts?: number[];
    }
  | { type: 'ask'; id: number; what: 'counts' | 'clusters' }
  | { type: 'drain'; delayMs: number; deadlineMs: number };

export type FromWorker =
  /**
   * Listening for messages: a message sent before that would be lost. `files`: the config files
   * the worker read itself, by digest (config-source.ts, OwnRead).
   */
  | { type: 'hello'; files?: { file: string; digest: string }[] }
  | { type: 'ready'; version: number; bound: BoundListener[] }
  | { type: 'failed'; message: string }
  | { type: 'applied'; version: number; ok: boolean }
  | { type: 'answer'; id: number; counts?: DataPlaneCounts; clusters?: unknown[] };

/** The worker's slot (1..N), kept by its replacement, so logs and /clusters name workers stably. */
export const WORKER_SLOT_ENV = 'MESHGATE_WORKER_SLOT';
