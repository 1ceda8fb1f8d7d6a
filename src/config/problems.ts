export type Severity = 'error' | 'warning' | 'info';

/** One finding about the config, precise enough for an operator to jump to the line. */
export interface Problem {
  severity: Severity;
  file?: string;
  line?: number;
  col?: number;
  /** `Kind namespace/name` of the object concerned, when there is one. */
  object?: string;
  /** Field path inside the object, e.g. `spec.http[0].match[0].uri`. */
  field?: string;
  message: string;
  /** `istioctl analyze`'s code for it (`IST0101`), when Istio has one. */
  code?: string;
  /**
   * An error that takes only its own Gateway server out of service (a bad certificate): the
   * gateway serves the rest of the config; `validate` still fails on it.
   */
  isolated?: boolean;
}

/** `file:line:col: severity: Kind ns/name: field: message`. */
export function formatProblem(p: Problem): string {
  return render(p, true);
}

/** The same without the severity, for log lines that carry their own level. */
export function formatProblemForLog(p: Problem): string {
  return render(p, false);
}

function render(p: Problem, withSeverity: boolean): string {
  let where = '';
  if (p.file) where = p.line ? `${p.file}:${p.line}:${p.col ?? 1}: ` : `${p.file}: `;
  const obj = p.object ? `${p.object}: ` : '';
  const field = p.field ? `${p.field}: ` : '';
  const code = p.code ? ` [${p.code}]` : '';
  return `${where}${withSeverity ? `${p.severity}: ` : ''}${obj}${field}${p.message}${code}`;
}

export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error');
}

/** Errors that stop a config from being served (isolated ones only disable their server). */
export function hasBlockingErrors(problems: readonly Problem[]): boolean {
  return problems.some((p) => p.severity === 'error' && p.isolated !== true);
}

/** Istio's page for an analyzer code: https://istio.io/latest/docs/reference/config/analysis/ist0101/. */
export function codeUrl(code: string): string {
  return `https://istio.io/latest/docs/reference/config/analysis/${code.toLowerCase()}/`;
}

/** One problem as `validate --output json` writes it, for CI annotations. */
export function problemToJSON(p: Problem): Record<string, unknown> {
  return {
    level: p.severity,
    code: p.code ?? null,
    file: p.file ?? null,
    line: p.line ?? null,
    column: p.col ?? null,
    object: p.object ?? null,
    field: p.field ?? null,
    message: p.message,
    documentation: p.code ? codeUrl(p.code) : null,
  };
}
