// Istio's admission webhook for the networking kinds meshgate reads: run after the CRD schema
// has passed, as the API server runs the webhook after its own schema check.
import { validateMetadata } from './common.js';
import { checkDestinationRule } from './destinationrule.js';
import { checkGateway } from './gateway.js';
import { checkServiceEntry } from './serviceentry.js';
import { checkSidecar } from './sidecar.js';
import type { WebhookContext, WebhookFinding } from './types.js';
import { checkVirtualService } from './virtualservice.js';
import { checkWorkloadEntry } from './workloadentry.js';

export type { WebhookContext, WebhookFinding } from './types.js';

const CHECKS: Record<string, (spec: Record<string, unknown>, ctx: WebhookContext) => WebhookFinding[]> = {
  Gateway: checkGateway,
  VirtualService: checkVirtualService,
  DestinationRule: checkDestinationRule,
  ServiceEntry: checkServiceEntry,
  Sidecar: checkSidecar,
  WorkloadEntry: checkWorkloadEntry,
};

/** What Istio's webhook says about one object's spec; nothing for kinds it does not check. */
export function webhookCheck(kind: string, spec: Record<string, unknown>, ctx: WebhookContext): WebhookFinding[] {
  const check = CHECKS[kind];
  if (!check) return [];
  // Istio checks the annotations first, for every kind, and stops there when they are refused.
  const metadata = validateMetadata(ctx);
  if (metadata.length > 0) return metadata.map((message) => ({ severity: 'error', path: ['annotations'], message, inMetadata: true }));
  return check(spec, ctx);
}
