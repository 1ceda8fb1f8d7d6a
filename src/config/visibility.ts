// Istio's exportTo (pkg/config/visibility): which namespaces' proxies see an object. A gateway
// proxy sees what is exported to the namespace it runs in.
import type { ConfigObject } from './types.js';

/** Istio's root config namespace: objects there apply mesh-wide as a fallback. */
export const ROOT_NAMESPACE = 'istio-system';

/** The Kubernetes Service annotation that stands for exportTo. */
export const EXPORT_TO_ANNOTATION = 'networking.istio.io/exportTo';

/**
 * Whether an object in `ownNamespace` with this exportTo list is visible to proxies in
 * `consumerNamespace`. No list means everywhere (Istio's default export policy); `.` is its own
 * namespace, `*` everywhere, `~` nowhere.
 */
export function isExportedTo(exportTo: readonly string[] | undefined, ownNamespace: string, consumerNamespace: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  for (const e of exportTo) {
    if (e === '*' || e === consumerNamespace || (e === '.' && ownNamespace === consumerNamespace)) return true;
  }
  return false;
}

/** An object's exportTo: `spec.exportTo` for Istio kinds, the annotation for a Service. */
export function exportToOf(obj: ConfigObject): readonly string[] | undefined {
  if (obj.kind === 'Service') {
    const a = obj.annotations?.[EXPORT_TO_ANNOTATION];
    return a === undefined ? undefined : a.split(',').map((s) => s.trim()).filter((s) => s !== '');
  }
  const list = (obj.spec as { exportTo?: unknown } | null)?.exportTo;
  return Array.isArray(list) ? (list as string[]) : undefined;
}

/** Whether only proxies in the object's own namespace see it (`exportTo: ["."]` or its own name). */
export function isNamespacePrivate(exportTo: readonly string[] | undefined, ownNamespace: string): boolean {
  return !!exportTo && exportTo.length > 0 && exportTo.every((e) => e === '.' || e === ownNamespace);
}
