import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ADMIN_ROLE } from '../../shared/auth/principal';
import { buildDemoDirectory, DEMO_ENTRA_TENANT_ID } from '../../local/demo/demo-directory';
import type { ProvisioningStatus } from '../../shared/provisioning/provisioning-status';
import { ATTR, METRIC, SPAN } from '../../shared/telemetry/telemetry';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';
import { captureTelemetry, total, type TelemetryCapture } from '../support/telemetry-capture';

/**
 * What the core's OpenTelemetry hooks record for each flow (issue 18), end to end over the local host
 * with the SDK's in-memory exporters installed: a download, an upload, replication messages and a
 * provisioning run, each with its spans (nested under the request's server span) and its metrics;
 * and nothing secret — no token, ingest key or row value — in any span, metric or log line.
 */

const ORG = 'contoso';
const ROW_MARKER = 'tel-row-value-7f3a9c';
const INGEST_MARKER = 'tel-ingested-value-51d2e8';

describe('telemetry of the flows over the local host', () => {
  let capture: TelemetryCapture;
  let f: HostFixture;
  const lines: string[] = [];
  let deviceToken: string;
  let adminToken: string;
  let ingestKey: string;

  beforeAll(async () => {
    capture = captureTelemetry();
    f = await startHostFixture({ DEMO_ROWS: '200' }, { log: (line) => lines.push(line) });
    const dave = buildDemoDirectory(42).users.find((u) => u.userName === 'dave')!;
    deviceToken = await f.token({ oid: dave.entraObjectId, tid: DEMO_ENTRA_TENANT_ID });
    adminToken = await f.token({
      oid: '22222222-2222-4222-8222-222222222222',
      tid: DEMO_ENTRA_TENANT_ID,
      roles: [ADMIN_ROLE],
    });
    const key = await f.request('POST', `/api/admin/${ORG}/ingest-key`, { token: adminToken });
    expect(key.status).toBe(201);
    ingestKey = key.body.key as string;
  });
  afterAll(async () => {
    await f.close();
    await capture.stop();
  });

  const spansNamed = (name: string): ReadableSpan[] => capture.spans().filter((s) => s.name === name);
  const parentOf = (span: ReadableSpan): ReadableSpan | undefined =>
    capture.spans().find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);

  const descendsFrom = (span: ReadableSpan, ancestor: ReadableSpan): boolean => {
    for (let at = parentOf(span); at !== undefined; at = parentOf(at)) if (at === ancestor) return true;
    return false;
  };

  /** Polls the finished spans (the queue's worker and the provisioning driver run in the background). */
  async function waitForSpan(name: string, match: (s: ReadableSpan) => boolean): Promise<ReadableSpan> {
    for (let i = 0; i < 400; i++) {
      const found = spansNamed(name).find(match);
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no span ${name} came`);
  }

  let downloaded: { entity: string; id: string; version: string; row?: Record<string, unknown> }[] = [];

  it('a download: its span under the request span, store calls under it, rows sent and request metrics', async () => {
    const res = await f.request('POST', `/api/sync/${ORG}/download`, {
      token: deviceToken,
      body: { app: 'field-sales', deviceId: 'tel-device-1' },
    });
    expect(res.status).toBe(200);
    downloaded = res.body.changes;
    expect(downloaded.length).toBeGreaterThan(0);

    const download = spansNamed(SPAN.download).at(-1)!;
    expect(download.attributes).toMatchObject({
      [ATTR.org]: ORG,
      [ATTR.app]: 'field-sales',
      [ATTR.format]: 'changes',
      [ATTR.rows]: downloaded.length,
      [ATTR.more]: res.body.more,
    });
    const server = parentOf(download)!;
    expect(server.name).toBe('POST /api/sync/{org}/download');
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.attributes).toMatchObject({ [ATTR.statusCode]: 200, [ATTR.org]: ORG });
    // The answer's trace id is the trace's: an error body leads an operator to its spans.
    expect(res.headers.get('x-trace-id')).toBe(server.spanContext().traceId);
    const storeCalls = capture
      .spans()
      .filter(
        (s) =>
          s.name.startsWith(SPAN.storePrefix) && s.spanContext().traceId === server.spanContext().traceId,
      );
    expect(storeCalls.length).toBeGreaterThan(0);
    expect(
      storeCalls.every((s) => s.kind === SpanKind.CLIENT && s.attributes['db.system.name'] === 'sqlite'),
    ).toBe(true);
    // The device state, rows and changes the download read: store calls under its span.
    expect(storeCalls.filter((s) => descendsFrom(s, download)).length).toBeGreaterThan(0);

    expect(total(await capture.points(METRIC.rowsSent), { [ATTR.org]: ORG, [ATTR.format]: 'changes' })).toBe(
      downloaded.length,
    );
    const route = { [ATTR.route]: '/api/sync/{org}/download', [ATTR.statusCode]: 200 };
    expect(total(await capture.points(METRIC.httpDuration), route)).toBe(1);
    const sizes = (await capture.points(METRIC.httpResponseSize)).filter(
      (p) => p.attributes[ATTR.route] === '/api/sync/{org}/download',
    );
    expect(sizes[0]!.sum).toBeGreaterThan(0);
  });

  it('an upload: its span with counts by status, and upload results by status', async () => {
    const account = downloaded.find((c) => c.entity === 'account' && c.row !== undefined)!;
    const res = await f.request('POST', `/api/sync/${ORG}/upload`, {
      token: deviceToken,
      body: {
        app: 'field-sales',
        deviceId: 'tel-device-1',
        operations: [
          {
            opId: 'tel-op-1',
            entity: 'account',
            id: account.id,
            op: 'update',
            row: { telephone1: ROW_MARKER },
          },
          { opId: 'tel-op-2', entity: 'nosuchentity', id: 'x1', op: 'create', row: { name: ROW_MARKER } },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(['applied', 'rejected']);
    const upload = spansNamed(SPAN.upload).at(-1)!;
    expect(upload.attributes).toMatchObject({
      [ATTR.org]: ORG,
      [ATTR.operations]: 2,
      'offline_sync.upload.applied': 1,
      'offline_sync.upload.rejected': 1,
    });
    expect(parentOf(upload)!.name).toBe('POST /api/sync/{org}/upload');
    const results = await capture.points(METRIC.uploadResults);
    expect(total(results, { [ATTR.org]: ORG, [ATTR.status]: 'applied' })).toBe(1);
    expect(total(results, { [ATTR.org]: ORG, [ATTR.status]: 'rejected' })).toBe(1);
  });

  it('replication messages: span and outcome, lag per tenant and entity, a dead letter counted', async () => {
    const res = await f.request('POST', `/api/ingest/${ORG}/changes`, {
      headers: { 'x-ingest-key': ingestKey },
      body: [
        {
          entity: 'account',
          id: 'tel-ingested-1',
          op: 'upsert',
          attributes: { name: INGEST_MARKER, ownerid: 'user-004', owneridtype: 'systemuser' },
          version: 5,
        },
      ],
    });
    expect(res.status).toBe(202);
    const message = await waitForSpan(
      SPAN.replicationMessage,
      (s) => s.attributes[ATTR.messageType] === 'recordChangedBatch',
    );
    expect(message.kind).toBe(SpanKind.CONSUMER);
    expect(message.attributes).toMatchObject({ [ATTR.org]: ORG, [ATTR.outcome]: 'applied' });
    expect(capture.spans().some((s) => s.name === 'store.applyRecordWrites' && parentOf(s) === message)).toBe(
      true,
    );
    expect(
      total(await capture.points(METRIC.replicationMessages), {
        [ATTR.org]: ORG,
        [ATTR.messageType]: 'recordChangedBatch',
        [ATTR.outcome]: 'applied',
      }),
    ).toBeGreaterThanOrEqual(1);
    const lag = await capture.points(METRIC.replicationLag);
    expect(total(lag, { [ATTR.org]: ORG, [ATTR.entity]: 'account' })).toBeGreaterThanOrEqual(1);

    // A change of an entity the tenant does not declare is poison: dead-lettered at once, and counted.
    await f.host.runtime.services.queue.send({
      type: 'recordChanged',
      org: ORG,
      entity: 'nosuchentity',
      id: 'n1',
      op: 'upsert',
      attributes: { name: INGEST_MARKER },
      version: '1',
    });
    const failed = await waitForSpan(
      SPAN.replicationMessage,
      (s) => s.attributes[ATTR.messageType] === 'recordChanged' && s.status.code === SpanStatusCode.ERROR,
    );
    expect(failed.attributes).toMatchObject({
      [ATTR.errorType]: 'PoisonMessage',
      'offline_sync.message.dead_lettered': true,
    });
    expect(
      total(await capture.points(METRIC.replicationDeadLettered), {
        [ATTR.org]: ORG,
        [ATTR.messageType]: 'recordChanged',
      }),
    ).toBe(1);
  });

  it('a provisioning run: a span and a duration per step, the run counted by outcome', async () => {
    const status = async (): Promise<ProvisioningStatus> =>
      (await f.request('GET', `/api/admin/${ORG}/provisioning`, { token: adminToken }))
        .body as ProvisioningStatus;
    const runTo = async (action: string, state: string): Promise<void> => {
      const accepted = await f.request('POST', `/api/admin/${ORG}/provisioning`, {
        token: adminToken,
        body: { action },
      });
      expect(accepted.status).toBe(202);
      for (let i = 0; i < 2000 && (await status()).state !== state; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect((await status()).state).toBe(state);
    };
    await runTo('deprovision', 'deprovisioned');
    await runTo('provision', 'provisioned');

    const steps = spansNamed(SPAN.provisioningStep).filter((s) => s.attributes[ATTR.action] === 'provision');
    expect(steps.map((s) => s.attributes[ATTR.step]).sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(
      steps.every((s) => s.attributes[ATTR.outcome] === 'succeeded' && s.attributes[ATTR.org] === ORG),
    ).toBe(true);
    const durations = await capture.points(METRIC.provisioningStepDuration);
    for (let step = 1; step <= 7; step++) {
      expect(
        total(durations, { [ATTR.action]: 'provision', [ATTR.step]: step, [ATTR.outcome]: 'succeeded' }),
      ).toBe(1);
    }
    expect(total(durations, { [ATTR.action]: 'deprovision', [ATTR.outcome]: 'succeeded' })).toBe(3);
    const runs = await capture.points(METRIC.provisioningRuns);
    expect(total(runs, { [ATTR.org]: ORG, [ATTR.action]: 'provision', [ATTR.outcome]: 'succeeded' })).toBe(1);
    expect(total(runs, { [ATTR.org]: ORG, [ATTR.action]: 'deprovision', [ATTR.outcome]: 'succeeded' })).toBe(
      1,
    );
  });

  it('one structured log line per request, with its trace id', async () => {
    const before = lines.length;
    const res = await f.request('GET', `/api/sync/${ORG}/errors?deviceId=tel-device-1`, {
      token: deviceToken,
    });
    expect(res.status).toBe(200);
    const missing = await f.request('GET', '/api/no-such-route');
    expect(missing.status).toBe(404);
    const logged = lines.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>);
    const requests = logged.filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(2);
    expect(requests[0]).toMatchObject({
      level: 'info',
      method: 'GET',
      path: `/api/sync/${ORG}/errors`,
      status: 200,
      org: ORG,
      traceId: res.headers.get('x-trace-id'),
    });
    expect(typeof requests[0]!.ms).toBe('number');
    expect(requests[1]).toMatchObject({ level: 'warn', path: '/api/no-such-route', status: 404 });
  });

  /** The core's JSON lines (not the host's request lines) with this message. */
  const coreLines = (msg: string): Record<string, unknown>[] =>
    lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === msg);

  it("the flows' log lines carry the tenant, the route or trigger, the trace id and the milliseconds", async () => {
    const before = lines.length;
    const res = await f.request('POST', `/api/sync/${ORG}/download`, {
      token: deviceToken,
      body: { app: 'field-sales', deviceId: 'tel-device-logs' },
    });
    expect(res.status).toBe(200);
    const download = lines
      .slice(before)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => line.msg === SPAN.download);
    expect(download).toMatchObject({
      level: 'info',
      org: ORG,
      route: 'syncDownload',
      traceId: res.headers.get('x-trace-id'),
      app: 'field-sales',
      initial: true,
      rows: res.body.changes.length,
      more: res.body.more,
    });
    expect(download!.ms).toEqual(expect.any(Number));

    // The replication messages above: each its line under the queue trigger, in its span's trace.
    const applied = coreLines(SPAN.replicationMessage).find((l) => l.type === 'recordChangedBatch')!;
    const span = spansNamed(SPAN.replicationMessage).find(
      (s) => s.attributes[ATTR.messageType] === 'recordChangedBatch',
    )!;
    expect(applied).toMatchObject({
      level: 'info',
      org: ORG,
      trigger: 'queue:replication',
      traceId: span.spanContext().traceId,
      outcome: 'applied',
    });
    expect(applied.ms).toEqual(expect.any(Number));
    const poison = coreLines(SPAN.replicationMessage).find((l) => l.type === 'recordChanged')!;
    expect(poison).toMatchObject({
      level: 'error',
      org: ORG,
      trigger: 'queue:replication',
      outcome: 'failed',
      deadLettered: true,
      errorType: 'PoisonMessage',
    });
    expect(poison.traceId).toEqual(expect.any(String));
    expect(coreLines(SPAN.upload)[0]).toMatchObject({
      org: ORG,
      route: 'syncUpload',
      results: { applied: 1 },
    });
    expect(coreLines(SPAN.provisioningStep).length).toBeGreaterThanOrEqual(7);

    // Every core line names its route or trigger and its trace.
    const core = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const line of core.filter((l) => l.msg !== 'request')) {
      expect(typeof line.route === 'string' || typeof line.trigger === 'string').toBe(true);
      expect(line.traceId).toEqual(expect.any(String));
    }
  });

  it('no token, ingest key or row value in any span, metric or log line', async () => {
    const secrets = [deviceToken, adminToken, ingestKey, ROW_MARKER, INGEST_MARKER];
    const texts: string[] = [...lines];
    for (const span of capture.spans()) {
      texts.push(JSON.stringify(span.attributes), span.status.message ?? '', JSON.stringify(span.events));
    }
    const metricAttributes: Attributes[] = await capture.allMetricAttributes();
    texts.push(...metricAttributes.map((a) => JSON.stringify(a)));
    // The flows above ran: spans and lines to look through exist.
    expect(capture.spans().length).toBeGreaterThan(20);
    expect(lines.some((l) => l.includes('/upload'))).toBe(true);
    // The core's lines of each flow are among them: the upload that carried a row value, the
    // replication messages that carried ingested values (and the poison one's error).
    for (const msg of [SPAN.download, SPAN.upload, SPAN.replicationMessage, SPAN.provisioningStep]) {
      expect(coreLines(msg).length).toBeGreaterThan(0);
    }
    for (const secret of secrets) {
      expect(texts.filter((text) => text.includes(secret))).toEqual([]);
      // Not even a prefix long enough to identify it.
      expect(texts.filter((text) => text.includes(secret.slice(0, 24)))).toEqual([]);
    }
  });
});
