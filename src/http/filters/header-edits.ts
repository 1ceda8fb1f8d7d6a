import type { HeaderOps, Route, WeightedDestination } from '../../compile/snapshot.js';
import type { ActiveStream } from '../active-stream.js';
import { applyRouteHeaderOps } from '../header-ops.js';
import { CONTINUE, type FilterStatus, type HttpFilter } from './filter.js';

/** Istio treats a route with one destination differently from a weighted one (edit order). */
const singleDestination = (route: Route): boolean => route.action.type === 'forward' && route.action.destinations.length === 1;

/**
 * A VirtualService's `headers` edits, at route and destination level, on the request sent
 * upstream and on every answer the route gives (the upstream's, a redirect, a direct response,
 * or the router's own 503/504, as Envoy's route-level header edits apply).
 */
export class HeaderEditsFilter implements HttpFilter {
  readonly name = 'header-edits';
  private readonly single: boolean;
  private readonly request: HeaderOps | null;
  private readonly response: HeaderOps | null;

  constructor(route: Route) {
    this.single = singleDestination(route);
    this.request = route.requestHeaders;
    this.response = route.responseHeaders;
  }

  onRequest(): FilterStatus {
    return CONTINUE;
  }

  onUpstreamRequest(_s: ActiveStream, headers: string[], dest: WeightedDestination): void {
    applyRouteHeaderOps(headers, this.request, dest.requestHeaders, this.single);
  }

  onResponseHeaders(s: ActiveStream, _status: number, headers: string[]): void {
    applyRouteHeaderOps(headers, this.response, s.destination?.responseHeaders ?? null, this.single);
  }
}

/** Whether a route needs the header-edits filter at all. */
export function hasHeaderEdits(route: Route): boolean {
  if (route.requestHeaders !== null || route.responseHeaders !== null) return true;
  if (route.action.type !== 'forward') return false;
  for (const d of route.action.destinations) if (d.requestHeaders !== null || d.responseHeaders !== null) return true;
  return false;
}
