// Folds dist/cli.js and what it imports (meshgate's modules and most of its dependencies) into
// dist/cli.js itself and a chunk per command under dist/chunks/: a few files to read and compile
// instead of ~500. `meshgate serve` is ready ~125 ms sooner (see the README's design notes). Run
// by `npm run build` after tsc; the other files tsc wrote stay in dist/ for tools and benchmarks
// that import single modules.
//
// Left outside, loaded from node_modules as before:
// - undici: undici-fixes.ts patches undici's own modules, and h1-client.ts loads its dispatcher
//   files by path; a second, bundled copy would be the one left unpatched;
// - yaml: loaded only when a message needs a position (config/source.ts).
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Not import.meta.dirname: it is Node 20.11's, and package.json allows 20.10.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(ROOT, 'dist/cli.js');
// Bundled CommonJS dependencies (fastify) call require: ESM has none of its own.
const BANNER = "import { createRequire as __meshgateRequire } from 'node:module'; const require = __meshgateRequire(import.meta.url);";

// The bundle replaces tsc's dist/cli.js: bundling it again would fold the old bundle in.
if (readFileSync(entry, 'utf8').includes(BANNER)) {
  console.error('dist/cli.js is a bundle already: run `npm run build` (tsc, then this script)');
  process.exit(1);
}

// Each command's modules in chunks of their own (cli.ts imports them when the command runs):
// `validate` then compiles 0.75 MB of JavaScript, not all 3.1 MB. The last build's chunks go
// first: their names change with their contents.
const chunks = path.join(ROOT, 'dist/chunks');
rmSync(chunks, { recursive: true, force: true });
await build({
  entryPoints: [entry],
  outdir: path.dirname(entry),
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['undici', 'yaml'],
  banner: { js: BANNER },
  sourcemap: true,
  logLevel: 'warning',
});
