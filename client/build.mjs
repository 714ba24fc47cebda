/* global console */
// Builds the client library with esbuild into client/dist:
//   fleet-client.js  browser bundle (ESM, minified, no dependencies): served by the replicas at /client.js
//   index.js         the module for Node tools (ESM, not minified, with a source map)
//   demo.js, index.html, demo.css  the demo page (its import of the library is /client.js)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
mkdirSync(out, { recursive: true });
const common = { bundle: true, format: 'esm', logLevel: 'warning', legalComments: 'none' };

await build({ ...common, entryPoints: [join(here, 'src/index.ts')], outfile: join(out, 'fleet-client.js'), platform: 'browser', target: 'es2020', minify: true, sourcemap: false });
await build({ ...common, entryPoints: [join(here, 'src/index.ts')], outfile: join(out, 'index.js'), platform: 'neutral', target: 'es2022', sourcemap: true });
/** The demo's import of the library resolves to the replica's /client.js (one copy, cached by the browser). */
const libraryFromServer = {
  name: 'library-from-server',
  setup(b) { b.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path: '/client.js', external: true })); },
};
await build({ ...common, entryPoints: [join(here, 'demo/demo.ts')], outfile: join(out, 'demo.js'), platform: 'browser', target: 'es2020', minify: true, plugins: [libraryFromServer] });
for (const f of ['index.html', 'demo.css']) copyFileSync(join(here, 'demo', f), join(out, f));
console.log(`build-client: ${out}`);
