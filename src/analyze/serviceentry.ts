// ServiceEntry analyzers: TCP ports without addresses (IST0134), one host and port declared
// with different protocols by several ServiceEntries (IST0177).
import type { ConfigObject } from '../config/types.js';
import { arr, at, byString, EXPORT_ALL, exportScopes, fullName, goQuote, num, obj, specOf, str, strs, type Context } from './common.js';

export function analyzeProtocolAddresses(ctx: Context): void {
  for (const se of ctx.ofKind('ServiceEntry')) {
    const spec = specOf(se);
    if (arr(spec.addresses).length > 0) continue;
    arr(spec.ports).forEach((raw, i) => {
      const p = obj(raw);
      if (!p) return;
      const protocol = str(p.protocol);
      if (protocol !== '' && protocol.toUpperCase() !== 'TCP') return;
      ctx.report('IST0134', se, at(se, 'ports', i), 'ServiceEntry addresses are required for this protocol.');
    });
  }
}

interface ProtoEntry {
  protocol: string;
  se: ConfigObject;
}

export function analyzeConflictingProtocols(ctx: Context): void {
  // `scope \0 host \0 port` → who declares it with which protocol.
  const index = new Map<string, { scope: string; host: string; port: number; entries: ProtoEntry[] }>();
  for (const se of ctx.ofKind('ServiceEntry')) {
    const spec = specOf(se);
    for (const scope of exportScopes(strs(spec.exportTo), se.namespace)) {
      for (const host of strs(spec.hosts)) {
        for (const raw of arr(spec.ports)) {
          const p = obj(raw);
          const port = num(p?.number);
          if (!p || port === undefined) continue;
          const key = `${scope}\0${host}\0${port}`;
          let slot = index.get(key);
          if (!slot) index.set(key, (slot = { scope, host, port, entries: [] }));
          slot.entries.push({ protocol: str(p.protocol), se });
        }
      }
    }
  }
  const reported = new Set<ConfigObject>();
  for (const slot of index.values()) {
    let entries = slot.entries;
    if (slot.scope !== EXPORT_ALL) {
      entries = [...entries, ...(index.get(`${EXPORT_ALL}\0${slot.host}\0${slot.port}`)?.entries ?? [])];
    }
    const protocols = [...new Set(entries.map((e) => e.protocol.toUpperCase()))].sort(byString);
    if (protocols.length < 2) continue;
    const names = [...new Set(entries.map((e) => fullName(e.se)))].sort(byString).join(', ');
    for (const e of entries) {
      if (reported.has(e.se)) continue;
      reported.add(e.se);
      ctx.report(
        'IST0177',
        e.se,
        [],
        `Multiple ServiceEntries (${names}) define the same host ${goQuote(slot.host)} and port ${slot.port} with conflicting protocols (${protocols.join(', ')}).`,
      );
    }
  }
}
