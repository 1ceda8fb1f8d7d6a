import type { Duplex } from 'node:stream';
import type { ResponseHandler } from '../../upstream/client.js';
import type { LiveEndpoint } from '../../upstream/cluster.js';
import { TIMEOUT, UpstreamError } from '../../upstream/errors.js';
import type { ActiveStream } from '../active-stream.js';
import { downstreamResponseHeaders } from '../headers.js';
import type { Forward } from './router.js';

/**
 * A WebSocket Upgrade on its way upstream. Until the upstream answers, the route timeout
 * applies; a 101 joins the two connections (the stream record then covers the tunnel's life);
 * any other answer is passed on as a normal response, the connection's last.
 */
export class UpgradeBridge implements ResponseHandler {
  private readonly startMs = Date.now();
  private abortFn: ((err: UpstreamError) => void) | null = null;
  private answered = false;
  private released = false;
  private resume: (() => void) | null = null;

  constructor(
    private readonly s: ActiveStream,
    private readonly forward: Forward,
    private readonly endpoint: LiveEndpoint,
  ) {}

  onStart(abort: (err: UpstreamError) => void): void {
    this.abortFn = abort;
  }

  /** The route timeout passed before the upstream answered. */
  abort(): void {
    if (this.answered) return;
    this.abortFn?.(TIMEOUT);
    this.release();
  }

  onUpgrade(status: number, headers: string[], upstream: Duplex): void {
    this.answered = true;
    this.forward.upgradeAnswered();
    const kept: string[] = [];
    const rest: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      const lower = headers[i]!.toLowerCase();
      // Upgrade and Connection are hop-by-hop, but here they are the point: keep them.
      (lower === 'upgrade' || lower === 'connection' ? kept : rest).push(headers[i]!, headers[i + 1]!);
    }
    kept.push(...downstreamResponseHeaders(rest, Date.now() - this.startMs));
    upstream.on('error', () => upstream.destroy());
    this.s.tunnel(status, kept, upstream, () => this.release());
  }

  onHeaders(status: number, headers: string[], resume: () => void): boolean {
    this.answered = true;
    this.resume = resume;
    this.forward.upgradeAnswered();
    this.s.record.details = 'via_upstream';
    return this.s.sendHeaders(status, downstreamResponseHeaders(headers, Date.now() - this.startMs), false, false);
  }

  onData(chunk: Buffer): boolean {
    if (this.s.sendData(chunk)) return true;
    if (this.resume !== null) this.s.downstream.onceDrain(this.resume);
    return false;
  }

  onEnd(): void {
    this.release();
    this.s.endResponse(null, null);
  }

  onError(err: UpstreamError): void {
    this.release();
    if (this.answered) this.s.resetResponse(0);
    else this.forward.upgradeFailed(err instanceof UpstreamError ? err : new UpstreamError('reset'));
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.endpoint.active--;
  }
}
