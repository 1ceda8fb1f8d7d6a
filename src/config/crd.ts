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
  if (value === null || value === undefined) return;
  let errors = 0;
  const counting: Report = (p, m) => {
    errors++;
    report(p, m);
  };
  if (!checkType(value, schema, path, counting)) return;
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    return counting(path, `${JSON.stringify(value)} is not one of ${schema.enum.map(String).join(', ')}`);
  }
  if (typeof value === 'string') {
    if (schema.maxLength !== undefined && value.length > schema.maxLength) counting(path, `longer than ${schema.maxLength} characters`);
    if (schema.minLength !== undefined && value.length < schema.minLength) counting(path, `shorter than ${schema.minLength} characters`);
  } else if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) counting(path, `must be at least ${schema.minimum}, got ${value}`);
    if (schema.maximum !== undefined && value > schema.maximum) counting(path, `must be at most ${schema.maximum}, got ${value}`);
  } else if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) counting(path, `needs at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) counting(path, `holds more than ${schema.maxItems} items`);
    if (schema.items !== undefined) value.forEach((item, i) => validateCrd(item, schema.items!, [...path, i], counting, order));
    const keys = schema['x-kubernetes-list-map-keys'];
    if (schema['x-kubernetes-list-type'] === 'map' && keys !== undefined && errors === 0) duplicateKeys(value, keys, path, counting);
  } else if (isPlainObject(value)) {
    checkObject(value, schema, path, counting, order);
  }
  if (errors === 0) for (const r of schema['x-kubernetes-validations'] ?? []) runRule(r, value, path, report);
}

function checkType(value: unknown, schema: CrdSchema, path: (string | number)[], report: Report): boolean {
  if (schema['x-kubernetes-int-or-string']) {
    if (typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value))) return true;
    report(path, `expected a number or a name, got ${describe(value)}`);
    return false;
  }
  const t = schema.type;
  if (t === undefined) return true;
  const ok =
    t === 'object' ? isPlainObject(value) : t === 'array' ? Array.isArray(value) : t === 'string' ? typeof value === 'string' : t === 'boolean' ? typeof value === 'boolean' : t === 'integer' ? typeof value === 'number' && Number.isInteger(value) : typeof value === 'number' && Number.isFinite(value);
  if (!ok) report(path, `expected ${TYPE_WORDS[t] ?? t}, got ${describe(value)}`);
  return ok;
}

function checkObject(value: Record<string, unknown>, schema: CrdSchema, path: (string | number)[], report: Report, order: FieldOrder | undefined): void {
  const props = schema.properties;
  const extra = schema.additionalProperties;
  if (schema.maxProperties !== undefined && Object.keys(value).length > schema.maxProperties) report(path, `holds more than ${schema.maxProperties} entries`);
  for (const [k, v] of Object.entries(value)) {
    const fieldSchema = props?.[k];
    if (fieldSchema !== undefined) {
      validateCrd(v, fieldSchema, [...path, k], report, order);
      continue;
    }
    if (typeof extra === 'object') {
      validateCrd(v, extra, [...path, k], report, order);
      continue;
    }
    if (props === undefined || schema['x-kubernetes-preserve-unknown-fields'] || extra === true) continue;
    const names = ordered(Object.keys(props), order?.(path));
    const hint = suggest(k, names);
    report([...path, k], `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}; known fields here: ${names.join(', ')}`);
  }
  for (const r of schema.required ?? []) {
    if (value[r] === undefined || value[r] === null) report([...path, r], 'required field is missing');
  }
  if (schema.oneOf !== undefined) oneOf(value, schema.oneOf, path, report);
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
function oneOf(value: Record<string, unknown>, branches: CrdSchema[], path: (string | number)[], report: Report): void {
  const names = branches.flatMap((b) => b.required ?? []);
  const set = names.filter((n) => value[n] !== undefined && value[n] !== null);
  if (set.length > 1) report(path, `only one of ${names.join(', ')} may be set, found ${set.join(' and ')}`);
}

function duplicateKeys(list: unknown[], keys: string[], path: (string | number)[], report: Report): void {
  const seen = new Map<string, number>();
  list.forEach((item, i) => {
    if (!isPlainObject(item)) return;
    const key = keys.map((k) => JSON.stringify(item[k] ?? null)).join('/');
    const first = seen.get(key);
    if (first !== undefined) report([...path, i, ...keys.slice(0, 1)], `duplicate ${keys.join('/')} ${keys.map((k) => JSON.stringify(item[k])).join('/')}: item ${first} has it already`);
    else seen.set(key, i);
  });
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
  if (ok !== true) report(path, r.message ?? `fails the rule ${r.rule}`);
}
