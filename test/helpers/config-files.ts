import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every file under `dir` (recursively, in directory order) whose name matches `pattern`. */
export function filesUnder(dir: string, pattern: RegExp): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const full = path.join(dir, e);
    if (statSync(full).isDirectory()) out.push(...filesUnder(full, pattern));
    else if (pattern.test(e)) out.push(full);
  }
  return out;
}
