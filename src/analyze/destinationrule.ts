// DestinationRule analyzer: TLS origination without a CA to verify the server (IST0128, IST0129).
import { arr, at, fullName, num, obj, specOf, str, type Context } from './common.js';

const VERIFYING_MODES = new Set(['SIMPLE', 'MUTUAL']);

/** Whether client TLS settings need a caCertificates and have none. */
function lacksCa(tls: Record<string, unknown> | undefined, hasWorkloadSelector: boolean): string | undefined {
  const mode = str(tls?.mode);
  if (!tls || !VERIFYING_MODES.has(mode)) return undefined;
  if (str(tls.caCertificates) !== '') return undefined;
  if (str(tls.credentialName) !== '' && hasWorkloadSelector) return undefined;
  return mode;
}

export function analyzeCaCertificates(ctx: Context): void {
  for (const dr of ctx.ofKind('DestinationRule')) {
    const spec = specOf(dr);
    const host = str(spec.host);
    const hasSelector = obj(spec.workloadSelector) !== undefined;
    const policy = obj(spec.trafficPolicy);
    const mode = lacksCa(obj(policy?.tls), hasSelector);
    if (mode) {
      ctx.report(
        'IST0128',
        dr,
        at(dr, 'trafficPolicy', 'tls', 'mode'),
        `DestinationRule ${fullName(dr)} in namespace ${dr.namespace} has TLS mode set to ${mode} but no caCertificates are set to validate server identity for host: ${host}`,
      );
    }
    arr(policy?.portLevelSettings).forEach((raw, i) => {
      const pls = obj(raw);
      const portMode = lacksCa(obj(pls?.tls), hasSelector);
      if (!portMode) return;
      const n = num(obj(pls?.port)?.number);
      // Go prints the PortSelector message in protobuf text form.
      const port = n !== undefined && n !== 0 ? `number:${n}` : '';
      ctx.report(
        'IST0129',
        dr,
        at(dr, 'trafficPolicy', 'portLevelSettings', i, 'tls', 'mode'),
        `DestinationRule ${fullName(dr)} in namespace ${dr.namespace} has TLS mode set to ${portMode} but no caCertificates are set to validate server identity for host: ${host} at port ${port}`,
      );
    });
  }
}
