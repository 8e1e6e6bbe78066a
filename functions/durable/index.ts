import * as df from 'durable-functions';
import type { AppServices } from '../../shared/app-services';
import { provisioningActivities } from './provisioning-activities';
import { PROVISIONING_ORCHESTRATOR, provisioningOrchestrator } from './provisioning-orchestrator';

export { withDurableProvisioning, createDurableProvisioningRunner } from './durable-provisioning-runner';
export { PROVISIONING_ORCHESTRATOR, provisioningOrchestrator } from './provisioning-orchestrator';

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
