/**
 * The provisioning lifecycle (SPEC §8): which admin action is allowed in which state, and how a run
 * changes the status document. Pure functions only; the steps live in provisioning-steps.ts.
 *
 * ```
 *                       provision                        step 7 done
 *   idle / stopped / ─────────────► provisioning ─────────────────────► provisioned
 *   deprovisioned /                  │   ▲    │                             │
 *   failed (provision)          stop │   │    │ a step fails                │ deprovision
 *                                    ▼   │    ▼   (after its retries)       ▼
 *                              stopping  │  failed ◄──────────────── deprovisioning
 *                                    │   │    │    a step fails        │    ▲   (no stop)
 *          the step ends or stops    ▼   │    │                        │    │
 *                              stopped ──┘    └── retry: resumes the   │    └── deprovision, retry
 *                                   retry         failed step          │        (from failed)
 *                                                                      ▼
 *                                                               deprovisioned
 * ```
 *
 * - provision: only from idle, stopped, deprovisioned, or failed (a failed *provisioning* run; after a
 *   failed deprovision the database may be half gone, so only retry or deprovision are allowed).
 * - stop: only while provisioning; the running step ends cleanly (step 5 stops between pages) and the
 *   status says stopped at step N. Deprovisioning cannot be stopped.
 * - deprovision: only from provisioned, or failed when the failed run was a deprovision.
 * - retry: from failed (either action) or stopped: resumes the same run at the step that failed or
 *   stopped; completed steps are not repeated.
 */
import { AppError } from '../errors';
import type { TenantState } from '../model/tenant';
import type {
  ProvisioningAction,
  ProvisioningState,
  ProvisioningStatus,
  ProvisioningStep,
  RunAction,
} from './provisioning-status';
import { withMessage } from './provisioning-status';

/** The seven provisioning steps (SPEC §8), in order; step N is at index N-1. */
export const PROVISION_STEP_NAMES = [
  'Validate configuration and reach the source',
  'Create the tenant database',
  'Download metadata',
  'Configure sync',
  'Download data',
  'Start change tracking',
  'Activate',
] as const;

/** The steps of deprovisioning; the run's end marks the tenant deprovisioned. */
export const DEPROVISION_STEP_NAMES = [
  'Deactivate',
  'Cancel recurring replication',
  'Delete the tenant database',
] as const;

/** Step 5: the step that downloads data and reports progress. */
export const DOWNLOAD_DATA_STEP = 5;

export function stepNamesFor(action: RunAction): readonly string[] {
  return action === 'provision' ? PROVISION_STEP_NAMES : DEPROVISION_STEP_NAMES;
}

/** What an admin action leads to. */
export type ActionDecision =
  /** Start a new run from step 1. */
  | { kind: 'start'; action: RunAction }
  /** Resume the current run at `fromStep` (retry). */
  | { kind: 'resume'; action: RunAction; fromStep: number }
  /** Ask the running provisioning run to stop. */
  | { kind: 'stop' }
  /** Not allowed now: 409 with this reason. */
  | { kind: 'refused'; reason: string };

/** Decides whether `action` is allowed in the tenant's current status, and what it does. */
export function decideProvisioningAction(
  status: ProvisioningStatus,
  action: ProvisioningAction,
): ActionDecision {
  const { state } = status;
  const refused = (reason: string): ActionDecision => ({ kind: 'refused', reason });
  switch (action) {
    case 'provision':
      if (state === 'idle' || state === 'stopped' || state === 'deprovisioned') {
        return { kind: 'start', action: 'provision' };
      }
      if (state === 'failed') {
        return status.action === 'deprovision'
          ? refused('A deprovisioning run failed: retry it, or deprovision again, before provisioning.')
          : { kind: 'start', action: 'provision' };
      }
      return refused(refusalByState[state].provision);
    case 'stop':
      if (state === 'provisioning') return { kind: 'stop' };
      return refused(refusalByState[state].stop);
    case 'deprovision':
      if (state === 'provisioned') return { kind: 'start', action: 'deprovision' };
      if (state === 'failed' && status.action === 'deprovision')
        return { kind: 'start', action: 'deprovision' };
      if (state === 'failed') {
        return refused('Provisioning failed before it completed: retry it or provision again first.');
      }
      return refused(refusalByState[state].deprovision);
    case 'retry': {
      if ((state === 'failed' || state === 'stopped') && status.action !== null) {
        return { kind: 'resume', action: status.action, fromStep: resumeStep(status) };
      }
      return refused(refusalByState[state].retry);
    }
  }
}

/** Why each action is refused in each state where the rules above do not allow it. */
const refusalByState: Record<ProvisioningState, Record<ProvisioningAction, string>> = {
  idle: {
    provision: '',
    stop: 'Nothing to stop: the tenant was never provisioned.',
    deprovision: 'The tenant is not provisioned.',
    retry: 'Nothing to retry: no run failed or stopped.',
  },
  provisioning: {
    provision: 'Provisioning is already running.',
    stop: '',
    deprovision: 'Provisioning is running: stop it, or wait until it completes, before deprovisioning.',
    retry: 'Provisioning is running: nothing to retry.',
  },
  provisioned: {
    provision: 'The tenant is already provisioned.',
    stop: 'Nothing to stop: provisioning has completed.',
    deprovision: '',
    retry: 'Nothing to retry: provisioning has completed.',
  },
  stopping: {
    provision: 'Provisioning is stopping: wait until it has stopped.',
    stop: 'A stop was already requested.',
    deprovision: 'Provisioning is stopping: deprovisioning may start only when provisioning has completed.',
    retry: 'Provisioning is stopping: retry once it has stopped.',
  },
  stopped: {
    provision: '',
    stop: 'Provisioning has already stopped.',
    deprovision: 'Provisioning was stopped before it completed: the tenant is not provisioned.',
    retry: '',
  },
  failed: {
    provision: '',
    stop: 'Nothing to stop: the last run failed.',
    deprovision: '',
    retry: '',
  },
  deprovisioning: {
    provision: 'Deprovisioning is running: provisioning may start again only when it has completed.',
    stop: 'Deprovisioning cannot be stopped once started.',
    deprovision: 'Deprovisioning is already running.',
    retry: 'Deprovisioning is running: nothing to retry.',
  },
  deprovisioned: {
    provision: '',
    stop: 'Nothing to stop: the tenant is deprovisioned.',
    deprovision: 'The tenant is already deprovisioned.',
    retry: 'Nothing to retry: deprovisioning has completed.',
  },
};

/** The first step of the run that did not succeed (where a retry resumes). */
export function resumeStep(status: ProvisioningStatus): number {
  const pending = status.steps.find((step) => step.status !== 'succeeded');
  return pending?.number ?? status.steps.length + 1;
}

/** Throws the 409 of a refused decision. */
export function refusalError(reason: string, status: ProvisioningStatus): AppError {
  return new AppError('Conflict', reason, { details: { state: status.state, action: status.action } });
}

function freshSteps(action: RunAction): ProvisioningStep[] {
  return stepNamesFor(action).map((name, index) => ({
    number: index + 1,
    name,
    status: 'pending',
    startedAt: null,
    endedAt: null,
    message: null,
  }));
}

/** The status of a new run: every step pending, state provisioning or deprovisioning. */
export function beginRun(
  status: ProvisioningStatus,
  action: RunAction,
  runId: string,
  now: Date,
): ProvisioningStatus {
  const next: ProvisioningStatus = {
    ...status,
    state: action === 'provision' ? 'provisioning' : 'deprovisioning',
    action,
    runId,
    currentStep: 1,
    steps: freshSteps(action),
    stopRequested: false,
    progress: null,
    startedAt: now.toISOString(),
    endedAt: null,
  };
  return withMessage(next, now, action === 'provision' ? 'Provisioning started.' : 'Deprovisioning started.');
}

/** The status of a retried run: steps from `fromStep` on are pending again; earlier ones keep their result. */
export function resumeRun(status: ProvisioningStatus, fromStep: number, now: Date): ProvisioningStatus {
  const action = status.action ?? 'provision';
  const next: ProvisioningStatus = {
    ...status,
    state: action === 'provision' ? 'provisioning' : 'deprovisioning',
    currentStep: fromStep,
    steps: status.steps.map((step) =>
      step.number >= fromStep ? { ...step, status: 'pending', endedAt: null, message: null } : step,
    ),
    stopRequested: false,
    endedAt: null,
  };
  return withMessage(next, now, `Retrying from step ${fromStep}.`);
}

/** The status after `stop` was accepted. */
export function requestStop(status: ProvisioningStatus, now: Date): ProvisioningStatus {
  return withMessage(
    { ...status, state: 'stopping', stopRequested: true },
    now,
    `Stop requested during step ${status.currentStep ?? '?'}.`,
  );
}

/** The status when a step starts. */
export function markStepRunning(status: ProvisioningStatus, step: number, now: Date): ProvisioningStatus {
  return {
    ...withMessage(status, now, `Step ${step} started: ${stepName(status, step)}.`),
    currentStep: step,
    steps: status.steps.map((s) =>
      s.number === step
        ? { ...s, status: 'running', startedAt: now.toISOString(), endedAt: null, message: null }
        : s,
    ),
  };
}

/** The status when a step ends (succeeded, or an attempt failed, or it was stopped). */
export function markStepEnded(
  status: ProvisioningStatus,
  step: number,
  outcome: 'succeeded' | 'failed' | 'stopped',
  now: Date,
  message: string | null = null,
): ProvisioningStatus {
  const text =
    outcome === 'succeeded'
      ? `Step ${step} succeeded: ${stepName(status, step)}.`
      : outcome === 'stopped'
        ? `Step ${step} stopped.`
        : `Step ${step} failed: ${message ?? 'unknown error'}`;
  return {
    ...withMessage(status, now, text, outcome === 'failed' ? 'error' : 'info'),
    steps: status.steps.map((s) =>
      s.number === step ? { ...s, status: outcome, endedAt: now.toISOString(), message } : s,
    ),
  };
}

/** The final status of a run. */
export function finishRun(
  status: ProvisioningStatus,
  outcome: 'succeeded' | 'failed' | 'stopped',
  now: Date,
  failure?: { step: number; message: string },
): ProvisioningStatus {
  const action = status.action ?? 'provision';
  if (outcome === 'succeeded') {
    const state: ProvisioningState = action === 'provision' ? 'provisioned' : 'deprovisioned';
    return withMessage(
      { ...status, state, currentStep: null, stopRequested: false, endedAt: now.toISOString() },
      now,
      action === 'provision' ? 'Provisioning completed: devices may sync.' : 'Deprovisioning completed.',
    );
  }
  let next = status;
  if (failure) {
    next = markStepEnded(next, failure.step, outcome, now, outcome === 'failed' ? failure.message : null);
  }
  const stoppedAt = failure?.step ?? status.currentStep;
  return withMessage(
    {
      ...next,
      state: outcome,
      currentStep: stoppedAt,
      stopRequested: false,
      endedAt: now.toISOString(),
    },
    now,
    outcome === 'stopped'
      ? `Provisioning stopped at step ${stoppedAt ?? '?'}.`
      : `${action === 'provision' ? 'Provisioning' : 'Deprovisioning'} failed at step ${stoppedAt ?? '?'}.`,
    outcome === 'failed' ? 'error' : 'info',
  );
}

/** The tenant registry state that goes with a final or starting provisioning state. */
export function tenantStateFor(state: ProvisioningState): TenantState {
  switch (state) {
    case 'idle':
      return 'registered';
    case 'provisioning':
    case 'stopping':
      return 'provisioning';
    case 'provisioned':
      return 'active';
    case 'stopped':
      return 'stopped';
    case 'failed':
      return 'failed';
    case 'deprovisioning':
      return 'deprovisioning';
    case 'deprovisioned':
      return 'deprovisioned';
  }
}

function stepName(status: ProvisioningStatus, step: number): string {
  return status.steps.find((s) => s.number === step)?.name ?? `step ${step}`;
}
