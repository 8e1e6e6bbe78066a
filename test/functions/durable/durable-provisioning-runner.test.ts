import * as df from 'durable-functions';
import type { DurableOrchestrationStatus } from 'durable-functions';
import {
  createDurableProvisioningRunner,
  type DurableClientLike,
} from '../../../functions/durable/durable-provisioning-runner';
import { PROVISIONING_ORCHESTRATOR } from '../../../functions/durable/provisioning-orchestrator';
import type { AppServices } from '../../../shared/app-services';
import {
  finishProvisioningRun,
  runProvisioningStep,
  type StepActivityResult,
} from '../../../shared/provisioning/provisioning-activities';
import {
  checkProvisioningStatus,
  requestProvisioningAction,
} from '../../../shared/provisioning/provisioning-requests';
import type { ProvisioningRunInput } from '../../../shared/provisioning/provisioning-runner';
import {
  readProvisioningStatus,
  type ProvisioningStatus,
} from '../../../shared/provisioning/provisioning-status';
import { MISSING_INSTANCE_GRACE_MS } from '../../../shared/provisioning/reconcile-orchestration';
import type { Store } from '../../../shared/store/port';
import { getTenant } from '../../../shared/tenants/tenant-registry';
import {
  createProvisioningFixture,
  FakeSource,
  ORG,
  rowsOf,
  type ProvisioningFixture,
} from '../../shared/provisioning/support/provisioning-fixture';

/**
 * A Durable client that behaves as the extension does where it matters here: `startNew` of an id
 * whose instance still runs is refused; `terminate` only enqueues the termination — the instance
 * goes on running until the host gets to it ({@link FakeDurableClient.settle}); `getStatus` of an
 * unknown id throws the client's 404 error.
 */
class FakeDurableClient implements DurableClientLike {
  readonly instances = new Map<
    string,
    { runtimeStatus: df.OrchestrationRuntimeStatus; input: ProvisioningRunInput; output: unknown }
  >();
  private readonly pendingTerminations = new Map<string, string>();
  readonly calls: string[] = [];

  startNew(name: string, options?: df.StartNewOptions): Promise<string> {
    const instanceId = options!.instanceId!;
    this.calls.push(`startNew ${instanceId}`);
    expect(name).toBe(PROVISIONING_ORCHESTRATOR);
    const existing = this.instances.get(instanceId);
    if (existing && this.isActive(existing.runtimeStatus)) {
      return Promise.reject(new Error(`An instance with ID '${instanceId}' already exists.`));
    }
    this.instances.set(instanceId, {
      runtimeStatus: df.OrchestrationRuntimeStatus.Running,
      input: options!.input as ProvisioningRunInput,
      output: null,
    });
    return Promise.resolve(instanceId);
  }

  terminate(instanceId: string, reason: string): Promise<void> {
    this.calls.push(`terminate ${instanceId}`);
    const existing = this.instances.get(instanceId);
    if (!existing) return Promise.reject(new Error('DurableClient error: HTTP 404 response.'));
    if (!this.isActive(existing.runtimeStatus)) return Promise.reject(new Error('HTTP 410: not running.'));
    // Enqueued: the instance keeps running for now.
    this.pendingTerminations.set(instanceId, reason);
    return Promise.resolve();
  }

  getStatus(instanceId: string): Promise<DurableOrchestrationStatus> {
    const existing = this.instances.get(instanceId);
    if (!existing) {
      return Promise.reject(
        new Error(
          `DurableClient error: Durable Functions extension replied with HTTP 404 response. This usually means we could not find any data associated with the instanceId provided: ${instanceId}.`,
        ),
      );
    }
    return Promise.resolve({ ...existing, name: PROVISIONING_ORCHESTRATOR, instanceId } as never);
  }

  /** The host processes the terminations it was asked for. */
  settle(): void {
    for (const [id, reason] of this.pendingTerminations) {
      const instance = this.instances.get(id);
      if (instance && this.isActive(instance.runtimeStatus)) {
        instance.runtimeStatus = df.OrchestrationRuntimeStatus.Terminated;
        instance.output = reason;
      }
    }
    this.pendingTerminations.clear();
  }

  end(instanceId: string, runtimeStatus: df.OrchestrationRuntimeStatus, output: unknown = null): void {
    this.instances.get(instanceId)!.runtimeStatus = runtimeStatus;
    this.instances.get(instanceId)!.output = output;
  }

  private isActive(status: df.OrchestrationRuntimeStatus): boolean {
    return (
      status === df.OrchestrationRuntimeStatus.Running || status === df.OrchestrationRuntimeStatus.Pending
    );
  }
}

describe('Durable provisioning runner and status reconciliation', () => {
  let fixture: ProvisioningFixture;
  let services: AppServices;
  let store: Store;
  let client: FakeDurableClient;

  beforeEach(async () => {
    fixture = await createProvisioningFixture();
    const source = new FakeSource(
      new Map([
        ['systemuser', rowsOf('systemuser', 2)],
        ['account', rowsOf('account', 3)],
      ]),
    );
    const opened = fixture.services(source);
    store = opened.store;
    client = new FakeDurableClient();
    services = { ...opened.services, provisioning: createDurableProvisioningRunner(client) };
  });
  afterEach(() => fixture.close());

  const tenant = async () => (await getTenant(store, ORG))!;
  const act = async (action: 'provision' | 'stop' | 'deprovision' | 'retry'): Promise<ProvisioningStatus> =>
    requestProvisioningAction(services, services.provisioning!, await tenant(), action);
  const status = (): Promise<ProvisioningStatus> => readProvisioningStatus(store.control, ORG, fixture.clock);
  const instanceOf = async (): Promise<string> => (await status()).orchestration!.instanceId;

  /** What an instance's orchestrator does for steps `from`..`to`: call the step activity with its input. */
  async function runSteps(instanceId: string, from: number, to: number): Promise<StepActivityResult[]> {
    const run = client.instances.get(instanceId)!.input;
    const results: StepActivityResult[] = [];
    for (let step = from; step <= to; step++) {
      results.push(
        await runProvisioningStep(services, {
          org: ORG,
          runId: run.runId,
          action: run.action,
          step,
          instanceId,
        }),
      );
    }
    return results;
  }
  const finish = (instanceId: string, outcome: 'succeeded' | 'failed' | 'stopped', step: number | null) => {
    const run = client.instances.get(instanceId)!.input;
    return finishProvisioningRun(services, {
      org: ORG,
      runId: run.runId,
      outcome,
      step,
      message: outcome === 'failed' ? 'boom' : null,
      instanceId,
    });
  };

  it('starts each attempt as a new instance, so a retry never waits for a lagging terminate', async () => {
    await act('provision');
    const first = await instanceOf();
    expect(first).toMatch(/^provision-contoso-[0-9a-f-]{36}$/);
    expect(client.instances.get(first)!.input).toMatchObject({ fromStep: 1, instanceId: first });
    expect(await runSteps(first, 1, 2)).toEqual([
      expect.objectContaining({ outcome: 'succeeded' }),
      expect.objectContaining({ outcome: 'succeeded' }),
    ]);

    // A stop lands between steps 2 and 3: the instance records it and is still winding down.
    await act('stop');
    expect(await runSteps(first, 3, 3)).toEqual([expect.objectContaining({ outcome: 'stopped' })]);
    await finish(first, 'stopped', 3);
    expect(await status()).toMatchObject({ state: 'stopped', currentStep: 3 });
    expect(client.instances.get(first)!.runtimeStatus).toBe('Running');

    // Retry at once: a new instance starts although the old one has not ended; it is asked to terminate.
    const retried = await act('retry');
    const second = retried.orchestration!.instanceId;
    expect(second).not.toBe(first);
    expect(retried).toMatchObject({ state: 'provisioning', currentStep: 3, runId: (await status()).runId });
    expect(client.calls).toEqual([`startNew ${first}`, `startNew ${second}`, `terminate ${first}`]);
    expect(client.instances.get(second)!.input).toMatchObject({ fromStep: 3, instanceId: second });
    // The same instance id would have been refused while the old instance still runs.
    await expect(client.startNew(PROVISIONING_ORCHESTRATOR, { instanceId: first })).rejects.toThrow(
      /already exists/,
    );

    // The old instance, not yet terminated, calls one more activity: it does nothing.
    expect(await runSteps(first, 3, 3)).toEqual([expect.objectContaining({ outcome: 'superseded' })]);
    await finish(first, 'failed', 3);
    expect(await status()).toMatchObject({ state: 'provisioning', currentStep: 3 });
    expect((await status()).steps[2]).toMatchObject({ status: 'pending' });

    // The new instance runs the rest.
    expect((await runSteps(second, 3, 7)).map((r) => r.outcome)).toEqual(Array(5).fill('succeeded'));
    await finish(second, 'succeeded', null);
    client.settle();
    expect(await checkProvisioningStatus(services, await tenant())).toMatchObject({ state: 'provisioned' });
    expect((await tenant()).state).toBe('active');
    expect(await store.tenant(ORG).countRecords('account')).toBe(3);
  });

  it('reconciles a status left provisioning by a terminated instance to failed, then retries it', async () => {
    await act('provision');
    const first = await instanceOf();
    await runSteps(first, 1, 4);
    // An operator terminates the instance between steps 4 and 5: no activity records anything more.
    await client.terminate(first, 'Terminated from the portal.');
    client.settle();
    expect(await status()).toMatchObject({ state: 'provisioning' });

    const read = await checkProvisioningStatus(services, await tenant());
    expect(read).toMatchObject({ state: 'failed', action: 'provision', currentStep: 5 });
    expect(read.steps.map((s) => s.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
      'failed',
      'pending',
      'pending',
    ]);
    expect(read.steps[4]!.message).toBe(
      `The orchestration instance ${first} was terminated: Terminated from the portal. Retry resumes at step 5.`,
    );
    expect((await tenant()).state).toBe('failed');

    const retried = await act('retry');
    const second = retried.orchestration!.instanceId;
    expect(retried).toMatchObject({ state: 'provisioning', currentStep: 5 });
    expect(client.instances.get(second)!.input).toMatchObject({ fromStep: 5 });
    expect((await runSteps(second, 5, 7)).map((r) => r.outcome)).toEqual(Array(3).fill('succeeded'));
    await finish(second, 'succeeded', null);
    expect(await checkProvisioningStatus(services, await tenant())).toMatchObject({ state: 'provisioned' });
    expect(await store.tenant(ORG).countRecords('account')).toBe(3);
  });

  it('lets a retry through a stale provisioning status on its own (the action reconciles first)', async () => {
    await act('provision');
    const first = await instanceOf();
    await runSteps(first, 1, 2);
    client.end(first, df.OrchestrationRuntimeStatus.Failed, 'Non-deterministic workflow detected.');
    const retried = await act('retry');
    expect(retried).toMatchObject({ state: 'provisioning', currentStep: 3 });
    expect(retried.messages.map((m) => m.text)).toContainEqual(
      expect.stringContaining(`${first} failed: Non-deterministic workflow detected.`),
    );
  });

  it('takes a missing instance for gone only after a grace period', async () => {
    await act('provision');
    const first = await instanceOf();
    client.instances.delete(first);
    fixture.clock.advance(60_000);
    expect(await checkProvisioningStatus(services, await tenant())).toMatchObject({ state: 'provisioning' });
    fixture.clock.advance(MISSING_INSTANCE_GRACE_MS);
    const read = await checkProvisioningStatus(services, await tenant());
    expect(read).toMatchObject({ state: 'failed', currentStep: 1 });
    expect(read.steps[0]!.message).toContain('is not known to the host');
  });

  it('ends a stopping run whose instance is gone as stopped', async () => {
    await act('provision');
    const first = await instanceOf();
    await runSteps(first, 1, 3);
    await act('stop');
    client.end(first, df.OrchestrationRuntimeStatus.Terminated, 'Host restarted.');
    const read = await checkProvisioningStatus(services, await tenant());
    expect(read).toMatchObject({ state: 'stopped', currentStep: 4 });
    expect((await tenant()).state).toBe('stopped');
    expect(await act('retry')).toMatchObject({ state: 'provisioning', currentStep: 4 });
  });

  it('leaves a running instance, and one the host cannot be asked about, alone', async () => {
    await act('provision');
    const first = await instanceOf();
    expect(await checkProvisioningStatus(services, await tenant())).toMatchObject({ state: 'provisioning' });
    const unreachable = { ...client, getStatus: () => Promise.reject(new Error('socket hang up')) };
    const runner = createDurableProvisioningRunner(unreachable as unknown as DurableClientLike);
    fixture.clock.advance(MISSING_INSTANCE_GRACE_MS * 2);
    expect(await runner.inspect!(first)).toEqual({ kind: 'unknown' });
    expect(
      await checkProvisioningStatus({ ...services, provisioning: runner }, await tenant()),
    ).toMatchObject({ state: 'provisioning' });
  });

  it('does not start an attempt twice', async () => {
    const accepted = await act('provision');
    const run = client.instances.get(accepted.orchestration!.instanceId)!.input;
    await services.provisioning!.start(run);
    expect(client.calls).toEqual([`startNew ${accepted.orchestration!.instanceId}`]);
  });

  it('reconciles a failed deprovisioning run so it can be retried', async () => {
    await act('provision');
    const first = await instanceOf();
    await runSteps(first, 1, 7);
    await finish(first, 'succeeded', null);
    await act('deprovision');
    const deprovision = await instanceOf();
    expect(deprovision).toMatch(/^deprovision-contoso-/);
    await runSteps(deprovision, 1, 1);
    // The finish activity ran out of retries: the orchestrator threw, the instance failed.
    client.end(deprovision, df.OrchestrationRuntimeStatus.Failed, 'Cosmos DB unavailable');
    const read = await checkProvisioningStatus(services, await tenant());
    expect(read).toMatchObject({ state: 'failed', action: 'deprovision', currentStep: 2 });
    expect(await act('retry')).toMatchObject({ state: 'deprovisioning', currentStep: 2 });
  });
});
