import { BlockList } from 'node:net';
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

export function describeRouteMatch(r: Route): string {
  if (r.matches === null) return 'any';
  return r.matches.map(describeMatch).join(' | ');
}

export function describeAction(r: Route, snap: Snapshot): string {
  const a = r.action;
  if (a.type === 'redirect') {
    const d = a.redirect;
    const port = d.port === undefined ? '' : d.port === 'request' ? ':<request port>' : d.port === 'default' ? '' : `:${d.port}`;
    return `redirect ${d.code} to ${d.scheme ? `${d.scheme}://` : ''}${d.authority ?? '<same host>'}${port}${d.uri ?? '<same path>'}`;
  }
  if (a.type === 'direct') return `direct response ${a.status}${a.body ? ` (${a.body.length} bytes)` : ''}`;
  return a.destinations
    .map((d) => {
      const c = snap.clusters.get(d.cluster);
      const n = c ? c.endpoints.length : 0;
      const eps = !c || !c.known ? 'not in registry' : c.discovery === 'DNS' ? 'DNS' : `${n} endpoint${n === 1 ? '' : 's'}`;
      const w = a.destinations.length > 1 ? ` ${d.weight}%` : '';
      const lb = c && (c.lb !== 'ROUND_ROBIN' || c.hash) ? `, ${c.hash ? `hash by ${c.hash.type}` : c.lb.toLowerCase().replace('_', ' ')}` : '';
      const h2 = c?.protocol === 'http2' ? ', HTTP/2' : '';
      return `${d.host}:${d.port}${d.subset ? ` subset ${d.subset}` : ''}${w} (${eps}${lb}${h2})`;
    })
    .join(', ');
}

function describeFeatures(r: Route): string {
  const f: string[] = [];
  if (r.rewrite) f.push(`rewrite${r.rewrite.uri ? ` uri ${r.rewrite.uri}` : ''}${r.rewrite.regex ? ` uri regex ${r.rewrite.regex.re.source}` : ''}${r.rewrite.authority ? ` authority ${r.rewrite.authority}` : ''}`);
  if (r.retry) f.push(`retries ${r.retry.retries}${r.retry.perTryTimeoutMs ? ` per try ${r.retry.perTryTimeoutMs / 1000}s` : ''}`);
  if (r.fault) {
    if (r.fault.delayPercent > 0) f.push(`fault delay ${r.fault.delayMs / 1000}s ${r.fault.delayPercent}%`);
    if (r.fault.abortPercent > 0) f.push(`fault abort ${r.fault.abortStatus} ${r.fault.abortPercent}%`);
  }
  if (r.cors) f.push('cors');
  if (r.requestHeaders || r.responseHeaders) f.push('headers');
  for (const m of r.mirrors ?? []) f.push(`mirror ${m.host} ${m.percent}%`);
  return f.join(', ') || '-';
}

/** The effective route table, one line per route, in the order the router tries them. */
export function renderRoutes(snap: Snapshot): string {
  const rows: string[][] = [['LISTENER', 'HOST', 'MATCH', 'DESTINATION', 'TIMEOUT', 'POLICY', 'FROM']];
  for (const l of snap.listeners) {
    for (const c of l.chains) {
      const where = l.chains.length > 1 ? `${l.name} ${c.name}` : l.name;
      if (c.type === 'tcp') {
        const how = c.tls ? `tls ${c.tls.mode} (${c.tls.source}), then tcp` : c.match.transport === 'tls' ? 'tls passthrough' : 'tcp';
        if (c.routes.length === 0) rows.push([where, c.match.serverNames.join(',') || '*', how, 'no tls/tcp route bound: connections are closed', '-', '-', '-']);
        for (const r of c.routes) {
          const dests = r.destinations.map((d) => `${d.host}:${d.port}${r.destinations.length > 1 ? ` ${Math.round((d.weight / r.totalWeight) * 100)}%` : ''}`).join(', ');
          const conds = [r.sniHosts ? 'sni' : '', ...(r.matches ?? []).flatMap((m) => [m.destinationSubnets ? `to ${m.destinationSubnets.cidrs.join(',')}` : '', m.sourceSubnets ? `from ${m.sourceSubnets.cidrs.join(',')}` : ''])].filter((x) => x !== '');
          rows.push([where, (r.sniHosts ?? c.match.serverNames).join(',') || '*', [how, ...new Set(conds)].join(', '), dests || '-', '-', '-', r.source]);
        }
        continue;
      }
      const t = c.routes;
      const shown = c.tls ? `${where} (https ${c.tls.mode}, ${c.tls.source})` : where;
      const vhosts = [...new Set([...t.exact.values(), ...t.wildcards.map((w) => w.vhost), ...(t.any ? [t.any] : [])])];
      if (vhosts.length === 0) rows.push([shown, '-', '-', 'no VirtualService bound: every request gets 404', '-', '-', '-']);
      for (const vh of vhosts) {
        if (vh.requireTls === true) {
          rows.push([shown, vh.domain, 'any', 'redirect 301 to https://HOST/PATH (server tls.httpsRedirect)', '-', '-', '-']);
          continue;
        }
        for (const r of vh.routes) {
          rows.push([
            shown,
            vh.domain,
            describeRouteMatch(r),
            describeAction(r, snap),
            r.timeoutMs === 0 ? 'none' : `${r.timeoutMs / 1000}s`,
            describeFeatures(r),
            `${r.source} http[${r.index}]${r.name ? ` (${r.name})` : ''}`,
          ]);
        }
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
    JSON.stringify(snap, (k, v: unknown) => {
      // A route's filters are code, not config: their names say what runs, in order.
      if (k === 'filters' && Array.isArray(v)) return v.map((f: { name: string }) => f.name);
      // The TLS context is OpenSSL state; where the certificate came from is what an operator needs.
      if (k === 'context' && v !== null && typeof v === 'object' && 'context' in v) return undefined;
      if (v instanceof BlockList) return undefined;
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return [...v];
      if (v instanceof RegExp) return v.source;
      return v;
    }),
  );
}
