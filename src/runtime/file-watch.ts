import { readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

// Editors and `kubectl`-style mounts write a file in several steps (temp file, rename, symlink
// swap): one reload after they settle, not one per step.
const SETTLE_MS = 150;

/** Calls `fn` once, `ms` after the last of a burst of pokes. */
class Settle {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ms: number,
    private readonly fn: () => void,
  ) {}

  poke(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fn();
    }, this.ms);
    this.timer.unref();
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * Watches the folders holding some files and calls `changed` once things settle after any
 * change in them. Folders, not files: a certificate replaced by rename (or a Secret volume's
 * `..data` symlink swap) leaves a watch on the old file blind.
 */
export class FolderWatch {
  private watchers = new Map<string, FSWatcher>();
  private readonly settle: Settle;

  constructor(changed: () => void) {
    this.settle = new Settle(SETTLE_MS, changed);
  }

  /** Watch the folders of these files (and only those), replacing the previous set. */
  set(files: readonly string[]): void {
    const dirs = new Set(files.map((f) => path.resolve(path.dirname(f))));
    for (const [dir, w] of this.watchers) {
      if (!dirs.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.settle.poke());
        w.on('error', () => {
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch {
        // The folder does not exist (yet): nothing to watch until a reload finds it.
      }
    }
  }

  close(): void {
    this.settle.cancel();
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}

// Config edits are applied within 100 ms of the write: long enough for an editor's or kubectl's
// steps to settle, short enough to feel instant.
const CONFIG_SETTLE_MS = 50;
const CONFIG_FILE = /\.(ya?ml|json)$/i;

/**
 * Watches the config paths (directories recursively, files by their folder) and calls `changed`
 * once a change settles. Only config files count, and Kubernetes volume swaps (`..data`), not an
 * editor's swap files. A file caught half-written is read again on the next event; the reload it
 * triggers is refused and logged, and the last good config keeps serving meanwhile.
 */
export class ConfigWatch {
  /** Each watched folder (or a single file's folder, keyed with the file), by key. */
  private readonly watched = new Map<string, FSWatcher>();
  private readonly settle: Settle;

  constructor(paths: readonly string[], changed: () => void) {
    this.settle = new Settle(CONFIG_SETTLE_MS, changed);
    for (const p of paths) {
      const dir = path.resolve(p);
      try {
        if (!statSync(dir).isDirectory()) {
          this.watchDir(path.dirname(dir), path.basename(dir));
          continue;
        }
      } catch {
        continue; // a path that does not exist was reported by the load
      }
      this.watchTree(dir);
    }
  }

  /**
   * Each folder of the tree on its own watch, not one recursive watch: on Linux, Node 20 makes a
   * recursive watch by walking the tree in JavaScript, 190 ms for 10,000 files and again on each
   * change. Folders are found as the config's files are (hidden ones left out).
   */
  private watchTree(dir: string): void {
    this.watchDir(dir, null);
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.')) this.watchTree(path.join(dir, e.name));
  }

  /** Watches `dir` for config files (or only the file `only`) and Kubernetes volume swaps; again if watched before. */
  private watchDir(dir: string, only: string | null): void {
    const key = `${dir}\0${only ?? ''}`;
    this.watched.get(key)?.close();
    this.watched.delete(key);
    try {
      const w = watch(dir, { persistent: false }, (event, name) => {
        const file = name === null ? null : String(name);
        if (file !== null && only !== null && file !== only && !file.includes('..data')) return;
        // A name made or removed here may be a folder: made (or made again, after `git checkout`
        // or `rsync --delete` removed it), its files are config too; removed, its watch goes.
        if (file !== null && only === null && event === 'rename' && !file.startsWith('.') && this.folderCameOrWent(path.join(dir, file))) {
          this.settle.poke();
          return;
        }
        if (file !== null && !CONFIG_FILE.test(file) && !file.includes('..data')) return;
        this.settle.poke();
      });
      w.on('error', () => w.close());
      this.watched.set(key, w);
    } catch {
      // Not watchable (permissions, a vanished folder): SIGHUP still reloads.
    }
  }

  /** True when `full` is a folder now (watched afresh, with what is under it) or was one watched before. */
  private folderCameOrWent(full: string): boolean {
    let isFolder = false;
    try {
      isFolder = statSync(full).isDirectory();
    } catch {
      // Gone.
    }
    if (isFolder) {
      this.watchTree(full);
      return true;
    }
    let went = false;
    for (const [key, w] of this.watched) {
      if (key.startsWith(`${full}\0`) || key.startsWith(`${full}${path.sep}`)) {
        w.close();
        this.watched.delete(key);
        went = true;
      }
    }
    return went;
  }

  close(): void {
    this.settle.cancel();
    for (const w of this.watched.values()) w.close();
    this.watched.clear();
  }
}
