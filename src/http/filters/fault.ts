import type { FaultPolicy } from '../../compile/snapshot.js';
import type { ActiveStream } from '../active-stream.js';
import { REPLY } from '../local-reply.js';
import { Flag } from '../stream-record.js';
import { CONTINUE, STOP, type FilterStatus, type HttpFilter } from './filter.js';

/** Envoy's fault filter as Istio configures it from `fault`: a delay first, then an abort. */
export class FaultFilter implements HttpFilter {
  readonly name = 'fault';

  constructor(private readonly f: FaultPolicy) {}

  onRequest(s: ActiveStream): FilterStatus {
    const f = this.f;
    if (f.delayPercent > 0 && Math.random() * 100 < f.delayPercent) {
      s.record.flags |= Flag.DI;
      s.pause(f.delayMs, afterDelay, this);
      return STOP;
    }
    return this.abort(s);
  }

  abort(s: ActiveStream): FilterStatus {
    const f = this.f;
    if (f.abortPercent > 0 && Math.random() * 100 < f.abortPercent) {
      if (f.abortGrpcStatus !== undefined) s.localReply(200, REPLY.faultAbort, 'fault_filter_abort', Flag.FI, undefined, f.abortGrpcStatus);
      else s.localReply(f.abortStatus, REPLY.faultAbort, 'fault_filter_abort', Flag.FI);
      return STOP;
    }
    return CONTINUE;
  }
}

function afterDelay(s: ActiveStream, filter: FaultFilter): void {
  if (filter.abort(s) === CONTINUE) s.continueDecoding();
}
