// VirtualService analyzers: referenced gateways (IST0101, IST0132), destination hosts and
// ports (IST0101, IST0112), destination subsets (IST0101), hosts shared on the mesh gateway (IST0109).
import type { ConfigObject } from '../config/types.js';
import { memoByObject } from '../config/memo.js';
import {
  arr,
  at,
  byString,
  EXPORT_ALL,
  EXPORT_LOCAL,
  exportScopes,
  fullName,
  goList,
  goQuote,
  hostMatches,
  num,
  obj,
  resourceNameFromHost,
  shortOrFullName,
  specOf,
  str,
  strs,
  toFqdn,
  type Context,
  type Path,
} from './common.js';

const MESH = 'mesh';

// ---- gateways ------------------------------------------------------------------------------

/** Gateway hosts with `./` and `*\/` namespace prefixes resolved the way Istio's analyzer does. */
function gatewayHosts(gw: ConfigObject): string[] {
  const out: string[] = [];
  for (const server of arr(specOf(gw).servers)) {
    const resolved: string[] = [];
    for (const h of strs(obj(server)?.hosts)) {
      const i = h.indexOf('/');
      if (i < 0) {
        resolved.push(h);
        continue;
      }
      const ns = h.slice(0, i);
      const rest = h.slice(i + 1);
      if (ns === EXPORT_LOCAL) resolved.push(`${gw.namespace}/${rest}`);
      else if (ns === EXPORT_ALL) {
        if (rest === '*') {
          // `*/*` opens the server to every host.
          resolved.splice(0, resolved.length, '*');
          break;
        }
        resolved.push(rest);
      } else resolved.push(h);
    }
    out.push(...resolved);
  }
  return out;
}

/** Gateway hosts visible to a VirtualService in `namespace`: `ns/host` only when ns matches. */
function namesForNamespace(hosts: readonly string[], namespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const i = h.indexOf('/');
    if (i >= 0) {
      const ns = h.slice(0, i);
      if (ns !== namespace && ns !== '*') continue;
      out.push(h.slice(i + 1));
    } else out.push(h);
  }
  return out;
}

/** A gateway as a VirtualService of one namespace names it, and the Gateway's hosts seen from there. */
interface GatewayRef {
  namespace: string;
  name: string;
  gw: ConfigObject | undefined;
  hosts: readonly string[];
}

export function analyzeGateways(ctx: Context): void {
  // Worked out once per namespace and name written: 30,000 VirtualServices may name the same
  // Gateway, and each was a key, a name object, a path and two closures.
  const refs = new Map<string, Map<string, GatewayRef>>();
  const resolve = (namespace: string, g: string): GatewayRef => {
    let byName = refs.get(namespace);
    if (byName === undefined) refs.set(namespace, (byName = new Map()));
    let ref = byName.get(g);
    if (ref === undefined) {
      const { namespace: gwNs, name } = shortOrFullName(namespace, g);
      const gw = ctx.find('Gateway', gwNs, name);
      const hosts = gw !== undefined ? namesForNamespace(gatewayHosts(gw), namespace) : [];
      byName.set(g, (ref = { namespace: gwNs, name, gw, hosts }));
    }
    return ref;
  };
  for (const vs of ctx.ofKind('VirtualService')) {
    const spec = specOf(vs);
    const gateways = arr(spec.gateways);
    if (gateways.length === 0) continue;
    const vsHosts = strs(spec.hosts);
    for (let i = 0; i < gateways.length; i++) {
      const g = gateways[i];
      if (typeof g !== 'string' || g === '' || g === MESH) continue;
      const ref = resolve(vs.namespace, g);
      if (!ref.gw) ctx.report('IST0101', vs, at(vs, 'gateways', i), `Referenced gateway not found: ${goQuote(g)}`);
      if (!anyHostMatches(ref.hosts, vsHosts)) {
        ctx.report(
          'IST0132',
          vs,
          at(vs, 'gateways', i),
          `one or more host ${goList(vsHosts)} defined in VirtualService ${fullName(vs)} not found in Gateway ${ref.namespace}/${ref.name}.`,
        );
      }
    }
  }
}

function anyHostMatches(gatewayHosts: readonly string[], vsHosts: readonly string[]): boolean {
  for (const gh of gatewayHosts) for (const vh of vsHosts) if (hostMatches(gh, vh)) return true;
  return false;
}

// ---- destinations ----------------------------------------------------------------------------

interface Dest {
  kind: 'route' | 'mirror';
  host: string;
  subset: string;
  port: number | undefined;
  hasPort: boolean;
  /**
   * Where it is, from the spec: `section[rule].route[index].destination`, or for a mirror
   * `http[rule].mirror` (index -1) or `http[rule].mirrors[index].destination`. The path is made
   * by relOf, only for a report: a config has 100,000s of destinations.
   */
  section: 'tcp' | 'tls' | 'http';
  rule: number;
  index: number;
}

function relOf(d: Dest): Path {
  if (d.kind === 'route') return [d.section, d.rule, 'route', d.index, 'destination'];
  return d.index < 0 ? ['http', d.rule, 'mirror'] : ['http', d.rule, 'mirrors', d.index, 'destination'];
}

function readDest(d: unknown, kind: Dest['kind'], section: Dest['section'], rule: number, index: number): Dest | undefined {
  const o = obj(d);
  if (!o) return undefined;
  const port = obj(o.port);
  return { kind, host: str(o.host), subset: str(o.subset), port: num(port?.number), hasPort: port !== undefined, section, rule, index };
}

const ROUTE_SECTIONS = ['tcp', 'tls', 'http'] as const;

/** Per analyzer run (its context): each VirtualService's destinations, read once for the two analyzers that need them. */
const destinationsInRun = memoByObject((_ctx: Context) => new Map<ConfigObject, Dest[]>());

function destinationsOf(ctx: Context, vs: ConfigObject): Dest[] {
  const kept = destinationsInRun(ctx);
  let list = kept.get(vs);
  if (list === undefined) kept.set(vs, (list = destinations(vs)));
  return list;
}

/** Route destinations (tcp, tls, http) and HTTP mirrors, in that order. */
function destinations(vs: ConfigObject): Dest[] {
  const spec = specOf(vs);
  const out: Dest[] = [];
  for (const section of ROUTE_SECTIONS) {
    const rules = arr(spec[section]);
    for (let i = 0; i < rules.length; i++) {
      const routes = arr(obj(rules[i])?.route);
      for (let j = 0; j < routes.length; j++) {
        const d = readDest(obj(routes[j])?.destination, 'route', section, i, j);
        if (d) out.push(d);
      }
    }
  }
  const http = arr(spec.http);
  for (let i = 0; i < http.length; i++) {
    const r = obj(http[i]);
    if (!r) continue;
    const m = readDest(r.mirror, 'mirror', 'http', i, -1);
    if (m) out.push(m);
    const mirrors = arr(r.mirrors);
    for (let j = 0; j < mirrors.length; j++) {
      const d = readDest(obj(mirrors[j])?.destination, 'mirror', 'http', i, j);
      if (d) out.push(d);
    }
  }
  return out;
}

interface KnownService {
  ports: number[];
}

/**
 * Known hosts: ServiceEntry hosts per exportTo scope, then Services (visible everywhere). Every
 * host by scope, then by FQDN: a lookup makes no `scope/fqdn` key for each of 100,000s of
 * destinations. Wildcard hosts also apart, in the order first written (a later entry for the
 * same scope and host replaces the value, not the place), for the hosts they cover.
 */
class KnownHosts {
  private readonly byScope = new Map<string, Map<string, KnownService>>();
  private readonly wildcards = new Map<string, { scope: string; suffix: string; service: KnownService }>();

  add(scope: string, fqdn: string, service: KnownService): void {
    if (fqdn.startsWith('*')) {
      const key = `${scope}/${fqdn}`;
      const seen = this.wildcards.get(key);
      if (seen !== undefined) seen.service = service;
      else this.wildcards.set(key, { scope, suffix: fqdn.slice(1), service });
      // A destination may name the wildcard itself (`*.example.com`): found as written first.
    }
    let hosts = this.byScope.get(scope);
    if (hosts === undefined) this.byScope.set(scope, (hosts = new Map()));
    hosts.set(fqdn, service);
  }

  lookup(sourceNs: string, exportTo: readonly string[], host: string): KnownService | undefined {
    const fqdn = toFqdn(sourceNs, host);
    const direct = this.exact(EXPORT_ALL, fqdn);
    if (direct) return direct;
    if (exportTo.length === 0) {
      const s = this.exact(sourceNs, fqdn);
      if (s) return s;
    }
    for (const e of exportTo) {
      const s = this.exact(e === EXPORT_LOCAL ? sourceNs : e, fqdn);
      if (s) return s;
    }
    const bare = host.startsWith('*') ? host.slice(1) : host;
    for (const w of this.wildcards.values()) {
      if (w.scope !== EXPORT_ALL && w.scope !== sourceNs) continue;
      if (bare.endsWith(w.suffix)) return w.service;
    }
    return undefined;
  }

  private exact(scope: string, fqdn: string): KnownService | undefined {
    return this.byScope.get(scope)?.get(fqdn);
  }
}

function knownHosts(ctx: Context): KnownHosts {
  const known = new KnownHosts();
  for (const se of ctx.ofKind('ServiceEntry')) {
    const spec = specOf(se);
    const ports = arr(spec.ports)
      .map((p) => num(obj(p)?.number))
      .filter((n): n is number => n !== undefined);
    const entry: KnownService = { ports };
    const scopes = exportScopes(strs(spec.exportTo), se.namespace);
    for (const h of strs(spec.hosts)) {
      for (const scope of scopes) known.add(scope, toFqdn(se.namespace, h), entry);
    }
  }
  for (const svc of ctx.ofKind('Service')) {
    const ports = arr(specOf(svc).ports)
      .map((p) => num(obj(p)?.port))
      .filter((n): n is number => n !== undefined);
    known.add(EXPORT_ALL, toFqdn(svc.namespace, svc.name), { ports });
  }
  return known;
}

export function analyzeDestinationHosts(ctx: Context): void {
  const known = knownHosts(ctx);
  // What a host is, by namespace, for VirtualServices without exportTo (nearly all): the 4 routes
  // of 30,000 VirtualServices name a few hundred hosts, each looked up by a name made for it.
  const found = new Map<string, Map<string, KnownService | null>>();
  for (const vs of ctx.ofKind('VirtualService')) {
    const exportTo = strs(specOf(vs).exportTo);
    let inNamespace: Map<string, KnownService | null> | undefined;
    if (exportTo.length === 0) {
      inNamespace = found.get(vs.namespace);
      if (inNamespace === undefined) found.set(vs.namespace, (inNamespace = new Map()));
    }
    for (const d of destinationsOf(ctx, vs)) {
      let svc = inNamespace?.get(d.host);
      if (svc === undefined) {
        svc = known.lookup(vs.namespace, exportTo, d.host) ?? null;
        inNamespace?.set(d.host, svc);
      }
      if (!svc) {
        const what = d.kind === 'mirror' ? 'mirror host' : 'host';
        ctx.report('IST0101', vs, at(vs, ...relOf(d), 'host'), `Referenced ${what} not found: ${goQuote(d.host)}`);
        continue;
      }
      if (!d.hasPort) {
        if (svc.ports.length > 1) {
          ctx.report(
            'IST0112',
            vs,
            at(vs, ...relOf(d), 'host'),
            `This VirtualService routes to a service ${goQuote(d.host)} that exposes multiple ports ${goList(svc.ports)}. Specifying a port in the destination is required to disambiguate.`,
          );
        }
        continue;
      }
      const port = d.port ?? 0;
      if (!svc.ports.includes(port)) {
        ctx.report('IST0101', vs, at(vs, ...relOf(d), 'port', 'number'), `Referenced host:port not found: ${goQuote(`${d.host}:${port}`)}`);
      }
    }
  }
}

export function analyzeDestinationSubsets(ctx: Context): void {
  const subsets = new Set<string>();
  for (const dr of ctx.ofKind('DestinationRule')) {
    const spec = specOf(dr);
    const host = resourceNameFromHost(dr.namespace, str(spec.host));
    for (const ss of arr(spec.subsets)) subsets.add(`${host}+${str(obj(ss)?.name)}`);
  }
  for (const vs of ctx.ofKind('VirtualService')) {
    for (const d of destinationsOf(ctx, vs)) {
      if (d.subset === '') continue;
      if (subsets.has(`${resourceNameFromHost(vs.namespace, d.host)}+${d.subset}`)) continue;
      const what = d.kind === 'mirror' ? 'mirror+subset in destinationrule' : 'host+subset in destinationrule';
      ctx.report('IST0101', vs, at(vs, ...relOf(d), 'subset'), `Referenced ${what} not found: ${goQuote(`${d.host}+${d.subset}`)}`);
    }
  }
}

// ---- hosts shared on the mesh gateway ------------------------------------------------------

export function analyzeMeshGatewayHosts(ctx: Context): void {
  // scope/fqdn → VirtualServices bound to the mesh gateway that claim it.
  const hosts = new Map<string, ConfigObject[]>();
  for (const vs of ctx.ofKind('VirtualService')) {
    const spec = specOf(vs);
    const gateways = strs(spec.gateways);
    if (Array.isArray(spec.gateways) && spec.gateways.length > 0 && !gateways.includes(MESH)) continue;
    for (const scope of exportScopes(strs(spec.exportTo), vs.namespace)) {
      for (const h of strs(spec.hosts)) {
        const key = `${scope}/${toFqdn(vs.namespace, h)}`;
        const list = hosts.get(key);
        if (list) {
          if (!list.includes(vs)) list.push(vs);
        } else hosts.set(key, [vs]);
      }
    }
  }
  const reported = new Set<ConfigObject>();
  for (const [key, own] of hosts) {
    const slash = key.indexOf('/');
    const scope = key.slice(0, slash);
    const fqdn = key.slice(slash + 1);
    let list = own;
    if (scope !== EXPORT_ALL) {
      list = [...own];
      for (const [other, vss] of hosts) {
        const os = other.indexOf('/');
        if (other.slice(0, os) !== EXPORT_ALL || !hostMatches(fqdn, other.slice(os + 1))) continue;
        for (const v of vss) if (!list.includes(v)) list.push(v);
      }
    }
    if (list.length < 2) continue;
    const names = list.map(fullName).sort(byString).join(',');
    for (const vs of list) {
      if (reported.has(vs)) continue;
      reported.add(vs);
      ctx.report(
        'IST0109',
        vs,
        [],
        `The VirtualServices ${names} associated with mesh gateway define the same host ${key} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
      );
    }
  }
}
