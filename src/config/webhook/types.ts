/**
 * What Istio's admission webhook (pkg/config/validation) says about one object: errors refuse it,
 * warnings are printed and the object is kept. Paths are relative to `spec`.
 */
export type SpecPath = ReadonlyArray<string | number>;

export interface WebhookFinding {
  severity: 'error' | 'warning';
  path: SpecPath;
  message: string;
  /** Set when `path` is inside `metadata` rather than `spec`. */
  inMetadata?: true;
}

/** Who the object is: Istio's rules look at the namespace (exportTo, `./host`) and the name. */
export interface WebhookContext {
  name: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

/**
 * `[...at, a]` or `[...at, a, b]`, made at its exact size: a spread grows its new list past the
 * end (200 bytes for four segments, 60 this way), and the route checks make two for each of
 * 100,000s of routes.
 */
export function childPath(at: SpecPath, a: string | number, b?: string | number): SpecPath {
  const n = at.length;
  const path = new Array<string | number>(b === undefined ? n + 1 : n + 2);
  for (let i = 0; i < n; i++) path[i] = at[i]!;
  path[n] = a;
  if (b !== undefined) path[n + 1] = b;
  return path;
}

/** Collects findings in the order the rules run. */
export class Findings {
  readonly list: WebhookFinding[] = [];
  error(path: SpecPath, message: string): void {
    this.list.push({ severity: 'error', path, message });
  }
  /** An error when a check returned one (the primitives return a message or undefined). */
  errorIf(path: SpecPath, message: string | undefined): void {
    if (message) this.error(path, message);
  }
  /** errorIf at `at` + `a` (+ `b`), the path made only for an error: most fields have none. */
  errorAt(at: SpecPath, message: string | undefined, a: string | number, b?: string | number): void {
    if (message) this.error(childPath(at, a, b), message);
  }
  warn(path: SpecPath, message: string): void {
    this.list.push({ severity: 'warning', path, message });
  }
}
