import { parse as parseCel } from '@marcbachmann/cel-js';
import { isPlainObject, suggest, type Report } from './schema.js';

/**
 * The part of an OpenAPI v3 schema (as Kubernetes CRDs write it) that constrains a value. The
 * tables come from Istio's CRDs (crd-schema.gen.ts); this checks a value against them as the
 * Kubernetes API server would before Istio's webhook sees it, in meshgate's words.
 */
export interface CrdSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, CrdSchema>;
  additionalProperties?: CrdSchema | boolean;
  items?: CrdSchema;
  required?: string[];
  enum?: unknown[];
  format?: string;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxProperties?: number;
  oneOf?: CrdSchema[];
  anyOf?: CrdSchema[];
  allOf?: CrdSchema[];
  not?: CrdSchema;
  nullable?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

const TYPE_WORDS: Record<string, string> = { object: 'a map', array: 'a list', string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false' };

/**
 * Checks `value` against `schema`, reporting each mistake at its path. Rules over a value
 * (CEL) run only once the value's own fields are right, as the API server does.
 */
/** The order to list known field names in, where meshgate knows a friendlier one than the CRD's alphabet. */
export type FieldOrder = (path: readonly (string | number)[]) => string[] | undefined;

export function validateCrd(value: unknown, schema: CrdSchema, path: (string | number)[], report: Report, order?: FieldOrder): void {
  check(value, schema, [...path], report, order);
}

// `path` is one array pushed and popped on the way down, copied only into a report: at 30,000
// objects a fresh path per field was much of the garbage validation made.

/** Checks one value; the number of mistakes reported at or under it. */
function check(value: unknown, schema: CrdSchema, path: (string | number)[], report: Report, order: FieldOrder | undefined): number {
  if (value === null || value === undefined) return 0;
  if (!checkType(value, schema, path, report)) return 1;
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    report([...path], `${JSON.stringify(value)} is not one of ${schema.enum.map(String).join(', ')}`);
    return 1;
  }
  let errors = 0;
  if (typeof value === 'string') {
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors += fail(report, path, `longer than ${schema.maxLength} characters`);
    if (schema.minLength !== undefined && value.length < schema.minLength) errors += fail(report, path, `shorter than ${schema.minLength} characters`);
  } else if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors += fail(report, path, `must be at least ${schema.minimum}, got ${value}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors += fail(report, path, `must be at most ${schema.maximum}, got ${value}`);
  } else if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors += fail(report, path, `needs at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors += fail(report, path, `holds more than ${schema.maxItems} items`);
    const items = schema.items;
    if (items !== undefined) {
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        errors += check(value[i], items, path, report, order);
        path.pop();
      }
    }
    const keys = schema['x-kubernetes-list-map-keys'];
    if (schema['x-kubernetes-list-type'] === 'map' && keys !== undefined && errors === 0) errors += duplicateKeys(value, keys, path, report);
  } else if (isPlainObject(value)) {
    errors += checkObject(value, schema, path, report, order);
  }
  if (errors === 0 && schema['x-kubernetes-validations'] !== undefined) for (const r of schema['x-kubernetes-validations']) runRule(r, value, path, report);
  return errors;
}

function fail(report: Report, path: (string | number)[], message: string): number {
  report([...path], message);
  return 1;
}

function checkType(value: unknown, schema: CrdSchema, path: (string | number)[], report: Report): boolean {
  if (schema['x-kubernetes-int-or-string']) {
    if (typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value))) return true;
    report([...path], `expected a number or a name, got ${describe(value)}`);
    return false;
  }
  const t = schema.type;
  if (t === undefined) return true;
  const ok =
    t === 'object' ? isPlainObject(value) : t === 'array' ? Array.isArray(value) : t === 'string' ? typeof value === 'string' : t === 'boolean' ? typeof value === 'boolean' : t === 'integer' ? typeof value === 'number' && Number.isInteger(value) : typeof value === 'number' && Number.isFinite(value);
  if (!ok) report([...path], `expected ${TYPE_WORDS[t] ?? t}, got ${describe(value)}`);
  return ok;
}

function checkObject(value: Record<string, unknown>, schema: CrdSchema, path: (string | number)[], report: Report, order: FieldOrder | undefined): number {
  const props = schema.properties;
  const extra = schema.additionalProperties;
  let errors = 0;
  if (schema.maxProperties !== undefined && Object.keys(value).length > schema.maxProperties) {
    report([...path], `holds more than ${schema.maxProperties} entries`);
    errors++;
  }
  for (const k in value) {
    const fieldSchema = (props !== undefined && Object.prototype.hasOwnProperty.call(props, k) ? props[k] : undefined) ?? (typeof extra === 'object' ? extra : undefined);
    if (fieldSchema !== undefined) {
      path.push(k);
      errors += check(value[k], fieldSchema, path, report, order);
      path.pop();
      continue;
    }
    if (props === undefined || schema['x-kubernetes-preserve-unknown-fields'] || extra === true) continue;
    const names = ordered(Object.keys(props), order?.(path));
    const hint = suggest(k, names);
    report([...path, k], `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}; known fields here: ${names.join(', ')}`);
    errors++;
  }
  for (const r of schema.required ?? []) {
    if (value[r] === undefined || value[r] === null) {
      report([...path, r], 'required field is missing');
      errors++;
    }
  }
  if (schema.oneOf !== undefined) errors += oneOf(value, schema.oneOf, path, report);
  return errors;
}

function ordered(names: string[], preferred: string[] | undefined): string[] {
  if (preferred === undefined) return names;
  const rank = (n: string) => {
    const i = preferred.indexOf(n);
    return i < 0 ? preferred.length : i;
  };
  return [...names].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Protobuf oneofs, as the CRDs write them: at most one of the named fields. */
function oneOf(value: Record<string, unknown>, branches: CrdSchema[], path: (string | number)[], report: Report): number {
  let count = 0;
  for (const b of branches) for (const n of b.required ?? []) if (value[n] !== undefined && value[n] !== null) count++;
  if (count <= 1) return 0;
  const names = branches.flatMap((b) => b.required ?? []);
  const set = names.filter((n) => value[n] !== undefined && value[n] !== null);
  report([...path], `only one of ${names.join(', ')} may be set, found ${set.join(' and ')}`);
  return 1;
}

function duplicateKeys(list: unknown[], keys: string[], path: (string | number)[], report: Report): number {
  const seen = new Map<string, number>();
  let errors = 0;
  list.forEach((item, i) => {
    if (!isPlainObject(item)) return;
    const key = keys.map((k) => JSON.stringify(item[k] ?? null)).join('/');
    const first = seen.get(key);
    if (first !== undefined) {
      report([...path, i, ...keys.slice(0, 1)], `duplicate ${keys.join('/')} ${keys.map((k) => JSON.stringify(item[k])).join('/')}: item ${first} has it already`);
      errors++;
    } else seen.set(key, i);
  });
  return errors;
}

type Program = ((ctx: Record<string, unknown>) => unknown) | null;
const programs = new Map<string, Program>();

/** A CEL rule of the CRD, compiled once. A rule the evaluator cannot read is skipped, never guessed. */
function program(rule: string): Program {
  let p = programs.get(rule);
  if (p === undefined) {
    try {
      p = parseCel(rule) as Program;
    } catch {
      p = null;
    }
    programs.set(rule, p);
  }
  return p;
}

function runRule(r: { rule: string; message?: string }, value: unknown, path: (string | number)[], report: Report): void {
  const p = program(r.rule);
  if (p === null) return;
  let ok: unknown;
  try {
    ok = p({ self: value });
  } catch {
    // The API server reports a rule that cannot be evaluated (a duration it cannot parse, ...):
    // the value is wrong in a way the rule's own message names.
    ok = false;
  }
  if (ok !== true) report([...path], r.message ?? `fails the rule ${r.rule}`);
}
