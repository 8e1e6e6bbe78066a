import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type { InvocationContext } from '@azure/functions';
import type { AppServices } from '../../shared/app-services';
import {
  provisioningInstanceId,
  type ProvisioningRunInput,
  type ProvisioningRunner,
} from '../../shared/provisioning/provisioning-runner';
import type { ProvisioningCustomStatus } from './provisioning-orchestrator';
import { PROVISIONING_ORCHESTRATOR } from './provisioning-orchestrator';

const activeStatuses: ReadonlySet<string> = new Set([
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
  df.OrchestrationRuntimeStatus.Suspended,
]);

/**
 * The Functions host's runner: starts the orchestration with the durable client under the tenant's
 * deterministic instance id. Starting the run that already runs does nothing; an instance of an
 * older run (its activities already see themselves superseded) is terminated first.
 */
export function createDurableProvisioningRunner(client: DurableClient): ProvisioningRunner {
  return {
    async start(run: ProvisioningRunInput): Promise<void> {
      const instanceId = provisioningInstanceId(run.action, run.org);
      const existing = await client.getStatus(instanceId).catch(() => undefined);
      if (existing && activeStatuses.has(existing.runtimeStatus)) {
        const custom = existing.customStatus as Partial<ProvisioningCustomStatus> | null | undefined;
        const input = existing.input as Partial<ProvisioningRunInput> | null | undefined;
        if (custom?.runId === run.runId && input?.fromStep === run.fromStep) return;
        await client.terminate(instanceId, `Replaced by run ${run.runId} from step ${run.fromStep}.`);
      }
      await client.startNew(PROVISIONING_ORCHESTRATOR, { instanceId, input: run });
    },
    async stop(): Promise<void> {
      // The stop flag is in the status document; the orchestrator checks it between steps and step 5
      // between pages. Nothing to tell the instance.
    },
  };
}

/**
 * The services of one HTTP invocation of a route with `durableClient: true`: the process's services
 * plus a runner bound to this invocation's durable client input.
 */
export function withDurableProvisioning(services: AppServices, invocation: InvocationContext): AppServices {
  return { ...services, provisioning: createDurableProvisioningRunner(df.getClient(invocation)) };
}
