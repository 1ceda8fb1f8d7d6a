// Istio's admission-webhook rules for a VirtualService: ValidateVirtualService in
// pkg/config/validation/validation.go, validateHTTPRoute in virtualservice.go and ValidateHTTPRetry
// in agent/validation.go. Messages keep Istio's wording so operators can search for them.
//
// Left to other parts of meshgate: the unreachable-rule and overlapping-match warnings
// (analyzeUnreachable*Rules, coveredValidation) are IST0130/IST0131 in src/analyze/unreachable.ts;
// the Gateway API branches (gatewaySemantics) never apply to user config.

import { compileRe2 } from '../../compile/regex.js';
import { GRPC_CODES } from '../grpc-status.js';
import {
  isSet,
  asArray,
  asNumber,
  asRecord,
  asString,
  durationNs,
  exportToErrors,
  goQuote,
  isDNS1123Label,
  isIP,
  isJwtClaimRoute,
  validateCORSHTTPHeaderName,
  validateDuration,
  validateFQDN,
  validateHTTPHeaderNameOrJwtClaimRoute,
  validateHTTPHeaderOperationName,
  validateHTTPHeaderValue,
  validateHTTPHeaderWithAuthorityOperationName,
  validateIPSubnet,
  validateLabel,
  validatePort,
  validateWeight,
  validateWildcardDomain,
  validateWildcardDomainForVirtualServiceBoundToGateway,
} from './common.js';
import { childPath, Findings, type SpecPath, type WebhookContext, type WebhookFinding } from './types.js';
import { memoByText } from '../memo.js';

type Obj = Record<string, unknown>;

/** The gateway name that binds a VirtualService to the sidecars of the mesh. */
const MESH_GATEWAY = 'mesh';
const KB = 1024;
const MB = 1024 * KB;
const MAX_REGEX_LENGTH = 1024;
const NS_PER_SECOND = 1_000_000_000n;
const RE2_HINT = 'Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)';

/** strconv.Atoi's grammar: what Istio tries as an HTTP status code in retryOn. */
const DECIMAL_RE = /^[+-]?\d+$/;

/** Envoy's x-envoy-retry-on and x-envoy-retry-grpc-on policies (agent.supportedRetryOnPolicies). */
const RETRY_ON_POLICIES = new Set([
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'envoy-ratelimited',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
]);

/** The codes Go's net/http.StatusText knows: Istio accepts exactly these as numeric retryOn entries. */
const KNOWN_HTTP_STATUS = new Set([
  100, 101, 102, 103,
  200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
  300, 301, 302, 303, 304, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418,
  421, 422, 423, 424, 425, 426, 428, 429, 431, 451,
  500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

/** Go's net/http method names plus `*`: what Istio accepts in corsPolicy.allowMethods. */
const CORS_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', '*']);

type RouteKind = 'independent' | 'root' | 'delegate';
type StringMatchType = 'exact' | 'prefix' | 'regex';

/** What the route-level rules need to know about the VirtualService around them. */
interface VirtualServiceScope {
  hosts: readonly string[];
  gateways: readonly string[];
  /** A delegate VirtualService (no hosts) is only reachable through a root's `delegate`. */
  isDelegate: boolean;
}

/** Istio's ValidateVirtualService: errors refuse the object, warnings keep it. */
export function checkVirtualService(spec: Record<string, unknown>, ctx: WebhookContext): WebhookFinding[] {
  const f = new Findings();
  const hosts = asArray(spec.hosts).map(asString);
  const gateways = asArray(spec.gateways).map(asString);
  const http = asArray(spec.http);
  const tls = asArray(spec.tls);
  const tcp = asArray(spec.tcp);
  const scope: VirtualServiceScope = { hosts, gateways, isDelegate: hosts.length === 0 };

  if (scope.isDelegate) checkDelegateVirtualService(f, gateways, tls, tcp);
  // No gateways means the mesh; otherwise the VirtualService serves gateways unless `mesh` is listed.
  const appliesToGateway = gateways.length > 0 && !gateways.includes(MESH_GATEWAY);
  if (gateways.length > 0) checkGatewayNames(f, gateways, ['gateways']);
  if (!appliesToGateway) checkNoJwtClaimRouting(f, http, gateways);
  checkHosts(f, hosts, appliesToGateway, hasSniHosts(tls));

  if (http.length === 0 && tcp.length === 0 && tls.length === 0) {
    f.error([], 'http, tcp or tls must be provided in virtual service');
  }
  http.forEach((route, i) => {
    const r = asRecord(route);
    if (r) checkHTTPRoute(f, r, ['http', i], scope.isDelegate);
    else f.error(['http', i], 'http route may not be null');
  });
  tls.forEach((route, i) => checkTLSRoute(f, route, ['tls', i], scope));
  tcp.forEach((route, i) => checkTCPRoute(f, route, ['tcp', i]));
  checkExportTo(f, ctx.namespace, asArray(spec.exportTo).map(asString));
  return f.list;
}

// ---------------------------------------------------------------------------------------------
// The VirtualService itself: delegates, gateways, hosts, exportTo.

/** A delegate is spliced into its root's HTTP routes: gateways, TLS and TCP would mean nothing. */
function checkDelegateVirtualService(f: Findings, gateways: readonly string[], tls: readonly unknown[], tcp: readonly unknown[]): void {
  if (gateways.length > 0) f.error(['gateways'], 'delegate virtual service must have no gateways specified');
  if (tls.length > 0) f.error(['tls'], 'delegate virtual service must have no tls route specified');
  if (tcp.length > 0) f.error(['tcp'], 'delegate virtual service must have no tcp route specified');
}

/** validateGatewayNames: `<namespace>/<name>`, or a legacy short or FQDN name. */
function checkGatewayNames(f: Findings, names: readonly string[], at: SpecPath): void {
  // Paths are made only for a finding: every VirtualService names its gateways.
  for (let k = 0; k < names.length; k++) {
    const name = names[k]!;
    const slash = name.indexOf('/');
    if (slash < 0) {
      if (name.includes('.')) {
        const [gw, ns] = name.split('.');
        f.warn(childPath(at, k), `using legacy gatewayName format ${goQuote(name)}; prefer the <namespace>/<name> format: ${goQuote(`${ns}/${gw}`)}`);
      }
      const fqdnError = validateFQDN(name);
      if (fqdnError) f.error(childPath(at, k), fqdnError);
      // Istio returns here: the names after the first one without a namespace are not checked.
      return;
    }
    const ns = name.slice(0, slash);
    const gw = name.slice(slash + 1);
    if (ns === '' || gw === '') f.error(childPath(at, k), 'config namespace and gateway name cannot be empty');
    if (!isDNS1123Label(ns)) f.error(childPath(at, k), `invalid value for namespace: ${goQuote(ns)}`);
    if (!isDNS1123Label(gw)) f.error(childPath(at, k), `invalid value for gateway name: ${goQuote(gw)}`);
  }
}

/** Sidecars do not see the request's JWT, so routing on its claims only works at a gateway. */
function checkNoJwtClaimRouting(f: Findings, http: readonly unknown[], gateways: readonly string[]): void {
  http.forEach((route, i) => {
    asArray(asRecord(route)?.match).forEach((match, j) => {
      for (const field of ['headers', 'withoutHeaders'] as const) {
        for (const key of Object.keys(asRecord(asRecord(match)?.[field]) ?? {})) {
          if (!isJwtClaimRoute(key)) continue;
          f.error(
            ['http', i, 'match', j, field, key],
            `JWT claim based routing (key: ${key}) is only supported for gateway, found no gateways: [${gateways.join(' ')}]`,
          );
        }
      }
    });
  });
}

function checkHosts(f: Findings, hosts: readonly string[], appliesToGateway: boolean, sni: boolean): void {
  let allHostsValid = true;
  hosts.forEach((host, k) => {
    const err = appliesToGateway
      ? validateWildcardDomainForVirtualServiceBoundToGateway(sni, host)
      : validateWildcardDomain(host);
    if (err !== undefined) {
      // An IP address is a fine host even though it is no domain name.
      if (isIP(host)) return;
      f.error(['hosts', k], err);
      allHostsValid = false;
    } else if (!appliesToGateway && host === '*') {
      f.error(['hosts', k], 'wildcard host * is not allowed for virtual services bound to the mesh gateway');
      allHostsValid = false;
    }
  });
  if (!allHostsValid) return;
  // Duplicates include wildcard overlaps: *.foo.com and *.com in the same VirtualService.
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) {
      if (hostMatches(hosts[i]!, hosts[j]!)) {
        f.error(['hosts', j], `duplicate hosts in virtual service: ${hosts[i]} & ${hosts[j]}`);
      }
    }
  }
}

/** isSniHost: SNI matches make an `outbound_.<port>_._.<host>` host legal at a gateway. */
function hasSniHosts(tls: readonly unknown[]): boolean {
  return tls.some((route) => asArray(asRecord(route)?.match).some((m) => asArray(asRecord(m)?.sniHosts).length > 0));
}

function checkExportTo(f: Findings, namespace: string, exportTo: readonly string[]): void {
  for (const { index, message } of exportToErrors(namespace, exportTo, false, false)) {
    f.error(index === undefined ? ['exportTo'] : ['exportTo', index], message);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP routes (virtualservice.go validateHTTPRoute).

function checkHTTPRoute(f: Findings, route: Obj, at: SpecPath, inDelegate: boolean): void {
  const kind: RouteKind = inDelegate ? 'delegate' : isSet(route.delegate) ? 'root' : 'independent';
  checkHTTPRouteConflicts(f, route, at, kind);
  const matches = asArray(route.match);
  for (let j = 0; j < matches.length; j++) {
    const m = asRecord(matches[j]);
    if (m) checkHTTPMatch(f, m, childPath(at, 'match', j));
  }
  // Each check does nothing for an absent field: skipping it here saves making its path, which
  // at 120,000 routes was a good part of what validation cost.
  if (route.headers != null) checkHeaderOperations(f, route.headers, childPath(at, 'headers'));
  if (route.corsPolicy != null) checkCORSPolicy(f, route.corsPolicy, childPath(at, 'corsPolicy'));
  if (route.fault != null) checkFault(f, route.fault, childPath(at, 'fault'));
  checkMirrorPercentages(f, route, at);
  if (route.mirror != null) checkDestination(f, route.mirror, childPath(at, 'mirror'));
  if (route.mirrors != null) checkMirrors(f, route.mirrors, childPath(at, 'mirrors'));
  checkRedirect(f, route, at);
  if (route.directResponse != null) checkDirectResponse(f, route.directResponse, childPath(at, 'directResponse'));
  if (route.retries != null) checkRetries(f, route.retries, childPath(at, 'retries'));
  if (route.rewrite != null) checkRewrite(f, route.rewrite, childPath(at, 'rewrite'));
  checkAuthoritySetOnce(f, route, at);
  checkRouteDestinations(f, route.route, childPath(at, 'route'), true);
  if (isSet(route.timeout)) {
    const timeoutError = validateDuration(route.timeout);
    if (timeoutError) f.error([...at, 'timeout'], timeoutError);
  }
}

/** validateHTTPRouteConflict: which of route/redirect/directResponse/delegate may go together. */
function checkHTTPRouteConflicts(f: Findings, route: Obj, at: SpecPath, kind: RouteKind): void {
  const hasRoute = asArray(route.route).length > 0;
  if (kind === 'root') {
    // A root route hands the request to its delegate: it must not answer it itself.
    const name = asString(route.name);
    if (isSet(route.redirect)) f.error([...at, 'redirect'], `root HTTP route ${name} must not specify redirect`);
    if (hasRoute) f.error([...at, 'route'], `root HTTP route ${name} must not specify route`);
    return;
  }
  if (kind === 'delegate' && isSet(route.delegate)) {
    f.error([...at, 'delegate'], 'delegate HTTP route cannot contain delegate');
  }
  if (isSet(route.redirect)) {
    if (hasRoute) f.error([...at, 'route'], 'HTTP route cannot contain both route and redirect');
    if (isSet(route.fault)) f.error([...at, 'fault'], 'HTTP route cannot contain both fault and redirect');
    if (isSet(route.rewrite)) f.error([...at, 'rewrite'], 'HTTP route rule cannot contain both rewrite and redirect');
    if (isSet(route.directResponse)) {
      f.error([...at, 'directResponse'], 'HTTP route rule cannot contain both direct_response and redirect');
    }
  } else if (isSet(route.directResponse)) {
    // (Istio's "redirect and direct_response" check in this branch can never fire: redirect is unset here.)
    if (hasRoute) f.error([...at, 'route'], 'HTTP route cannot contain both route and direct_response');
    if (isSet(route.fault)) f.error([...at, 'fault'], 'HTTP route cannot contain both fault and direct_response');
    if (isSet(route.rewrite)) f.error([...at, 'rewrite'], 'HTTP route rule cannot contain both rewrite and direct_response');
  } else if (!hasRoute) {
    f.error(at, 'HTTP route, redirect or direct_response is required');
  }
  if (isSet(route.mirror) && asArray(route.mirrors).length > 0) {
    f.error([...at, 'mirrors'], 'HTTP route cannot contain both mirror and mirrors');
  }
}

/** validateHTTPRouteMatchRequest for one match. */
function checkHTTPMatch(f: Findings, match: Obj, at: SpecPath): void {
  // Most matches have none of these maps: no iterator is made for them.
  if (match.headers != null) for (const [name, sm] of entriesOf(match.headers)) {
    const path = [...at, 'headers', name];
    if (!isSet(sm)) f.error(path, `header match ${name} cannot be null`);
    f.errorIf(path, validateHTTPHeaderNameOrJwtClaimRoute(name));
    checkStringMatch(f, sm, path, 'headers');
  }
  if (match.withoutHeaders != null) for (const [name, sm] of entriesOf(match.withoutHeaders)) {
    const path = [...at, 'withoutHeaders', name];
    f.errorIf(path, validateHTTPHeaderNameOrJwtClaimRoute(name));
    // `*` is no RE2 regex here: Istio turns it into a presence match.
    if (isSet(sm) && asRecord(sm)?.regex !== '*') checkStringMatch(f, sm, path, 'withoutHeaders');
  }
  // An empty uri prefix is legal in Envoy (it matches everything); scheme/method/authority's is not.
  if (match.uri != null && isRegexMatch(match.uri)) checkRegexStringMatch(f, match.uri, [...at, 'uri'], 'uri');
  if (match.scheme != null) checkStringMatch(f, match.scheme, [...at, 'scheme'], 'scheme');
  if (match.method != null) checkStringMatch(f, match.method, [...at, 'method'], 'method');
  if (match.authority != null) checkStringMatch(f, match.authority, [...at, 'authority'], 'authority');
  if (match.queryParams != null) for (const [name, sm] of entriesOf(match.queryParams)) {
    checkStringMatch(f, sm, [...at, 'queryParams', name], 'queryParams');
  }

  const port = asNumber(match.port);
  if (port !== 0) f.errorAt(at, validatePort(port), 'port');
  if (match.sourceLabels != null) checkLabels(f, match.sourceLabels, [...at, 'sourceLabels']);
  if (match.gateways != null) checkGatewayNames(f, asArray(match.gateways).map(asString), [...at, 'gateways']);
  const sourceNamespace = asString(match.sourceNamespace);
  if (sourceNamespace !== '' && !isDNS1123Label(sourceNamespace)) {
    f.error([...at, 'sourceNamespace'], `sourceNamespace match ${sourceNamespace} is invalid`);
  }
}

/** validateStringMatch: no empty prefix, and a regex must compile. */
function checkStringMatch(f: Findings, sm: unknown, at: SpecPath, where: string): void {
  const m = asRecord(sm);
  if (!m) return;
  const type = stringMatchType(m);
  if (type === 'prefix' && asString(m.prefix) === '') {
    f.error([...at, 'prefix'], `${goQuote(where)}: prefix string match should not be empty`);
  } else if (type === 'regex') {
    checkRegexStringMatch(f, m, at, where);
  }
}

/** validateStringMatchRegexp: only looks at regex matches. */
const isRegexMatch = (sm: unknown) => {
  const m = asRecord(sm);
  return m !== undefined && stringMatchType(m) === 'regex';
};

function checkRegexStringMatch(f: Findings, sm: unknown, at: SpecPath, where: string): void {
  const m = asRecord(sm);
  if (!m || stringMatchType(m) !== 'regex') return;
  const re = asString(m.regex);
  const err = re === '' ? `${goQuote(where)}: regex string match should not be empty` : regexError(re, where);
  f.errorAt(at, err, 'regex');
}

/** validateStringRegexp: what Envoy's RE2 would refuse, and patterns too big for its program limit. */
function regexError(re: string, where: string): string | undefined {
  // Envoy bounds the RE2 program size, which is always larger than the pattern's length.
  if (Buffer.byteLength(re) > MAX_REGEX_LENGTH) {
    return `${goQuote(where)}: regex is too large, max length allowed is ${MAX_REGEX_LENGTH}`;
  }
  const compiled = compileRe2(re);
  return compiled.ok ? undefined : `${goQuote(where)}: ${compiled.error}; ${RE2_HINT}`;
}

/** labels.Instance.Validate: Kubernetes label keys and values. */
function checkLabels(f: Findings, labels: unknown, at: SpecPath): void {
  for (const [key, value] of entriesOf(labels)) {
    for (const message of validateLabel(key, asString(value))) f.error([...at, key], message);
  }
}

/** Request/response header add/set/remove, on a route or on one of its destinations. */
function checkHeaderOperations(f: Findings, headers: unknown, at: SpecPath): void {
  const h = asRecord(headers);
  if (!h) return;
  // The request may rewrite the authority (checked once per route, below); the response may not touch Host.
  const request = asRecord(h.request);
  if (request !== undefined) checkHeaderEdits(f, request, at, 'request');
  const response = asRecord(h.response);
  if (response !== undefined) checkHeaderEdits(f, response, at, 'response');
}

const ADD_SET = ['add', 'set'] as const;

/** One side's add, set and remove; paths are made only for a finding (routes have 100,000s of edits). */
function checkHeaderEdits(f: Findings, edits: Obj, at: SpecPath, side: 'request' | 'response'): void {
  const nameError = side === 'request' ? validateHTTPHeaderWithAuthorityOperationName : validateHTTPHeaderOperationName;
  for (const op of ADD_SET) {
    const map = asRecord(edits[op]);
    if (map === undefined) continue;
    for (const name in map) {
      const e1 = nameError(name);
      if (e1) f.error([...at, side, op, name], e1);
      const e2 = validateHTTPHeaderValue(asString(map[name]));
      if (e2) f.error([...at, side, op, name], e2);
    }
  }
  const remove = asArray(edits.remove);
  for (let k = 0; k < remove.length; k++) {
    const e = validateHTTPHeaderOperationName(asString(remove[k]));
    if (e) f.error([...at, side, 'remove', k], e);
  }
}

/** validateAuthorityRewrite: rewrite.authority, set[:authority|host] and add[...] are one value. */
const SET_ADD = ['set', 'add'] as const;

function checkAuthoritySetOnce(f: Findings, route: Obj, at: SpecPath): void {
  let current = asString(asRecord(route.rewrite)?.authority);
  const request = asRecord(asRecord(route.headers)?.request);
  if (request === undefined) return;
  for (const op of SET_ADD) {
    const map = asRecord(request[op]);
    if (map === undefined) continue;
    for (const name in map) {
      if (!isAuthorityHeader(name)) continue;
      const value = map[name];
      if (current !== '') {
        f.error(
          [...at, 'headers', 'request', op, name],
          `authority header cannot be set multiple times: have ${goQuote(current)}, attempting to set ${goQuote(asString(value))}`,
        );
        return;
      }
      current = asString(value);
    }
  }
}

function checkCORSPolicy(f: Findings, corsPolicy: unknown, at: SpecPath): void {
  const policy = asRecord(corsPolicy);
  if (!policy) return;
  asArray(policy.allowOrigins).forEach((origin, k) => checkAllowOrigin(f, origin, [...at, 'allowOrigins', k]));
  asArray(policy.allowMethods).forEach((method, k) => {
    const m = asString(method);
    if (!CORS_METHODS.has(m)) f.error([...at, 'allowMethods', k], `${goQuote(m)} is not a supported HTTP method`);
  });
  asArray(policy.allowHeaders).forEach((name, k) => {
    f.errorAt(at, validateCORSHTTPHeaderName(asString(name)), 'allowHeaders', k);
  });
  asArray(policy.exposeHeaders).forEach((name, k) => {
    f.errorAt(at, validateCORSHTTPHeaderName(asString(name)), 'exposeHeaders', k);
  });
  if (isSet(policy.maxAge)) {
    f.errorAt(at, validateDuration(policy.maxAge), 'maxAge');
    // Access-Control-Max-Age is a whole number of seconds.
    if (fractionalSecondNanos(durationNs(policy.maxAge)) > 0n) {
      f.error([...at, 'maxAge'], 'max_age duration is accurate only to seconds precision');
    }
  }
}

function checkAllowOrigin(f: Findings, origin: unknown, at: SpecPath): void {
  const m = asRecord(origin) ?? {};
  const type = stringMatchType(m);
  const value = type ? asString(m[type]) : '';
  if (value === '') {
    f.error(at, `'${value}' is not a valid match type for CORS allow origins`);
    return;
  }
  if (type === 'regex') f.errorAt(at, regexError(value, 'corsPolicy.allowOrigins'), 'regex');
}

function checkFault(f: Findings, fault: unknown, at: SpecPath): void {
  const ft = asRecord(fault);
  if (!ft) return;
  if (!isSet(ft.abort) && !isSet(ft.delay)) f.error(at, 'HTTP fault injection must have an abort and/or a delay');
  checkFaultAbort(f, ft.abort, [...at, 'abort']);
  checkFaultDelay(f, ft.delay, [...at, 'delay']);
}

function checkFaultAbort(f: Findings, abort: unknown, at: SpecPath): void {
  const a = asRecord(abort);
  if (!a) return;
  checkFaultPercentage(f, a.percentage, [...at, 'percentage']);
  if (isSet(a.grpcStatus)) {
    const status = asString(a.grpcStatus);
    if (!Object.hasOwn(GRPC_CODES, status)) {
      f.error(
        [...at, 'grpcStatus'],
        `gRPC status ${goQuote(status)} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md ` +
          "for a list of supported codes, for example 'NOT_FOUND'",
      );
    }
  } else if (isSet(a.http2Error)) {
    f.error([...at, 'http2Error'], 'HTTP/2 abort fault injection not supported yet');
  } else if (isSet(a.httpStatus)) {
    f.errorAt(at, httpStatusError(asNumber(a.httpStatus)), 'httpStatus');
  } else {
    f.warn(at, 'abort configured, but error type not set');
  }
}

function checkFaultDelay(f: Findings, delay: unknown, at: SpecPath): void {
  const d = asRecord(delay);
  if (!d) return;
  checkFaultPercentage(f, d.percentage, [...at, 'percentage']);
  if (isSet(d.fixedDelay)) {
    f.errorAt(at, validateDuration(d.fixedDelay), 'fixedDelay');
  } else if (isSet(d.exponentialDelay)) {
    f.errorAt(at, validateDuration(d.exponentialDelay), 'exponentialDelay');
    f.error([...at, 'exponentialDelay'], 'exponentialDelay not supported yet');
  }
}

/** validatePercentage: Envoy's fractional percent has a 0.0001 resolution. */
function checkFaultPercentage(f: Findings, percentage: unknown, at: SpecPath): void {
  const p = asRecord(percentage);
  if (!p) return;
  const value = asNumber(p.value);
  if (value < 0 || value > 100 || (value > 0 && value < 0.0001)) {
    f.error([...at, 'value'], `percentage ${goFloat(value)} is neither 0.0, nor in range [0.0001, 100.0]`);
  }
}

/** validateHTTPStatus (600 passes, as in Istio). */
function httpStatusError(status: number): string | undefined {
  return status < 200 || status > 600 ? `HTTP status ${status} is not in range 200-599` : undefined;
}

/** mirrorPercent (deprecated, also spelled mirror_percent) and mirrorPercentage. */
const MIRROR_PERCENT_KEYS = ['mirrorPercent', 'mirror_percent'] as const;

function checkMirrorPercentages(f: Findings, route: Obj, at: SpecPath): void {
  for (const key of MIRROR_PERCENT_KEYS) {
    if (!isSet(route[key])) continue;
    const value = asNumber(route[key]);
    if (value > 100) f.error([...at, key], `mirror_percent must have a max value of 100 (it has ${value})`);
    f.warn([...at, key], 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead');
  }
  const percentage = asRecord(route.mirrorPercentage);
  if (!percentage) return;
  const value = asNumber(percentage.value);
  const path = [...at, 'mirrorPercentage', 'value'];
  if (value > 100) f.error(path, `mirror_percentage must have a max value of 100 (it has ${value.toFixed(6)})`);
  if (value < 0) f.error(path, `mirror_percentage must have a min value of 0 (it has ${value.toFixed(6)})`);
}

function checkMirrors(f: Findings, mirrors: unknown, at: SpecPath): void {
  asArray(mirrors).forEach((mirror, k) => {
    const path = [...at, k];
    const m = asRecord(mirror);
    if (!m) {
      f.error(path, 'mirror cannot be null');
      return;
    }
    if (!isSet(m.destination)) {
      f.error([...path, 'destination'], 'destination is required for mirrors');
      return;
    }
    checkDestination(f, m.destination, [...path, 'destination']);
    const percentage = asRecord(m.percentage);
    if (!percentage) return;
    const value = asNumber(percentage.value);
    const valuePath = [...path, 'percentage', 'value'];
    if (value > 100) f.error(valuePath, `mirror percentage must have a max value of 100 (it has ${value.toFixed(6)})`);
    if (value < 0) f.error(valuePath, `mirror percentage must have a min value of 0 (it has ${value.toFixed(6)})`);
  });
}

/** validateHTTPRedirect: like Istio, reports only the first problem. */
function checkRedirect(f: Findings, route: Obj, routeAt: SpecPath): void {
  const redirect = asRecord(route.redirect);
  if (!redirect) return;
  const at = [...routeAt, 'redirect'];
  const uri = asString(redirect.uri);
  const prefixRewrite = asString(redirect.prefixRewrite);
  const scheme = asString(redirect.scheme);
  if (uri !== '' && prefixRewrite !== '') {
    f.error([...at, 'prefixRewrite'], 'redirect may only specify one of uri or prefix_rewrite');
    return;
  }
  if (prefixRewrite !== '') {
    // prefixRewrite replaces the matched prefix: an exact or regex uri match has none.
    const matches = asArray(route.match);
    for (const [j, match] of matches.entries()) {
      const uriMatch = asRecord(asRecord(match)?.uri);
      if (uriMatch && stringMatchType(uriMatch) !== 'prefix') {
        f.error([...routeAt, 'match', j, 'uri'], 'redirect prefix_rewrite requires all URI matches to use prefix match type');
        return;
      }
    }
  }
  const hasPort = isSet(redirect.port) || isSet(redirect.derivePort);
  if (uri === '' && prefixRewrite === '' && asString(redirect.authority) === '' && !hasPort && scheme === '') {
    f.error(at, 'redirect must specify URI, authority, scheme, or port');
    return;
  }
  const code = asNumber(redirect.redirectCode);
  if (code !== 0 && (code < 300 || code > 399)) {
    f.error([...at, 'redirectCode'], `${code} is not a valid redirect code, must be 3xx`);
    return;
  }
  if (scheme !== '' && scheme !== 'http' && scheme !== 'https') {
    f.error([...at, 'scheme'], 'invalid redirect scheme, must be "http" or "https"');
    return;
  }
  const port = asNumber(redirect.port);
  if (port > 0) f.errorAt(at, validatePort(port), 'port');
}

function checkDirectResponse(f: Findings, directResponse: unknown, at: SpecPath): void {
  const d = asRecord(directResponse);
  if (!d) return;
  const body = asRecord(d.body);
  if (body) {
    // Every proxy receives the body in its config, so big bodies weigh on the control plane.
    const [field, size] = isSet(body.string)
      ? ['string', Buffer.byteLength(asString(body.string))]
      : ['bytes', Buffer.from(asString(body.bytes), 'base64').length];
    if (size > MB) {
      f.error([...at, 'body', field], 'large direct_responses may impact control plane performance, must be less than 1MB');
    } else if (size > 100 * KB) {
      f.warn([...at, 'body', field], 'large direct_responses may impact control plane performance');
    }
  }
  f.errorAt(at, httpStatusError(asNumber(d.status)), 'status');
}

/** agent.ValidateHTTPRetry. */
function checkRetries(f: Findings, retries: unknown, at: SpecPath): void {
  const r = asRecord(retries);
  if (!r) return;
  const attempts = asNumber(r.attempts);
  const retryOn = asString(r.retryOn);
  if (attempts < 0) f.error([...at, 'attempts'], 'attempts cannot be negative');
  if (attempts === 0 && (isSet(r.perTryTimeout) || retryOn !== '' || isSet(r.retryRemoteLocalities))) {
    f.error([...at, 'attempts'], 'http retry policy configured when attempts are set to 0 (disabled)');
  }
  if (isSet(r.perTryTimeout)) f.errorAt(at, validateDuration(r.perTryTimeout), 'perTryTimeout');
  if (retryOn !== '') {
    for (const policy of unknownRetryOn(retryOn)) f.error([...at, 'retryOn'], `${goQuote(policy)} is not a valid retryOn policy`);
  }
  if (isSet(r.backoff)) f.errorAt(at, validateDuration(r.backoff), 'backoff');
}

const NO_POLICIES: readonly string[] = Object.freeze([]);

/** The entries of a retryOn text that are no policy, read once per text (routes repeat a few). */
const unknownRetryOn = memoByText((retryOn: string): readonly string[] => {
  // Entries are taken verbatim: " 5xx" (after a comma and a space) is no policy.
  const unknown = retryOn.split(',').filter((policy) => !isKnownHTTPStatus(policy) && !RETRY_ON_POLICIES.has(policy));
  return unknown.length === 0 ? NO_POLICIES : unknown;
});

/** validateHTTPRewrite: like Istio, reports only the first problem. */
function checkRewrite(f: Findings, rewrite: unknown, at: SpecPath): void {
  const rw = asRecord(rewrite);
  if (!rw) return;
  const uri = asString(rw.uri);
  const hasRegexRewrite = isSet(rw.uriRegexRewrite);
  if (uri !== '' && hasRegexRewrite) {
    f.error([...at, 'uriRegexRewrite'], 'rewrite may only contain one of URI or UriRegexRewrite');
    return;
  }
  if (uri === '' && !hasRegexRewrite && asString(rw.authority) === '') {
    f.error(at, 'rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified');
    return;
  }
  const regexRewrite = asRecord(rw.uriRegexRewrite);
  if (!regexRewrite) return;
  const match = asString(regexRewrite.match);
  const rewriteTo = asString(regexRewrite.rewrite);
  const path = [...at, 'uriRegexRewrite'];
  if (match === '' || rewriteTo === '') {
    f.error(
      [...path, match === '' ? 'match' : 'rewrite'],
      'UriRegexRewrite has errors: UriRegexRewrite requires both Rewrite and Match fields to be specified',
    );
    return;
  }
  const err = regexError(match, 'HTTPRewrite.UriRegexRewrite.Match');
  if (err !== undefined) f.error([...path, 'match'], `UriRegexRewrite has errors: ${err}`);
}

// ---------------------------------------------------------------------------------------------
// Destinations, shared by HTTP, TLS and TCP routes.

/** validateHTTPRouteDestinations / validateRouteDestinations (only HTTP ones carry headers). */
function checkRouteDestinations(f: Findings, destinations: unknown, at: SpecPath, withHeaders: boolean): void {
  const list = asArray(destinations);
  let totalWeight = 0;
  // Paths are made only for a finding: this runs for every destination of 100,000s of routes.
  for (let k = 0; k < list.length; k++) {
    const rd = asRecord(list[k]);
    if (!rd) {
      f.error([...at, k], 'weight may not be nil');
      continue;
    }
    if (!isSet(rd.destination)) f.error([...at, k, 'destination'], 'destination is required');
    if (withHeaders && rd.headers != null) checkHeaderOperations(f, rd.headers, [...at, k, 'headers']);
    if (isSet(rd.destination)) checkDestination(f, rd.destination, at, k);
    const weight = asNumber(rd.weight);
    const weightError = validateWeight(weight);
    if (weightError) f.error([...at, k, 'weight'], weightError);
    totalWeight += weight;
  }
  // Weights need not add up to 100 (Envoy normalises them), but all zero sends nothing anywhere.
  if (list.length > 1 && totalWeight === 0) f.error(at, 'total destination weight = 0');
}

const destinationField = (at: SpecPath, k: number | undefined, ...rest: string[]): SpecPath => (k === undefined ? [...at, ...rest] : [...at, k, 'destination', ...rest]);

/** A destination at `at` (or, with `k`, at `at[k].destination`: its path is then made only for a finding). */
function checkDestination(f: Findings, destination: unknown, at: SpecPath, k?: number): void {
  const d = asRecord(destination);
  if (!d) return;
  const host = asString(d.host);
  const hostError = host === '*' ? `invalid destination host ${host}` : validateWildcardDomain(host);
  if (hostError) f.error(destinationField(at, k, 'host'), hostError);
  const subset = asString(d.subset);
  if (subset !== '' && !isDNS1123Label(subset)) f.error(destinationField(at, k, 'subset'), `subset name is invalid: ${subset}`);
  if (isSet(d.port)) {
    const portError = validatePort(asNumber(asRecord(d.port)?.number));
    if (portError) f.error(destinationField(at, k, 'port', 'number'), portError);
  }
}

// ---------------------------------------------------------------------------------------------
// TLS and TCP routes.

function checkTLSRoute(f: Findings, route: unknown, at: SpecPath, scope: VirtualServiceScope): void {
  const r = asRecord(route);
  if (!r) return;
  const matches = asArray(r.match);
  if (matches.length === 0) f.error([...at, 'match'], 'TLS route must have at least one match condition');
  matches.forEach((match, j) => checkTLSMatch(f, match, [...at, 'match', j], scope));
  if (asArray(r.route).length === 0) f.error([...at, 'route'], 'TLS route is required');
  checkRouteDestinations(f, r.route, [...at, 'route'], false);
}

function checkTLSMatch(f: Findings, match: unknown, at: SpecPath, scope: VirtualServiceScope): void {
  const m = asRecord(match);
  if (!m) {
    f.error(at, 'TLS match may not be null');
    return;
  }
  const sniHosts = asArray(m.sniHosts);
  if (sniHosts.length === 0) f.error([...at, 'sniHosts'], 'TLS match must have at least one SNI host');
  sniHosts.forEach((sni, k) => checkSniHost(f, asString(sni), [...at, 'sniHosts', k], scope));
  checkL4MatchCommon(f, m, at);
}

/** validateSniHost: a domain (or, against the spec, an IP) within one of the VirtualService's hosts. */
function checkSniHost(f: Findings, sni: string, at: SpecPath, scope: VirtualServiceScope): void {
  // Istio's isGateway here: true unless `mesh` is listed, even with no gateways at all.
  const err = scope.gateways.includes(MESH_GATEWAY)
    ? validateWildcardDomain(sni)
    : validateWildcardDomainForVirtualServiceBoundToGateway(true, sni);
  if (err !== undefined) {
    if (isIP(sni)) f.warn(at, `using an IP address (${goQuote(sni)}) goes against SNI spec and most clients do not support this`);
    else f.error(at, err);
    return;
  }
  if (scope.hosts.some((host) => hostSubsetOf(sni, host))) return;
  f.error(at, `SNI host ${goQuote(sni)} is not a compatible subset of any of the virtual service hosts: [${scope.hosts.join(', ')}]`);
}

function checkTCPRoute(f: Findings, route: unknown, at: SpecPath): void {
  const r = asRecord(route);
  if (!r) return;
  asArray(r.match).forEach((match, j) => {
    const m = asRecord(match);
    if (m) checkL4MatchCommon(f, m, [...at, 'match', j]);
    else f.error([...at, 'match', j], 'tcp match may not be nil');
  });
  if (asArray(r.route).length === 0) f.error([...at, 'route'], 'TCP route is required');
  checkRouteDestinations(f, r.route, [...at, 'route'], false);
}

/** What TLS and TCP matches share: destination subnets, port, source labels, gateways. */
function checkL4MatchCommon(f: Findings, m: Obj, at: SpecPath): void {
  asArray(m.destinationSubnets).forEach((subnet, k) => {
    f.errorAt(at, validateIPSubnet(asString(subnet)), 'destinationSubnets', k);
  });
  const port = asNumber(m.port);
  if (port !== 0) f.errorAt(at, validatePort(port), 'port');
  checkLabels(f, m.sourceLabels, [...at, 'sourceLabels']);
  checkGatewayNames(f, asArray(m.gateways).map(asString), [...at, 'gateways']);
}

// ---------------------------------------------------------------------------------------------
// Small pure helpers.

/** host.Name.Matches: either host covers the other (wildcards on either side). */
function hostMatches(a: string, b: string): boolean {
  const aWild = a.startsWith('*');
  const bWild = b.startsWith('*');
  if (aWild && bWild) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aWild) return b.endsWith(a.slice(1));
  if (bWild) return a.endsWith(b.slice(1));
  return a === b;
}

/** host.Name.SubsetOf: every name `a` covers is covered by `b`. */
function hostSubsetOf(a: string, b: string): boolean {
  const aWild = a.startsWith('*');
  const bWild = b.startsWith('*');
  if (aWild) return bWild && a.length >= b.length && a.slice(1).endsWith(b.slice(1));
  if (bWild) return a.endsWith(b.slice(1));
  return a === b;
}

function isAuthorityHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === ':authority' || lower === 'host';
}

function isKnownHTTPStatus(policy: string): boolean {
  return DECIMAL_RE.test(policy) && KNOWN_HTTP_STATUS.has(Number(policy));
}

/** The oneof a StringMatch sets, if any. */
function stringMatchType(m: Obj): StringMatchType | undefined {
  if (isSet(m.exact)) return 'exact';
  if (isSet(m.prefix)) return 'prefix';
  if (isSet(m.regex)) return 'regex';
  return undefined;
}

/** The nanoseconds past the whole second of a positive duration (durationpb's Nanos). */
function fractionalSecondNanos(ns: bigint | undefined): bigint {
  return ns === undefined || ns <= 0n ? 0n : ns % NS_PER_SECOND;
}

/** Go's %v for a float64: exponent form below 1e-4, as in "1e-05". */
function goFloat(value: number): string {
  if (value === 0 || Math.abs(value) >= 1e-4) return String(value);
  const [mantissa, exp] = value.toExponential().split('e') as [string, string];
  const n = Number(exp);
  return `${mantissa}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
}



const NO_ENTRIES: readonly [string, unknown][] = Object.freeze([]);

function entriesOf(value: unknown): readonly [string, unknown][] {
  const record = asRecord(value);
  return record === undefined ? NO_ENTRIES : Object.entries(record);
}
