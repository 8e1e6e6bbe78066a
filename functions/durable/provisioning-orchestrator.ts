import type { OrchestrationContext, OrchestrationHandler, RetryOptions } from 'durable-functions';
import { stepNamesFor } from '../../shared/provisioning/provisioning-lifecycle';
import {
  stepActivityResultSchema,
  type FinishRunInput,
  type RunStepInput,
  type StepActivityResult,
} from '../../shared/provisioning/provisioning-activities';
import {
  provisioningRunInputSchema,
  type ProvisioningRunInput,
} from '../../shared/provisioning/provisioning-runner';

/** Function name of the orchestrator (must not start with "admin"). */
export const PROVISIONING_ORCHESTRATOR = 'provisioningOrchestrator';
/** Activity: run one step of a run (`runProvisioningStep`). */
export const RUN_STEP_ACTIVITY = 'provisioningRunStep';
/** Activity: record a run's end (`finishProvisioningRun`). */
export const FINISH_RUN_ACTIVITY = 'provisioningFinishRun';

/**
 * Chunk activities one execution of the orchestration runs before it continues as new. Durable keeps
 * every activity's scheduling and result in the instance's history and replays all of it on each
 * wake-up: a 1 M-row step 5 of hundreds of chunks would grow it without bound. After this many the
 * orchestration restarts itself (`continueAsNew`, same instance id, history cleared) with the step and
 * the next chunk in its input; the status document, which the activities write, carries on unchanged.
 */
export const CHUNKS_PER_EXECUTION = 20;

/** How a run ended, as the orchestration returns it. */
export interface ProvisioningRunOutcome {
  outcome: 'succeeded' | 'failed' | 'stopped' | 'superseded';
  /** The step that failed or stopped (null when it succeeded). */
  step: number | null;
}

/** Custom status of the orchestration: which step runs (the status document has the detail). */
export interface ProvisioningCustomStatus {
  runId: string;
  action: 'provision' | 'deprovision';
  step: number;
  stepName: string;
  /** The chunk of a step that runs in chunks this execution started at (absent: its first). */
  chunk?: number;
  at: string;
}

/**
 * Retries of a failing step: 5 s, 10 s, 20 s … up to 1 min apart, 4 attempts in all. Only
 * transient failures are thrown by the step activity; the others come back as `failed` at once.
 * Each host turns it into the retry options its context takes (Durable insists on its own class).
 */
export const STEP_RETRY_POLICY: Readonly<
  Pick<
    RetryOptions,
    | 'firstRetryIntervalInMilliseconds'
    | 'maxNumberOfAttempts'
    | 'backoffCoefficient'
    | 'maxRetryIntervalInMilliseconds'
  >
> = {
  firstRetryIntervalInMilliseconds: 5_000,
  maxNumberOfAttempts: 4,
  backoffCoefficient: 2,
  maxRetryIntervalInMilliseconds: 60_000,
};

/**
 * The provisioning orchestrator (over the host's retry options): it only sequences. Each step is an activity with retries; between
 * steps it checks the stop flag the step activity reports; a step that fails after its retries ends
 * the run as failed at that step. All state lives in the status document the activities write, so
 * a run can be resumed from any step (`fromStep`). Deterministic: it reads only its input, activity
 * results and `context.df.currentUtcDateTime`, so Durable's replay (and the local driver) see the
 * same sequence every time. A step of many chunks continues as new every {@link CHUNKS_PER_EXECUTION}
 * chunks, so its history stays bounded. Each start and retry runs as a new instance (`instanceId` in the input,
 * also passed to the activities); how to change this function safely: docs/durable-orchestrator-versioning.md.
 */
export function createProvisioningOrchestrator(stepRetryOptions: () => RetryOptions): OrchestrationHandler {
  return function* provisioningOrchestrator(context: OrchestrationContext) {
    const run = provisioningRunInputSchema.parse(context.df.getInput());
    const stepNames = stepNamesFor(run.action);
    // Which attempt of the run this instance is: activities of a replaced attempt do nothing.
    const attempt = run.instanceId === undefined ? {} : { instanceId: run.instanceId };
    const finish = (outcome: FinishRunInput['outcome'], step: number | null, message: string | null) => {
      const input: FinishRunInput = { org: run.org, runId: run.runId, outcome, step, message, ...attempt };
      return context.df.callActivityWithRetry(FINISH_RUN_ACTIVITY, stepRetryOptions(), input);
    };

    for (let step = run.fromStep; step <= stepNames.length; step++) {
      // An execution continued as new goes on with the chunk its input names.
      const firstChunk = step === run.fromStep ? (run.chunk ?? 0) : 0;
      const customStatus: ProvisioningCustomStatus = {
        runId: run.runId,
        action: run.action,
        step,
        stepName: stepNames[step - 1] ?? '',
        ...(firstChunk === 0 ? {} : { chunk: firstChunk }),
        at: context.df.currentUtcDateTime.toISOString(),
      };
      context.df.setCustomStatus(customStatus);
      let result: StepActivityResult;
      // A step that runs in chunks (step 5) answers `continued` until it is done: one activity per
      // chunk, each within the function timeout, each resuming where the previous one saved.
      for (let chunk = firstChunk; ; chunk++) {
        const input: RunStepInput = {
          org: run.org,
          runId: run.runId,
          action: run.action,
          step,
          ...attempt,
          ...(chunk === 0 ? {} : { chunk }),
        };
        let raw: unknown;
        try {
          raw = yield context.df.callActivityWithRetry(RUN_STEP_ACTIVITY, stepRetryOptions(), input);
        } catch (error) {
          // Retries exhausted: the run fails at this step.
          yield finish('failed', step, error instanceof Error ? error.message : String(error));
          return { outcome: 'failed', step } satisfies ProvisioningRunOutcome;
        }
        result = stepActivityResultSchema.parse(raw);
        if (result.outcome !== 'continued') break;
        if (chunk + 1 - firstChunk >= CHUNKS_PER_EXECUTION) {
          // History bounded: a new execution of this instance goes on with the next chunk. Nothing is
          // yielded or returned after it (the return value of this execution is dropped).
          const next: ProvisioningRunInput = { ...run, fromStep: step, chunk: chunk + 1 };
          context.df.continueAsNew(next);
          return undefined;
        }
      }
      if (result.outcome === 'superseded')
        return { outcome: 'superseded', step } satisfies ProvisioningRunOutcome;
      if (result.outcome === 'failed') {
        yield finish('failed', step, result.message);
        return { outcome: 'failed', step } satisfies ProvisioningRunOutcome;
      }
      if (result.outcome === 'stopped') {
        yield finish('stopped', step, null);
        return { outcome: 'stopped', step } satisfies ProvisioningRunOutcome;
      }
      // The stop flag between steps: the next step is where the run stopped.
      if (result.stopRequested && run.action === 'provision' && step < stepNames.length) {
        yield finish('stopped', step + 1, null);
        return { outcome: 'stopped', step: step + 1 } satisfies ProvisioningRunOutcome;
      }
    }
    yield finish('succeeded', null, null);
    return { outcome: 'succeeded', step: null } satisfies ProvisioningRunOutcome;
  };
}
