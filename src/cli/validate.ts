import { compile } from '../compile/compile.js';
import { renderRoutes } from '../compile/describe.js';
import { loadConfig } from '../config/load.js';
import { loadCredentials } from '../tls/credentials.js';
import { formatProblem, hasErrors, problemToJSON, type Problem } from '../config/problems.js';
import { crossChecks, mergeFindings } from '../config/cross-checks.js';
import { explain } from '../compile/explain.js';
import { parse, parseLabels, parsePort, UsageError } from './args.js';
import { EXPLAIN_HELP, ROUTES_HELP, VALIDATE_HELP } from './help.js';

const configOptions = {
  config: { type: 'string', short: 'c', multiple: true },
  'default-namespace': { type: 'string' },
  labels: { type: 'string' },
  'tls-dir': { type: 'string' },
} as const;

/** Certificates as `serve` would read them, so validate and routes judge TLS servers the same way. */
async function tlsInputs(objects: Parameters<typeof loadCredentials>[0], values: Record<string, unknown>) {
  return { credentials: await loadCredentials(objects, (values['tls-dir'] as string | undefined) ?? './tls'), previous: new Map(), now: Date.now() };
}

export async function validateCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const { values } = parse('validate', argv, { ...configOptions, quiet: { type: 'boolean', short: 'q' }, output: { type: 'string', short: 'o' }, 'fail-on': { type: 'string' } });
  if (values.help) {
    out(VALIDATE_HELP);
    return 0;
  }
  const output = (values.output as string | undefined) ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output: ${JSON.stringify(output)} must be text or json`);
  const failOn = (values['fail-on'] as string | undefined) ?? 'error';
  if (failOn !== 'error' && failOn !== 'warning') throw new UsageError(`--fail-on: ${JSON.stringify(failOn)} must be error or warning`);
  const loaded = await loadConfig((values.config as string[] | undefined) ?? ['./gateways'], { defaultNamespace: (values['default-namespace'] as string | undefined) ?? 'default' });
  const labels = values.labels !== undefined ? parseLabels(values.labels as string) : undefined;
  // A refused object is left out; every other one is still compiled and cross-checked.
  const ns = (values['default-namespace'] as string | undefined) ?? 'default';
  const compiled = compile(loaded.objects, { labels, tls: await tlsInputs(loaded.objects, values), problemsOnly: true }).problems;
  const problems = [...loaded.problems, ...inFileOrder(mergeFindings(compiled, crossChecks(loaded.objects, ns)), loaded.files)];
  const shown = problems.filter((p) => !(values.quiet && p.severity === 'info'));
  const errors = problems.filter((p) => p.severity === 'error').length;
  const warnings = problems.filter((p) => p.severity === 'warning').length;
  const failed = errors > 0 || (failOn === 'warning' && warnings > 0);
  if (output === 'json') {
    out(JSON.stringify(shown.map(problemToJSON), null, 2) + '\n');
    return failed ? 1 : 0;
  }
  // In pieces of about 64 KB: a write per line was 0.3 s of 120,000 lines.
  let piece = '';
  for (const p of shown) {
    piece += formatProblem(p) + '\n';
    if (piece.length >= 65536) {
      out(piece);
      piece = '';
    }
  }
  if (piece !== '') out(piece);
  if (failed) {
    out(`invalid: ${errors} error(s), ${warnings} warning(s) in ${loaded.files.length} file(s)${errors === 0 ? ' (--fail-on warning)' : ''}\n`);
    return 1;
  }
  out(`valid: ${loaded.objects.length} object(s) in ${loaded.files.length} file(s)${warnings ? `, ${warnings} warning(s)` : ''}\n`);
  return 0;
}

/** Stable: by file (in the order read), then line and column; problems without a place last. */
function inFileOrder(problems: Problem[], files: readonly string[]): Problem[] {
  // A map, not indexOf: 90,000 findings over 10,000 files were 19 s of searching the file list.
  const order = new Map<string, number>();
  files.forEach((f, i) => order.has(f) || order.set(f, i));
  const rank = (p: Problem) => (p.file === undefined ? files.length : (order.get(p.file) ?? -1));
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || (a.p.line ?? 0) - (b.p.line ?? 0) || (a.p.col ?? 0) - (b.p.col ?? 0) || a.i - b.i)
    .map((x) => x.p);
}

export async function routesCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const { values } = parse('routes', argv, configOptions);
  if (values.help) {
    out(ROUTES_HELP);
    return 0;
  }
  const loaded = await loadConfig((values.config as string[] | undefined) ?? ['./gateways'], { defaultNamespace: (values['default-namespace'] as string | undefined) ?? 'default' });
  if (hasErrors(loaded.problems)) {
    for (const p of loaded.problems) if (p.severity === 'error') process.stderr.write(formatProblem(p) + '\n');
    return 1;
  }
  const labels = values.labels !== undefined ? parseLabels(values.labels as string) : undefined;
  out(renderRoutes(compile(loaded.objects, { labels, tls: await tlsInputs(loaded.objects, values) })));
  return 0;
}

/** `meshgate explain URL`: where a request would go on these config files, or why it would not. */
export async function explainCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const { values, positionals } = parse('explain', argv, { ...configOptions, method: { type: 'string' }, header: { type: 'string', multiple: true }, sni: { type: 'string' }, listener: { type: 'string' } }, true);
  if (values.help) {
    out(EXPLAIN_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('meshgate explain: give one URL, e.g. meshgate explain http://app.example.com/api');
  const headers: Record<string, string> = {};
  for (const h of (values.header as string[] | undefined) ?? []) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new UsageError(`--header: ${JSON.stringify(h)} is not name=value`);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  const loaded = await loadConfig((values.config as string[] | undefined) ?? ['./gateways'], { defaultNamespace: (values['default-namespace'] as string | undefined) ?? 'default' });
  if (hasErrors(loaded.problems)) {
    for (const p of loaded.problems) if (p.severity === 'error') process.stderr.write(formatProblem(p) + '\n');
    return 1;
  }
  const labels = values.labels !== undefined ? parseLabels(values.labels as string) : undefined;
  const snap = compile(loaded.objects, { labels, tls: await tlsInputs(loaded.objects, values) });
  const e = explain(snap, {
    url: positionals[0]!,
    method: values.method as string | undefined,
    headers,
    sni: values.sni as string | undefined,
    listener: values.listener !== undefined ? parsePort('--listener', values.listener as string) : undefined,
  }, loaded.objects);
  out(e.lines.join('\n') + '\n');
  return e.routed ? 0 : 1;
}
