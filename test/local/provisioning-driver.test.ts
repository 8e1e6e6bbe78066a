import { createLocalProvisioningDriver, type LocalProvisioningDriver } from '../../local/provisioning-driver';
import { CHUNKS_PER_EXECUTION } from '../../functions/durable/provisioning-orchestrator';
import type { AppServices } from '../../shared/app-services';
import { AppError } from '../../shared/errors';
import { readDeltaToken } from '../../shared/provisioning/provisioning-dependencies';
import { requestProvisioningAction } from '../../shared/provisioning/provisioning-requests';
import {
  readProvisioningStatus,
  type ProvisioningStatus,
} from '../../shared/provisioning/provisioning-status';
import type { Store } from '../../shared/store/port';
import { getTenant } from '../../shared/tenants/tenant-registry';
import {
  createProvisioningFixture,
  FakeSource,
  ORG,
  rowsOf,
  type ProvisioningFixture,
} from '../shared/provisioning/support/provisioning-fixture';

/** systemuser (directory) and account (required) come first; new_custom is not offline-enabled. */
function sourceRows(): FakeSource {
  return new FakeSource(
    new Map([
      ['systemuser', rowsOf('systemuser', 3)],
      ['account', rowsOf('account', 4)],
      ['contact', rowsOf('contact', 5)],
      ['lead', rowsOf('lead', 3)],
      ['new_custom', rowsOf('new_custom', 2)],
    ]),
  );
}

const ENABLED = ['account', 'contact', 'lead', 'systemuser'];
const noWait = (): Promise<void> => Promise.resolve();

describe('local provisioning driver (SQLite store, fake source)', () => {
  let fixture: ProvisioningFixture;
  let services: AppServices;
  let store: Store;
  let source: FakeSource;
  let driver: LocalProvisioningDriver;

  beforeEach(async () => {
    fixture = await createProvisioningFixture({ required: ['account'] });
    source = sourceRows();
    ({ services, store } = fixture.services(source));
    driver = createLocalProvisioningDriver(services, { sleep: noWait, log: () => undefined });
  });
  afterEach(async () => {
    await driver.whenIdle();
    await fixture.close();
  });

  const act = async (action: 'provision' | 'stop' | 'deprovision' | 'retry'): Promise<ProvisioningStatus> =>
    requestProvisioningAction(services, driver, (await getTenant(store, ORG))!, action);
  const status = (): Promise<ProvisioningStatus> => readProvisioningStatus(store.control, ORG, fixture.clock);
  const stepStatuses = (s: ProvisioningStatus): string[] => s.steps.map((step) => step.status);
  const rowCount = async (): Promise<number> => {
    let total = 0;
    for (const name of ENABLED) total += await store.tenant(ORG).countRecords(name);
    return total;
  };

  it('provisions from scratch: steps 1–7, rising percent with an ETA, early activation, change tracking', async () => {
    const seen: { entity: string; percent: number; eta: number | null; tenantState: string }[] = [];
    source.onPage = async (entity) => {
      const current = await status();
      const tenant = await getTenant(store, ORG);
      seen.push({
        entity,
        percent: current.progress?.percent ?? 0,
        eta: current.progress?.etaSeconds ?? null,
        tenantState: tenant!.state,
      });
      fixture.clock.advance(1000);
    };

    const accepted = await act('provision');
    expect(accepted).toMatchObject({ state: 'provisioning', currentStep: 1 });
    await driver.whenIdle();

    const done = await status();
    expect(done.state).toBe('provisioned');
    expect(stepStatuses(done)).toEqual(Array(7).fill('succeeded'));
    expect(done.steps.every((s) => s.startedAt !== null && s.endedAt !== null)).toBe(true);
    expect(done.progress).toMatchObject({ rowsDone: 15, rowsExpected: 15, percent: 100, etaSeconds: 0 });
    expect(done.progress!.entities.map((e) => e.entity)).toEqual([
      'account',
      'systemuser',
      'contact',
      'lead',
    ]);
    expect((await getTenant(store, ORG))!.state).toBe('active');
    expect(await rowCount()).toBe(15);
    expect(await store.tenant(ORG).countRecords('new_custom')).toBe(0);
    expect(await readDeltaToken(store.tenant(ORG), 'contact')).toBe('token-contact-5');

    // Percent rises page by page, with an ETA once there is a rate.
    const percents = seen.map((s) => s.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.some((p) => p > 0 && p < 100)).toBe(true);
    expect(seen.some((s) => s.eta !== null && s.eta > 0)).toBe(true);
    // Priority entities download while devices still wait; the rest after the tenant is active.
    expect(
      seen.filter((s) => s.entity === 'systemuser' || s.entity === 'account').map((s) => s.tenantState),
    ).toEqual(Array(4).fill('provisioning'));
    expect(seen.filter((s) => s.entity === 'contact').every((s) => s.tenantState === 'active')).toBe(true);
    expect(done.progress!.activatedEarlyAt).not.toBeNull();

    // Step 6: one recurring syncEntity per enabled entity.
    expect(fixture.queue.sent.map((m) => (m.body as { entity: string }).entity).sort()).toEqual(ENABLED);
    expect(fixture.queue.sent.every((m) => m.options?.messageId?.startsWith(`syncEntity-${ORG}-`))).toBe(
      true,
    );
    expect(done.messages.map((m) => m.text)).toContain('Provisioning completed: devices may sync.');

    // A second provision is refused while provisioned.
    await expect(act('provision')).rejects.toMatchObject({ code: 'Conflict', status: 409 });
  });

  it('stops mid-way at step 5, then a retry resumes there without repeating steps 1–4', async () => {
    source.onPage = async (entity, page) => {
      if (entity === 'contact' && page === 1) await act('stop');
    };
    await act('provision');
    await driver.whenIdle();
    const stopped = await status();
    expect(stopped).toMatchObject({ state: 'stopped', currentStep: 5, stopRequested: false });
    expect(stepStatuses(stopped)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
      'stopped',
      'pending',
      'pending',
    ]);
    expect(stopped.messages.map((m) => m.text)).toContain('Provisioning stopped at step 5.');
    expect((await getTenant(store, ORG))!.state).toBe('stopped');
    await expect(act('stop')).rejects.toMatchObject({ code: 'Conflict' });
    await expect(act('deprovision')).rejects.toMatchObject({ code: 'Conflict' });

    source.onPage = undefined;
    const metadataReads = source.readsOf('readMetadata');
    const stepStarts = stopped.steps.slice(0, 4).map((s) => s.startedAt);
    await act('retry');
    await driver.whenIdle();
    const done = await status();
    expect(done.state).toBe('provisioned');
    expect(done.steps.slice(0, 4).map((s) => s.startedAt)).toEqual(stepStarts);
    expect(source.readsOf('readMetadata')).toBe(metadataReads);
    // Entities finished before the stop are not read again.
    expect(source.readsOf('readChanges', 'account')).toBe(1);
    expect(source.readsOf('readChanges', 'systemuser')).toBe(1);
    expect(source.readsOf('readChanges', 'contact')).toBe(2);
    // Contact goes on at the page after the last one stored before the stop: no page is read twice.
    expect(source.resumedAt('contact')).toEqual([undefined, 'page:2']);
    expect(source.served.filter((p) => p.startsWith('contact:'))).toEqual([
      'contact:0',
      'contact:1',
      'contact:2',
    ]);
    expect(await rowCount()).toBe(15);
  });

  it('retries transient failures, and a retry after a failure resumes at the failed step', async () => {
    // Step 1 fails twice with SourceUnavailable, then succeeds: retried with backoff inside the run.
    source.failMetadataReads = 2;
    let failLead = true;
    source.onPage = (entity) => {
      if (entity === 'lead' && failLead) {
        failLead = false;
        return Promise.reject(new AppError('ValidationFailed', 'lead row 1 is malformed'));
      }
      return Promise.resolve();
    };
    await act('provision');
    await driver.whenIdle();
    const failed = await status();
    expect(failed).toMatchObject({ state: 'failed', currentStep: 5 });
    expect(failed.steps[0]!.status).toBe('succeeded');
    expect(failed.steps[4]).toMatchObject({ status: 'failed', message: 'lead row 1 is malformed' });
    expect(failed.messages.filter((m) => m.text.startsWith('Step 1 attempt failed')).length).toBe(2);
    expect((await getTenant(store, ORG))!.state).toBe('failed');

    const metadataReads = source.readsOf('readMetadata');
    const retried = await act('retry');
    expect(retried).toMatchObject({ state: 'provisioning', currentStep: 5, runId: failed.runId });
    await driver.whenIdle();
    const done = await status();
    expect(done.state).toBe('provisioned');
    expect(source.readsOf('readMetadata')).toBe(metadataReads);
    expect(source.readsOf('readChanges', 'contact')).toBe(1);
    expect(await rowCount()).toBe(15);
  });

  it('deprovisions (database dropped, tenant deprovisioned) and provisions again', async () => {
    await act('provision');
    await driver.whenIdle();
    await expect(act('stop')).rejects.toMatchObject({ code: 'Conflict' });

    const accepted = await act('deprovision');
    expect(accepted.state).toBe('deprovisioning');
    expect((await getTenant(store, ORG))!.state).toBe('deprovisioning');
    await expect(act('stop')).rejects.toThrow('Deprovisioning cannot be stopped once started.');
    await expect(act('provision')).rejects.toMatchObject({ code: 'Conflict' });
    await driver.whenIdle();
    const deprovisioned = await status();
    expect(deprovisioned.state).toBe('deprovisioned');
    expect(stepStatuses(deprovisioned)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(await store.tenantDatabaseExists(ORG)).toBe(false);
    expect((await getTenant(store, ORG))!.state).toBe('deprovisioned');

    await act('provision');
    await driver.whenIdle();
    expect((await status()).state).toBe('provisioned');
    expect(await rowCount()).toBe(15);
    expect((await getTenant(store, ORG))!.state).toBe('active');
  });

  it('resumes at step 5 after a restart mid-download, without repeating steps 1–4 or duplicating rows', async () => {
    let reached!: () => void;
    const blocked = new Promise<void>((resolve) => (reached = resolve));
    // The first host dies while reading contact's second page: it never returns.
    source.onPage = (entity, page) => {
      if (entity === 'contact' && page === 1) {
        reached();
        return new Promise<void>(() => undefined);
      }
      return Promise.resolve();
    };
    await act('provision');
    await blocked;
    driver.halt();
    const before = await status();
    expect(before).toMatchObject({ state: 'provisioning', currentStep: 5 });
    expect(before.steps[4]!.status).toBe('running');
    const changesBefore = (await store.tenant(ORG).readChanges(undefined, 1000)).records.length;

    // A new host on the same data folder, with a fresh source and driver.
    const source2 = sourceRows();
    const second = fixture.services(source2);
    const driver2 = createLocalProvisioningDriver(second.services, { sleep: noWait, log: () => undefined });
    // The dead host's run never ends: only the new driver is awaited after the test.
    driver = driver2;
    const resumed = await driver2.resumeInterrupted();
    expect(resumed).toEqual([{ org: ORG, action: 'provision', runId: before.runId, fromStep: 5 }]);
    await driver2.whenIdle();

    const done = await readProvisioningStatus(second.store.control, ORG, fixture.clock);
    expect(done.state).toBe('provisioned');
    expect(done.steps.slice(0, 4).map((s) => s.startedAt)).toEqual(
      before.steps.slice(0, 4).map((s) => s.startedAt),
    );
    expect(source2.readsOf('readMetadata')).toBe(0);
    expect(source2.readsOf('readDirectory')).toBe(0);
    expect(source2.readsOf('readChanges', 'systemuser')).toBe(0);
    expect(source2.readsOf('readChanges', 'account')).toBe(0);
    expect(source2.readsOf('readChanges', 'contact')).toBe(1);
    // The new host goes on at contact's second page: the first was stored before the crash.
    expect(source2.resumedAt('contact')).toEqual(['page:1']);
    expect(source2.served.filter((p) => p.startsWith('contact:'))).toEqual(['contact:1', 'contact:2']);
    let total = 0;
    for (const name of ENABLED) total += await second.store.tenant(ORG).countRecords(name);
    expect(total).toBe(15);
    // Re-applied rows were stale: the change sequence holds each row once.
    const changes = (await second.store.tenant(ORG).readChanges(undefined, 1000)).records;
    expect(changes.length).toBe(15);
    expect(changesBefore).toBeLessThan(15);
    expect(await driver2.resumeInterrupted()).toEqual([]);
  });

  it('runs step 5 in chunks of N pages, each a new activity going on at the saved page; the row count is exact', async () => {
    const chunked: AppServices = {
      ...services,
      settings: { ...services.settings, REPLICATION_READ_MAX_PAGES: 2 },
    };
    const calls: unknown[] = [];
    const chunkDriver = createLocalProvisioningDriver(chunked, { sleep: noWait, log: () => undefined });
    driver = chunkDriver;
    source.onPage = async () => {
      calls.push((await status()).steps[4]!.status);
    };
    await requestProvisioningAction(chunked, chunkDriver, (await getTenant(store, ORG))!, 'provision');
    await chunkDriver.whenIdle();

    const done = await status();
    expect(done.state).toBe('provisioned');
    expect(await rowCount()).toBe(15);
    // 9 pages in all (systemuser 2, account 2, contact 3, lead 2), each handed out once.
    expect(source.served).toHaveLength(9);
    expect(new Set(source.served).size).toBe(9);
    // Contact's 3 pages span two chunks: the second goes on at its third page.
    expect(source.resumedAt('contact')).toEqual([undefined, 'page:2']);
    expect(done.progress!.entities.every((e) => e.done && e.resumeAt === undefined)).toBe(true);
    // One step 5, started once, running through every chunk.
    expect(done.messages.filter((m) => m.text.startsWith('Step 5 started')).length).toBe(1);
    expect(calls.every((c) => c === 'running')).toBe(true);
  });

  it(`continues the orchestration as new every ${CHUNKS_PER_EXECUTION} chunks of step 5; the run ends provisioned with exact row counts`, async () => {
    const big = new FakeSource(
      new Map([
        ['systemuser', rowsOf('systemuser', 3)],
        ['account', rowsOf('account', 4)],
        ['contact', rowsOf('contact', 40)],
        ['lead', rowsOf('lead', 3)],
      ]),
    );
    big.pageSize = 1;
    const built = fixture.services(big);
    // One page a chunk: 50 pages are 50 chunk activities, in three executions.
    const chunked: AppServices = {
      ...built.services,
      settings: { ...built.services.settings, REPLICATION_READ_MAX_PAGES: 1 },
    };
    const lines: string[] = [];
    const chunkDriver = createLocalProvisioningDriver(chunked, { sleep: noWait, log: (l) => lines.push(l) });
    driver = chunkDriver;
    const percents: number[] = [];
    big.onPage = async () => {
      percents.push((await status()).progress?.percent ?? 0);
    };
    await requestProvisioningAction(chunked, chunkDriver, (await getTenant(store, ORG))!, 'provision');
    await chunkDriver.whenIdle();

    const done = await status();
    expect(done.state).toBe('provisioned');
    expect(stepStatuses(done)).toEqual(Array(7).fill('succeeded'));
    expect(done.progress).toMatchObject({ rowsDone: 50, rowsExpected: 50, percent: 100 });
    for (const [entity, rows] of [
      ['systemuser', 3],
      ['account', 4],
      ['contact', 40],
      ['lead', 3],
    ] as const) {
      expect(await store.tenant(ORG).countRecords(entity)).toBe(rows);
    }
    // Every page handed out once, across the executions.
    expect(big.served).toHaveLength(50);
    expect(new Set(big.served).size).toBe(50);
    expect(lines.filter((l) => l.includes('continued as new at step 5'))).toHaveLength(2);
    // Structured like every core line: one JSON object naming the tenant, the trigger and the run.
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.length).toBeGreaterThanOrEqual(3);
    for (const line of parsed) {
      expect(line).toMatchObject({ level: 'info', org: ORG, trigger: 'provisioning', action: 'provision' });
      expect(line.runId).toEqual(expect.any(String));
    }
    expect(parsed.at(-1)).toMatchObject({ result: { outcome: 'succeeded' } });
    // Progress kept rising across them, and step 5 started once.
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(done.messages.filter((m) => m.text.startsWith('Step 5 started')).length).toBe(1);
  });
});
