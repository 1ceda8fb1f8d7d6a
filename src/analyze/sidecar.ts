// Sidecar analyzer, the part that needs no pods: several Sidecars in one namespace without a
// workload selector (IST0111).
import type { ConfigObject } from '../config/types.js';
import { byString, goList, goQuote, labelsOf, obj, specOf, type Context } from './common.js';

export function analyzeSidecarSelectors(ctx: Context): void {
  const bare = new Map<string, ConfigObject[]>();
  for (const sc of ctx.ofKind('Sidecar')) {
    const selector = labelsOf(obj(specOf(sc).workloadSelector)?.labels);
    if (Object.keys(selector).length > 0) continue;
    let list = bare.get(sc.namespace);
    if (!list) bare.set(sc.namespace, (list = []));
    list.push(sc);
  }
  for (const [ns, list] of bare) {
    if (list.length < 2) continue;
    const names = goList(list.map((s) => s.name).sort(byString));
    for (const sc of list) {
      ctx.report('IST0111', sc, [], `The Sidecars ${names} in namespace ${goQuote(ns)} have no workload selector, which can lead to undefined behavior.`);
    }
  }
}
