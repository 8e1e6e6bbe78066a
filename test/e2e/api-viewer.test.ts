import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

/** The local host serves the OpenAPI document and its viewer over HTTP, as a browser fetches them. */
describe('local host: the OpenAPI document and its viewer', () => {
  let f: HostFixture;

  beforeAll(async () => {
    f = await startHostFixture({ DEMO_TENANT: 'false' });
  });
  afterAll(() => f.close());

  it('serves the viewer page and every file it names, without a token', async () => {
    const page = await f.request('GET', '/api/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const urls = [...(page.body as string).matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(urls).toEqual(
      expect.arrayContaining([
        '/api/docs/swagger-ui-bundle.js',
        '/api/docs/swagger-ui.css',
        '/api/docs/viewer.js',
      ]),
    );
    for (const url of urls) {
      const asset = await f.request('GET', url, { headers: { 'accept-encoding': 'br, gzip' } });
      expect({ url, status: asset.status }).toEqual({ url, status: 200 });
    }
    expect((await f.request('GET', '/api/docs/nothing.js')).status).toBe(404);
  });

  it('serves the document the viewer loads: OpenAPI 3.1 with servers, tags and every route', async () => {
    const res = await f.request('GET', '/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ openapi: '3.1.0', servers: [{ url: '/' }] });
    expect(res.body.tags.length).toBeGreaterThanOrEqual(10);
    expect(Object.keys(res.body.paths)).toEqual(
      expect.arrayContaining(['/api/docs', '/api/sync/{org}/download', '/api/admin/tenants/{org}']),
    );
  });
});
