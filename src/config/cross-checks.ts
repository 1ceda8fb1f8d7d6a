import { analyze } from '../analyze/index.js';
import { formatPath } from './load.js';
import type { Problem } from './problems.js';
import type { ConfigObject } from './types.js';

/**
 * `istioctl analyze`'s networking analyzers over the objects, as problems with Istio's code and
 * the object's file and line. They are warnings whatever Istio's level: the config applies (the
 * API server takes it), and `validate --fail-on warning` makes them fail a build.
 */
export function crossChecks(objects: readonly ConfigObject[], defaultNamespace: string): Problem[] {
  // Credentials: meshgate finds them in Secrets, --tls-dir files and paths, and says itself when
  // one is missing or unusable (as an error); Istio's analyzers know Secrets only.
  const credential = (m: { code: string; path: (string | number)[] }) => (m.code === 'IST0101' || m.code === 'IST0161') && m.path.includes('tls');
  return analyze(objects, { defaultNamespace }).filter((m) => !credential(m)).map((m) => {
    const o = m.object;
    const pos = o.source.locate([...o.docPath, ...m.path]);
    return {
      severity: m.level === 'info' ? 'info' : 'warning',
      file: o.source.file,
      line: pos.line,
      col: pos.col,
      object: o.ref,
      ...(m.path.length > 0 ? { field: formatPath(m.path) } : {}),
      message: m.message,
      code: m.code,
    };
  });
}

/**
 * One line per finding: where meshgate's own check and an analyzer speak of the same field of
 * the same object, meshgate's words (which say what the gateway will do) keep the analyzer's code.
 */
export function mergeFindings(own: readonly Problem[], analyzers: readonly Problem[]): Problem[] {
  const out = own.map((p) => ({ ...p }));
  const byPlace = new Map<string, Problem>();
  for (const p of out) if (p.severity === 'warning' && p.object !== undefined) byPlace.set(`${p.object}|${p.field ?? ''}`, p);
  for (const a of analyzers) {
    const same = byPlace.get(`${a.object}|${a.field ?? ''}`);
    if (same !== undefined && same.code === undefined) same.code = a.code;
    else out.push(a);
  }
  return out;
}
