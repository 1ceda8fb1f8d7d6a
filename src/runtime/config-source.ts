import { compile } from '../compile/compile.js';
import { CompileCache } from '../compile/compile-cache.js';
import type { Snapshot } from '../compile/snapshot.js';
import { ConfigFileCache, loadConfig, type FilePart } from '../config/load.js';
import { formatProblemForLog, hasBlockingErrors, hasErrors, type Problem } from '../config/problems.js';
import type { Logger } from '../telemetry/log.js';
import type { ServeOptions } from './options.js';
import { forgetRecentPositions, type SourceDoc } from '../config/source.js';
import type { ServerTlsConfig } from '../tls/server-tls.js';
import { loadCredentials, type MaterialResult } from '../tls/credentials.js';
import type { ConfigObject, Labels } from '../config/types.js';
import { ConfigWatch, FolderWatch } from './file-watch.js';

export class ConfigError extends Error {
  constructor(readonly problems: Problem[]) {
    const errors = problems.filter((p) => p.severity === 'error');
    super(`the config has ${errors.length} error(s)${errors.length > 0 ? `, the first: ${formatProblemForLog(errors[0]!)}` : ''}`);
  }
}

/**
 * Everything a snapshot is compiled from, as read from a source: the objects, the certificate
 * material their credentials name, and the problems met while reading. Plain data apart from
 * each object's `source.locate` (positions for messages), which `toWire` leaves behind.
 */
export interface LoadedConfig {
  objects: ConfigObject[];
  credentials: Map<string, MaterialResult>;
  problems: Problem[];
  /** Config files read. */
  files: string[];
  /** Of those, the ones parsed and checked this time (the others were unchanged). */
  filesParsed?: number;
  /** Certificate files read or looked for: a change to one reloads the config. */
  tlsFiles: string[];
  /** The version a primary assigned; absent: the next one after the serving config. */
  version?: number;
  /** Each file's objects, when `objects` are these file after file (see LoadResult.parts). */
  parts?: FilePart[];
}

/**
 * Where the config comes from: files today, the Kubernetes API later. A source reads the whole
 * config on demand and says when it may have changed; the gateway reloads (one at a time) on that.
 */
export interface ConfigSource {
  /** The config as it is now; throws ConfigError when it cannot be read into objects. */
  read(): Promise<LoadedConfig>;
  /** Compiled routes kept from one compile of this source's config to the next. */
  readonly compileCache: CompileCache;
  /** Calls `changed` (with what changed, in words) whenever the config may have changed, until close(). */
  watch(changed: (what: string) => void): void;
  close(): void;
}

export interface SourceOptions {
  defaultNamespace: string;
  tlsDir?: string;
}

/** Config files and directories, and the certificate files their credentials name. */
export class FileConfigSource implements ConfigSource {
  private configWatch: ConfigWatch | null = null;
  private certWatch: FolderWatch | null = null;
  private lastTlsFiles: string[] = [];
  private readonly fileCache = new ConfigFileCache();
  readonly compileCache = new CompileCache();

  constructor(
    private readonly paths: readonly string[],
    private readonly opts: SourceOptions,
  ) {}

  async read(): Promise<LoadedConfig> {
    const loaded = await loadConfig(this.paths, { defaultNamespace: this.opts.defaultNamespace }, this.fileCache);
    if (hasErrors(loaded.problems)) throw new ConfigError(loaded.problems);
    const credentials = await loadCredentials(loaded.objects, this.opts.tlsDir ?? './tls');
    const tlsFiles = [...new Set([...credentials.values()].flatMap((m) => m.files))];
    this.lastTlsFiles = tlsFiles;
    this.certWatch?.set(tlsFiles);
    return { objects: loaded.objects, credentials, problems: loaded.problems, files: loaded.files, filesParsed: this.fileCache.lastParsed.length, tlsFiles, parts: this.fileCache.parts(loaded.files) };
  }

  watch(changed: (what: string) => void): void {
    this.configWatch = new ConfigWatch(this.paths, () => changed('config files'));
    this.certWatch = new FolderWatch(() => changed('certificate files'));
    this.certWatch.set(this.lastTlsFiles);
  }

  close(): void {
    this.configWatch?.close();
    this.certWatch?.close();
  }
}

/** A config handed over by someone else (a primary process to its workers): the latest one wins. */
export class PushedConfigSource implements ConfigSource {
  private changed: (what: string) => void = () => undefined;

  constructor(
    private latest: LoadedConfig,
    readonly compileCache = new CompileCache(),
  ) {}

  push(config: LoadedConfig): void {
    this.latest = config;
    this.changed('pushed config');
  }

  read(): Promise<LoadedConfig> {
    return Promise.resolve(this.latest);
  }

  watch(changed: (what: string) => void): void {
    this.changed = changed;
  }

  close(): void {
    this.changed = () => undefined;
  }
}

export interface CompileOptions {
  defaultNamespace: string;
  labels?: Labels;
  version?: number;
  mesh?: boolean;
  /** The serving config's TLS servers by chain name: one whose credential broke keeps its certificate. */
  previousTls?: ReadonlyMap<string, ServerTlsConfig>;
  /** Compiled routes kept between compiles of one source (compile/compile-cache.ts). */
  cache?: CompileCache;
}

export interface BuildResult {
  snapshot: Snapshot;
  problems: Problem[];
  files: string[];
  tlsFiles: string[];
  /** `from 300 file(s), 1 changed`: what a reload log line says of the files. */
  filesSummary: string;
}

/** Compile what a source read; throws ConfigError when an error blocks the whole config. */
export function compileLoaded(loaded: LoadedConfig, opts: CompileOptions): BuildResult {
  const snapshot = compile(loaded.objects, {
    labels: opts.labels,
    version: loaded.version ?? opts.version,
    meshNamespace: opts.mesh ? opts.defaultNamespace : undefined,
    tls: { credentials: loaded.credentials, previous: opts.previousTls ?? new Map(), now: Date.now() },
    cache: opts.cache,
  });
  const problems = [...loaded.problems, ...snapshot.problems];
  if (hasBlockingErrors(problems)) throw new ConfigError(problems);
  const parsed = loaded.filesParsed;
  const filesSummary = `from ${loaded.files.length} file(s)${parsed !== undefined && parsed < loaded.files.length ? `, ${parsed} changed` : ''}`;
  return { snapshot, problems, files: loaded.files, tlsFiles: loaded.tlsFiles, filesSummary };
}

export interface BuildOptions extends CompileOptions {
  tlsDir?: string;
}

/**
 * Load, validate and compile: one code path for serve, validate, routes and get. A bad
 * certificate is an isolated error: reported, its server left out, the rest of the config served.
 */
export async function buildSnapshot(paths: string[], opts: BuildOptions): Promise<BuildResult> {
  return compileLoaded(await new FileConfigSource(paths, opts).read(), opts);
}

/** The TLS servers of a snapshot by chain name, for the next reload. */
export function tlsServersOf(snapshot: Snapshot): Map<string, ServerTlsConfig> {
  const out = new Map<string, ServerTlsConfig>();
  for (const l of snapshot.listeners) for (const c of l.chains) if (c.tls !== null) out.set(c.name, c.tls);
  return out;
}

/** A config problem as a log line at its own level. */
export function logProblem(log: Logger, p: Problem): void {
  (p.severity === 'error' ? log.error : p.severity === 'warning' ? log.warn : log.info)(formatProblemForLog(p));
}

/** How `serve` compiles: its options, the next version, and the serving config's certificates. */
export function serveCompileOptions(opts: ServeOptions, current: Snapshot | undefined, version: number): CompileOptions {
  return {
    defaultNamespace: opts.defaultNamespace,
    labels: opts.labels,
    mesh: opts.meshListen !== undefined,
    version,
    previousTls: current !== undefined ? tlsServersOf(current) : undefined,
  };
}

/**
 * Reads and compiles the config that would replace `current`: null, with the reason logged, when
 * it has errors or needs other listening ports (those are bound once, at start).
 */
export async function nextConfig(source: ConfigSource, opts: ServeOptions, current: Snapshot, log: Logger, logWarnings: boolean): Promise<{ loaded: LoadedConfig; built: BuildResult } | null> {
  let loaded: LoadedConfig;
  let built: BuildResult;
  try {
    loaded = await source.read();
    built = compileLoaded(loaded, { ...serveCompileOptions(opts, current, current.version + 1), cache: source.compileCache });
  } catch (e) {
    const problems = e instanceof ConfigError ? e.problems.filter((p) => p.severity === 'error') : [];
    for (const p of problems) log.error(formatProblemForLog(p));
    log.error(`reload refused: ${(e as Error).message}; still serving config version ${current.version}`);
    return null;
  }
  const names = (s: Snapshot) => s.listeners.map((l) => l.name).sort().join(',');
  if (names(built.snapshot) !== names(current)) {
    log.error(`reload refused: the new config needs listeners ${names(built.snapshot) || 'none'} instead of ${names(current)}; restart meshgate to change listening ports`);
    return null;
  }
  if (logWarnings) for (const p of built.problems) if (p.severity !== 'info') logProblem(log, p);
  return { loaded, built };
}

/**
 * A LoadedConfig as a structured-clone message from a primary to a worker. The objects go file
 * by file, and a file the worker already holds (it was sent this same read of it) goes by name
 * only: the worker keeps those objects, so its compile cache finds them again, and a reload of one
 * file among 300 sends one file. When no per-file form exists (an object defined twice), all
 * objects go. Source positions stay behind (the sender reports problems).
 */
export interface WireConfig {
  config: Omit<LoadedConfig, 'objects' | 'parts' | 'problems'>;
  /** `own`: the receiver made the same objects of the file itself (OwnRead) and takes those. */
  files?: { file: string; id: number; objects?: ConfigObject[]; own?: true }[];
  objects?: ConfigObject[];
}

/** An object's source without its text and positions: what crosses to a worker, or stays in one. */
const detachedSource = (s: SourceDoc) => ({ file: s.file, index: s.index, value: s.value }) as SourceDoc;

// What compile keeps on an object (derived) is this process's own: compiled routes do not cross.
const objectsToWire = (objects: readonly ConfigObject[]) => objects.map((o) => ({ ...o, source: detachedSource(o.source), derived: undefined }));

const NO_POSITION = () => ({ line: 0, col: 0 });

/** Objects whose sources were detached, their positions answering 0:0: nothing is reported from them here. */
function withoutPositions(objects: ConfigObject[]): ConfigObject[] {
  for (const o of objects) (o.source as { locate: SourceDoc['locate'] }).locate = NO_POSITION;
  return objects;
}

/**
 * `held`: which read of each file the receiver holds; brought up to date with what is sent.
 * `own`: files the receiver read itself as `loaded` read them (see OwnRead).
 */
export function toWire(loaded: LoadedConfig, held: Map<string, number>, own?: ReadonlySet<string>): WireConfig {
  const { objects, parts, problems: _problems, ...config } = loaded;
  if (parts === undefined) {
    held.clear();
    return { config, objects: objectsToWire(objects) };
  }
  const files = parts.map((p) =>
    held.get(p.file) === p.id ? { file: p.file, id: p.id }
    : own?.has(p.file) ? { file: p.file, id: p.id, own: true as const }
    : { file: p.file, id: p.id, objects: objectsToWire(p.objects) },
  );
  held.clear();
  for (const p of parts) held.set(p.file, p.id);
  return { config, files };
}

/** What a receiver keeps of the files it was sent: by file, the read it holds and its objects. */
export type HeldFiles = Map<string, { id: number; objects: ConfigObject[] }>;

/**
 * The receiving side of toWire: positions answer 0:0, as nothing is reported from them. `own`:
 * the receiver's own read, for the files sent as `own`.
 */
export function fromWire(wire: WireConfig, held: HeldFiles, own?: OwnRead): LoadedConfig {
  if (wire.files === undefined) {
    held.clear();
    return { ...wire.config, problems: [], objects: withoutPositions(wire.objects ?? []) };
  }
  const objects: ConfigObject[] = [];
  const now: HeldFiles = new Map();
  for (const f of wire.files) {
    const mine = f.own === true ? own?.files.get(f.file) : undefined;
    const kept =
      f.objects !== undefined ? { id: f.id, objects: withoutPositions(f.objects) }
      : mine !== undefined ? { id: f.id, objects: mine }
      : held.get(f.file);
    if (kept === undefined || kept.id !== f.id) throw new Error(`config from the primary names ${f.file} (read ${f.id}) without its objects, and this worker does not hold them`);
    now.set(f.file, kept);
    for (const o of kept.objects) objects.push(o);
  }
  held.clear();
  for (const [k, v] of now) held.set(k, v);
  return { ...wire.config, problems: [], objects };
}

/**
 * A worker's own read of the config files, made while the primary reads them too: a file it read
 * as the primary did (the same text at the same modification time, by digest) the primary sends
 * by name, not as objects. Objects cross
 * IPC slower than YAML is read (30,000 VirtualServices: 0.5 s to serialize, 1 s to take in,
 * against 1.3 s to read and check), and a worker that reads by itself does so beside the primary.
 */
export interface OwnRead {
  /** By file, its objects (positions answer 0:0, as for objects sent). */
  files: Map<string, ConfigObject[]>;
  /** By file, the digest of what was read (FilePart.digest). */
  digests: { file: string; digest: string }[];
}

/**
 * Reads the config files as the primary does, but for the checks; undefined when the files cannot
 * be sent by name (an object defined twice).
 */
export async function readOwn(paths: readonly string[], defaultNamespace: string): Promise<OwnRead | undefined> {
  const cache = new ConfigFileCache();
  // Unchecked: the primary checks, and sends the objects of a file where a check refused one.
  const loaded = await loadConfig(paths, { defaultNamespace, unchecked: true }, cache);
  const parts = cache.parts(loaded.files);
  if (parts === undefined) return undefined;
  const files = new Map<string, ConfigObject[]>();
  const digests: OwnRead['digests'] = [];
  for (const p of parts) {
    const digest = p.digest?.();
    if (digest === undefined) continue;
    // As objects sent are: the text and its positions stay behind.
    for (const o of p.objects) o.source = detachedSource(o.source);
    files.set(p.file, withoutPositions(p.objects));
    digests.push({ file: p.file, digest });
  }
  // Positions asked for while reading (a kind skipped, say) would hold their files' texts: a
  // worker does not load again to let go of them.
  forgetRecentPositions();
  return { files, digests };
}

/**
 * The files of `loaded` a worker read as they were read here (by digest), and where the checks it
 * skipped refused nothing here: those it need not be sent.
 */
export function sameReads(loaded: LoadedConfig, digests: readonly { file: string; digest: string }[]): Set<string> {
  const same = new Set<string>();
  if (loaded.parts === undefined || digests.length === 0) return same;
  const theirs = new Map(digests.map((d) => [d.file, d.digest]));
  for (const p of loaded.parts) if (p.refused === false && p.digest !== undefined && theirs.get(p.file) === p.digest()) same.add(p.file);
  return same;
}

/**
 * Compiles a worker's own read while the primary is still reading and compiling: the compile of
 * the config the primary then sends finds its routes built (the compile cache), as a reload that
 * changed nothing does. The result is dropped; what the primary sends decides.
 */
export async function compileAhead(own: OwnRead, opts: ServeOptions, cache: CompileCache, stillWaiting: () => boolean): Promise<void> {
  const objects: ConfigObject[] = [];
  for (const list of own.files.values()) for (const o of list) objects.push(o);
  try {
    // The same certificate material as the primary's, or the cache would start over.
    const credentials = await loadCredentials(objects, opts.tlsDir);
    if (!stillWaiting()) return;
    compileLoaded({ objects, credentials, problems: [], files: [], tlsFiles: [] }, { ...serveCompileOptions(opts, undefined, 1), cache });
  } catch {
    // An error the primary reports, with the config it reads.
  }
}
