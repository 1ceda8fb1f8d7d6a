import { isAscii } from 'node:buffer';
import { createHash } from 'node:crypto';
import fs, { type Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { kindInfo, knownVersionsOf } from './kinds.js';
import type { Problem } from './problems.js';
import { validateCrd } from './crd.js';
import { fusedCheckFor } from './fused-check.js';
import { webhookCheck } from './webhook/index.js';
import { fieldsAt, isPlainObject, validate } from './schema.js';
import { forgetRecentPositions, parseSource, type FieldPath, type SourceDoc } from './source.js';
import type { ConfigObject } from './types.js';

export interface LoadOptions {
  defaultNamespace: string;
  /**
   * Skip the schema and webhook checks: for a second reader of files another process checks (a
   * worker of `serve --workers`), which takes its objects only for files where the checks
   * refused nothing. Everything else about the objects is the same.
   */
  unchecked?: boolean;
}

export interface LoadResult {
  objects: ConfigObject[];
  problems: Problem[];
  files: string[];
}

/** A config file's objects, with a number that changes when, and only when, the file is read again. */
export interface FilePart {
  file: string;
  id: number;
  objects: ConfigObject[];
  /**
   * A digest of the text this read of the file gave and of the modification time its objects were
   * made with, made when first asked: two processes that read a file compare digests to know they
   * made the same objects of it.
   */
  digest?: () => string;
  /** Whether reading the file found an error: an object it holds may have been left out. */
  refused?: boolean;
}

const CONFIG_EXT = new Set(['.yaml', '.yml', '.json']);

// Kinds that live outside namespaces, named without one in messages.
const CLUSTER_SCOPED = new Set(['Namespace', 'Node', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume', 'StorageClass', 'PriorityClass', 'IngressClass', 'GatewayClass', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'APIService']);
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Pod', 'Job', 'CronJob']);

/** Raised for a config path that does not exist: a usage error, not a config problem. */
export class MissingConfigPath extends Error {}

/** Every config file under the given paths: directories recursively, in name order. */
export async function listConfigFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch {
      throw new MissingConfigPath(`config path ${p} does not exist`);
    }
    if (st.isDirectory()) await walk(p, out);
    else out.push(p);
  }
  return out;
}

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) await walk(full, out);
    else if (CONFIG_EXT.has(path.extname(e.name).toLowerCase())) out.push(full);
  }
}

/**
 * What a file gave the last time it was read: kept between loads so that an unchanged file is
 * neither read nor checked again, and its objects stay the same objects (compiled pieces built
 * from them can be reused).
 */
interface FileEntry {
  /** Different for every entry this process made. */
  id: number;
  size: number;
  mtimeMs: number;
  /**
   * The text read. Kept at no cost: the objects' strings are slices of it, which keep it alive.
   * A file rewritten with the same text is compared with it (no content hash needed).
   */
  text: string;
  objects: ConfigObject[];
  problems: Problem[];
  /**
   * The modification time the objects were made with (their creation time, where they have no
   * creationTimestamp): `mtimeMs` moves on when the same text is written again, and they keep it.
   */
  madeAtMtimeMs: number;
  /** Of the text and madeAtMtimeMs, made when first asked (FilePart.digest). */
  digest?: string;
}

let entryCount = 0;

/** Config files as last read, by path. */
export class ConfigFileCache {
  private readonly entries = new Map<string, FileEntry>();
  /** Files parsed and checked on the last load (unchanged size and mtime: not read; the same text under a new mtime: not parsed). */
  lastParsed: string[] = [];

  /** Nothing read yet: the first load, which has nothing to keep serving while it reads. */
  get empty(): boolean {
    return this.entries.size === 0;
  }

  /** The entry for a file as it is on disk now, reading and parsing only what changed. */
  async entry(file: string, opts: LoadOptions): Promise<FileEntry> {
    let st: Stats;
    let bytes: Buffer;
    try {
      st = await statOf(file);
      const unchanged = this.unchanged(file, st);
      if (unchanged !== undefined) return unchanged;
      bytes = await bytesOf(file);
    } catch (e) {
      return unreadable(file, e);
    }
    return this.fromBytes(file, st, bytes, opts);
  }

  /**
   * entry, reading in this thread: for the first load, where the event loop has nothing else to
   * do. 10,000 files take 0.13 s so, against 1.2 s through fs/promises (each a FileHandle, its
   * own stat and reads in chunks) and 0.36 s through fs's callbacks, which reloads use.
   */
  entrySync(file: string, opts: LoadOptions): FileEntry {
    let st: Stats;
    let bytes: Buffer;
    let fd: number | undefined;
    try {
      // One open, then the stat and the read through it: a stat by path and readFileSync's own
      // open, stat and read cost a path lookup more per file (10,000 files: 107-185 ms against
      // 87-110).
      fd = fs.openSync(file, 'r');
      st = fs.fstatSync(fd);
      const unchanged = this.unchanged(file, st);
      if (unchanged !== undefined) return unchanged;
      bytes = readAll(fd, st.size);
    } catch (e) {
      return unreadable(file, e);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    return this.fromBytes(file, st, bytes, opts);
  }

  /** The entry last read for the file when its size and modification time are still the same. */
  private unchanged(file: string, st: Stats): FileEntry | undefined {
    const cached = this.entries.get(file);
    return cached !== undefined && cached.size === st.size && cached.mtimeMs === st.mtimeMs ? cached : undefined;
  }

  private fromBytes(file: string, st: Stats, bytes: Buffer, opts: LoadOptions): FileEntry {
    const cached = this.entries.get(file);
    // Config is nearly always ASCII: then the text is a plain copy, ~10x faster than decoding UTF-8.
    const text = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
    if (cached && cached.text === text) {
      cached.size = st.size;
      cached.mtimeMs = st.mtimeMs;
      return cached;
    }
    this.lastParsed.push(file);
    const entry = { id: ++entryCount, size: st.size, mtimeMs: st.mtimeMs, madeAtMtimeMs: st.mtimeMs, text, ...parseFile(file, text, st.mtimeMs, opts) };
    this.entries.set(file, entry);
    return entry;
  }

  /**
   * The entries' objects together (mergeFiles). When no object was defined twice last time, the
   * refs of unchanged files are not looked at again: only those of files that changed.
   */
  merge(entries: readonly FileEntry[]): { objects: ConfigObject[]; problems: Problem[] } {
    const prev = this.lastMerge;
    if (prev !== undefined) {
      const now = new Set(entries);
      const before = new Set(prev.entries);
      for (const e of prev.entries) if (!now.has(e)) for (const o of e.objects) prev.refs.delete(o.ref);
      let unique = true;
      for (const e of entries) {
        if (before.has(e)) continue;
        for (const o of e.objects) {
          if (prev.refs.has(o.ref)) unique = false;
          prev.refs.set(o.ref, o);
        }
      }
      if (unique) {
        this.lastMerge = { entries, refs: prev.refs };
        this.concatenated = true;
        return { objects: concatLists(entries.map((e) => e.objects)), problems: concatLists(entries.map((e) => e.problems)) };
      }
    }
    const merged = mergeFiles(entries);
    // With no object defined twice, the merge's map holds every ref once: kept as the refs.
    this.lastMerge = merged.unique ? { entries, refs: merged.byRef } : undefined;
    this.concatenated = merged.unique;
    return { objects: merged.objects, problems: merged.problems };
  }

  private lastMerge: { entries: readonly FileEntry[]; refs: Map<string, ConfigObject> } | undefined;
  /** Whether the last merge's objects are the entries' objects, one after the other. */
  concatenated = false;

  /**
   * The last load's objects file by file (`files` as it gave them), when they are its objects one
   * file after the other; undefined when an object was defined twice.
   */
  parts(files: readonly string[]): FilePart[] | undefined {
    if (!this.concatenated) return undefined;
    return files.map((file) => {
      const e = this.entries.get(file)!;
      return {
        file,
        id: e.id,
        objects: e.objects,
        refused: e.problems.some((p) => p.severity === 'error'),
        // The objects' creation times come from the modification time too: two reads of the same
        // text at two times give objects that order differently (Istio's oldest-first).
        digest: () => (e.digest ??= `${createHash('sha256').update(e.text).digest('base64')}@${e.madeAtMtimeMs}`),
      };
    });
  }

  /** Forgets files that are no longer part of the config. */
  keepOnly(files: readonly string[]): void {
    const keep = new Set(files);
    for (const f of this.entries.keys()) if (!keep.has(f)) this.entries.delete(f);
  }
}

/**
 * The lists one after the other. concat copies each list whole, where flatMap visits 30,000
 * objects one by one; in batches, as a call takes only so many arguments.
 */
function concatLists<T>(lists: readonly (readonly T[])[]): T[] {
  let out: T[] = [];
  for (let i = 0; i < lists.length; i += 10_000) out = out.concat(...lists.slice(i, i + 10_000));
  return out;
}

export async function loadConfig(paths: readonly string[], opts: LoadOptions, cache: ConfigFileCache = new ConfigFileCache()): Promise<LoadResult> {
  forgetRecentPositions();
  const files = await listConfigFiles(paths);
  cache.lastParsed = [];
  const entries = cache.empty ? files.map((f) => cache.entrySync(f, opts)) : await Promise.all(files.map((f) => cache.entry(f, opts)));
  cache.keepOnly(files);
  return { ...cache.merge(entries), files };
}

/** Pure part of loading: texts in, objects and problems out. */
export function parseConfigTexts(
  sources: readonly { file: string; text: string; mtimeMs?: number }[],
  opts: LoadOptions,
): { objects: ConfigObject[]; problems: Problem[] } {
  const { objects, problems } = mergeFiles(sources.map((src) => parseFile(src.file, src.text, src.mtimeMs ?? Date.now(), opts)));
  return { objects, problems };
}

// Shared by every object that has them (read-only, as the objects are): 3 objects fewer for
// each of 30,000.
const TOP_LEVEL: readonly (string | number)[] = Object.freeze([]);
const SPEC_PATH: readonly (string | number)[] = Object.freeze(['spec']);
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/** One file's objects and problems, in the order they are written. */
function parseFile(file: string, text: string, mtimeMs: number, opts: LoadOptions): { objects: ConfigObject[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const objects: ConfigObject[] = [];
  const { docs, failures } = parseSource(file, text);
  for (const f of failures) problems.push({ severity: 'error', file: f.file, line: f.line, col: f.col, message: `YAML syntax: ${f.message}` });
  for (const doc of docs) readDocument(doc, doc.value, TOP_LEVEL, mtimeMs, opts, problems, objects);
  return { objects, problems };
}

/**
 * The files' objects together: a later definition of the same object replaces the earlier one.
 * `unique`: no object was defined twice.
 */
function mergeFiles(parts: readonly { objects: ConfigObject[]; problems: Problem[] }[]): {
  objects: ConfigObject[];
  problems: Problem[];
  byRef: Map<string, ConfigObject>;
  unique: boolean;
} {
  const problems: Problem[] = [];
  const byRef = new Map<string, ConfigObject>();
  let unique = true;
  for (const part of parts) {
    problems.push(...part.problems);
    for (const obj of part.objects) {
      const key = obj.ref;
      const earlier = byRef.get(key);
      if (earlier) {
        unique = false;
        const where = earlier.source.locate(earlier.docPath);
        problems.push({ severity: 'warning', file: obj.source.file, ...obj.source.locate(obj.docPath), object: obj.ref, message: `defined again; this definition replaces the one at ${earlier.source.file}:${where.line}` });
        byRef.delete(key);
      }
      byRef.set(key, obj);
    }
  }
  return { objects: [...byRef.values()], problems, byRef, unique };
}

function readDocument(
  doc: SourceDoc,
  value: unknown,
  docPath: readonly (string | number)[],
  mtimeMs: number,
  opts: LoadOptions,
  problems: Problem[],
  objects: ConfigObject[],
): void {
  const at = (p: FieldPath) => ({ file: doc.file, ...doc.locate([...docPath, ...p]) });
  if (value === null || value === undefined) return;
  if (!isPlainObject(value)) {
    problems.push({ severity: 'error', ...at([]), message: 'a document must be a Kubernetes object: a map with apiVersion, kind and metadata' });
    return;
  }
  const kind = value.kind;
  const apiVersion = value.apiVersion;
  if (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(value.items)) {
    value.items.forEach((item, i) => readDocument(doc, item, [...docPath, 'items', i], mtimeMs, opts, problems, objects));
    return;
  }
  if (typeof kind !== 'string' || kind === '') {
    problems.push({ severity: 'error', ...at(['kind']), field: 'kind', message: 'required field is missing: every object needs a kind' });
    return;
  }
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    problems.push({ severity: 'error', ...at(['apiVersion']), field: 'apiVersion', message: `required field is missing: ${kind} needs an apiVersion` });
    return;
  }
  const meta = isPlainObject(value.metadata) ? value.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : opts.defaultNamespace;
  // Joined, not a template: a template's result is a chain of four strings of 32 bytes each,
  // kept with every object (120,000 of them at 30,000 VirtualServices); join makes one.
  const ref = CLUSTER_SCOPED.has(kind) ? [kind, name || '<unnamed>'].join(' ') : [kind, ' ', namespace, '/', name || '<unnamed>'].join('');
  const info = kindInfo(apiVersion, kind);
  if (!info) {
    const versions = knownVersionsOf(kind);
    if (versions.length > 0 && apiVersion.split('/')[0] === versions[0]!.split('/')[0]) {
      problems.push({ severity: 'error', ...at(['apiVersion']), object: ref, field: 'apiVersion', message: `${apiVersion} is not a version of ${kind} we read: use ${versions.join(', ')}` });
    } else {
      const hint = WORKLOAD_KINDS.has(kind) ? '; meshgate runs no workloads: declare where its pods answer with an Endpoints object or WorkloadEntry' : '';
      problems.push({ severity: 'info', ...at([]), object: ref, message: `skipped: meshgate does not read ${apiVersion} ${kind}${hint}` });
    }
    return;
  }
  if (!name) {
    problems.push({ severity: 'error', ...at(['metadata', 'name']), object: ref, field: 'metadata.name', message: 'required field is missing: every object needs a name' });
    return;
  }
  const specPath = info.body === 'spec' ? SPEC_PATH : TOP_LEVEL;
  let body: unknown;
  if (info.body === 'spec') {
    body = value.spec ?? {};
  } else {
    const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = value;
    body = rest;
  }
  const found: Problem[] = [];
  // Made on the first problem: nearly every object has none.
  let reported: Set<string> | undefined;
  const report = (p: FieldPath, message: string) => {
    const field = [...specPath, ...p];
    const name = formatPath(field);
    (reported ??= new Set()).add(name);
    found.push({ severity: 'error', ...at(field), object: ref, field: name, message });
  };
  // meshgate's own checks first: where they and the CRD's find fault with the same field, the
  // hand-written message says more ("10 seconds" is not a duration: write a number with a unit).
  // One compiled pass answers for both where neither would find fault: nearly every object.
  // An unchecked read skips them, and the webhook's below (see LoadOptions).
  const checked = opts.unchecked !== true;
  if (checked && (info.crd === undefined || !fusedCheckFor(info.crd, info.schema)(body))) {
    validate(body, info.schema, [], report, { overlay: info.crd !== undefined });
    if (info.crd !== undefined) {
      validateCrd(body, info.crd, [], (p, message) => {
        if (reported === undefined || !reported.has(formatPath([...specPath, ...p]))) report(p, message);
      }, (p) => fieldsAt(info.schema, p));
    }
  }
  const labels = isPlainObject(meta.labels) ? (meta.labels as Record<string, string>) : NO_LABELS;
  const annotations = isPlainObject(meta.annotations) ? (meta.annotations as Record<string, string>) : undefined;
  // Istio's webhook runs only on what its schema admitted, as the API server orders them.
  if (checked && found.length === 0 && info.crd !== undefined && isPlainObject(body)) {
    for (const f of webhookCheck(info.kind, body, { name, namespace, labels, annotations: annotations ?? {} })) {
      const field = f.inMetadata ? ['metadata', ...f.path] : [...specPath, ...f.path];
      found.push({ severity: f.severity, ...at(field), object: ref, field: formatPath(field), message: f.message });
    }
  }
  if (found.length > 0) {
    // Several passes found them: in the order they are written.
    found.sort((a, b) => a.line! - b.line! || a.col! - b.col!);
    problems.push(...found);
    if (found.some((p) => p.severity === 'error')) return;
  }
  const created = typeof meta.creationTimestamp === 'string' ? Date.parse(meta.creationTimestamp) : NaN;
  const obj: ConfigObject = {
    apiVersion,
    kind: info.kind,
    name,
    namespace,
    labels,
    ...(annotations ? { annotations } : {}),
    spec: body,
    source: doc,
    docPath,
    specPath,
    ref,
    createdMs: Number.isFinite(created) ? created : mtimeMs,
    derived: undefined,
  };
  objects.push(obj);
}

/** `spec.http[0].match[1].uri`, the way kubectl and istioctl print field paths. */
export function formatPath(p: FieldPath): string {
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][\w]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Position of a field of an object, for problems found after loading (cross-object checks). */
export function locateField(obj: ConfigObject, field: FieldPath): { file: string; line: number; col: number } {
  return { file: obj.source.file, ...obj.source.locate([...obj.docPath, ...obj.specPath, ...field]) };
}

/** The bytes of an open file whose size was `size` (fewer if it shrank since). */
function readAll(fd: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let got = 0;
  while (got < size) {
    const n = fs.readSync(fd, bytes, got, size - got, got);
    if (n === 0) break;
    got += n;
  }
  return got < size ? bytes.subarray(0, got) : bytes;
}

/**
 * A file listed but not read (a broken symlink, a file removed or its permissions changed while
 * the config was read): an error on the file, as a syntax error is, not a crash. Not kept: the
 * next load tries it again.
 */
function unreadable(file: string, e: unknown): FileEntry {
  if (!(e instanceof Error) || typeof (e as NodeJS.ErrnoException).code !== 'string') throw e;
  const code = (e as NodeJS.ErrnoException).code!;
  const why =
    code === 'ENOENT' ? 'it is not there (a broken symlink, or removed while the config was read)'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'EISDIR' ? 'it is a directory'
    : e.message;
  return { id: ++entryCount, size: -1, mtimeMs: -1, madeAtMtimeMs: -1, text: '', objects: [], problems: [{ severity: 'error', file, line: 1, col: 1, message: `cannot be read: ${why}` }] };
}

// fs's callbacks, not fs/promises: a reload stats every config file, and 10,000 of them through
// FileHandles cost the event loop 0.8 s more (see entrySync).
const statOf = promisify(fs.stat) as (file: string) => Promise<Stats>;
const bytesOf = promisify(fs.readFile) as (file: string) => Promise<Buffer>;
