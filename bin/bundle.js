// The CLI runs from a bundle of its TypeScript sources (dist/cli), built with esbuild on first use and again
// whenever a source is newer than the bundle. A bundle rather than tsx at run time: tsx's loader thread and
// per-module transforms cost a server about 45 MB, and each import thread needs a loader of its own. Lazy
// imports (the demo's faker, the PDF renderer) stay lazy as split chunks.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../', import.meta.url));
// The sources each bundle was built from, and when: the bundle is current while none is newer or gone.
const stamp = `${root}dist/sources.json`;
const ENTRY_POINTS = ['src/cli/main.ts', 'src/cli/import-worker.ts'];
export const bundleEntry = new URL('../dist/cli/main.mjs', import.meta.url);

export function bundleIsCurrent() {
  try {
    const { builtAt, sources } = JSON.parse(readFileSync(stamp, 'utf8'));
    statSync(bundleEntry); // a bundle half deleted is not current either
    return sources.every((source) => statSync(root + source).mtimeMs <= builtAt);
  } catch {
    return false;
  }
}

/**
 * Builds the bundle. Several processes may build at once (a test suite starting many): each file is written
 * whole and renamed into place, chunks before the entries that import them, so a reader never sees half a
 * build. Chunks are content-named and never deleted here, so a running server's lazy import still finds its own.
 */
export async function buildBundle() {
  const builtAt = Date.now();
  const result = await build({
    absWorkingDir: root,
    entryPoints: ENTRY_POINTS,
    // Beside the sources' depth (src/<folder>/), so paths to the package's own files (policy/, migrations)
    // resolve the same from either.
    outdir: 'dist/cli',
    outExtension: { '.js': '.mjs' },
    chunkNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    metafile: true,
    write: false,
    logLevel: 'error',
  });
  // Lazily imported chunks count as entry points in the metafile too: only the named ones go last.
  const isEntry = (file) =>
    ENTRY_POINTS.includes(result.metafile.outputs[relative(root, file.path)]?.entryPoint);
  const files = [...result.outputFiles].sort((a, b) => Number(isEntry(a)) - Number(isEntry(b)));
  for (const file of files) writeWhole(file.path, file.contents);
  writeWhole(stamp, JSON.stringify({ builtAt, sources: Object.keys(result.metafile.inputs) }));
}

function writeWhole(path, contents) {
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, contents);
  renameSync(partial, path);
}

// `npm run build`: build now, e.g. for an image whose package folder is read-only at run time.
if (process.argv[1] === fileURLToPath(import.meta.url)) await buildBundle();
