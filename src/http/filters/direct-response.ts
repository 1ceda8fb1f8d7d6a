import type { ActiveStream } from '../active-stream.js';
import { STOP, type FilterStatus, type HttpFilter } from './filter.js';

/** A VirtualService `directResponse`: the configured status and body, nothing forwarded. */
export class DirectResponseFilter implements HttpFilter {
  readonly name = 'direct-response';
  private readonly headers: readonly string[];

  constructor(
    private readonly status: number,
    private readonly body: Buffer | null,
  ) {
    this.headers = body !== null ? ['content-length', String(body.length), 'content-type', 'text/plain'] : ['content-length', '0'];
  }

  onRequest(s: ActiveStream): FilterStatus {
    s.record.details = 'direct_response';
    s.sendHeaders(this.status, [...this.headers, 'server', 'istio-envoy'], this.body === null || this.body.length === 0, false);
    if (this.body !== null && this.body.length > 0) s.endResponse(this.body, null);
    return STOP;
  }
}
