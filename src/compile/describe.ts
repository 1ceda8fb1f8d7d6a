import type { CompiledMatch, Route, Snapshot, StringMatcher } from './snapshot.js';

// Human and machine views of a Snapshot, shared by `meshgate routes`, /routes and /config_dump.

function sm(label: string, m: StringMatcher | null): string | undefined {
  if (m === null) return undefined;
  const kind = ['exact', 'prefix', 'regex', 'present'][m.kind]!;
  const ci = m.ci ? ' (any case)' : '';
  return m.kind === 3 ? `${label} present` : `${label} ${kind} ${m.value}${ci}`.trim();
}

export function describeMatch(m: CompiledMatch): string {
  const parts: string[] = [];
  const uri = sm('', m.uri);
  if (uri) parts.push(uri.trim());
  const method = sm('method', m.method);
  if (method) parts.push(method);
  const auth = sm('authority', m.authority);
  if (auth) parts.push(auth);
  const scheme = sm('scheme', m.scheme);
  if (scheme) parts.push(scheme);
  for (const h of m.headers) parts.push(`${h.invert ? 'without ' : ''}${sm(`header ${h.name}`, h.m)}`);
  for (const q of m.query) parts.push(sm(`query ${q.name}`, q.m)!);
  if (m.port !== 0) parts.push(`port ${m.port}`);
  return parts.length ? parts.join(', ') : 'any';
}

function describeRouteMatch(r: Route): string {
  if (r.matches === null) return 'any';
  return r.matches.map(describeMatch).join(' | ');
}

function describeAction(r: Route, snap: Snapshot): string {
  const a = r.action;
  return a.destinations
    .map((d) => {
      const c = snap.clusters.get(d.cluster);
      const n = c ? c.endpoints.length : 0;
      const eps = !c || !c.known ? 'not in registry' : c.discovery === 'DNS' ? 'DNS' : `${n} endpoint${n === 1 ? '' : 's'}`;
      const w = a.destinations.length > 1 ? ` ${d.weight}%` : '';
      return `${d.host}:${d.port}${d.subset ? ` subset ${d.subset}` : ''}${w} (${eps})`;
    })
    .join(', ');
}

/** The effective route table, one line per route, in the order the router tries them. */
export function renderRoutes(snap: Snapshot): string {
  const rows: string[][] = [['LISTENER', 'HOST', 'MATCH', 'DESTINATION', 'TIMEOUT', 'FROM']];
  for (const l of snap.listeners) {
    const t = l.routes;
    const vhosts = [...t.exact.values(), ...t.wildcards.map((w) => w.vhost), ...(t.any ? [t.any] : [])];
    if (vhosts.length === 0) rows.push([l.name, '-', '-', 'no VirtualService bound: every request gets 404', '-', '-']);
    for (const vh of vhosts) {
      for (const r of vh.routes) {
        rows.push([
          l.name,
          vh.domain,
          describeRouteMatch(r),
          describeAction(r, snap),
          r.timeoutMs === 0 ? 'none' : `${r.timeoutMs / 1000}s`,
          `${r.source} http[${r.index}]${r.name ? ` (${r.name})` : ''}`,
        ]);
      }
    }
  }
  return table(rows);
}

export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('   ')).join('\n') + '\n';
}

/** The snapshot as plain JSON (regexes by their source), for /config_dump. */
export function snapshotToJSON(snap: Snapshot): unknown {
  return JSON.parse(
    JSON.stringify(snap, (_k, v: unknown) => {
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof RegExp) return v.source;
      return v;
    }),
  );
}
