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
import {
  provisioningInstanceId,
  type ProvisioningRunner,
  type ProvisioningRunInput,
} from './provisioning-runner';
import {
  updateProvisioningStatus,
  type OrchestrationAttempt,
  type ProvisioningAction,
  type ProvisioningStatus,
  type RunAction,
} from './provisioning-status';
import { reconcileWithOrchestration } from './reconcile-orchestration';

/**
 * What the provisioning route does: answer the status, and carry out an admin action (check the
 * lifecycle rules, record the new state in the status document, hand the run to the host's runner).
 */

/**
 * The tenant's status, stamped with when it was checked (the admin page shows it). Where the host can
 * inspect its orchestrations (`services.provisioning.inspect`), a run whose instance ended without
 * finishing it is first recorded as failed (see reconcile-orchestration.ts), so it can be retried.
 */
export async function checkProvisioningStatus(
  services: AppServices,
  tenant: Pick<Tenant, 'org' | 'state'>,
): Promise<ProvisioningStatus> {
  await reconcileWithOrchestration(services, services.provisioning, tenant.org, tenant.state);
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
  // A run whose instance is gone must not block the action (a retry after a terminate, say).
  await reconcileWithOrchestration(services, runner, org, tenant.state);
  let run: ProvisioningRunInput | undefined;
  let replaces: string | undefined;
  let refusal: AppError | undefined;
  const status = await updateProvisioningStatus(
    store.control,
    org,
    clock,
    (current) => {
      run = undefined;
      refusal = undefined;
      replaces = current.orchestration?.instanceId;
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
          const orchestration = newAttempt(decision.action, org, now);
          run = { org, action: decision.action, runId, fromStep: 1, instanceId: orchestration.instanceId };
          return { ...beginRun(current, decision.action, runId, now), orchestration };
        }
        case 'resume': {
          // A retry is a new attempt of the same run, in a new instance: the old one may still be
          // winding down (Durable terminates asynchronously), and its activities then do nothing.
          const orchestration = newAttempt(decision.action, org, now);
          run = {
            org,
            action: decision.action,
            runId: current.runId ?? randomUUID(),
            fromStep: decision.fromStep,
            instanceId: orchestration.instanceId,
          };
          return { ...resumeRun(current, decision.fromStep, now), runId: run.runId, orchestration };
        }
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
    await runner.start(run, replaces === undefined ? {} : { replaces });
  } catch (error) {
    // Nothing runs: say so in the status rather than leave it provisioning forever.
    const message = error instanceof Error ? error.message : String(error);
    const failed = await updateProvisioningStatus(store.control, org, clock, (current) =>
      current.runId === run!.runId && current.orchestration?.instanceId === run!.instanceId
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

/** A new attempt's orchestration instance: a fresh id, recorded in the status before the start. */
function newAttempt(action: RunAction, org: string, now: Date): OrchestrationAttempt {
  return {
    instanceId: provisioningInstanceId(action, org, randomUUID()),
    requestedAt: now.toISOString(),
  };
}
