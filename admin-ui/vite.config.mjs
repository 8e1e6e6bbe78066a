// Builds the admin page (admin-ui/) into dist/console/, which the app serves under /api/console
// (functions/http/routes/console-routes.ts). Run by scripts/build.mjs; every asset is this app's own.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/api/console/',
  // Preact's automatic JSX runtime (Vite's own transform; no framework plugin needed).
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/console/', import.meta.url)),
    emptyOutDir: true,
    // One folder level: the asset route serves `api/console/{asset}`.
    assetsDir: '',
    sourcemap: false,
    target: 'es2022',
  },
});
