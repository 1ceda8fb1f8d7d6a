// What one config source's compiles keep for the next. A reload that changes one VirtualService
// file should not compile the other 29,999 again: a VirtualService object that is the same
// object as last time (its file did not change, config/load.ts keeps it) gets the routes it got
// then, with the clusters they name and the warnings they raised, as long as nothing routes
// depend on changed: Services, ServiceEntries, DestinationRules, endpoints, Gateways, options.
// The same holds for the route tables built from them (patched, gateway-listener.ts), the
// VirtualServices' creation order, and their warnings against the Gateways.
import { createHash } from 'node:crypto';
import type { Problem } from '../config/problems.js';
import type { ConfigObject, VirtualServiceSpec } from '../config/types.js';
import type { CompileContext } from './context.js';
import type { RouteScope } from './routes.js';
import { isMaterial, type MaterialResult } from '../tls/credentials.js';
import type { ClusterConfig, Route } from './snapshot.js';
import { byCreation, createdBefore } from './creation-order.js';
import { derivedOf } from '../config/derived.js';
import type { ObjectsByKind } from '../config/by-kind.js';

function sameObjects(a: readonly ConfigObject[], b: readonly ConfigObject[]): boolean {
  return a.length === b.length && a.every((o, i) => o === b[i]);
}

/**
 * What compiling one VirtualService for one scope gave, to give again: the clusters its routes
 * name and the warnings they raised, found at compile time, and the routes themselves, built
 * when first asked for (routes.ts, keptRoutes).
 */
export interface RouteMemoEntry {
  /** Undefined until first needed: by a request, explain, /routes, /config_dump. */
  routes: Route[] | undefined;
  clusters: ClusterConfig[];
  problems: Problem[];
  /** The keys the problems were reported under (CompileContext.reported). */
  reportedKeys: string[];
  vs: ConfigObject<VirtualServiceSpec>;
  scope: RouteScope;
  /**
   * While the routes are not built: the latest compile that gave out this entry, whose registry,
   * rules and clusters they are built against (they say what they said when the entry was made,
   * or it would not be a hit). Let go once they are built.
   */
  ctx: CompileContext | undefined;
}

export class CompileCache {
  /**
   * Entries live on the VirtualService objects themselves (ConfigObject.derived), tagged with
   * this cache and its generation: a WeakMap of 30,000 objects cost more in garbage collection
   * than a whole reload should take. A new generation drops every entry at once.
   */
  private generation = 0;
  private readonly contents = new WeakMap<ConfigObject, string>();
  /** Hits and misses of the last compile, for tests and the reload log. */
  hits = 0;
  misses = 0;
  /** Route tables the last compile patched instead of building (gateway-listener.ts), by name. */
  tablesPatched: string[] = [];

  /**
   * Starts a compile: the memo is kept only if everything but the VirtualServices says the same
   * as last time (an unchanged object in a file that changed is read again as a new object, so
   * they are compared by what they say), under the same options and certificate material.
   */
  begin(kinds: ObjectsByKind, options: string, credentials: ReadonlyMap<string, MaterialResult> | undefined): void {
    const creds = credentialsFingerprint(credentials);
    // Kind by kind, in a fixed order: nothing compile reads depends on how kinds interleave.
    const names = [...kinds.keys()].filter((k) => k !== 'VirtualService').sort();
    const lists = names.map((k) => kinds.get(k)!.slice());
    const last = this.lastDeps;
    let same =
      last !== undefined &&
      last.options === options &&
      last.credentials === creds &&
      last.kinds.length === names.length &&
      last.kinds.every((k, i) => k === names[i]) &&
      last.lists.every((list, i) => this.sayTheSame(list, lists[i]!));
    // Creation time decides between DestinationRules for one host: their order is a dependency,
    // not their times (a rewritten file gives its objects new ones). The same objects keep it.
    const rules = names.indexOf('DestinationRule');
    if (same && rules >= 0 && !sameObjects(last!.lists[rules]!, lists[rules]!)) same = this.ruleOrder(last!.lists[rules]!) === this.ruleOrder(lists[rules]!);
    if (!same) this.generation++;
    // A table the last compile did not build (its server gone, or built without a memo) keeps
    // nothing: its memo would hold that table, and what its hosts hold, for good.
    for (const name of this.tables.keys()) if (!this.tablesSet.has(name)) this.tables.delete(name);
    this.tablesSet.clear();
    this.lastDeps = { options, credentials: creds, kinds: names, lists };
    this.hits = 0;
    this.misses = 0;
    this.tablesPatched = [];
  }

  /**
   * What everything but the VirtualServices was at the last compile. Compared object by object:
   * the same object says the same (objects never change), and only an object read again is
   * compared by what it says. Hashing what every object says on every compile took 110-140 ms of
   * a start with 20,000 ServiceEntries and DestinationRules, or Services and Endpoints.
   */
  private lastDeps: { options: string; credentials: string; kinds: string[]; lists: ConfigObject[][] } | undefined;

  private sayTheSame(a: readonly ConfigObject[], b: readonly ConfigObject[]): boolean {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && this.contentOf(a[i]!) !== this.contentOf(b[i]!)) return false;
    return true;
  }

  /** The DestinationRules that share a host, in creation order, by what they say. */
  private ruleOrder(rules: readonly ConfigObject[]): string {
    const byHost = new Map<string, ConfigObject[]>();
    for (const o of rules) {
      const host = String((o.spec as { host?: unknown }).host);
      const list = byHost.get(host);
      if (list) list.push(o);
      else byHost.set(host, [o]);
    }
    const parts: string[] = [];
    for (const shared of byHost.values()) if (shared.length > 1) parts.push(byCreation(shared).map((r) => this.contentOf(r)).join('<'));
    return parts.join(',');
  }

  private lastOrder: ConfigObject[] | undefined;

  /**
   * byCreation, reusing the last compile's order: the objects still there keep it, the new ones
   * are sorted and merged in. A reload that changed one file sorts its objects only.
   */
  inCreationOrder<T extends ConfigObject>(list: readonly T[]): T[] {
    const prev = this.lastOrder as T[] | undefined;
    if (prev === undefined) return (this.lastOrder = byCreation(list));
    const stamp = this.nextStamp();
    for (const o of list) derivedOf(o).mark = stamp;
    // What is in the last order too now carries -stamp; the rest is new.
    const kept: T[] = [];
    for (const o of prev) {
      const d = o.derived;
      if (d !== undefined && d.mark === stamp) {
        d.mark = -stamp;
        kept.push(o);
      }
    }
    if (kept.length === list.length) return (this.lastOrder = kept);
    const added = byCreation(list.filter((o) => o.derived!.mark === stamp));
    // Usually the new ones are the newest (an edited file's objects are): they go after the rest.
    if (kept.length === 0 || createdBefore(kept[kept.length - 1]!, added[0]!)) return (this.lastOrder = kept.concat(added));
    const out: T[] = [];
    let i = 0;
    let j = 0;
    while (i < kept.length && j < added.length) out.push(createdBefore(added[j]!, kept[i]!) ? added[j++]! : kept[i++]!);
    while (i < kept.length) out.push(kept[i++]!);
    while (j < added.length) out.push(added[j++]!);
    return (this.lastOrder = out);
  }

  private readonly tables = new Map<string, { generation: number; memo: unknown }>();
  private stamp = 0;

  /** What a route table's builder kept of it last time, while nothing routes depend on changed. */
  tableMemo<T>(name: string): T | undefined {
    const t = this.tables.get(name);
    return t !== undefined && t.generation === this.generation ? (t.memo as T) : undefined;
  }

  setTableMemo(name: string, memo: unknown): void {
    this.tables.set(name, { generation: this.generation, memo });
    this.tablesSet.add(name);
  }

  /** The tables whose memo this compile set. */
  private readonly tablesSet = new Set<string>();

  /** A number not handed out before, to mark objects with during one step. */
  nextStamp(): number {
    return ++this.stamp;
  }

  private gatewaysSeen: ConfigObject[] | undefined;
  private gatewaysTokenNow = 0;

  /** A number that changes when, and only when, the Gateways say something different (compared as in begin). */
  gatewaysToken(gateways: readonly ConfigObject[]): number {
    if (this.gatewaysSeen === undefined || !this.sayTheSame(this.gatewaysSeen, gateways)) this.gatewaysTokenNow++;
    this.gatewaysSeen = gateways.slice();
    return this.gatewaysTokenNow;
  }

  get(vs: ConfigObject, scope: string): RouteMemoEntry | undefined {
    const hit = this.peek(vs, scope);
    if (hit) this.hits++;
    else this.misses++;
    return hit;
  }

  /** What get gives, without counting it. */
  peek(vs: ConfigObject, scope: string): RouteMemoEntry | undefined {
    const memo = vs.derived?.routeMemo;
    return memo !== undefined && memo.owner === this && memo.generation === this.generation ? ((memo.scope === scope ? memo.entry : memo.more?.get(scope)) as RouteMemoEntry | undefined) : undefined;
  }

  /** Counts kept routes given out without get (a patched table's unchanged VirtualServices). */
  countHits(n: number): void {
    this.hits += n;
  }

  set(vs: ConfigObject, scope: string, entry: RouteMemoEntry): void {
    const derived = derivedOf(vs);
    const memo = derived.routeMemo;
    // Nearly every VirtualService is compiled for one scope: that one needs no map.
    if (memo === undefined || memo.owner !== this || memo.generation !== this.generation) derived.routeMemo = { owner: this, generation: this.generation, scope, entry, more: undefined };
    else if (memo.scope === scope) memo.entry = entry;
    else (memo.more ??= new Map()).set(scope, entry);
  }

  private contentOf(o: ConfigObject): string {
    let c = this.contents.get(o);
    if (c === undefined) {
      const text = JSON.stringify([o.apiVersion, o.kind, o.namespace, o.name, o.labels, o.annotations ?? null, o.spec]);
      this.contents.set(o, (c = createHash('sha256').update(text).digest('base64')));
    }
    return c;
  }
}

function credentialsFingerprint(credentials: ReadonlyMap<string, MaterialResult> | undefined): string {
  if (!credentials || credentials.size === 0) return '';
  const h = createHash('sha256');
  for (const [key, m] of [...credentials].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    h.update(key);
    h.update(isMaterial(m) ? `${m.cert}\0${m.key}\0${m.ca ?? ''}` : `!${m.error}`);
  }
  return h.digest('base64');
}
