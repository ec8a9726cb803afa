// Static build of the playground: `npm run build` -> dist/, servable from any path (base './').
// The compiler comes from the wasm-bindgen package built by scripts/build-js.sh
// (wasm/js/pkg-web); SVCINTENT_PKG points elsewhere for development.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(process.env.SVCINTENT_PKG || path.join(here, '../wasm/js/pkg-web'));
if (!existsSync(path.join(pkg, 'svcintent.js'))) {
  throw new Error(`svcintent wasm package not found at ${pkg}: run scripts/build-js.sh first`);
}

export default defineConfig({
  base: './',
  resolve: { alias: { 'svcintent-pkg': pkg } },
  worker: { format: 'es' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', assetsInlineLimit: 0 },
  server: { fs: { allow: [path.resolve(here, '..'), pkg] } },
});
