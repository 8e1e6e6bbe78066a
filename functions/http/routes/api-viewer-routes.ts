import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';
import { z } from 'zod';
import { AppError } from '../../../shared/errors';
import { chooseEncoding } from '../handle-request';
import { defineRoute, type RouteDefinition, type RouteResponse } from '../route-definition';

/**
 * The API viewer: Swagger UI (npm `swagger-ui-dist`, served from this app's own node_modules, no
 * CDN) over `GET api/openapi.json`. Under `api/` like every route (the Functions host refuses routes
 * starting with `admin` or `runtime`); both hosts serve it from the route table.
 */

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** The page's own script: starts Swagger UI on this host's document. */
const VIEWER_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/api/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    tryItOutEnabled: false,
    persistAuthorization: false,
  });
});
`;

const VIEWER_PAGE = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Offline sync backend API</title>
    <link rel="stylesheet" href="/api/docs/swagger-ui.css">
    <link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/api/docs/swagger-ui-bundle.js"></script>
    <script src="/api/docs/viewer.js"></script>
  </body>
</html>
`;

/** What `api/docs/{asset}` serves: the package's files it needs, and the page's script. */
const assets: Record<string, { type: string; load: () => Promise<Buffer> }> = {
  'swagger-ui.css': { type: 'text/css; charset=utf-8', load: () => packageFile('swagger-ui.css') },
  'swagger-ui-bundle.js': {
    type: 'text/javascript; charset=utf-8',
    load: () => packageFile('swagger-ui-bundle.js'),
  },
  'favicon-32x32.png': { type: 'image/png', load: () => packageFile('favicon-32x32.png') },
  'viewer.js': {
    type: 'text/javascript; charset=utf-8',
    load: () => Promise.resolve(Buffer.from(VIEWER_SCRIPT)),
  },
};

/** The names `api/docs/{asset}` serves. */
export const VIEWER_ASSETS = Object.keys(assets);

function packageFile(name: string): Promise<Buffer> {
  return readFile(join(dirname(require.resolve('swagger-ui-dist/package.json')), name));
}

/** Each asset's bytes and compressed forms, made once per process on first use. */
const cache = new Map<string, Promise<Buffer>>();
function cached(key: string, make: () => Promise<Buffer>): Promise<Buffer> {
  let entry = cache.get(key);
  if (!entry) {
    entry = make();
    cache.set(key, entry);
    // A failed read is not kept: the next request tries again.
    entry.catch(() => cache.delete(key));
  }
  return entry;
}

/** Serves one file with its type, cached once per process with its compressed forms. */
export async function serveAsset(
  name: string,
  type: string,
  load: () => Promise<Buffer>,
  headers: Headers,
  cacheControl: string,
): Promise<RouteResponse> {
  const bytes = await cached(name, load);
  const encoding =
    bytes.length >= 1024 && !type.startsWith('image/')
      ? chooseEncoding(headers.get('accept-encoding'))
      : undefined;
  const base = { 'content-type': type, 'cache-control': cacheControl, vary: 'Accept-Encoding' };
  if (!encoding) return { raw: bytes, headers: base };
  const compressed = await cached(`${name}.${encoding}`, async () =>
    encoding === 'br'
      ? brotliAsync(bytes, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 9 } })
      : gzipAsync(bytes, { level: 9 }),
  );
  return { raw: compressed, headers: { ...base, 'content-encoding': encoding } };
}

/** Scripts and styles from this host only (Swagger UI sets inline styles; images may be data: URLs). */
const PAGE_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** `GET api/docs`: the viewer page. */
export const apiViewerPageRoute = defineRoute({
  name: 'apiViewer',
  method: 'GET',
  route: 'api/docs',
  auth: 'none',
  summary: 'The API viewer (Swagger UI) over this document.',
  response: z.string(),
  mediaTypes: ['text/html'],
  handler: async ({ headers }) => {
    const page = await serveAsset(
      'index.html',
      'text/html; charset=utf-8',
      () => Promise.resolve(Buffer.from(VIEWER_PAGE)),
      headers,
      'no-cache',
    );
    return { ...page, headers: { ...page.headers, 'content-security-policy': PAGE_POLICY } };
  },
});

/** `GET api/docs/{asset}`: the viewer's scripts, styles and icon. */
export const apiViewerAssetRoute = defineRoute({
  name: 'apiViewerAsset',
  method: 'GET',
  route: 'api/docs/{asset}',
  auth: 'none',
  params: z.object({ asset: z.string().max(100) }),
  summary: `A file of the API viewer: ${VIEWER_ASSETS.join(', ')}.`,
  response: z.string(),
  mediaTypes: ['text/javascript', 'text/css', 'image/png'],
  errors: ['NotFound'],
  handler: ({ params, headers }) => {
    const asset = Object.hasOwn(assets, params.asset) ? assets[params.asset] : undefined;
    if (!asset) return Promise.reject(new AppError('NotFound', `The viewer has no file '${params.asset}'.`));
    return serveAsset(params.asset, asset.type, asset.load, headers, 'public, max-age=86400');
  },
});

/** The viewer's routes, for the route table. */
export const apiViewerRoutes: RouteDefinition[] = [apiViewerPageRoute, apiViewerAssetRoute];
