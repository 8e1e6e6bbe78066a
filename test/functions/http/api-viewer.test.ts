/**
 * The API viewer (Swagger UI from swagger-ui-dist) as both hosts serve it: through the HTTP adapter
 * the local host calls, and through the handler functions/index.ts registers with Azure Functions
 * (captured, as test/functions/index-registrations.test.ts does).
 */
const registrations: {
  name: string;
  options: {
    route: string;
    handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;
  };
}[] = [];
jest.mock('@azure/functions', () => {
  const actual = jest.requireActual<typeof AzureFunctions>('@azure/functions');
  return {
    ...actual,
    app: {
      ...actual.app,
      http: (name: string, options: (typeof registrations)[number]['options']) =>
        registrations.push({ name, options }),
      serviceBusQueue: () => undefined,
    },
  };
});
jest.mock('durable-functions', () => {
  const actual = jest.requireActual<typeof DurableFunctions>('durable-functions');
  return { ...actual, app: { ...actual.app, orchestration: () => undefined, activity: () => undefined } };
});
jest.mock('../../../shared/config', () => ({
  ...jest.requireActual<object>('../../../shared/config'),
  loadSettings: () => ({}),
}));
jest.mock('../../../shared/create-app-runtime', () => ({
  createAppRuntime: async () => ({ services: { settings: {} }, verifier: {} }),
}));

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import type * as AzureFunctions from '@azure/functions';
import type * as DurableFunctions from 'durable-functions';
import { handleRequest, type HttpRuntime } from '../../../functions/http/handle-request';
import { VIEWER_ASSETS } from '../../../functions/http/routes/api-viewer-routes';
import { routes } from '../../../functions/routes';
import '../../../functions/index';

const swaggerUiDir = dirname(require.resolve('swagger-ui-dist/package.json'));
const runtime = { services: { settings: {} }, verifier: {} } as unknown as HttpRuntime;

interface Answer {
  status: number;
  headers: Headers;
  bytes: Buffer;
}

async function read(init: HttpResponseInit): Promise<Answer> {
  const headers = new Headers(init.headers);
  let bytes = init.body === undefined ? Buffer.alloc(0) : Buffer.from(init.body as Uint8Array);
  if (headers.get('content-encoding') === 'br') bytes = brotliDecompressSync(bytes);
  if (headers.get('content-encoding') === 'gzip') bytes = gunzipSync(bytes);
  return { status: init.status ?? 200, headers, bytes };
}

function request(path: string, params: Record<string, string> = {}, headers: Record<string, string> = {}) {
  return new HttpRequest({ method: 'GET', url: `http://127.0.0.1${path}`, params, headers });
}

/** Through the adapter both hosts call (the local host matches the path to the route first). */
async function viaAdapter(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const [name, params] =
    path === '/api/docs' ? ['apiViewer', {}] : ['apiViewerAsset', { asset: path.replace('/api/docs/', '') }];
  const route = routes.find((r) => r.name === name)!;
  return read(
    await handleRequest(
      route,
      request(path, params, headers),
      new InvocationContext({ invocationId: 't' }),
      runtime,
    ),
  );
}

/** Through the handler the Functions registration runs. */
async function viaFunctions(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const [name, params] =
    path === '/api/docs' ? ['apiViewer', {}] : ['apiViewerAsset', { asset: path.replace('/api/docs/', '') }];
  const registration = registrations.find((r) => r.name === name)!;
  return read(
    await registration.options.handler(
      request(path, params, headers),
      new InvocationContext({ invocationId: 'f' }),
    ),
  );
}

describe.each([
  ['the HTTP adapter (local host)', viaAdapter],
  ['the Functions registration', viaFunctions],
])('the API viewer through %s', (_, get) => {
  it('serves a page that loads Swagger UI from this host over /api/openapi.json', async () => {
    const page = await get('/api/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = page.bytes.toString('utf8');
    expect(html).toContain('<div id="swagger-ui"></div>');
    const referenced = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(referenced.length).toBeGreaterThanOrEqual(4);
    for (const url of referenced) expect(url).toMatch(/^\/api\/docs\//);

    const script = await get('/api/docs/viewer.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(script.bytes.toString('utf8')).toContain("url: '/api/openapi.json'");
  });

  it("serves every file the page names, the package's own bytes, compressed when asked", async () => {
    const html = (await get('/api/docs')).bytes.toString('utf8');
    for (const url of [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)) {
      const asset = await get(url, { 'accept-encoding': 'gzip, br' });
      expect({ url, status: asset.status }).toEqual({ url, status: 200 });
      const name = url.replace('/api/docs/', '');
      if (name !== 'viewer.js') expect(asset.bytes.equals(readFileSync(join(swaggerUiDir, name)))).toBe(true);
    }
    const bundle = await get('/api/docs/swagger-ui-bundle.js', { 'accept-encoding': 'br' });
    expect(bundle.headers.get('content-encoding')).toBe('br');
    expect(bundle.headers.get('cache-control')).toContain('max-age');
    expect(bundle.bytes.toString('utf8')).toContain('SwaggerUIBundle');
    const css = await get('/api/docs/swagger-ui.css');
    expect(css.headers.get('content-encoding')).toBeNull();
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('answers 404 in the error envelope for a file it does not serve', async () => {
    for (const name of ['swagger-initializer.js', '..%2Fpackage.json', 'constructor', '__proto__']) {
      const answer = await get(`/api/docs/${name}`);
      expect({ name, status: answer.status }).toEqual({ name, status: 404 });
      expect(JSON.parse(answer.bytes.toString('utf8'))).toMatchObject({
        error: { code: 'NotFound', traceId: expect.any(String) },
      });
    }
  });
});

it('lists exactly the files the page needs', () => {
  expect(VIEWER_ASSETS.sort()).toEqual([
    'favicon-32x32.png',
    'swagger-ui-bundle.js',
    'swagger-ui.css',
    'viewer.js',
  ]);
  expect(registrations.find((r) => r.name === 'apiViewer')?.options.route).toBe('api/docs');
  expect(registrations.find((r) => r.name === 'apiViewerAsset')?.options.route).toBe('api/docs/{asset}');
});
