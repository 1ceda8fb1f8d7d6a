import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Labels } from '../config/types.js';
import type { HostPort } from '../runtime/options.js';

/** A mistake in how the command was called: one line, exit code 2. */
export class UsageError extends Error {}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export function parse(command: string, argv: string[], options: OptionSpec, allowPositionals = false): Parsed {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (e) {
    const msg = (e as Error).message
      .replace(/^Option '([^']+)' argument is ambiguous.*$/s, 'option $1 needs a value (write $1=VALUE for a value that starts with "-")')
      .replace(/^Unknown option '([^']+)'.*$/s, 'unknown option $1')
      .replace(/^Option '([^']+)' argument missing.*$/s, 'option $1 needs a value')
      .replace(/^Unexpected argument '([^']+)'.*$/s, 'unexpected argument $1');
    throw new UsageError(`meshgate ${command}: ${msg.split('\n')[0]} (see meshgate ${command} --help)`);
  }
}

export function parsePort(flag: string, value: string, allowZero = true): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535 || (!allowZero && n === 0)) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a port number (0-65535)`);
  return n;
}

/** `PORT`, `HOST:PORT` or `[V6]:PORT`. */
export function parseHostPort(flag: string, value: string): HostPort {
  const m = /^(?:\[([^\]]+)\]:|([^:]+):)?(\d+)$/.exec(value);
  if (!m) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not [HOST:]PORT`);
  const host = m[1] ?? m[2];
  return host === undefined ? { port: parsePort(flag, m[3]!) } : { host, port: parsePort(flag, m[3]!) };
}

/** `--listen GWPORT=[HOST:]PORT`. */
export function parseListen(values: string[]): Map<number, HostPort> {
  const out = new Map<number, HostPort>();
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq < 0) throw new UsageError(`--listen: ${JSON.stringify(v)} must be GWPORT=[HOST:]PORT, e.g. 80=8080 or 443=0.0.0.0:8443`);
    out.set(parsePort('--listen', v.slice(0, eq), false), parseHostPort('--listen', v.slice(eq + 1)));
  }
  return out;
}

export function parseLabels(value: string): Labels {
  const out: Labels = {};
  for (const pair of value.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--labels: ${JSON.stringify(pair)} must be key=value`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

export function parseCount(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag}: ${JSON.stringify(value)} is not a positive whole number`);
  return Number(value);
}
