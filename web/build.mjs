// Build cairn's A2UI web client into one directory of static assets (default:
// ../src/cairn/a2ui/static, checked in so `cairn serve` needs no Node.js).
//
// Reproducible: exact dependency versions (package-lock.json, `npm ci`), esbuild with no
// timestamps, no absolute paths and no source maps in the output, and files written in a fixed
// order. tests/a2ui/browser/test_assets.py rebuilds into a temp dir and compares byte for byte.
//
//   node build.mjs [--outdir DIR]
import { build } from 'esbuild';
import { mkdir, readFile, writeFile, copyFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIdx = args.indexOf('--outdir');
const outdir = path.resolve(outIdx >= 0 ? args[outIdx + 1] : path.join(here, '../src/cairn/a2ui/static'));

// The cairn catalog id comes from the server's catalog so both sides name it the same.
const catalogPath = path.join(here, '../src/cairn/a2ui/catalogs/cairn/catalog.json');
let catalogId = 'https://cairn.dev/a2ui/catalogs/cairn/v1/catalog.json';
if (existsSync(catalogPath)) {
  const catalog = JSON.parse(await readFile(catalogPath, 'utf8'));
  catalogId = catalog.catalogId || catalog.$id || catalogId;
}

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await build({
  absWorkingDir: here,
  entryPoints: ['src/main.js'],
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: true,
  legalComments: 'none',
  charset: 'utf8',
  outfile: path.join(outdir, 'app.js'),
  define: { __CAIRN_CATALOG_ID__: JSON.stringify(catalogId), 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
await copyFile(path.join(here, 'index.html'), path.join(outdir, 'index.html'));
await copyFile(path.join(here, 'src/app.css'), path.join(outdir, 'app.css'));
await writeFile(path.join(outdir, 'LICENSES.txt'),
  'app.js bundles @a2ui/lit and @a2ui/web_core (Apache-2.0, Google LLC), lit (BSD-3-Clause),\n' +
  '@lit/context and @lit-labs/signals (BSD-3-Clause), signal-polyfill and signal-utils (MIT),\n' +
  '@preact/signals-core (MIT), zod and zod-to-json-schema (MIT/ISC), date-fns (MIT),\n' +
  'markdown-it and its dependencies (MIT), dompurify (Apache-2.0 or MPL-2.0).\n' +
  'Source and exact versions: web/package.json and web/package-lock.json in the cairn repository.\n');
console.log(`built ${outdir} (catalog ${catalogId})`);
