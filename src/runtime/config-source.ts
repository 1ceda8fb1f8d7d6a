import { compile } from '../compile/compile.js';
import type { Snapshot } from '../compile/snapshot.js';
import { loadConfig } from '../config/load.js';
import { hasBlockingErrors, hasErrors, type Problem } from '../config/problems.js';
import type { ServerTlsConfig } from '../tls/server-tls.js';
import { loadCredentials, type MaterialResult } from '../tls/credentials.js';
import type { Labels } from '../config/types.js';

export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    super(`the config has ${problems.filter((p) => p.severity === 'error').length} error(s)`);
  }
}

export interface BuildResult {
  snapshot: Snapshot;
  problems: Problem[];
  files: string[];
  /** Certificate files read or looked for: a change to one reloads the config. */
  tlsFiles: string[];
}

export interface BuildOptions {
  defaultNamespace: string;
  labels?: Labels;
  version?: number;
  mesh?: boolean;
  tlsDir?: string;
  /** The serving config's TLS servers by chain name: one whose credential broke keeps its certificate. */
  previousTls?: ReadonlyMap<string, ServerTlsConfig>;
}

/**
 * Load, validate and compile: one code path for serve, validate, routes and get. A bad
 * certificate is an isolated error: reported, its server left out, the rest of the config served.
 */
export async function buildSnapshot(paths: string[], opts: BuildOptions): Promise<BuildResult> {
  const loaded = await loadConfig(paths, { defaultNamespace: opts.defaultNamespace });
  if (hasErrors(loaded.problems)) throw new ConfigError(loaded.problems);
  const credentials = await loadCredentials(loaded.objects, opts.tlsDir ?? './tls');
  const snapshot = compile(loaded.objects, {
    labels: opts.labels,
    version: opts.version,
    meshNamespace: opts.mesh ? opts.defaultNamespace : undefined,
    tls: { credentials, previous: opts.previousTls ?? new Map(), now: Date.now() },
  });
  const problems = [...loaded.problems, ...snapshot.problems];
  if (hasBlockingErrors(problems)) throw new ConfigError(problems);
  return { snapshot, problems, files: loaded.files, tlsFiles: credentialFiles(credentials) };
}

function credentialFiles(credentials: ReadonlyMap<string, MaterialResult>): string[] {
  return [...new Set([...credentials.values()].flatMap((m) => m.files))];
}

/** The TLS servers of a snapshot by chain name, for the next reload. */
export function tlsServersOf(snapshot: Snapshot): Map<string, ServerTlsConfig> {
  const out = new Map<string, ServerTlsConfig>();
  for (const l of snapshot.listeners) for (const c of l.chains) if (c.tls !== null) out.set(c.name, c.tls);
  return out;
}
