import { statSync, watch, type FSWatcher } from 'node:fs';
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
  private readonly settle: Settle;

  constructor(paths: readonly string[], changed: () => void) {
    this.settle = new Settle(CONFIG_SETTLE_MS, changed);
    for (const p of paths) {
      let dir = path.resolve(p);
      let only: string | null = null;
      try {
        if (!statSync(dir).isDirectory()) {
          only = path.basename(dir);
          dir = path.dirname(dir);
        }
      } catch {
        continue; // a path that does not exist was reported by the load
      }
      try {
        const w = watch(dir, { persistent: false, recursive: only === null }, (_event, name) => {
          const file = name === null ? null : String(name);
          if (file !== null && only !== null && path.basename(file) !== only && !file.includes('..data')) return;
          if (file !== null && !CONFIG_FILE.test(file) && !file.includes('..data')) return;
          this.settle.poke();
        });
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch {
        // Not watchable (permissions, a vanished folder): SIGHUP still reloads.
      }
    }
  }

  close(): void {
    this.settle.cancel();
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}
