import { parse as parseCel } from '@marcbachmann/cel-js';
import { fieldsSet, isPlainObject, suggest, type Report } from './schema.js';
import { memoByObject } from './memo.js';
import { compileFastRule, type FastRule } from './cel-fast.js';

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

/** The order to list known field names in, where meshgate knows a friendlier one than the CRD's alphabet. */
export type FieldOrder = (path: readonly (string | number)[]) => string[] | undefined;

export const enum T {
  Any,
  Object,
  Array,
  String,
  Integer,
  Number,
  Boolean,
}
const TYPE_CODES: Record<string, T> = { object: T.Object, array: T.Array, string: T.String, integer: T.Integer, number: T.Number, boolean: T.Boolean };

/**
 * A schema node with every constraint in one fixed shape. The generated schemas are plain
 * objects of a hundred different shapes, so each of the dozen constraint lookups per value
 * missed V8's inline caches; at 30,000 VirtualServices (1.2 million values) that was most of
 * the CRD check.
 */
export class CrdNode {
  readonly intOrString: boolean;
  readonly type: T;
  readonly typeName: string | undefined;
  readonly enum: unknown[] | undefined;
  readonly minLength: number | undefined;
  readonly maxLength: number | undefined;
  readonly minimum: number | undefined;
  readonly maximum: number | undefined;
  readonly minItems: number | undefined;
  readonly maxItems: number | undefined;
  readonly maxProperties: number | undefined;
  readonly items: CrdNode | undefined;
  readonly props: Map<string, CrdNode> | undefined;
  /** Field names as the CRD lists them, for an unknown field's message. */
  readonly propNames: string[] | undefined;
  readonly extra: CrdNode | undefined;
  /** Unknown fields are let through (no properties, preserve-unknown-fields or additionalProperties: true). */
  readonly open: boolean;
  readonly required: string[] | undefined;
  readonly oneOf: CrdSchema[] | undefined;
  readonly rules: { rule: string; message?: string }[] | undefined;
  readonly listMapKeys: string[] | undefined;

  constructor(s: CrdSchema) {
    this.intOrString = s['x-kubernetes-int-or-string'] === true;
    this.type = s.type === undefined ? T.Any : (TYPE_CODES[s.type] ?? T.Any);
    this.typeName = s.type;
    this.enum = s.enum;
    this.minLength = s.minLength;
    this.maxLength = s.maxLength;
    this.minimum = s.minimum;
    this.maximum = s.maximum;
    this.minItems = s.minItems;
    this.maxItems = s.maxItems;
    this.maxProperties = s.maxProperties;
    this.items = s.items === undefined ? undefined : nodeOf(s.items);
    this.props = s.properties === undefined ? undefined : new Map(Object.entries(s.properties).map(([k, v]) => [k, nodeOf(v)]));
    this.propNames = s.properties === undefined ? undefined : Object.keys(s.properties);
    this.extra = typeof s.additionalProperties === 'object' ? nodeOf(s.additionalProperties) : undefined;
    this.open = s.properties === undefined || s['x-kubernetes-preserve-unknown-fields'] === true || s.additionalProperties === true;
    this.required = s.required !== undefined && s.required.length > 0 ? s.required : undefined;
    this.oneOf = s.oneOf;
    this.rules = s['x-kubernetes-validations'];
    this.listMapKeys = s['x-kubernetes-list-type'] === 'map' ? s['x-kubernetes-list-map-keys'] : undefined;
  }
}

const nodeOf = memoByObject((schema: CrdSchema) => new CrdNode(schema));

/** The one fixed-shape node of a CRD schema node (fused-check.ts compiles them). */
export const crdNodeOf = nodeOf;

/**
 * Checks `value` against `schema`, reporting each mistake at its path. Rules over a value
 * (CEL) run only once the value's own fields are right, as the API server does.
 */
export function validateCrd(value: unknown, schema: CrdSchema, path: (string | number)[], report: Report, order?: FieldOrder): void {
  check(value, nodeOf(schema), [...path], report, order);
}

// `path` is one array pushed and popped on the way down, copied only into a report: at 30,000
// objects a fresh path per field was much of the garbage validation made.

/** Checks one value; the number of mistakes reported at or under it. */
function check(value: unknown, node: CrdNode, path: (string | number)[], report: Report, order: FieldOrder | undefined): number {
  if (value === null || value === undefined) return 0;
  if (!checkType(value, node, path, report)) return 1;
  if (node.enum !== undefined && !node.enum.includes(value)) {
    report([...path], `${JSON.stringify(value)} is not one of ${node.enum.map(String).join(', ')}`);
    return 1;
  }
  let errors = 0;
  if (typeof value === 'string') {
    if (node.maxLength !== undefined && value.length > node.maxLength) errors += fail(report, path, `longer than ${node.maxLength} characters`);
    if (node.minLength !== undefined && value.length < node.minLength) errors += fail(report, path, `shorter than ${node.minLength} characters`);
  } else if (typeof value === 'number') {
    if (node.minimum !== undefined && value < node.minimum) errors += fail(report, path, `must be at least ${node.minimum}, got ${value}`);
    if (node.maximum !== undefined && value > node.maximum) errors += fail(report, path, `must be at most ${node.maximum}, got ${value}`);
  } else if (Array.isArray(value)) {
    if (node.minItems !== undefined && value.length < node.minItems) errors += fail(report, path, `needs at least ${node.minItems} item${node.minItems === 1 ? '' : 's'}`);
    if (node.maxItems !== undefined && value.length > node.maxItems) errors += fail(report, path, `holds more than ${node.maxItems} items`);
    const items = node.items;
    if (items !== undefined) {
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        errors += check(value[i], items, path, report, order);
        path.pop();
      }
    }
    if (node.listMapKeys !== undefined && errors === 0) errors += duplicateKeys(value, node.listMapKeys, path, report);
  } else if (isPlainObject(value)) {
    errors += checkObject(value, node, path, report, order);
  }
  if (errors === 0 && node.rules !== undefined) for (const r of node.rules) runRule(r, value, path, report);
  return errors;
}

function fail(report: Report, path: (string | number)[], message: string): number {
  report([...path], message);
  return 1;
}

function checkType(value: unknown, node: CrdNode, path: (string | number)[], report: Report): boolean {
  if (node.intOrString) {
    if (typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value))) return true;
    report([...path], `expected a number or a name, got ${describe(value)}`);
    return false;
  }
  let ok: boolean;
  switch (node.type) {
    case T.Any:
      return true;
    case T.Object:
      ok = isPlainObject(value);
      break;
    case T.Array:
      ok = Array.isArray(value);
      break;
    case T.String:
      ok = typeof value === 'string';
      break;
    case T.Boolean:
      ok = typeof value === 'boolean';
      break;
    case T.Integer:
      ok = typeof value === 'number' && Number.isInteger(value);
      break;
    default:
      ok = typeof value === 'number' && Number.isFinite(value);
  }
  if (!ok) report([...path], `expected ${TYPE_WORDS[node.typeName!] ?? node.typeName}, got ${describe(value)}`);
  return ok;
}

function checkObject(value: Record<string, unknown>, node: CrdNode, path: (string | number)[], report: Report, order: FieldOrder | undefined): number {
  const props = node.props;
  const extra = node.extra;
  let errors = 0;
  if (node.maxProperties !== undefined && Object.keys(value).length > node.maxProperties) {
    report([...path], `holds more than ${node.maxProperties} entries`);
    errors++;
  }
  for (const k in value) {
    const fieldNode = (props !== undefined ? props.get(k) : undefined) ?? extra;
    if (fieldNode !== undefined) {
      path.push(k);
      errors += check(value[k], fieldNode, path, report, order);
      path.pop();
      continue;
    }
    if (node.open) continue;
    const names = ordered(node.propNames!, order?.(path));
    const hint = suggest(k, names);
    report([...path, k], `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}; known fields here: ${names.join(', ')}`);
    errors++;
  }
  if (node.required !== undefined) {
    for (const r of node.required) {
      if (value[r] === undefined || value[r] === null) {
        report([...path, r], 'required field is missing');
        errors++;
      }
    }
  }
  if (node.oneOf !== undefined) errors += oneOf(value, node.oneOf, path, report);
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
  for (const b of branches) {
    if (b.required === undefined) continue;
    for (const n of b.required) if (value[n] !== undefined && value[n] !== null) count++;
  }
  if (count <= 1) return 0;
  report([...path], oneOfMessage(value, branches));
  return 1;
}

/**
 * Apart from oneOf: a closure over `value` there made V8 allocate oneOf's context on each of its
 * 100,000s of calls (every StringMatch), though a message is rarely written.
 */
function oneOfMessage(value: Record<string, unknown>, branches: CrdSchema[]): string {
  const names = branches.flatMap((b) => b.required ?? []);
  return `only one of ${names.join(', ')} may be set, found ${fieldsSet(value, names).join(' and ')}`;
}

/** Whether two items of a list-map list have the same keys (what duplicateKeys reports). */
export function hasDuplicateKeys(list: unknown[], keys: string[]): boolean {
  let found = false;
  duplicateKeys(list, keys, [], () => (found = true));
  return found;
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

type Evaluate = (ctx: Record<string, unknown>) => unknown;
/** A rule as cel-js evaluates it, and the fast path where one could be made (cel-fast.ts). */
type Program = { slow: Evaluate; fast: FastRule | undefined } | null;
const programs = new Map<string, Program>();

/** A CEL rule of the CRD, compiled once. A rule the evaluator cannot read is skipped, never guessed. */
function program(rule: string): Program {
  let p = programs.get(rule);
  if (p === undefined) {
    try {
      const slow = parseCel(rule) as Evaluate & { ast: unknown };
      p = { slow, fast: compileFastRule(slow.ast) };
    } catch {
      p = null;
    }
    programs.set(rule, p);
  }
  return p;
}

function runRule(r: { rule: string; message?: string }, value: unknown, path: (string | number)[], report: Report): void {
  if (!rulePasses(r.rule, value)) report([...path], r.message ?? `fails the rule ${r.rule}`);
}

function rulePasses(rule: string, value: unknown): boolean {
  return ruleOf(rule)(value);
}

const holds = new Map<string, (value: unknown) => boolean>();

/** Whether a CEL rule of the CRD holds for a value, as a function made once per rule (a rule the evaluator cannot read holds). */
export function ruleOf(rule: string): (value: unknown) => boolean {
  let f = holds.get(rule);
  if (f === undefined) {
    const p = program(rule);
    f = p === null ? () => true : ruleHolds.bind(undefined, p.fast, p.slow);
    holds.set(rule, f);
  }
  return f;
}

function ruleHolds(fast: FastRule | undefined, slow: Evaluate, value: unknown): boolean {
  try {
    return (fast !== undefined ? decide(fast, slow, value) : slow({ self: value })) === true;
  } catch {
    // The API server reports a rule that cannot be evaluated (a duration it cannot parse, ...):
    // the value is wrong in a way the rule's own message names.
    return false;
  }
}

/** The fast path's answer, or cel-js's where the fast path cannot be sure (UNDECIDED, or any slip of its own). */
function decide(fast: FastRule, slow: Evaluate, value: unknown): unknown {
  try {
    return fast(value);
  } catch {
    return slow({ self: value });
  }
}
