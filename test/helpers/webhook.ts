import { expect } from 'vitest';
import { validateCrd } from '../../src/config/crd.js';
import { CRD_SPECS } from '../../src/config/crd-schema.gen.js';
import type { SpecPath, WebhookContext, WebhookFinding } from '../../src/config/webhook/types.js';

// What the webhook rule tables share: the object's identity, the CRD schema's own verdict, and
// the two ways the tables state what Istio finds.

export const webhookContext = (over: Partial<WebhookContext> = {}): WebhookContext => ({ name: 'foo', namespace: 'bar', labels: {}, annotations: {}, ...over });

/** The CRD schema's errors for a spec of this kind (networking.istio.io/v1), as `path: message`. */
export function crdErrorsFor(kind: string): (spec: Record<string, unknown>) => string[] {
  const schema = CRD_SPECS[kind]!.find((s) => s.versions.includes('networking.istio.io/v1'))!.spec;
  return (spec) => {
    const out: string[] = [];
    validateCrd(spec, schema, [], (p, m) => out.push(`${p.join('.')}: ${m}`));
    return out;
  };
}

function describeAll(found: readonly WebhookFinding[]): string {
  return found.map((f) => `${f.severity} ${JSON.stringify(f.path)} ${f.message}`).join('\n') || '(nothing)';
}

/**
 * Tables that give Istio's text: no error (and no warning) unless expected; an expected one has
 * the text (`true`: any) at the path.
 */
export function expectFindings(found: readonly WebhookFinding[], c: { error?: string | true; errorAt?: SpecPath; warning?: string | true; warningAt?: SpecPath }): void {
  for (const severity of ['error', 'warning'] as const) {
    const want = severity === 'error' ? c.error : c.warning;
    const at = severity === 'error' ? c.errorAt : c.warningAt;
    const mine = found.filter((f) => f.severity === severity);
    if (want === undefined) {
      expect(mine, describeAll(found)).toEqual([]);
      continue;
    }
    const hit = mine.find((f) => want === true || f.message.includes(want));
    expect(hit, describeAll(found)).toBeDefined();
    expect(hit!.path, describeAll(found)).toEqual(at);
  }
}

const samePath = (a: SpecPath, b: SpecPath) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Tables that give Istio's paths: an error exactly where it says (with `msg` in its text) or
 * none, a warning likewise (with `warnMsg`).
 */
export function expectVerdict(findings: readonly WebhookFinding[], c: { err?: SpecPath; msg?: string; warn?: SpecPath; warnMsg?: string }): void {
  const errors = findings.filter((f) => f.severity === 'error');
  const warnings = findings.filter((f) => f.severity === 'warning');
  if (c.err === undefined) {
    expect(errors).toEqual([]);
  } else {
    const at = errors.filter((e) => samePath(e.path, c.err!));
    expect(at, `an error at ${JSON.stringify(c.err)}, got ${JSON.stringify(errors)}`).not.toEqual([]);
    if (c.msg !== undefined) expect(at.map((e) => e.message).join('\n')).toContain(c.msg);
  }
  if (c.warn === undefined) {
    expect(warnings).toEqual([]);
  } else {
    const at = warnings.filter((w) => samePath(w.path, c.warn!));
    expect(at, `a warning at ${JSON.stringify(c.warn)}, got ${JSON.stringify(warnings)}`).not.toEqual([]);
    if (c.warnMsg !== undefined) expect(at.map((w) => w.message).join('\n')).toContain(c.warnMsg);
  }
}
