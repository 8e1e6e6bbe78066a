import { z } from 'zod';
import { orgSchema } from '../model/tenant';
import { runActionSchema } from './provisioning-status';

/** What starts a run: the orchestration's input (Durable) or the local driver's. */
export const provisioningRunInputSchema = z.object({
  org: orgSchema,
  action: runActionSchema,
  /** The status document's run; activities of any other run do nothing. */
  runId: z.string().min(1),
  /** 1 for a new run; the failed or stopped step for a retry. */
  fromStep: z.number().int().positive(),
});
export type ProvisioningRunInput = z.infer<typeof provisioningRunInputSchema>;

/**
 * The ProvisioningRunner port: how the provisioning route hands a run to the host's orchestration.
 * In Azure it starts a Durable Functions orchestration with the durable client (instance id
 * `provision-{org}` or `deprovision-{org}`); on the local host the in-process driver runs the same
 * orchestrator generator. The status document has already been updated when these are called.
 */
export interface ProvisioningRunner {
  /** Starts the run (idempotent: a run of the same instance already going is left alone). */
  start(run: ProvisioningRunInput): Promise<void>;
  /** A stop was recorded in the status document; the run ends before its next step or page. */
  stop(org: string): Promise<void>;
}

/** The Durable instance id of a tenant's run: one per tenant and action, so a repeated start is idempotent. */
export function provisioningInstanceId(action: ProvisioningRunInput['action'], org: string): string {
  return `${action}-${org}`;
}
