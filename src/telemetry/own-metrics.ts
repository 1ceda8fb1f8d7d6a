import { IstioMetrics, type MetricsState } from './istio-metrics.js';

/** What one data-plane process counted, as plain data (a worker sends it to its primary). */
export interface DataPlaneCounts {
  istio: MetricsState;
  /** Endpoints outlier detection holds out now. */
  ejected: number;
  /** Requests in flight to upstream clusters. */
  active: number;
  /** Client connections open on the listeners. */
  connections: number;
  egressRefusals: Map<string, number>;
}

/** What only the process that loads the config knows. */
export interface ControlCounts {
  version: number;
  reloadsApplied: number;
  reloadsRefused: number;
  /** With --workers: worker processes serving now, and how many were replaced since start. */
  workers?: { running: number; replaced: number };
}

/** The status port's metrics: Istio's standard ones summed over the processes, then the gateway's own. */
export function renderMetrics(counts: readonly DataPlaneCounts[], control: ControlCounts): string {
  let ejected = 0;
  let active = 0;
  let refused = 0;
  let connections = 0;
  for (const c of counts) {
    ejected += c.ejected;
    active += c.active;
    connections += c.connections;
    for (const n of c.egressRefusals.values()) refused += n;
  }
  const own = [
    '# HELP meshgate_config_version The config version serving now (1 at start, +1 per applied reload).',
    '# TYPE meshgate_config_version gauge',
    `meshgate_config_version ${control.version}`,
    '# HELP meshgate_config_reloads_total Reloads by result: applied, or refused (the last good config kept serving).',
    '# TYPE meshgate_config_reloads_total counter',
    `meshgate_config_reloads_total{result="applied"} ${control.reloadsApplied}`,
    `meshgate_config_reloads_total{result="refused"} ${control.reloadsRefused}`,
    '# HELP meshgate_endpoints_ejected Endpoints outlier detection holds out now (summed over workers: each ejects on its own).',
    '# TYPE meshgate_endpoints_ejected gauge',
    `meshgate_endpoints_ejected ${ejected}`,
    '# HELP meshgate_upstream_requests_active Requests in flight to upstream clusters.',
    '# TYPE meshgate_upstream_requests_active gauge',
    `meshgate_upstream_requests_active ${active}`,
    '# HELP meshgate_downstream_connections_active Client connections open on the listeners.',
    '# TYPE meshgate_downstream_connections_active gauge',
    `meshgate_downstream_connections_active ${connections}`,
    '# HELP meshgate_egress_refused_total Forward-proxy requests refused (no ServiceEntry, forbidden address, own port); admin /egress has them by host.',
    '# TYPE meshgate_egress_refused_total counter',
    `meshgate_egress_refused_total ${refused}`,
  ];
  if (control.workers !== undefined) {
    own.push(
      '# HELP meshgate_workers Worker processes serving now.',
      '# TYPE meshgate_workers gauge',
      `meshgate_workers ${control.workers.running}`,
      '# HELP meshgate_worker_restarts_total Worker processes that died and were replaced.',
      '# TYPE meshgate_worker_restarts_total counter',
      `meshgate_worker_restarts_total ${control.workers.replaced}`,
    );
  }
  return IstioMetrics.merged(counts.map((c) => c.istio)).render() + own.join('\n') + '\n';
}

/** Egress refusals by host:port, summed over processes. */
export function sumRefusals(counts: readonly DataPlaneCounts[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of counts) for (const [k, n] of c.egressRefusals) out.set(k, (out.get(k) ?? 0) + n);
  return out;
}
