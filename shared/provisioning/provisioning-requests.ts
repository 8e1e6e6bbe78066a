import { randomUUID } from 'node:crypto';
import type { AppServices } from '../app-services';
import type { AppError } from '../errors';
import type { Tenant } from '../model/tenant';
import { setTenantState } from '../tenants/tenant-registry';
import {
  beginRun,
  decideProvisioningAction,
  finishRun,
  refusalError,
  requestStop,
  resumeRun,
  tenantStateFor,
} from './provisioning-lifecycle';
import type { ProvisioningRunner, ProvisioningRunInput } from './provisioning-runner';
import {
  updateProvisioningStatus,
  type ProvisioningAction,
  type ProvisioningStatus,
} from './provisioning-status';

/**
 * What the provisioning route does: answer the status, and carry out an admin action (check the
 * lifecycle rules, record the new state in the status document, hand the run to the host's runner).
 */

/** The tenant's status, stamped with when it was checked (the admin page shows it). */
export async function checkProvisioningStatus(
  services: AppServices,
  tenant: Pick<Tenant, 'org' | 'state'>,
): Promise<ProvisioningStatus> {
  const now = services.clock.now().toISOString();
  return updateProvisioningStatus(
    services.store.control,
    tenant.org,
    services.clock,
    (current) => ({ ...current, lastCheckedAt: now }),
    tenant.state,
  );
}

/**
 * Carries out `provision`, `stop`, `deprovision` or `retry`. Refused actions throw a 409 `Conflict`
 * saying why; accepted ones return the status as recorded (the run continues in the background).
 */
export async function requestProvisioningAction(
  services: AppServices,
  runner: ProvisioningRunner,
  tenant: Pick<Tenant, 'org' | 'state'>,
  action: ProvisioningAction,
): Promise<ProvisioningStatus> {
  const { store, clock } = services;
  const { org } = tenant;
  let run: ProvisioningRunInput | undefined;
  let refusal: AppError | undefined;
  const status = await updateProvisioningStatus(
    store.control,
    org,
    clock,
    (current) => {
      run = undefined;
      refusal = undefined;
      const decision = decideProvisioningAction(current, action);
      const now = clock.now();
      switch (decision.kind) {
        case 'refused':
          refusal = refusalError(decision.reason, current);
          return undefined;
        case 'stop':
          return requestStop(current, now);
        case 'start': {
          const runId = randomUUID();
          run = { org, action: decision.action, runId, fromStep: 1 };
          return beginRun(current, decision.action, runId, now);
        }
        case 'resume':
          run = {
            org,
            action: decision.action,
            runId: current.runId ?? randomUUID(),
            fromStep: decision.fromStep,
          };
          return { ...resumeRun(current, decision.fromStep, now), runId: run.runId };
      }
    },
    tenant.state,
  );
  if (refusal) throw refusal;
  if (!run) {
    await runner.stop(org);
    return status;
  }
  await setTenantState(store, clock, org, tenantStateFor(status.state));
  try {
    await runner.start(run);
  } catch (error) {
    // Nothing runs: say so in the status rather than leave it provisioning forever.
    const message = error instanceof Error ? error.message : String(error);
    const failed = await updateProvisioningStatus(store.control, org, clock, (current) =>
      current.runId === run!.runId
        ? finishRun(current, 'failed', clock.now(), {
            step: run!.fromStep,
            message: `Could not start: ${message}`,
          })
        : undefined,
    );
    await setTenantState(store, clock, org, tenantStateFor(failed.state));
    throw error;
  }
  return status;
}
