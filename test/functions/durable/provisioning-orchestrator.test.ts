import * as df from 'durable-functions';
import type { RetryOptions } from 'durable-functions';
import {
  FINISH_RUN_ACTIVITY,
  provisioningOrchestrator,
  RUN_STEP_ACTIVITY,
  stepRetryOptions,
  type ProvisioningCustomStatus,
} from '../../../functions/durable/provisioning-orchestrator';
import type { StepActivityResult } from '../../../shared/provisioning/provisioning-activities';
import type { ProvisioningRunInput } from '../../../shared/provisioning/provisioning-runner';

/** What the orchestrator asked for, in order. */
interface Call {
  name: string;
  input: { step?: number; chunk?: number; outcome?: string; message?: string | null };
  retry: RetryOptions | undefined;
}

/**
 * Steps the generator by hand: a DummyOrchestrationContext whose `df` records each activity call;
 * `answer` decides what each step activity returns (or throws, as Durable does when retries are spent).
 */
function drive(
  run: ProvisioningRunInput,
  answer: (step: number) => StepActivityResult | Error,
): { calls: Call[]; customStatuses: ProvisioningCustomStatus[]; result: unknown } {
  const calls: Call[] = [];
  const customStatuses: ProvisioningCustomStatus[] = [];
  const context = new df.DummyOrchestrationContext();
  const record = (name: string, input: unknown, retry?: RetryOptions): df.Task => {
    calls.push({ name, input: input as Call['input'], retry });
    return { isCompleted: false, isFaulted: false };
  };
  context.df = {
    instanceId: `${run.action}-${run.org}`,
    currentUtcDateTime: new Date('2026-01-15T12:00:00Z'),
    getInput: () => run,
    setCustomStatus: (status: unknown) => customStatuses.push(status as ProvisioningCustomStatus),
    callActivity: (name: string, input?: unknown) => record(name, input),
    callActivityWithRetry: (name: string, retry: RetryOptions, input?: unknown) => record(name, input, retry),
  } as unknown as df.DurableOrchestrationContext;

  const generator = provisioningOrchestrator(context);
  let next = generator.next();
  while (!next.done) {
    const last = calls.at(-1)!;
    if (last.name === RUN_STEP_ACTIVITY) {
      const outcome = answer(last.input.step!);
      next = outcome instanceof Error ? generator.throw(outcome) : generator.next(outcome);
    } else {
      next = generator.next(null);
    }
  }
  return { calls, customStatuses, result: next.value };
}

const ok: StepActivityResult = { outcome: 'succeeded', stopRequested: false, message: 'done' };
const run = (over: Partial<ProvisioningRunInput> = {}): ProvisioningRunInput => ({
  org: 'contoso',
  action: 'provision',
  runId: 'run-1',
  fromStep: 1,
  ...over,
});
const sequence = (calls: Call[]): string[] =>
  calls.map((c) => (c.name === RUN_STEP_ACTIVITY ? `step ${c.input.step}` : `finish ${c.input.outcome}`));

describe('provisioning orchestrator', () => {
  it('calls a step that answers continued again, one activity per chunk, until it is done', () => {
    let chunks = 0;
    const { calls, result } = drive(run({ fromStep: 5 }), (step) =>
      step === 5 && ++chunks < 3
        ? { outcome: 'continued', stopRequested: false, message: `${chunks} chunk(s) done` }
        : ok,
    );
    expect(sequence(calls)).toEqual(['step 5', 'step 5', 'step 5', 'step 6', 'step 7', 'finish succeeded']);
    // The later chunks say so: they go on with the running step instead of starting it again.
    expect(calls.slice(0, 4).map((c) => c.input.chunk)).toEqual([undefined, 1, 2, undefined]);
    expect(calls.slice(0, 3).every((c) => c.retry !== undefined)).toBe(true);
    expect(result).toEqual({ outcome: 'succeeded', step: null });
  });

  it('runs steps 1 to 7 in order with retries, then finishes succeeded', () => {
    const { calls, customStatuses, result } = drive(run(), () => ok);
    expect(sequence(calls)).toEqual([
      'step 1',
      'step 2',
      'step 3',
      'step 4',
      'step 5',
      'step 6',
      'step 7',
      'finish succeeded',
    ]);
    expect(calls.every((c) => c.retry !== undefined && c.retry.maxNumberOfAttempts > 1)).toBe(true);
    expect(customStatuses.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(customStatuses[4]).toMatchObject({ stepName: 'Download data', at: '2026-01-15T12:00:00.000Z' });
    expect(result).toEqual({ outcome: 'succeeded', step: null });
  });

  it('runs the three deprovisioning steps', () => {
    const { calls } = drive(run({ action: 'deprovision' }), () => ok);
    expect(sequence(calls)).toEqual(['step 1', 'step 2', 'step 3', 'finish succeeded']);
  });

  it('stops between steps when the step reports a stop request', () => {
    const { calls, result } = drive(run(), (step) => (step === 3 ? { ...ok, stopRequested: true } : ok));
    expect(sequence(calls)).toEqual(['step 1', 'step 2', 'step 3', 'finish stopped']);
    expect(calls.at(-1)!.input).toMatchObject({ outcome: 'stopped', step: 4 });
    expect(result).toEqual({ outcome: 'stopped', step: 4 });
  });

  it('ends stopped at a step that stopped itself (step 5 between pages)', () => {
    const { calls } = drive(run(), (step) =>
      step === 5 ? { outcome: 'stopped', stopRequested: true, message: null } : ok,
    );
    expect(sequence(calls)).toEqual(['step 1', 'step 2', 'step 3', 'step 4', 'step 5', 'finish stopped']);
    expect(calls.at(-1)!.input).toMatchObject({ step: 5 });
  });

  it('fails the run at a step whose retries are spent, with its message', () => {
    const { calls, result } = drive(run(), (step) => (step === 2 ? new Error('database unavailable') : ok));
    expect(sequence(calls)).toEqual(['step 1', 'step 2', 'finish failed']);
    expect(calls.at(-1)!.input).toMatchObject({ step: 2, message: 'database unavailable' });
    expect(result).toEqual({ outcome: 'failed', step: 2 });
  });

  it('fails at once on a failure that retrying cannot fix', () => {
    const { calls } = drive(run(), (step) =>
      step === 3 ? { outcome: 'failed', stopRequested: false, message: 'no metadata' } : ok,
    );
    expect(sequence(calls)).toEqual(['step 1', 'step 2', 'step 3', 'finish failed']);
    expect(calls.at(-1)!.input).toMatchObject({ step: 3, message: 'no metadata' });
  });

  it('a retry resumes at the failed step without repeating earlier ones', () => {
    const { calls } = drive(run({ fromStep: 5 }), () => ok);
    expect(sequence(calls)).toEqual(['step 5', 'step 6', 'step 7', 'finish succeeded']);
  });

  it('ends quietly when a newer run owns the status', () => {
    const { calls, result } = drive(run(), () => ({
      outcome: 'superseded',
      stopRequested: false,
      message: null,
    }));
    expect(sequence(calls)).toEqual(['step 1']);
    expect(result).toEqual({ outcome: 'superseded', step: 1 });
  });

  it('ignores a stop flag after the last step: the run completed', () => {
    const { calls } = drive(run({ fromStep: 7 }), () => ({ ...ok, stopRequested: true }));
    expect(sequence(calls)).toEqual(['step 7', 'finish succeeded']);
  });

  it('retries with exponential backoff', () => {
    const retry = stepRetryOptions();
    expect(retry.firstRetryIntervalInMilliseconds).toBeGreaterThan(0);
    expect(retry.backoffCoefficient).toBe(2);
  });

  it("tells every activity which attempt (instance) of the run calls it, so a replaced attempt's calls do nothing", () => {
    const instanceId = 'provision-contoso-2f0c1e9a-0000-4000-8000-000000000001';
    const { calls } = drive(run({ fromStep: 6, instanceId }), () => ok);
    expect(calls.map((c) => (c.input as { instanceId?: string }).instanceId)).toEqual([
      instanceId,
      instanceId,
      instanceId,
    ]);
    // A run a host resumes by itself names none: its activities accept any attempt of the run.
    const { calls: legacy } = drive(run({ fromStep: 7 }), () => ok);
    expect(legacy.every((c) => !('instanceId' in c.input))).toBe(true);
  });

  it('refuses an invalid input', () => {
    expect(() => drive({ ...run(), fromStep: 0 }, () => ok)).toThrow();
    expect(FINISH_RUN_ACTIVITY).not.toMatch(/^admin/i);
  });
});
