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
  private watchers: FSWatcher[] = [];
  private readonly watched = new Set<string>();
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

  /** Watches `dir` for config files (or only the file `only`) and Kubernetes volume swaps. */
  private watchDir(dir: string, only: string | null): void {
    const key = `${dir}\0${only ?? ''}`;
    if (this.watched.has(key)) return;
    this.watched.add(key);
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        const file = name === null ? null : String(name);
        if (file !== null && only !== null && file !== only && !file.includes('..data')) return;
        if (file !== null && only === null && !file.startsWith('.') && !CONFIG_FILE.test(file) && this.isNewFolder(path.join(dir, file))) {
          // A folder made since: its files are config too.
          this.watchTree(path.join(dir, file));
          this.settle.poke();
          return;
        }
        if (file !== null && !CONFIG_FILE.test(file) && !file.includes('..data')) return;
        this.settle.poke();
      });
      w.on('error', () => w.close());
      this.watchers.push(w);
    } catch {
      // Not watchable (permissions, a vanished folder): SIGHUP still reloads.
    }
  }

  private isNewFolder(full: string): boolean {
    if (this.watched.has(`${full}\0`)) return false;
    try {
      return statSync(full).isDirectory();
    } catch {
      return false;
    }
  }

  close(): void {
    this.settle.cancel();
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.watched.clear();
  }
}
