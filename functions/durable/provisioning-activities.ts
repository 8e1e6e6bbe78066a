import type { AppServices } from '../../shared/app-services';
import {
  finishProvisioningRun,
  finishRunInputSchema,
  runProvisioningStep,
  runStepInputSchema,
} from '../../shared/provisioning/provisioning-activities';
import { FINISH_RUN_ACTIVITY, RUN_STEP_ACTIVITY } from './provisioning-orchestrator';

/** An activity: validates its input and calls one function of shared/provisioning. */
export type ProvisioningActivity = (services: AppServices, input: unknown) => Promise<unknown>;

/**
 * The orchestrator's activities by function name. Durable registers each with `df.app.activity`;
 * the local driver calls them directly. Thin on purpose: the work is in shared/provisioning.
 */
export const provisioningActivities: Readonly<Record<string, ProvisioningActivity>> = {
  [RUN_STEP_ACTIVITY]: (services, input) => runProvisioningStep(services, runStepInputSchema.parse(input)),
  [FINISH_RUN_ACTIVITY]: async (services, input) => {
    await finishProvisioningRun(services, finishRunInputSchema.parse(input));
    return null;
  },
};
