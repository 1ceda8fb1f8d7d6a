export type LogFormat = 'text' | 'json';
export type Level = 'info' | 'warn' | 'error';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Operational log lines on stderr (stdout is for the access log), one line each. */
export function createLogger(format: LogFormat = 'text', write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const emit = (level: Level, msg: string) => {
    const time = new Date().toISOString();
    write(format === 'json' ? JSON.stringify({ time, level, msg }) + '\n' : `${time} ${level.padEnd(5)} ${msg}\n`);
  };
  return {
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
