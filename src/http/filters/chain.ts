import type { Route } from '../../compile/snapshot.js';
import { ROUTER } from '../router/router.js';
import { CorsFilter } from './cors.js';
import { DirectResponseFilter } from './direct-response.js';
import { FaultFilter } from './fault.js';
import type { HttpFilter } from './filter.js';
import { HeaderEditsFilter, hasHeaderEdits } from './header-edits.js';
import { RedirectFilter } from './redirect.js';

// The chain of a route that only forwards: nearly every route has it, so they share it.
const ROUTER_ONLY: HttpFilter[] = Object.freeze([ROUTER]) as unknown as HttpFilter[];

/**
 * A route's filters in Envoy's order: CORS, fault, header edits, then the one that answers
 * (redirect, direct response, or the router). Only the filters the route uses are in its chain.
 */
export function buildFilters(route: Route): HttpFilter[] {
  if (route.action.type === 'forward' && route.cors === null && route.fault === null && !hasHeaderEdits(route)) return ROUTER_ONLY;
  const out: HttpFilter[] = [];
  if (route.cors !== null) out.push(new CorsFilter(route.cors));
  if (route.fault !== null && (route.fault.delayPercent > 0 || route.fault.abortPercent > 0)) out.push(new FaultFilter(route.fault));
  if (hasHeaderEdits(route)) out.push(new HeaderEditsFilter(route));
  const action = route.action;
  if (action.type === 'redirect') out.push(new RedirectFilter(action.redirect));
  else if (action.type === 'direct') out.push(new DirectResponseFilter(action.status, action.body));
  else out.push(ROUTER);
  // A list grown by push keeps room for 17; a route's chain is built once and kept.
  return out.slice();
}
