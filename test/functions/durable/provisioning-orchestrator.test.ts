import * as df from 'durable-functions';
import type { RetryOptions } from 'durable-functions';
import {
  CHUNKS_PER_EXECUTION,
  FINISH_RUN_ACTIVITY,
  RUN_STEP_ACTIVITY,
  STEP_RETRY_POLICY,
  type ProvisioningCustomStatus,
} from '../../../functions/durable/provisioning-orchestrator';
import { durableStepRetryOptions, provisioningOrchestrator } from '../../../functions/durable';
import type { StepActivityResult } from '../../../shared/provisioning/provisioning-activities';
import type { ProvisioningRunInput } from '../../../shared/provisioning/provisioning-runner';

/** What the orchestrator asked for, in order. */
interface Call {
  name: string;
  input: { step?: number; chunk?: number; outcome?: string; message?: string | null };
  retry: RetryOptions | undefined;
}

/** One execution of the orchestration: the input it started with and what it asked for. */
interface Execution {
  input: unknown;
  calls: Call[];
  customStatuses: ProvisioningCustomStatus[];
}

/**
 * Steps the generator by hand: a DummyOrchestrationContext whose `df` records each activity call;
 * `answer` decides what each step activity returns (or throws, as Durable does when retries are spent).
 * `continueAsNew` behaves as in Azure: the execution ends (yielding anything more is an error), and
 * the same instance starts again with the new input (stored as JSON) and an empty history.
 */
function drive(
  run: ProvisioningRunInput,
  answer: (step: number) => StepActivityResult | Error,
): {
  calls: Call[];
  customStatuses: ProvisioningCustomStatus[];
  executions: Execution[];
  result: unknown;
} {
  const calls: Call[] = [];
  const customStatuses: ProvisioningCustomStatus[] = [];
  const executions: Execution[] = [];
  let input: unknown = run;
  for (;;) {
    if (executions.length > 100) throw new Error('the orchestration never ends');
    const execution: Execution = { input, calls: [], customStatuses: [] };
    executions.push(execution);
    let continuedAs: { input: unknown } | undefined;
    const context = new df.DummyOrchestrationContext();
    const record = (name: string, input: unknown, retry?: RetryOptions): df.Task => {
      if (continuedAs !== undefined) throw new Error(`${name} was scheduled after continueAsNew`);
      const call = { name, input: input as Call['input'], retry };
      calls.push(call);
      execution.calls.push(call);
      return { isCompleted: false, isFaulted: false };
    };
    context.df = {
      instanceId: `${run.action}-${run.org}`,
      currentUtcDateTime: new Date('2026-01-15T12:00:00Z'),
      getInput: () => execution.input,
      setCustomStatus: (status: unknown) => {
        customStatuses.push(status as ProvisioningCustomStatus);
        execution.customStatuses.push(status as ProvisioningCustomStatus);
      },
      callActivity: (name: string, input?: unknown) => record(name, input),
      callActivityWithRetry: (name: string, retry: RetryOptions, input?: unknown) =>
        record(name, input, retry),
      continueAsNew: (next: unknown) => {
        if (continuedAs !== undefined) throw new Error('continueAsNew was called twice');
        continuedAs = { input: next };
      },
    } as unknown as df.DurableOrchestrationContext;

    const generator = provisioningOrchestrator(context);
    let next = generator.next();
    while (!next.done) {
      if (continuedAs !== undefined) throw new Error('a task was yielded after continueAsNew');
      const last = calls.at(-1)!;
      if (last.name === RUN_STEP_ACTIVITY) {
        const outcome = answer(last.input.step!);
        next = outcome instanceof Error ? generator.throw(outcome) : generator.next(outcome);
      } else {
        next = generator.next(null);
      }
    }
    if (continuedAs === undefined) return { calls, customStatuses, executions, result: next.value };
    input = JSON.parse(JSON.stringify(continuedAs.input)) as unknown;
  }
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

  it(`continues as new every ${CHUNKS_PER_EXECUTION} chunks, going on with the next chunk, until the step is done`, () => {
    const instanceId = 'provision-contoso-2f0c1e9a-0000-4000-8000-000000000001';
    let chunks = 0;
    const { calls, executions, result } = drive(run({ fromStep: 4, instanceId }), (step) =>
      step === 5 && ++chunks <= 45
        ? { outcome: 'continued', stopRequested: false, message: `${chunks} chunk(s) done` }
        : ok,
    );
    // 46 chunk activities (45 continued, then succeeded): 20, 20 and 6 in three executions.
    const step5 = (c: Call[]) => c.filter((call) => call.name === RUN_STEP_ACTIVITY && call.input.step === 5);
    expect(executions.map((e) => step5(e.calls).length)).toEqual([20, 20, 6]);
    expect(step5(calls).map((c) => c.input.chunk ?? 0)).toEqual([...Array(46).keys()]);
    // Each new execution starts from its input alone: step 5, the next chunk, the same attempt.
    expect(executions.slice(1).map((e) => e.input)).toEqual([
      { ...run({ instanceId }), fromStep: 5, chunk: 20 },
      { ...run({ instanceId }), fromStep: 5, chunk: 40 },
    ]);
    expect(executions.map((e) => sequence(e.calls).filter((c) => c !== 'step 5'))).toEqual([
      ['step 4'],
      [],
      ['step 6', 'step 7', 'finish succeeded'],
    ]);
    expect(calls.every((c) => (c.input as { instanceId?: string }).instanceId === instanceId)).toBe(true);
    // The custom status says where each execution began.
    expect(executions[1]!.customStatuses[0]).toMatchObject({ step: 5, chunk: 20 });
    expect(executions[2]!.customStatuses.map((s) => [s.step, s.chunk])).toEqual([
      [5, 40],
      [6, undefined],
      [7, undefined],
    ]);
    expect(result).toEqual({ outcome: 'succeeded', step: null });
  });

  it('ends stopped in an execution continued as new when the chunk in hand stops', () => {
    let chunks = 0;
    const { executions, result } = drive(run({ fromStep: 5, chunk: 3 }), (step) =>
      step === 5 && ++chunks <= CHUNKS_PER_EXECUTION
        ? { outcome: 'continued', stopRequested: false, message: null }
        : { outcome: 'stopped', stopRequested: true, message: null },
    );
    expect(executions.map((e) => sequence(e.calls))).toEqual([
      Array(CHUNKS_PER_EXECUTION).fill('step 5'),
      ['step 5', 'finish stopped'],
    ]);
    expect(executions[0]!.calls[0]!.input.chunk).toBe(3);
    expect(executions[1]!.input).toMatchObject({ fromStep: 5, chunk: 3 + CHUNKS_PER_EXECUTION });
    expect(result).toEqual({ outcome: 'stopped', step: 5 });
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

  it("retries with exponential backoff, in Durable's own retry options class", () => {
    const retry = durableStepRetryOptions();
    expect(retry).toBeInstanceOf(df.RetryOptions);
    expect(retry).toMatchObject(STEP_RETRY_POLICY);
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
