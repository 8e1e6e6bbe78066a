import { z } from 'zod';
import type { AppServices } from '../app-services';
import { AppError, type ErrorCode } from '../errors';
import { orgSchema } from '../model/tenant';
import { countProvisioningRun, observeProvisioningStep } from '../telemetry/observe';
import { getTenant, setTenantState } from '../tenants/tenant-registry';
import { finishRun, markStepEnded, markStepRunning, tenantStateFor } from './provisioning-lifecycle';
import {
  readProvisioningStatus,
  runActionSchema,
  updateProvisioningStatus,
  withMessage,
  type ProvisioningStatus,
} from './provisioning-status';
import { deprovisionSteps, provisionSteps, type StepContext } from './provisioning-steps';

/**
 * The two activities of a provisioning run, host-independent: the Durable activities and the local
 * driver both call these. The orchestrator only sequences them.
 */

/** Input of {@link runProvisioningStep}. */
export const runStepInputSchema = z.object({
  org: orgSchema,
  runId: z.string().min(1),
  action: runActionSchema,
  step: z.number().int().positive(),
  /** The orchestration instance calling (its attempt of the run); absent: any attempt of the run. */
  instanceId: z.string().min(1).optional(),
  /**
   * Which chunk of a step that runs in chunks (step 5) this call is, from 0; a later chunk goes on
   * with the step in hand rather than starting it.
   */
  chunk: z.number().int().nonnegative().optional(),
});
export type RunStepInput = z.infer<typeof runStepInputSchema>;

/** What a step activity reports to the orchestrator. */
export const stepActivityResultSchema = z.object({
  /**
   * `succeeded`; `continued` (one chunk of the step is done and saved: call it again, next chunk);
   * `stopped` (a stop was requested: the step did not run or ended cleanly); `superseded` (a newer
   * run owns the status: end quietly); `failed` (an error retrying cannot fix).
   */
  outcome: z.enum(['succeeded', 'continued', 'stopped', 'superseded', 'failed']),
  /** The stop flag as the step left it: the orchestrator checks it before the next step. */
  stopRequested: z.boolean(),
  message: z.string().nullable(),
});
export type StepActivityResult = z.infer<typeof stepActivityResultSchema>;

/** Input of {@link finishProvisioningRun}. */
export const finishRunInputSchema = z.object({
  org: orgSchema,
  runId: z.string().min(1),
  outcome: z.enum(['succeeded', 'failed', 'stopped']),
  /** The step that failed or stopped. */
  step: z.number().int().positive().nullable(),
  message: z.string().nullable(),
  /** The orchestration instance calling; absent: any attempt of the run. */
  instanceId: z.string().min(1).optional(),
});
export type FinishRunInput = z.infer<typeof finishRunInputSchema>;

/**
 * Whether the status belongs to another run, or to another attempt of this run than the calling
 * instance's (a retry started a new instance while the old one had not yet been terminated).
 */
export function isSupersededBy(
  status: ProvisioningStatus,
  caller: { runId: string; instanceId?: string | undefined },
): boolean {
  if (status.runId !== caller.runId) return true;
  return (
    caller.instanceId !== undefined &&
    status.orchestration !== null &&
    status.orchestration.instanceId !== caller.instanceId
  );
}

/** Failures that may pass on their own: thrown, so the orchestration retries them with backoff. */
const retryableCodes: ReadonlySet<ErrorCode> = new Set([
  'SourceUnavailable',
  'Throttled',
  'Unavailable',
  'PreconditionFailed',
  'Internal',
]);

/** Whether an error is worth retrying (anything not an AppError is unexpected: retry it too). */
export function isRetryableStepError(error: unknown): boolean {
  return !(error instanceof AppError) || retryableCodes.has(error.code);
}

/**
 * Runs one step of a run and records it in the status document: running, then succeeded, or an
 * attempt failure. A step that already succeeded in this run is not run again (an orchestration
 * replayed after a crash); a stop request ends the run before the step starts.
 * Retryable failures are thrown (the orchestration retries); others are returned as `failed`.
 */
export function runProvisioningStep(services: AppServices, input: RunStepInput): Promise<StepActivityResult> {
  return observeProvisioningStep(input, () => runStep(services, input));
}

async function runStep(services: AppServices, input: RunStepInput): Promise<StepActivityResult> {
  const { org, runId, action, step, instanceId } = input;
  const caller = { runId, instanceId };
  const { store, clock } = services;
  const stepFunction = (action === 'provision' ? provisionSteps : deprovisionSteps)[step - 1];
  if (!stepFunction) throw new AppError('ValidationFailed', `A ${action} run has no step ${step}.`);
  const result = (
    outcome: StepActivityResult['outcome'],
    status: ProvisioningStatus | undefined,
    message: string | null = null,
  ): StepActivityResult => ({
    outcome,
    stopRequested: status?.stopRequested ?? false,
    message,
  });

  const update: StepContext['update'] = async (change) => {
    let superseded = false;
    const status = await updateProvisioningStatus(store.control, org, clock, (current) => {
      superseded = isSupersededBy(current, caller) || current.action !== action;
      return superseded ? undefined : change(current);
    });
    return superseded ? undefined : status;
  };

  const before = await readProvisioningStatus(store.control, org, clock);
  if (isSupersededBy(before, caller) || before.action !== action) return result('superseded', before);
  if (before.steps.find((s) => s.number === step)?.status === 'succeeded') return result('succeeded', before);
  // Deprovisioning cannot be stopped (the rules refuse it; the flag is never set then).
  if (action === 'provision' && before.stopRequested) return result('stopped', before);

  const tenant = await getTenant(store, org);
  if (!tenant) return result('failed', before, `No tenant '${org}' is registered.`);
  // A later chunk goes on with the step in hand: it is running already, since its first chunk.
  const continuing =
    (input.chunk ?? 0) > 0 && before.steps.find((s) => s.number === step)?.status === 'running';
  const running = continuing ? before : await update((s) => markStepRunning(s, step, clock.now()));
  if (!running) return result('superseded', before);

  try {
    const outcome = await stepFunction({ services, tenant, runId, update });
    if (outcome.outcome === 'stopped') {
      const latest = await readProvisioningStatus(store.control, org, clock);
      return result(isSupersededBy(latest, caller) ? 'superseded' : 'stopped', latest);
    }
    if (outcome.outcome === 'continued') {
      const latest = await readProvisioningStatus(store.control, org, clock);
      if (isSupersededBy(latest, caller)) return result('superseded', latest);
      return result('continued', latest, outcome.summary);
    }
    const after = await update((s) => markStepEnded(s, step, 'succeeded', clock.now(), outcome.summary));
    return after ? result('succeeded', after, outcome.summary) : result('superseded', after);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!isRetryableStepError(error)) return result('failed', running, message);
    const now = clock.now();
    await update((s) =>
      withMessage(s, now, `Step ${step} attempt failed (will retry): ${message}`, 'warning'),
    );
    throw error;
  }
}

/**
 * Ends a run: the final state in the status document (the failed or stopped step marked so) and
 * the matching tenant state. Does nothing for a run that a newer one replaced.
 */
export async function finishProvisioningRun(services: AppServices, input: FinishRunInput): Promise<void> {
  const { store, clock } = services;
  let superseded = false;
  const status = await updateProvisioningStatus(store.control, input.org, clock, (current) => {
    superseded = isSupersededBy(current, input);
    if (superseded) return undefined;
    const failure = input.step === null ? undefined : { step: input.step, message: input.message ?? '' };
    return finishRun(current, input.outcome, clock.now(), failure);
  });
  if (superseded) return;
  countProvisioningRun({ org: input.org, action: status.action ?? 'none', outcome: input.outcome });
  await setTenantState(store, clock, input.org, tenantStateFor(status.state));
}
