import type { AppServices } from '../app-services';
import { setTenantState } from '../tenants/tenant-registry';
import { finishRun, resumeStep, tenantStateFor } from './provisioning-lifecycle';
import type { OrchestrationState, ProvisioningRunner } from './provisioning-runner';
import {
  readProvisioningStatus,
  updateProvisioningStatus,
  withMessage,
  type ProvisioningState,
  type ProvisioningStatus,
} from './provisioning-status';

/**
 * Reconciles a tenant's status document with the orchestration that should be carrying its run
 * (issue 14). The document says what the run's activities recorded; when the instance ended without
 * its `finish` activity — terminated by an operator, failed with `finish` out of retries, lost in a
 * redeploy whose code could not replay it, purged — nothing will ever record more, and the lifecycle
 * would refuse every action while the state says provisioning, stopping or deprovisioning. So:
 *
 * - failed, terminated, cancelled, or completed without recording its outcome → `failed`, with a
 *   message saying what happened (a `stopping` run → `stopped`, as asked); retry is then allowed
 *   and resumes at the step that did not finish, in a new instance;
 * - not found → the same, once {@link MISSING_INSTANCE_GRACE_MS} has passed since the attempt was
 *   handed to the host (before that it may not exist yet);
 * - running, or the host cannot be asked → left as it is.
 *
 * The change is compare-and-set on the document: a run that records its end meanwhile wins.
 */

/** How long after an attempt was handed to the host a missing instance is taken for gone. */
export const MISSING_INSTANCE_GRACE_MS = 5 * 60_000;

const IN_FLIGHT: ReadonlySet<ProvisioningState> = new Set(['provisioning', 'stopping', 'deprovisioning']);

/** Why a run's instance can no longer finish it, or undefined while it still may. */
export function endedWithoutOutcome(
  state: OrchestrationState,
  instanceId: string,
  requestedAt: Date,
  now: Date,
): string | undefined {
  switch (state.kind) {
    case 'running':
    case 'unknown':
      return undefined;
    case 'completed':
      return `The orchestration instance ${instanceId} completed without recording how the run ended.`;
    case 'failed':
      return `The orchestration instance ${instanceId} failed: ${state.message}`;
    case 'terminated':
      return `The orchestration instance ${instanceId} was terminated: ${state.message}`;
    case 'missing':
      return now.getTime() - requestedAt.getTime() < MISSING_INSTANCE_GRACE_MS
        ? undefined
        : `The orchestration instance ${instanceId} is not known to the host (never started, or purged).`;
  }
}

/**
 * Reads the tenant's status and, when its run's instance ended without finishing it, records the run
 * as failed (or stopped) and the tenant's state to match. Answers the status as it now is, or
 * undefined (having read nothing) without a runner that can inspect instances.
 */
export async function reconcileWithOrchestration(
  services: AppServices,
  runner: ProvisioningRunner | undefined,
  org: string,
  tenantState?: Parameters<typeof readProvisioningStatus>[3],
): Promise<ProvisioningStatus | undefined> {
  const { store, clock } = services;
  if (runner?.inspect === undefined) return undefined;
  const status = await readProvisioningStatus(store.control, org, clock, tenantState);
  if (!IN_FLIGHT.has(status.state) || status.orchestration === null) return status;
  const { instanceId, requestedAt } = status.orchestration;
  let state: OrchestrationState;
  try {
    state = await runner.inspect(instanceId);
  } catch {
    state = { kind: 'unknown' };
  }
  const now = clock.now();
  const reason = endedWithoutOutcome(state, instanceId, new Date(requestedAt), now);
  if (reason === undefined) return status;

  let changed = false;
  const reconciled = await updateProvisioningStatus(store.control, org, clock, (current) => {
    changed = false;
    if (!IN_FLIGHT.has(current.state) || current.orchestration?.instanceId !== instanceId) return undefined;
    changed = true;
    // The first step that did not succeed: the one running when the instance ended, or the next.
    const step = Math.min(resumeStep(current), Math.max(1, current.steps.length));
    return current.state === 'stopping'
      ? finishRun(withMessage(current, now, reason, 'warning'), 'stopped', now, { step, message: reason })
      : finishRun(current, 'failed', now, { step, message: `${reason} Retry resumes at step ${step}.` });
  });
  if (changed) await setTenantState(store, clock, org, tenantStateFor(reconciled.state));
  return reconciled;
}
