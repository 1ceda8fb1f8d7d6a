import { compile } from '../compile/compile.js';
import type { Snapshot } from '../compile/snapshot.js';
import { loadConfig } from '../config/load.js';
import { hasErrors, type Problem } from '../config/problems.js';
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
}

/** Load, validate and compile: one code path for serve, validate, routes and get. */
export async function buildSnapshot(paths: string[], opts: { defaultNamespace: string; labels?: Labels; version?: number; mesh?: boolean }): Promise<BuildResult> {
  const loaded = await loadConfig(paths, { defaultNamespace: opts.defaultNamespace });
  if (hasErrors(loaded.problems)) throw new ConfigError(loaded.problems);
  const snapshot = compile(loaded.objects, { labels: opts.labels, version: opts.version, meshNamespace: opts.mesh ? opts.defaultNamespace : undefined });
  const problems = [...loaded.problems, ...snapshot.problems];
  if (hasErrors(problems)) throw new ConfigError(problems);
  return { snapshot, problems, files: loaded.files };
}
