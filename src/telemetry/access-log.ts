import type { HeaderMap } from '../http/downstream.js';
import type { StreamRecord } from '../http/stream-record.js';
import type { LogFormat } from './log.js';

/**
 * Istio's default access log, one line per stream from its end event, field for field:
 * `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
 * %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
 * "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
 * %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
 * "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
 * %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
 * %REQUESTED_SERVER_NAME% %ROUTE_NAME%`. What meshgate does not know prints `-`, as Envoy does.
 * JSON: Istio's `accessLogEncoding: JSON` keys.
 */
export interface AccessLogFields {
  start_time: string;
  method: string | null;
  path: string | null;
  protocol: string;
  response_code: number;
  response_flags: string;
  response_code_details: string | null;
  connection_termination_details: string | null;
  upstream_transport_failure_reason: string | null;
  bytes_received: number;
  bytes_sent: number;
  duration: number;
  upstream_service_time: string | null;
  x_forwarded_for: string | null;
  user_agent: string | null;
  request_id: string | null;
  authority: string | null;
  upstream_host: string | null;
  upstream_cluster: string | null;
  upstream_local_address: string | null;
  downstream_local_address: string | null;
  downstream_remote_address: string | null;
  requested_server_name: string | null;
  route_name: string | null;
}

const header = (h: HeaderMap | null, name: string): string | null => {
  const v = h?.[name];
  return v === undefined ? null : Array.isArray(v) ? v.join(',') : v;
};

export function accessLogFields(r: StreamRecord): AccessLogFields {
  const tcp = r.protocol === 'TCP';
  const h = r.requestHeaders;
  return {
    start_time: new Date(r.startTime).toISOString(),
    method: tcp ? null : r.method || null,
    path: tcp ? null : r.path || null,
    protocol: r.protocol,
    response_code: r.responseCode,
    response_flags: r.flagString,
    response_code_details: r.details || null,
    connection_termination_details: null,
    upstream_transport_failure_reason: null,
    bytes_received: r.bytesReceived,
    bytes_sent: r.bytesSent,
    duration: Math.max(0, Math.round(r.durationMs)),
    upstream_service_time: r.upstreamMs >= 0 ? String(Math.round(r.upstreamMs)) : null,
    x_forwarded_for: header(h, 'x-forwarded-for'),
    user_agent: header(h, 'user-agent'),
    request_id: r.requestId,
    authority: r.authority || null,
    upstream_host: r.upstreamHost,
    upstream_cluster: r.cluster,
    upstream_local_address: null,
    downstream_local_address: null,
    downstream_remote_address: r.downstreamAddress || null,
    requested_server_name: tcp ? r.authority || null : null,
    route_name: r.route,
  };
}

const d = (v: string | number | null) => (v === null ? '-' : String(v));
const q = (v: string | null) => `"${v === null ? '-' : v}"`;

/** One line of Istio's TEXT format. */
export function textLine(f: AccessLogFields): string {
  return `[${f.start_time}] "${d(f.method)} ${d(f.path)} ${f.protocol}" ${f.response_code} ${f.response_flags} ${d(f.response_code_details)} ${d(f.connection_termination_details)} ${q(f.upstream_transport_failure_reason)} ${f.bytes_received} ${f.bytes_sent} ${f.duration} ${d(f.upstream_service_time)} ${q(f.x_forwarded_for)} ${q(f.user_agent)} ${q(f.request_id)} ${q(f.authority)} ${q(f.upstream_host)} ${d(f.upstream_cluster)} ${d(f.upstream_local_address)} ${d(f.downstream_local_address)} ${d(f.downstream_remote_address)} ${d(f.requested_server_name)} ${d(f.route_name)}\n`;
}

/**
 * Writes access log lines to a stream, gathered per turn of the event loop: one write for many
 * requests under load instead of one each.
 */
export class AccessLog {
  private pending: string[] = [];
  private scheduled = false;

  constructor(
    private readonly format: LogFormat,
    private readonly out: { write(s: string): unknown } = process.stdout,
    /** Largest single write: lines are never split, so several writers of one pipe keep them whole. */
    private readonly maxWrite = Infinity,
  ) {}

  readonly onStreamEnd = (r: StreamRecord): void => {
    const f = accessLogFields(r);
    this.pending.push(this.format === 'json' ? JSON.stringify(f) + '\n' : textLine(f));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  };

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    if (this.maxWrite === Infinity) return void this.out.write(lines.join(''));
    let chunk = '';
    for (const line of lines) {
      if (chunk.length > 0 && chunk.length + line.length > this.maxWrite) {
        this.out.write(chunk);
        chunk = '';
      }
      chunk += line;
    }
    if (chunk.length > 0) this.out.write(chunk);
  };
}
