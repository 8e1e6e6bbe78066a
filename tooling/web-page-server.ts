import { build, type BuildOptions } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';

/**
 * The repository's root: the sources are bundled from there, whether this file runs as TypeScript
 * (tooling/, under jest) or compiled (dist/tooling/, the bench).
 */
function repositoryRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'client', 'web-worker.ts'))) return dir;
    if (dirname(dir) === dir)
      throw new Error(`No repository root (package.json, client/) above ${__dirname}`);
  }
}

/** How an app's bundler builds for a browser: everything bundled, nothing external, ES modules. */
export const BROWSER_BUNDLE = {
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  write: false,
  logLevel: 'silent',
} as const satisfies BuildOptions;

/** A page script (or worker) bundled for the browser as an app's bundler would, nothing external. */
async function bundle(root: string, entry: string, banner?: string): Promise<string> {
  const result = await build({
    ...BROWSER_BUNDLE,
    entryPoints: [join(root, entry)],
    ...(banner === undefined ? {} : { banner: { js: banner } }),
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild wrote nothing for ${entry}`);
  return output.text;
}

/**
 * Removes OPFS from a worker before the store's code runs: what a browser without it (or an
 * insecure origin) offers, for the fallback test.
 */
const WITHOUT_OPFS = `delete globalThis.FileSystemFileHandle; delete Object.getPrototypeOf(navigator).storage;`;

export interface WebPageServer {
  /** `http://127.0.0.1:<port>`: a potentially trustworthy origin, so OPFS is there. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves a page on 127.0.0.1 (a free port): `/` the HTML, `/page.js` the bundled `page` (a path from
 * the repository's root), `/worker.js` the store's worker (`client/web-worker.ts`),
 * `/worker-without-opfs.js` the same with OPFS removed, `/sqlite3.wasm` from the package (fetched
 * relative to the worker's URL). With `api`, requests under `/api/` are passed to that origin (the
 * local host), so the page talks to the server on its own origin (the host sends no CORS headers).
 * Everything is served here: nothing comes from a CDN.
 */
export async function startWebPageServer(page: string, api?: string): Promise<WebPageServer> {
  const root = repositoryRoot();
  const [pageJs, workerJs, noOpfsWorkerJs] = await Promise.all([
    bundle(root, page),
    bundle(root, 'client/web-worker.ts'),
    bundle(root, 'client/web-worker.ts', WITHOUT_OPFS),
  ]);
  const wasm = readFileSync(require.resolve('@sqlite.org/sqlite-wasm/sqlite3.wasm'));
  const files: Record<string, { type: string; body: string | Buffer }> = {
    '/': {
      type: 'text/html; charset=utf-8',
      body: '<!doctype html><meta charset="utf-8"><title>web store</title><main id="app"></main><script type="module" src="/page.js"></script>',
    },
    '/page.js': { type: 'text/javascript', body: pageJs },
    '/worker.js': { type: 'text/javascript', body: workerJs },
    '/worker-without-opfs.js': { type: 'text/javascript', body: noOpfsWorkerJs },
    '/sqlite3.wasm': { type: 'application/wasm', body: wasm },
  };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (api !== undefined && path.startsWith('/api/')) {
      const target = new URL(req.url ?? '/', api);
      const upstream = httpRequest(
        target,
        { method: req.method, headers: { ...req.headers, host: target.host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', (error) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`proxy: ${error.message}`);
      });
      req.pipe(upstream);
      return;
    }
    const file = files[path];
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`no ${path}`);
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' });
    res.end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
