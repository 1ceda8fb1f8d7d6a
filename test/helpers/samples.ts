import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Istio's own sample YAML, byte for byte (see test/fixtures/istio-samples/README.md). */
export const SAMPLES = path.resolve(import.meta.dirname, '../fixtures/istio-samples');

export function sample(rel: string): string {
  return readFileSync(path.join(SAMPLES, rel), 'utf8');
}

/** WorkloadEntries standing in for pods: labels as the sample Deployments set them, address on loopback. */
export function workloadEntry(name: string, labels: Record<string, string>, port: number, namespace = 'default', portName = 'http'): string {
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  address: 127.0.0.1
  ports: {${portName}: ${port}}
  labels: {${Object.entries(labels).map(([k, v]) => `${k}: ${v}`).join(', ')}}
---
`;
}
