import { describe, expect, it } from 'vitest';
import { loggedReady } from '../../helpers/process.js';

// The CLI tests wait for `meshgate serve` to log `ready` before they send anything; taking an
// earlier line for it made them race the gateway (the outside review's seventh finding).

describe('loggedReady', () => {
  const status = '2026-12-01T08:00:00.000Z info  status on 0.0.0.0:15021 (/healthz/ready), admin on 127.0.0.1:15000 (/config_dump, /routes)\n';

  it('does not take the status line, which names /healthz/ready, for the ready line', () => {
    expect(loggedReady(status)).toBe(false);
  });

  it('takes the ready line, in text and in JSON', () => {
    expect(loggedReady(`${status}2026-12-01T08:00:00.001Z info  ready\n`)).toBe(true);
    expect(loggedReady('{"time":"2026-12-01T08:00:00.001Z","level":"info","msg":"ready"}\n')).toBe(true);
  });

  it('does not take a log message that merely contains the word', () => {
    expect(loggedReady('2026-12-01T08:00:00.001Z warn  upstream not ready yet\n')).toBe(false);
  });
});
