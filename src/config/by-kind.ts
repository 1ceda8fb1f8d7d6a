import type { ConfigObject } from './types.js';

// A compile asks for the objects of one kind a dozen times (VirtualServices, Gateways, rules,
// Services, ServiceEntries, endpoints...). Each ask used to filter all of them: 30,000 objects
// a dozen times over on every reload, before the JIT has compiled those loops on the first.

/** The objects of a config by kind, each list in config order; made once per compile. */
export type ObjectsByKind = ReadonlyMap<string, readonly ConfigObject[]>;

const NONE: readonly ConfigObject[] = Object.freeze([]);

export function groupByKind(objects: readonly ConfigObject[]): ObjectsByKind {
  const kinds = new Map<string, ConfigObject[]>();
  for (const o of objects) {
    const list = kinds.get(o.kind);
    if (list === undefined) kinds.set(o.kind, [o]);
    else list.push(o);
  }
  return kinds;
}

/** The objects of one kind. Read-only: the list is shared. */
export function ofKind<T = unknown>(kinds: ObjectsByKind, kind: string): readonly ConfigObject<T>[] {
  return (kinds.get(kind) ?? NONE) as readonly ConfigObject<T>[];
}
