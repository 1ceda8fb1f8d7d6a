import { parseDuration } from './duration.js';
import type { FieldPath } from './source.js';

/**
 * A small declarative schema, enough to describe the Istio and Kubernetes kinds we read and to
 * report every mistake with its field path and what was expected. Istio's own CRDs reject
 * unknown fields (kubectl's strict validation), so closed objects do too, with a suggestion.
 */
export type Schema =
  | { type: 'string'; enum?: readonly string[]; check?: (v: string) => string | undefined }
  | { type: 'int'; min?: number; max?: number }
  | { type: 'number'; min?: number; max?: number }
  | { type: 'bool' }
  | { type: 'duration'; minMs?: number }
  | { type: 'intOrString' }
  | { type: 'array'; items: Schema; minItems?: number }
  | { type: 'map'; values: Schema; key?: (k: string) => string | undefined }
  | ObjectSchema
  | { type: 'any' };

export interface ObjectSchema {
  type: 'object';
  fields: Record<string, Schema>;
  required?: readonly string[];
  /** At most one of these may be set (protobuf `oneof`). */
  oneOf?: readonly (readonly string[])[];
  /** Exactly one of these must be set. */
  exactlyOne?: readonly string[];
  /** Accept fields not listed (Kubernetes kinds carry many we do not read). */
  open?: boolean;
  /** Extra rule over the whole object once its fields are valid. */
  check?: (v: Record<string, unknown>) => { field?: string; message: string } | undefined;
}

export type Report = (path: FieldPath, message: string) => void;

export const S = {
  str: (opts: { enum?: readonly string[]; check?: (v: string) => string | undefined } = {}): Schema => ({ type: 'string', ...opts }),
  int: (min?: number, max?: number): Schema => ({ type: 'int', min, max }),
  num: (min?: number, max?: number): Schema => ({ type: 'number', min, max }),
  bool: (): Schema => ({ type: 'bool' }),
  duration: (minMs?: number): Schema => ({ type: 'duration', minMs }),
  intOrString: (): Schema => ({ type: 'intOrString' }),
  arr: (items: Schema, minItems?: number): Schema => ({ type: 'array', items, minItems }),
  map: (values: Schema, key?: (k: string) => string | undefined): Schema => ({ type: 'map', values, key }),
  obj: (fields: Record<string, Schema>, extra: Omit<ObjectSchema, 'type' | 'fields'> = {}): ObjectSchema => ({ type: 'object', fields, ...extra }),
  any: (): Schema => ({ type: 'any' }),
};

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${String(v)}`;
}

/**
 * `overlay`: field names and enums are checked against Istio's CRDs instead: only meshgate's own
 * checks run (required fields, oneofs, regexes, hosts, durations, header text).
 */
export interface ValidateOptions {
  overlay?: boolean;
}

export function validate(value: unknown, schema: Schema, path: (string | number)[], report: Report, opts: ValidateOptions = {}): void {
  run(value, schema, [...path], report, opts);
}

function fail(report: Report, path: (string | number)[], message: string): number {
  report([...path], message);
  return 1;
}

/** Checks one value; the number of mistakes reported. `path` is pushed and popped, copied only into a report. */
function run(value: unknown, schema: Schema, path: (string | number)[], report: Report, opts: ValidateOptions): number {
  switch (schema.type) {
    case 'any':
      return 0;
    case 'string': {
      if (typeof value !== 'string') return fail(report, path, `expected a string, got ${describe(value)}`);
      if (schema.enum && !opts.overlay && !schema.enum.includes(value)) {
        return fail(report, path, `${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`);
      }
      const msg = schema.check?.(value);
      return msg ? fail(report, path, msg) : 0;
    }
    case 'int':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return fail(report, path, `expected ${schema.type === 'int' ? 'an integer' : 'a number'}, got ${describe(value)}`);
      }
      if (schema.type === 'int' && !Number.isInteger(value)) return fail(report, path, `expected an integer, got ${value}`);
      if (schema.min !== undefined && value < schema.min) return fail(report, path, `must be at least ${schema.min}, got ${value}`);
      if (schema.max !== undefined && value > schema.max) return fail(report, path, `must be at most ${schema.max}, got ${value}`);
      return 0;
    }
    case 'bool':
      return typeof value !== 'boolean' ? fail(report, path, `expected true or false, got ${describe(value)}`) : 0;
    case 'duration': {
      if (typeof value !== 'string') return fail(report, path, `expected a duration such as "1.5s" or "250ms", got ${describe(value)}`);
      const ms = parseDuration(value);
      if (ms === undefined) return fail(report, path, `${JSON.stringify(value)} is not a duration: write a number with a unit (h, m, s, ms), e.g. "1.5s" or "250ms"`);
      if (schema.minMs !== undefined && ms < schema.minMs) return fail(report, path, `must be at least ${schema.minMs}ms, got ${value}`);
      return 0;
    }
    case 'intOrString':
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) {
        return fail(report, path, `expected a port number or name, got ${describe(value)}`);
      }
      return 0;
    case 'array': {
      if (!Array.isArray(value)) return fail(report, path, `expected a list, got ${describe(value)}`);
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        return fail(report, path, `needs at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
      }
      let errors = 0;
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        errors += run(value[i], schema.items, path, report, opts);
        path.pop();
      }
      return errors;
    }
    case 'map': {
      if (!isPlainObject(value)) return fail(report, path, `expected a map, got ${describe(value)}`);
      let errors = 0;
      for (const k in value) {
        path.push(k);
        const msg = schema.key?.(k);
        if (msg) errors += fail(report, path, msg);
        errors += run(value[k], schema.values, path, report, opts);
        path.pop();
      }
      return errors;
    }
    case 'object':
      return runObject(value, schema, path, report, opts);
  }
}

function runObject(value: unknown, schema: ObjectSchema, path: (string | number)[], report: Report, opts: ValidateOptions): number {
  if (!isPlainObject(value)) return fail(report, path, `expected a map, got ${describe(value)}`);
  let errors = 0;
  for (const k in value) {
    const fieldSchema = Object.prototype.hasOwnProperty.call(schema.fields, k) ? schema.fields[k] : undefined;
    if (!fieldSchema) {
      if (schema.open || opts.overlay) continue;
      const names = Object.keys(schema.fields);
      const hint = suggest(k, names);
      errors += fail(report, [...path, k], `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}; known fields here: ${names.join(', ')}`);
      continue;
    }
    const v = value[k];
    if (v === null || v === undefined) continue;
    path.push(k);
    errors += run(v, fieldSchema, path, report, opts);
    path.pop();
  }
  if (schema.required !== undefined) {
    for (const r of schema.required) {
      const v = value[r];
      if (v === undefined || v === null || v === '') errors += fail(report, [...path, r], 'required field is missing');
    }
  }
  // Counted first: the list of set fields is made only for a message (StringMatch has a oneof,
  // and 100,000s of them are checked).
  if (schema.oneOf !== undefined) {
    for (const group of schema.oneOf) {
      if (countSet(value, group) < 2) continue;
      const set = group.filter((g) => value[g] !== undefined && value[g] !== null);
      errors += fail(report, path, `only one of ${group.join(', ')} may be set, found ${set.join(' and ')}`);
    }
  }
  if (schema.exactlyOne && countSet(value, schema.exactlyOne) !== 1) {
    const set = schema.exactlyOne.filter((g) => value[g] !== undefined && value[g] !== null);
    errors += fail(report, path, set.length === 0 ? `one of ${schema.exactlyOne.join(', ')} must be set` : `only one of ${schema.exactlyOne.join(', ')} may be set, found ${set.join(' and ')}`);
  }
  if (errors === 0 && schema.check) {
    const r = schema.check(value);
    if (r) {
      report(r.field ? [...path, r.field] : [...path], r.message);
      errors++;
    }
  }
  return errors;
}

function countSet(value: Record<string, unknown>, fields: readonly string[]): number {
  let n = 0;
  for (const f of fields) if (value[f] !== undefined && value[f] !== null) n++;
  return n;
}

/** The field names a schema declares at `path` (list indexes and map keys walk through), in its order. */
export function fieldsAt(schema: Schema, path: readonly (string | number)[]): string[] | undefined {
  let s: Schema | undefined = schema;
  for (const step of path) {
    if (s === undefined) return undefined;
    if (s.type === 'array') s = typeof step === 'number' ? s.items : undefined;
    else if (s.type === 'map') s = s.values;
    else if (s.type === 'object') s = s.fields[String(step)];
    else return undefined;
  }
  return s?.type === 'object' ? Object.keys(s.fields) : undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The closest known name to a misspelt one, when it is close enough to be a likely typo. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    if (c.toLowerCase() === lower) return c;
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  const camel = word.replace(/[_-](\w)/g, (_, ch: string) => ch.toUpperCase());
  if (candidates.includes(camel)) return camel;
  return bestDist <= Math.max(1, Math.floor(word.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
