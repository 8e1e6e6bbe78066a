import * as df from 'durable-functions';
import type { AppServices } from '../../shared/app-services';
import { provisioningActivities } from './provisioning-activities';
import {
  createProvisioningOrchestrator,
  PROVISIONING_ORCHESTRATOR,
  STEP_RETRY_POLICY,
} from './provisioning-orchestrator';

export { withDurableProvisioning, createDurableProvisioningRunner } from './durable-provisioning-runner';
export { PROVISIONING_ORCHESTRATOR } from './provisioning-orchestrator';

/** {@link STEP_RETRY_POLICY} as Durable takes it: its own class, checked with `instanceof`. */
export function durableStepRetryOptions(): df.RetryOptions {
  const options = new df.RetryOptions(
    STEP_RETRY_POLICY.firstRetryIntervalInMilliseconds,
    STEP_RETRY_POLICY.maxNumberOfAttempts,
  );
  options.backoffCoefficient = STEP_RETRY_POLICY.backoffCoefficient;
  options.maxRetryIntervalInMilliseconds = STEP_RETRY_POLICY.maxRetryIntervalInMilliseconds;
  return options;
}

/** The orchestrator the Functions host runs. */
export const provisioningOrchestrator = createProvisioningOrchestrator(durableStepRetryOptions);

/**
 * Registers the provisioning orchestration and its activities with the Functions host. Activities
 * get the process's services on first use (the same runtime the HTTP routes use).
 */
export function registerProvisioning(getServices: () => Promise<AppServices>): void {
  df.app.orchestration(PROVISIONING_ORCHESTRATOR, provisioningOrchestrator);
  for (const [name, activity] of Object.entries(provisioningActivities)) {
    df.app.activity(name, { handler: async (input: unknown) => activity(await getServices(), input) });
  }
}

/** The extra input a route with `durableClient: true` needs on its `app.http` registration. */
export function durableClientInputs(): ReturnType<typeof df.input.durableClient>[] {
  return [df.input.durableClient()];
}
