import { ADMIN_ROLE } from '../../shared/auth/principal';
import { buildDemoDirectory, DEMO_ENTRA_TENANT_ID } from '../../local/demo/demo-directory';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';

/**
 * `GET /api/metrics` on the local host (issue 18): the OpenTelemetry Prometheus exporter's text over
 * the meter provider the host installs, with the figures of the requests it served; open on the local
 * host by default, operators only with `METRICS_OPEN=false`.
 */

/** The value of the first sample of `name` whose labels include every one of `labels`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = /\{(.*)\}/.exec(line)?.[1] ?? '';
    if (Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`))) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

describe('GET /api/metrics on the local host', () => {
  let f: HostFixture;

  beforeAll(async () => {
    f = await startHostFixture({ DEMO_ROWS: '100' });
  });
  afterAll(() => f.close());

  it('answers the Prometheus text format with the requests, rows sent and response sizes it served', async () => {
    const dave = buildDemoDirectory(42).users.find((u) => u.userName === 'dave')!;
    const token = await f.token({ oid: dave.entraObjectId, tid: DEMO_ENTRA_TENANT_ID });
    const download = await f.request('POST', '/api/sync/contoso/download', {
      token,
      body: { app: 'field-sales', deviceId: 'metrics-1' },
    });
    expect(download.status).toBe(200);
    const rows = (download.body.changes as unknown[]).length;
    expect((await f.request('GET', '/api/sync/contoso/metadata')).status).toBe(401);

    const res = await f.request('GET', '/api/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = res.body as string;
    expect(text).toMatch(/^# HELP http_server_request_duration Server time of HTTP requests\./m);
    expect(text).toMatch(/^# TYPE http_server_request_duration histogram$/m);
    expect(text).toMatch(/^# TYPE offline_sync_sync_rows_sent_total counter$/m);
    const downloadRoute = { http_route: '/api/sync/{org}/download', http_response_status_code: '200' };
    expect(sample(text, 'http_server_request_duration_count', downloadRoute)).toBe(1);
    expect(sample(text, 'http_server_request_duration_bucket', { ...downloadRoute, le: '+Inf' })).toBe(1);
    expect(
      sample(text, 'http_server_request_duration_count', {
        http_route: '/api/sync/{org}/metadata',
        http_response_status_code: '401',
      }),
    ).toBe(1);
    expect(sample(text, 'offline_sync_sync_rows_sent_total', { offline_sync_org: 'contoso' })).toBe(rows);
    expect(sample(text, 'http_server_response_body_size_sum', downloadRoute)).toBeGreaterThan(0);
  });

  it('is for operators only when METRICS_OPEN is false', async () => {
    const closed = await startHostFixture({ DEMO_TENANT: 'false', METRICS_OPEN: 'false' });
    try {
      expect((await closed.request('GET', '/api/metrics')).status).toBe(401);
      const admin = await closed.token({ oid: 'a1', tid: DEMO_ENTRA_TENANT_ID, roles: [ADMIN_ROLE] });
      expect((await closed.request('GET', '/api/metrics', { token: admin })).status).toBe(403);
      const operator = await closed.request('GET', '/api/metrics', { token: await closed.operatorToken() });
      expect(operator.status).toBe(200);
      expect(operator.body).toMatch(/^# TYPE http_server_request_duration histogram$/m);
    } finally {
      await closed.close();
    }
  });
});
