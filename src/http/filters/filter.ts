import type { WeightedDestination } from '../../compile/snapshot.js';
import type { ActiveStream } from '../active-stream.js';

/** Go on to the next filter. */
export const CONTINUE = 0;
/** This filter answered the request, or will call `continueDecoding` on the stream later. */
export const STOP = 1;
export type FilterStatus = typeof CONTINUE | typeof STOP;

/**
 * One of a route's HTTP filters, as Envoy's: built once per route when the config is compiled,
 * holding only that route's settings. Per-request state lives on the stream.
 */
export interface HttpFilter {
  readonly name: string;
  /** The request has arrived (headers; the body may still be coming). */
  onRequest(s: ActiveStream): FilterStatus;
  /** Headers of the request about to go upstream, once the router has picked a destination. */
  onUpstreamRequest?(s: ActiveStream, headers: string[], dest: WeightedDestination): void;
  /**
   * Headers of the answer on its way to the client, whoever wrote it: the upstream, or a filter
   * after this one. Filters see answers in reverse order.
   */
  onResponseHeaders?(s: ActiveStream, status: number, headers: string[]): void;
}
