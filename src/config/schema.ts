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
  switch (schema.type) {
    case 'any':
      return;
    case 'string': {
      if (typeof value !== 'string') return report(path, `expected a string, got ${describe(value)}`);
      if (schema.enum && !opts.overlay && !schema.enum.includes(value)) {
        return report(path, `${JSON.stringify(value)} is not one of ${schema.enum.join(', ')}`);
      }
      const msg = schema.check?.(value);
      if (msg) report(path, msg);
      return;
    }
    case 'int':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return report(path, `expected ${schema.type === 'int' ? 'an integer' : 'a number'}, got ${describe(value)}`);
      }
      if (schema.type === 'int' && !Number.isInteger(value)) return report(path, `expected an integer, got ${value}`);
      if (schema.min !== undefined && value < schema.min) return report(path, `must be at least ${schema.min}, got ${value}`);
      if (schema.max !== undefined && value > schema.max) return report(path, `must be at most ${schema.max}, got ${value}`);
      return;
    }
    case 'bool':
      if (typeof value !== 'boolean') report(path, `expected true or false, got ${describe(value)}`);
      return;
    case 'duration': {
      if (typeof value !== 'string') return report(path, `expected a duration such as "1.5s" or "250ms", got ${describe(value)}`);
      const ms = parseDuration(value);
      if (ms === undefined) return report(path, `${JSON.stringify(value)} is not a duration: write a number with a unit (h, m, s, ms), e.g. "1.5s" or "250ms"`);
      if (schema.minMs !== undefined && ms < schema.minMs) report(path, `must be at least ${schema.minMs}ms, got ${value}`);
      return;
    }
    case 'intOrString':
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) {
        report(path, `expected a port number or name, got ${describe(value)}`);
      }
      return;
    case 'array': {
      if (!Array.isArray(value)) return report(path, `expected a list, got ${describe(value)}`);
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        return report(path, `needs at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
      }
      value.forEach((item, i) => validate(item, schema.items, [...path, i], report, opts));
      return;
    }
    case 'map': {
      if (!isPlainObject(value)) return report(path, `expected a map, got ${describe(value)}`);
      for (const [k, v] of Object.entries(value)) {
        const msg = schema.key?.(k);
        if (msg) report([...path, k], msg);
        validate(v, schema.values, [...path, k], report, opts);
      }
      return;
    }
    case 'object':
      return validateObject(value, schema, path, report, opts);
  }
}

function validateObject(value: unknown, schema: ObjectSchema, path: (string | number)[], report: Report, opts: ValidateOptions): void {
  if (!isPlainObject(value)) return report(path, `expected a map, got ${describe(value)}`);
  const names = Object.keys(schema.fields);
  let errors = 0;
  const counting: Report = (p, m) => {
    errors++;
    report(p, m);
  };
  for (const [k, v] of Object.entries(value)) {
    const fieldSchema = schema.fields[k];
    if (!fieldSchema) {
      if (schema.open || opts.overlay) continue;
      const hint = suggest(k, names);
      counting([...path, k], `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}; known fields here: ${names.join(', ')}`);
      continue;
    }
    if (v === null || v === undefined) continue;
    validate(v, fieldSchema, [...path, k], counting, opts);
  }
  for (const r of schema.required ?? []) {
    const v = value[r];
    if (v === undefined || v === null || v === '') counting([...path, r], 'required field is missing');
  }
  for (const group of schema.oneOf ?? []) {
    const set = group.filter((g) => value[g] !== undefined && value[g] !== null);
    if (set.length > 1) counting(path, `only one of ${group.join(', ')} may be set, found ${set.join(' and ')}`);
  }
  if (schema.exactlyOne) {
    const set = schema.exactlyOne.filter((g) => value[g] !== undefined && value[g] !== null);
    if (set.length !== 1) {
      counting(path, set.length === 0 ? `one of ${schema.exactlyOne.join(', ')} must be set` : `only one of ${schema.exactlyOne.join(', ')} may be set, found ${set.join(' and ')}`);
    }
  }
  if (errors === 0 && schema.check) {
    const r = schema.check(value);
    if (r) report(r.field ? [...path, r.field] : path, r.message);
  }
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
