import { ADMIN_ROLE } from '../../shared/auth/principal';
import type { ProvisioningStatus } from '../../shared/provisioning/provisioning-status';
import type { ProvisioningRunInput } from '../../shared/provisioning/provisioning-runner';
import { buildDemoDirectory, DEMO_ENTRA_TENANT_ID, DEMO_ORG } from '../../local/demo/demo-directory';
import { DEMO_APP_ID } from '../../local/demo/seed-demo-tenant';
import { startHostFixture, type HostFixture } from '../support/local-host-fixture';
import { gatedSourceFor, PageGate } from '../support/provisioning-page-gate';

/**
 * The provisioning lifecycle of the demo tenant over HTTP (issue 6, "Done when"): deprovision it,
 * provision it from an empty database and watch steps 1–7 with rising percent and an ETA, stop
 * mid-way, retry from the stopped step, the 409 rules on the way, and a host restart in step 5
 * that resumes without repeating steps 1–4.
 *
 * Nothing here waits on time: step 5's pages pass a gate the test opens page by page, and a run is
 * held before it starts by the host's `beforeProvisioningRun` hook.
 */

/** A run held before it starts until `release`. */
class RunHold {
  private held: Promise<void> | undefined;
  private releaseHeld: (() => void) | undefined;

  hold(): void {
    this.held = new Promise((resolve) => (this.releaseHeld = resolve));
  }

  release(): void {
    this.releaseHeld?.();
    this.held = undefined;
  }

  readonly beforeRun = async (_run: ProvisioningRunInput): Promise<void> => {
    await this.held;
  };
}

const DEMO_ROWS = 300;
const PROVISIONING = `/api/admin/${DEMO_ORG}/provisioning`;
const directory = buildDemoDirectory(42);
const alice = directory.users.find((u) => u.userName === 'alice')!;
const dave = directory.users.find((u) => u.userName === 'dave')!;

describe('provisioning lifecycle of the demo tenant over the local host', () => {
  let f: HostFixture;
  let gate: PageGate;
  const hold = new RunHold();
  let admin: string;
  let device: string;

  async function start(dataDir?: string): Promise<void> {
    gate = new PageGate();
    f = await startHostFixture(
      { DEMO_ROWS: String(DEMO_ROWS) },
      {
        ...(dataDir ? { dataDir } : {}),
        host: { sourceFor: gatedSourceFor(gate, 10), beforeProvisioningRun: hold.beforeRun },
      },
    );
    admin = await f.token({ oid: alice.entraObjectId, tid: DEMO_ENTRA_TENANT_ID, roles: [ADMIN_ROLE] });
    device = await f.token({ oid: dave.entraObjectId, tid: DEMO_ENTRA_TENANT_ID });
  }

  beforeAll(() => start());
  afterAll(() => f.close());

  async function status(): Promise<ProvisioningStatus> {
    const res = await f.request('GET', PROVISIONING, { token: admin });
    expect(res.status).toBe(200);
    return res.body as ProvisioningStatus;
  }

  async function act(action: string): Promise<{ status: number; body: { error?: { message: string } } }> {
    return f.request('POST', PROVISIONING, { token: admin, body: { action } });
  }

  /** Polls the status route until `done` holds (bounded: fails after about 10 s). */
  async function waitFor(
    what: string,
    done: (s: ProvisioningStatus) => boolean,
    between?: () => void,
  ): Promise<ProvisioningStatus> {
    for (let i = 0; i < 1000; i++) {
      const s = await status();
      if (done(s)) return s;
      between?.();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await status(), null, 1)}`);
  }

  const download = () =>
    f.request('POST', `/api/sync/${DEMO_ORG}/download`, {
      token: device,
      body: { app: DEMO_APP_ID, deviceId: 'dave-phone', pageSize: 1000 },
    });

  const startTimes = (s: ProvisioningStatus, steps: number[]): (string | null)[] =>
    steps.map((n) => s.steps.find((step) => step.number === n)!.startedAt);

  it('deprovisions the demo (stop and provision refused while it runs); devices then get 503', async () => {
    expect((await status()).state).toBe('provisioned');
    expect((await download()).status).toBe(200);

    hold.hold();
    const accepted = await act('deprovision');
    expect(accepted.status).toBe(202);
    expect((accepted.body as ProvisioningStatus).state).toBe('deprovisioning');
    const stop = await act('stop');
    expect(stop.status).toBe(409);
    expect(stop.body.error!.message).toMatch(/Deprovisioning cannot be stopped/);
    const provision = await act('provision');
    expect(provision.status).toBe(409);
    expect(provision.body.error!.message).toMatch(/Deprovisioning is running/);
    hold.release();

    const done = await waitFor('deprovisioned', (s) => s.state === 'deprovisioned');
    expect(done.steps.map((s) => s.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(await f.host.runtime.services.store.tenantDatabaseExists(DEMO_ORG)).toBe(false);
    const refused = await download();
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('TenantNotProvisioned');
    expect((await act('deprovision')).status).toBe(409);
  });

  it('provisions from an empty database: steps 1–7, rising percent with an ETA, stop at step 5, retry from it', async () => {
    gate.close();
    const accepted = await act('provision');
    expect(accepted.status).toBe(202);

    // Step 5, page by page: each sample after one more page is let through.
    const samples: ProvisioningStatus[] = [];
    await waitFor(
      'step 5 with rows and an ETA',
      (s) => {
        if (s.currentStep === 5 && s.progress) samples.push(s);
        return (
          s.currentStep === 5 &&
          s.progress !== null &&
          s.progress.rowsDone >= 40 &&
          s.progress.etaSeconds !== null &&
          s.progress.etaSeconds > 0
        );
      },
      () => gate.allow(1),
    );
    const percents = samples.map((s) => s.progress!.percent);
    expect(percents.length).toBeGreaterThan(2);
    for (let i = 1; i < percents.length; i++) expect(percents[i]!).toBeGreaterThanOrEqual(percents[i - 1]!);
    expect(percents.at(-1)!).toBeGreaterThan(percents[0]!);
    expect(percents.at(-1)!).toBeLessThan(100);

    const inStep5 = samples.at(-1)!;
    expect(inStep5.state).toBe('provisioning');
    expect(inStep5.steps.map((s) => s.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
      'running',
      'pending',
      'pending',
    ]);
    // The demo's configuration came back with the run (deprovisioning had deleted it).
    expect(inStep5.messages.map((m) => m.text).join('\n')).toMatch(/Demo tenant: directory, entities/);
    expect(
      inStep5
        .progress!.entities.map((e) => e.entity)
        .slice(0, 3)
        .sort(),
    ).toEqual(['businessunit', 'systemuser', 'team']);

    // While provisioning runs: no deprovision, no second provision, no retry.
    expect((await act('deprovision')).status).toBe(409);
    expect((await act('provision')).status).toBe(409);
    expect((await act('retry')).status).toBe(409);

    const stopping = await act('stop');
    expect(stopping.status).toBe(202);
    expect((stopping.body as ProvisioningStatus).state).toBe('stopping');
    // The page in hand finishes; the step ends there.
    const stopped = await waitFor(
      'stopped',
      (s) => s.state === 'stopped',
      () => gate.allow(1),
    );
    expect(stopped.currentStep).toBe(5);
    expect(stopped.steps[4]!.status).toBe('stopped');
    expect(stopped.steps[5]!.status).toBe('pending');
    expect(stopped.messages.at(-1)!.text).toBe('Provisioning stopped at step 5.');
    expect((await act('deprovision')).status).toBe(409);
    expect((await act('stop')).status).toBe(409);
    const before = startTimes(stopped, [1, 2, 3, 4]);

    gate.openAll();
    expect((await act('retry')).status).toBe(202);
    const provisioned = await waitFor('provisioned', (s) => s.state === 'provisioned');
    expect(provisioned.steps.map((s) => s.status)).toEqual(Array(7).fill('succeeded'));
    expect(startTimes(provisioned, [1, 2, 3, 4])).toEqual(before);
    expect(provisioned.messages.map((m) => m.text)).toContain('Retrying from step 5.');
    expect(provisioned.progress!.percent).toBe(100);
    expect(provisioned.progress!.etaSeconds).toBe(0);

    // Every generated row is in the tenant store, and the device syncs again.
    const store = f.host.runtime.services.store.tenant(DEMO_ORG);
    for (const entity of provisioned.progress!.entities) {
      expect(await store.countRecords(entity.entity)).toBe(entity.rowsDone);
    }
    expect(provisioned.progress!.rowsDone).toBeGreaterThanOrEqual(DEMO_ROWS);
    const synced = await download();
    expect(synced.status).toBe(200);
    expect(synced.body.changes.length).toBeGreaterThan(0);
    expect((await act('provision')).status).toBe(409);
  });

  it('resumes step 5 after a host restart without repeating steps 1–4 or finished entities', async () => {
    expect((await act('deprovision')).status).toBe(202);
    await waitFor('deprovisioned', (s) => s.state === 'deprovisioned');

    gate.close();
    expect((await act('provision')).status).toBe(202);
    const midway = await waitFor(
      'step 5 past its priority entities',
      (s) =>
        s.currentStep === 5 &&
        s.progress !== null &&
        s.progress.activatedEarlyAt !== null &&
        s.progress.entities.some((e) => !e.done && e.rowsDone > 0),
      () => gate.allow(1),
    );
    const finished = midway.progress!.entities.filter((e) => e.done).map((e) => e.entity);
    expect(finished).toEqual(expect.arrayContaining(['businessunit', 'systemuser', 'team']));
    // Activated early (SPEC §8): the device syncs while step 5 goes on.
    expect((await download()).status).toBe(200);

    // The host goes down with the page in hand still waiting; a new one starts on the same data.
    const dataDir = f.dataDir;
    await f.close({ keepData: true });
    await start(dataDir);

    const resumed = await waitFor('provisioned after the restart', (s) => s.state === 'provisioned');
    expect(resumed.steps.map((s) => s.status)).toEqual(Array(7).fill('succeeded'));
    expect(startTimes(resumed, [1, 2, 3, 4])).toEqual(startTimes(midway, [1, 2, 3, 4]));
    expect(resumed.steps[4]!.startedAt).not.toBe(midway.steps[4]!.startedAt);
    // The new host read only what was not finished.
    for (const entity of finished) expect(gate.reads).not.toContain(entity);
    expect(gate.reads.length).toBeGreaterThan(0);
    const store = f.host.runtime.services.store.tenant(DEMO_ORG);
    for (const entity of resumed.progress!.entities) {
      expect(await store.countRecords(entity.entity)).toBe(entity.rowsExpected);
    }
    expect((await download()).status).toBe(200);
  });
});
