// Bundles the portal's frontend with esbuild into dist/ (index.html + static/):
// a few seconds, where the Backstage CLI's webpack build takes minutes on 2 cores.
// The mlmeta plugin is bundled from its sources (../plugin/src); every bare import,
// the plugin's included, resolves in this app's node_modules, so React, MUI and the
// Backstage APIs exist once in the bundle.
//
//   node build.mjs            (run by portal.py; node_modules is a link into the cache)
//
// MLMETA_PLUGIN_ENTRY=<file> bundles another entry point in the plugin's place.
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pluginDir = resolve(here, '..', 'plugin');
const pluginEntry = process.env.MLMETA_PLUGIN_ENTRY ?? join(pluginDir, 'src', 'index.ts');
const dist = join(here, 'dist');

const resolveInApp = {
  name: 'resolve-in-app',
  setup(b) {
    b.onResolve({ filter: /^@mlmeta\/backstage-plugin-mlmeta$/ }, () => ({ path: pluginEntry }));
    // Bare imports from the plugin's sources (any file outside this app and node_modules): from here, not from ../plugin/node_modules
    // (its test install), which would bring a second React.
    b.onResolve({ filter: /^[^./]/ }, async args => {
      const outside = !args.importer.startsWith(here + sep) && !args.importer.includes(`${sep}node_modules${sep}`);
      if (!outside || args.pluginData === 'app') return undefined;
      return b.resolve(args.path, { kind: args.kind, resolveDir: here, pluginData: 'app' });
    });
  },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const started = Date.now();
const result = await build({
  entryPoints: { index: join(here, 'src', 'index.tsx') },
  outdir: join(dist, 'static'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: false,
  jsx: 'automatic',
  chunkNames: 'chunk-[hash]',
  assetNames: 'asset-[name]-[hash]',
  loader: {
    '.svg': 'file',
    '.png': 'file',
    '.jpg': 'file',
    '.gif': 'file',
    '.woff': 'file',
    '.woff2': 'file',
    '.ttf': 'file',
    '.eot': 'file',
  },
  publicPath: '/static',
  define: {
    'process.env.NODE_ENV': '"production"',
    // The config comes from the page (a backstage.io/config script the backend injects).
    'process.env.APP_CONFIG': 'undefined',
    global: 'globalThis',
  },
  // The catalog's CSV export imports csv-stringify's Node build; it ships a browser one.
  alias: { 'csv-stringify/lib/sync': 'csv-stringify/lib/browser/sync.js' },
  plugins: [resolveInApp],
  logLevel: 'warning',
  metafile: true,
});
// index.html links the stylesheet when some bundled module imported CSS (uPlot's does).
const styles = existsSync(join(dist, 'static', 'index.css'))
  ? '<link rel="stylesheet" href="/static/index.css" />'
  : '';
const html = readFileSync(join(here, 'public', 'index.html'), 'utf8');
writeFileSync(join(dist, 'index.html'), html.replace('<!-- styles -->', styles));
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`built dist/ in ${Date.now() - started} ms (${(bytes / 1e6).toFixed(1)} MB)`);
