// Builds the dashboard's browser assets: src/main.ts -> assets/app.js (minified, with a
// source map) and uPlot's stylesheet + style.css -> assets/style.css. No inline code:
// the page's CSP allows scripts and styles from 'self' only.
//   node dashboard-gateway/web/build.mjs
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import console from 'node:console';
import { build } from 'esbuild';

const here = import.meta.dirname;
const out = path.join(here, 'assets');
const require = createRequire(import.meta.url);

export async function buildDashboard({ quiet = false } = {}) {
  await mkdir(out, { recursive: true });
  const result = await build({
    entryPoints: [path.join(here, 'src/main.ts')],
    outfile: path.join(out, 'app.js'),
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'iife',
    target: ['chrome109', 'firefox115', 'safari15.4', 'edge109'],
    legalComments: 'eof',
    logLevel: quiet ? 'warning' : 'info',
    metafile: true,
    write: false,
  });
  for (const f of result.outputFiles) await writeIfChanged(f.path, Buffer.from(f.contents));
  const uplotCss = await readFile(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  const ownCss = await readFile(path.join(here, 'style.css'), 'utf8');
  await writeIfChanged(path.join(out, 'style.css'), Buffer.from(`/* uPlot (MIT) */\n${uplotCss}\n${ownCss}`));
  return result;
}

/**
 * Replace a file only when its bytes change, through a rename: a server serving the assets while
 * another build runs (tests start servers in parallel) never reads a half-written file.
 */
async function writeIfChanged(file, bytes) {
  const old = await readFile(file).catch(() => null);
  if (old && old.equals(bytes)) return;
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.join(here, 'build.mjs')) {
  buildDashboard().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
