import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';

// Editors and `kubectl`-style mounts write a file in several steps (temp file, rename, symlink
// swap): one reload after they settle, not one per step.
const SETTLE_MS = 150;

/**
 * Watches the folders holding some files and calls `changed` once things settle after any
 * change in them. Folders, not files: a certificate replaced by rename (or a Secret volume's
 * `..data` symlink swap) leaves a watch on the old file blind.
 */
export class FolderWatch {
  private watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly changed: () => void) {}

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
        const w = watch(dir, { persistent: false }, () => this.poke());
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

  private poke(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.changed();
    }, SETTLE_MS);
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
