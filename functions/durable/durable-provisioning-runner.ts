import * as df from 'durable-functions';
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import type { InvocationContext } from '@azure/functions';
import type { AppServices } from '../../shared/app-services';
import {
  provisioningInstanceId,
  type OrchestrationState,
  type ProvisioningRunInput,
  type ProvisioningRunner,
} from '../../shared/provisioning/provisioning-runner';
import { PROVISIONING_ORCHESTRATOR } from './provisioning-orchestrator';

/** The part of Durable's client the runner uses (tests pass a fake that behaves like the extension). */
export type DurableClientLike = Pick<DurableClient, 'getStatus' | 'startNew' | 'terminate'>;

const activeStatuses: ReadonlySet<string> = new Set([
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
  df.OrchestrationRuntimeStatus.Suspended,
  df.OrchestrationRuntimeStatus.ContinuedAsNew,
]);

/**
 * The Functions host's runner. Each attempt of a run (a start, each retry) is its own orchestration
 * instance, named in the run input and in the status document (`provision-{org}-{attempt}`), so:
 *
 * - starting never meets a previous instance's id: Durable's `terminate` only enqueues the
 *   termination, and starting the same id again while the old instance still runs is refused;
 * - the previous attempt's instance is terminated best effort, and nothing waits for it: its
 *   activities find a newer attempt in the status document and do nothing;
 * - starting the attempt that already runs (a repeated request) does nothing;
 * - `inspect` tells the status route what became of an instance, so a run whose instance was
 *   terminated, failed or vanished is reconciled to failed and can be retried.
 */
export function createDurableProvisioningRunner(client: DurableClientLike): ProvisioningRunner {
  return {
    async start(run: ProvisioningRunInput, options = {}): Promise<void> {
      const instanceId = run.instanceId ?? provisioningInstanceId(run.action, run.org);
      const existing = await statusOf(client, instanceId);
      if (existing !== undefined && activeStatuses.has(existing.runtimeStatus)) return;
      await client.startNew(PROVISIONING_ORCHESTRATOR, { instanceId, input: run });
      if (options.replaces !== undefined && options.replaces !== instanceId) {
        await client
          .terminate(
            options.replaces,
            `Replaced by ${instanceId} (run ${run.runId} from step ${run.fromStep}).`,
          )
          // Already ended, or gone: either way it records nothing more for this run.
          .catch(() => undefined);
      }
    },
    async stop(): Promise<void> {
      // The stop flag is in the status document; the orchestrator checks it between steps and step 5
      // between pages. Nothing to tell the instance.
    },
    async inspect(instanceId: string): Promise<OrchestrationState> {
      let status: DurableOrchestrationStatus | undefined;
      try {
        status = await statusOf(client, instanceId);
      } catch {
        return { kind: 'unknown' };
      }
      return stateOf(status);
    },
  };
}

/** An instance's status, or undefined when the extension has none (it answers 404). */
async function statusOf(
  client: DurableClientLike,
  instanceId: string,
): Promise<DurableOrchestrationStatus | undefined> {
  try {
    const status = await client.getStatus(instanceId);
    // Older extensions answer an empty status for an unknown instance.
    return status?.runtimeStatus === undefined ? undefined : status;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** durable-functions throws "…replied with HTTP 404 response…" for an instance it does not know. */
function isNotFound(error: unknown): boolean {
  return error instanceof Error && /\b404\b/.test(error.message);
}

function stateOf(status: DurableOrchestrationStatus | undefined): OrchestrationState {
  if (status === undefined) return { kind: 'missing' };
  const output = typeof status.output === 'string' ? status.output : JSON.stringify(status.output ?? null);
  switch (status.runtimeStatus) {
    case df.OrchestrationRuntimeStatus.Completed:
      return { kind: 'completed' };
    case df.OrchestrationRuntimeStatus.Failed:
      return { kind: 'failed', message: output };
    case df.OrchestrationRuntimeStatus.Terminated:
    case df.OrchestrationRuntimeStatus.Canceled:
      return { kind: 'terminated', message: output };
    default:
      return activeStatuses.has(status.runtimeStatus) ? { kind: 'running' } : { kind: 'unknown' };
  }
}

/**
 * The services of one HTTP invocation of a route with `durableClient: true`: the process's services
 * plus a runner bound to this invocation's durable client input.
 */
export function withDurableProvisioning(services: AppServices, invocation: InvocationContext): AppServices {
  return { ...services, provisioning: createDurableProvisioningRunner(df.getClient(invocation)) };
}
