// Shared pieces of the analyzers: the message catalog, Go-style formatting of message
// arguments, defensive readers for loosely typed specs, and Istio's host-name rules.
import type { ConfigObject } from '../config/types.js';

export type Level = 'error' | 'warning' | 'info';
export type Path = (string | number)[];

export interface AnalyzerMessage {
  code: string;
  name: string;
  level: Level;
  object: ConfigObject;
  path: Path;
  message: string;
}

/** The codes the analyzers emit, with name and level as Istio's messages.yaml gives them. */
export const CATALOG = {
  IST0101: { name: 'ReferencedResourceNotFound', level: 'error' },
  IST0109: { name: 'ConflictingMeshGatewayVirtualServiceHosts', level: 'error' },
  IST0110: { name: 'ConflictingSidecarWorkloadSelectors', level: 'error' },
  IST0111: { name: 'MultipleSidecarsWithoutWorkloadSelectors', level: 'error' },
  IST0112: { name: 'VirtualServiceDestinationPortSelectorRequired', level: 'error' },
  IST0128: { name: 'NoServerCertificateVerificationDestinationLevel', level: 'warning' },
  IST0129: { name: 'NoServerCertificateVerificationPortLevel', level: 'warning' },
  IST0130: { name: 'VirtualServiceUnreachableRule', level: 'warning' },
  IST0131: { name: 'VirtualServiceIneffectiveMatch', level: 'info' },
  IST0132: { name: 'VirtualServiceHostNotFoundInGateway', level: 'warning' },
  IST0134: { name: 'ServiceEntryAddressesRequired', level: 'warning' },
  IST0138: { name: 'GatewayDuplicateCertificate', level: 'warning' },
  IST0145: { name: 'ConflictingGateways', level: 'error' },
  IST0161: { name: 'InvalidGatewayCredential', level: 'error' },
  IST0177: { name: 'ConflictingServiceEntryProtocol', level: 'warning' },
} as const satisfies Record<string, { name: string; level: Level }>;

export type Code = keyof typeof CATALOG;

/** What an analyzer gets: every object, grouped by kind in input order, and a way to report. */
export interface Context {
  readonly objects: readonly ConfigObject[];
  ofKind(kind: string): readonly ConfigObject[];
  find(kind: string, namespace: string, name: string): ConfigObject | undefined;
  report(code: Code, object: ConfigObject, path: Path, message: string): void;
}

export function createContext(objects: readonly ConfigObject[], out: AnalyzerMessage[]): Context {
  const byKind = new Map<string, ConfigObject[]>();
  for (const o of objects) {
    if (!o || typeof o.kind !== 'string') continue;
    let list = byKind.get(o.kind);
    if (!list) byKind.set(o.kind, (list = []));
    list.push(o);
  }
  // Objects by namespace/name, for the kinds looked up (Gateways, Secrets): not 30,000 keys made
  // for VirtualServices no analyzer looks up by name.
  const byName = new Map<string, Map<string, ConfigObject>>();
  const namesOf = (kind: string) => {
    let names = byName.get(kind);
    if (names === undefined) {
      names = new Map();
      for (const o of byKind.get(kind) ?? []) {
        const key = `${o.namespace}/${o.name}`;
        if (!names.has(key)) names.set(key, o);
      }
      byName.set(kind, names);
    }
    return names;
  };
  return {
    objects,
    ofKind: (kind) => byKind.get(kind) ?? [],
    find: (kind, namespace, name) => namesOf(kind).get(`${namespace}/${name}`),
    report(code, object, path, message) {
      const { name, level } = CATALOG[code];
      out.push({ code, name, level, object, path, message });
    },
  };
}

// ---- defensive readers ---------------------------------------------------------------------

export type Obj = Record<string, unknown>;

export function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

const NONE: readonly unknown[] = Object.freeze([]);

export function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : NONE;
}

export function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** The strings of a list: the list itself when it holds nothing else, as lists almost always do. */
export function strs(v: unknown): readonly string[] {
  const list = arr(v);
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== 'string') return list.filter((x): x is string => typeof x === 'string');
  return list as readonly string[];
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function labelsOf(v: unknown): Record<string, string> {
  const o = obj(v);
  const out: Record<string, string> = {};
  if (!o) return out;
  for (const [k, val] of Object.entries(o)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** The object's payload as a map, or an empty one. */
export function specOf(o: ConfigObject): Obj {
  return obj(o.spec) ?? {};
}

/** Path from the object's root to a field of its payload. */
export function at(o: ConfigObject, ...p: Path): Path {
  return [...o.specPath, ...p];
}

export function fullName(o: ConfigObject): string {
  return `${o.namespace}/${o.name}`;
}

// ---- Go formatting ---------------------------------------------------------------------------

/** Go's `%q` for a string (close enough: JSON escaping, which agrees for printable text). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Go's `%v` for a slice: `[a b c]`. */
export function goList(items: readonly (string | number)[]): string {
  return `[${items.join(' ')}]`;
}

/** `labels.SelectorFromSet(...).String()`: keys sorted, `k=v` joined by commas. */
export function selectorString(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort(byString)
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- hosts -----------------------------------------------------------------------------------

export const CLUSTER_DOMAIN = 'svc.cluster.local';
export const EXPORT_ALL = '*';
export const EXPORT_LOCAL = '.';

/** A short name (no dot, no wildcard) becomes `name.<namespace>.svc.cluster.local`. */
export function toFqdn(namespace: string, host: string): string {
  if (!host.startsWith('*') && !host.includes('.')) return `${host}.${namespace}.${CLUSTER_DOMAIN}`;
  return host;
}

/** `name.ns.svc.cluster.local` → {namespace, name}; anything else → undefined. */
export function serviceNameOf(fqdn: string): { namespace: string; name: string } | undefined {
  const m = /^(.+)\.(.+)\.svc\.cluster\.local$/.exec(fqdn);
  if (!m) return undefined;
  return { name: m[1]!, namespace: m[2]! };
}

/** Istio's resource name for a destination host: a Service FQDN, else the host in the given namespace. */
export function resourceNameFromHost(namespace: string, host: string): string {
  const n = serviceNameOf(host);
  return n ? `${n.namespace}/${n.name}` : `${namespace}/${host}`;
}

/** Istio's `host.Name.Matches`: either side may be a `*.suffix` wildcard. */
export function hostMatches(a: string, b: string): boolean {
  const aw = a.startsWith('*');
  const bw = b.startsWith('*');
  if (aw && bw) return a.length < b.length ? b.slice(1).endsWith(a.slice(1)) : a.slice(1).endsWith(b.slice(1));
  if (aw) return b.endsWith(a.slice(1));
  if (bw) return a.endsWith(b.slice(1));
  return a === b;
}

export function isExportToAll(exportTo: readonly string[]): boolean {
  return exportTo.length === 0 || exportTo.includes(EXPORT_ALL);
}

/** The scopes an `exportTo` list makes an object visible in: `*` or namespace names. */
export function exportScopes(exportTo: readonly string[], namespace: string): string[] {
  if (isExportToAll(exportTo)) return [EXPORT_ALL];
  const out: string[] = [];
  for (const e of exportTo) {
    const ns = e === EXPORT_LOCAL ? namespace : e;
    if (!out.includes(ns)) out.push(ns);
  }
  return out;
}

/** `namespace/name` or `name` (in the given namespace). */
export function shortOrFullName(namespace: string, name: string): { namespace: string; name: string } {
  const i = name.indexOf('/');
  if (i >= 0) return { namespace: name.slice(0, i), name: name.slice(i + 1) };
  return { namespace, name };
}
