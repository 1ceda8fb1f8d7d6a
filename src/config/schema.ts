import { parseDuration } from './duration.js';
import type { FieldPath } from './source.js';
import { memoByObject } from './memo.js';

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
  run(value, nodeOf(schema), [...path], report, opts.overlay === true);
}

export const enum K {
  Any,
  String,
  Int,
  Number,
  Bool,
  Duration,
  IntOrString,
  Array,
  Map,
  Object,
}

type ObjectCheck = NonNullable<ObjectSchema['check']>;

/**
 * A schema node in one fixed shape. The declared schemas are object literals of a dozen shapes,
 * and looking their fields up for each of 1.2 million values (30,000 VirtualServices) missed
 * V8's inline caches; one shape keeps those lookups monomorphic.
 */
export class SchemaNode {
  readonly kind: K;
  readonly enum: readonly string[] | undefined = undefined;
  readonly stringCheck: ((v: string) => string | undefined) | undefined = undefined;
  readonly min: number | undefined = undefined;
  readonly max: number | undefined = undefined;
  readonly minMs: number | undefined = undefined;
  readonly items: SchemaNode | undefined = undefined;
  readonly minItems: number | undefined = undefined;
  readonly values: SchemaNode | undefined = undefined;
  readonly key: ((k: string) => string | undefined) | undefined = undefined;
  readonly fields: Map<string, SchemaNode> | undefined = undefined;
  readonly fieldNames: string[] | undefined = undefined;
  readonly required: readonly string[] | undefined = undefined;
  readonly oneOf: readonly (readonly string[])[] | undefined = undefined;
  readonly exactlyOne: readonly string[] | undefined = undefined;
  readonly open: boolean = false;
  readonly objectCheck: ObjectCheck | undefined = undefined;

  constructor(s: Schema) {
    switch (s.type) {
      case 'any':
        this.kind = K.Any;
        break;
      case 'string':
        this.kind = K.String;
        this.enum = s.enum;
        this.stringCheck = s.check;
        break;
      case 'int':
      case 'number':
        this.kind = s.type === 'int' ? K.Int : K.Number;
        this.min = s.min;
        this.max = s.max;
        break;
      case 'bool':
        this.kind = K.Bool;
        break;
      case 'duration':
        this.kind = K.Duration;
        this.minMs = s.minMs;
        break;
      case 'intOrString':
        this.kind = K.IntOrString;
        break;
      case 'array':
        this.kind = K.Array;
        this.items = nodeOf(s.items);
        this.minItems = s.minItems;
        break;
      case 'map':
        this.kind = K.Map;
        this.values = nodeOf(s.values);
        this.key = s.key;
        break;
      case 'object':
        this.kind = K.Object;
        this.fields = new Map(Object.entries(s.fields).map(([k, v]) => [k, nodeOf(v)]));
        this.fieldNames = Object.keys(s.fields);
        this.required = s.required;
        this.oneOf = s.oneOf;
        this.exactlyOne = s.exactlyOne;
        this.open = s.open === true;
        this.objectCheck = s.check;
        break;
    }
  }
}

const nodeOf = memoByObject((schema: Schema) => new SchemaNode(schema));

/** The one fixed-shape node of a schema (fused-check.ts compiles them). */
export const schemaNodeOf = nodeOf;

function fail(report: Report, path: (string | number)[], message: string): number {
  report([...path], message);
  return 1;
}

/** Checks one value; the number of mistakes reported. `path` is pushed and popped, copied only into a report. */
function run(value: unknown, node: SchemaNode, path: (string | number)[], report: Report, overlay: boolean): number {
  switch (node.kind) {
    case K.Any:
      return 0;
    case K.String: {
      if (typeof value !== 'string') return fail(report, path, `expected a string, got ${describe(value)}`);
      if (node.enum !== undefined && !overlay && !node.enum.includes(value)) {
        return fail(report, path, `${JSON.stringify(value)} is not one of ${node.enum.join(', ')}`);
      }
      if (node.stringCheck === undefined) return 0;
      const msg = node.stringCheck(value);
      return msg ? fail(report, path, msg) : 0;
    }
    case K.Int:
    case K.Number: {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return fail(report, path, `expected ${node.kind === K.Int ? 'an integer' : 'a number'}, got ${describe(value)}`);
      }
      if (node.kind === K.Int && !Number.isInteger(value)) return fail(report, path, `expected an integer, got ${value}`);
      if (node.min !== undefined && value < node.min) return fail(report, path, `must be at least ${node.min}, got ${value}`);
      if (node.max !== undefined && value > node.max) return fail(report, path, `must be at most ${node.max}, got ${value}`);
      return 0;
    }
    case K.Bool:
      return typeof value !== 'boolean' ? fail(report, path, `expected true or false, got ${describe(value)}`) : 0;
    case K.Duration: {
      if (typeof value !== 'string') return fail(report, path, `expected a duration such as "1.5s" or "250ms", got ${describe(value)}`);
      const ms = parseDuration(value);
      if (ms === undefined) return fail(report, path, `${JSON.stringify(value)} is not a duration: write a number with a unit (h, m, s, ms), e.g. "1.5s" or "250ms"`);
      if (node.minMs !== undefined && ms < node.minMs) return fail(report, path, `must be at least ${node.minMs}ms, got ${value}`);
      return 0;
    }
    case K.IntOrString:
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isInteger(value))) {
        return fail(report, path, `expected a port number or name, got ${describe(value)}`);
      }
      return 0;
    case K.Array: {
      if (!Array.isArray(value)) return fail(report, path, `expected a list, got ${describe(value)}`);
      if (node.minItems !== undefined && value.length < node.minItems) {
        return fail(report, path, `needs at least ${node.minItems} item${node.minItems === 1 ? '' : 's'}`);
      }
      const items = node.items!;
      let errors = 0;
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        errors += run(value[i], items, path, report, overlay);
        path.pop();
      }
      return errors;
    }
    case K.Map: {
      if (!isPlainObject(value)) return fail(report, path, `expected a map, got ${describe(value)}`);
      const values = node.values!;
      let errors = 0;
      for (const k in value) {
        path.push(k);
        const msg = node.key?.(k);
        if (msg) errors += fail(report, path, msg);
        errors += run(value[k], values, path, report, overlay);
        path.pop();
      }
      return errors;
    }
    case K.Object:
      return runObject(value, node, path, report, overlay);
  }
}

function runObject(value: unknown, node: SchemaNode, path: (string | number)[], report: Report, overlay: boolean): number {
  if (!isPlainObject(value)) return fail(report, path, `expected a map, got ${describe(value)}`);
  const fields = node.fields!;
  let errors = 0;
  for (const k in value) {
    const fieldNode = fields.get(k);
    if (fieldNode === undefined) {
      if (node.open || overlay) continue;
      const names = node.fieldNames!;
      const hint = suggest(k, names);
      errors += fail(report, [...path, k], `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}; known fields here: ${names.join(', ')}`);
      continue;
    }
    const v = value[k];
    if (v === null || v === undefined) continue;
    path.push(k);
    errors += run(v, fieldNode, path, report, overlay);
    path.pop();
  }
  if (node.required !== undefined) {
    for (const r of node.required) {
      const v = value[r];
      if (v === undefined || v === null || v === '') errors += fail(report, [...path, r], 'required field is missing');
    }
  }
  // Counted first: the list of set fields is made only for a message (StringMatch has a oneof,
  // and 100,000s of them are checked).
  if (node.oneOf !== undefined) {
    for (const group of node.oneOf) {
      if (countSet(value, group) < 2) continue;
      errors += fail(report, path, `only one of ${group.join(', ')} may be set, found ${fieldsSet(value, group).join(' and ')}`);
    }
  }
  const exactlyOne = node.exactlyOne;
  if (exactlyOne !== undefined && countSet(value, exactlyOne) !== 1) {
    const set = fieldsSet(value, exactlyOne);
    errors += fail(report, path, set.length === 0 ? `one of ${exactlyOne.join(', ')} must be set` : `only one of ${exactlyOne.join(', ')} may be set, found ${set.join(' and ')}`);
  }
  if (errors === 0 && node.objectCheck !== undefined) {
    const r = node.objectCheck(value);
    if (r) {
      report(r.field ? [...path, r.field] : [...path], r.message);
      errors++;
    }
  }
  return errors;
}

/**
 * The fields of the group that are set, for a message. Not an inline filter in runObject: a
 * closure over `value` there made V8 allocate runObject's context on every call, for each of
 * the 800,000 objects of 30,000 VirtualServices (most of the garbage this check made).
 */
export function fieldsSet(value: Record<string, unknown>, group: readonly string[]): string[] {
  return group.filter((g) => value[g] !== undefined && value[g] !== null);
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
