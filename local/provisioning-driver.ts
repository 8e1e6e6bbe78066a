import type { OrchestrationContext, RetryOptions, Task } from 'durable-functions';
import { provisioningActivities } from '../functions/durable/provisioning-activities';
import {
  createProvisioningOrchestrator,
  PROVISIONING_ORCHESTRATOR,
  STEP_RETRY_POLICY,
} from '../functions/durable/provisioning-orchestrator';
import type { AppServices } from '../shared/app-services';
import { AppError } from '../shared/errors';
import { errorFields, logLine, withLogScope, type LogLevel } from '../shared/telemetry/log';
import { finishProvisioningRun } from '../shared/provisioning/provisioning-activities';
import { resumeStep } from '../shared/provisioning/provisioning-lifecycle';
import {
  provisioningInstanceId,
  provisioningRunInputSchema,
  type ProvisioningRunInput,
  type ProvisioningRunner,
} from '../shared/provisioning/provisioning-runner';
import { listProvisioningStatuses } from '../shared/provisioning/provisioning-status';

/**
 * The same orchestrator as in Azure, over plain retry options: this process never loads
 * `durable-functions` (its retries are {@link retryDelay}'s, with no overall time limit).
 */
const provisioningOrchestrator = createProvisioningOrchestrator(() => ({
  ...STEP_RETRY_POLICY,
  retryTimeoutInMilliseconds: Number.POSITIVE_INFINITY,
}));

/**
 * The local host's orchestration driver: runs the very generator Durable Functions runs
 * (`provisioningOrchestrator`) in this process. It honours what that generator yields —
 * `callActivity`, `callActivityWithRetry` (with the same backoff) and `createTimer` — and feeds
 * back results or errors; an execution that continues as new is followed by the next one. Progress is not kept here: each step activity records itself in the
 * status document, so after a restart {@link LocalProvisioningDriver.resumeInterrupted} starts the
 * interrupted runs again at the step they were in, and completed steps are not repeated.
 */

/** A task the generator yielded, as this driver represents it. */
type DriverTask =
  | { kind: 'activity'; name: string; input: unknown; retry: RetryOptions | undefined }
  | { kind: 'timer'; fireAt: Date };

export interface LocalProvisioningDriverOptions {
  /** Waits between activity retries and for timers; tests pass one that returns at once. */
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
  /**
   * Runs before the driver starts (or resumes) a run, in the background like the run itself: the
   * local host re-creates the demo tenant's configuration here when a deprovisioned demo is
   * provisioned again. A failure fails the run at its first step, with the error's message.
   */
  beforeRun?: (run: ProvisioningRunInput) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class LocalProvisioningDriver implements ProvisioningRunner {
  private readonly inFlight = new Map<string, { run: ProvisioningRunInput; done: Promise<void> }>();
  private halted = false;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly log: (line: string) => void;
  private readonly beforeRun: ((run: ProvisioningRunInput) => Promise<void>) | undefined;

  constructor(
    private readonly services: AppServices,
    options: LocalProvisioningDriverOptions = {},
  ) {
    this.sleep = options.sleep ?? realSleep;
    this.log = options.log ?? ((line) => console.log(line));
    this.beforeRun = options.beforeRun;
  }

  /** Starts driving a run in the background; the same run already in flight is left alone. */
  start(run: ProvisioningRunInput): Promise<void> {
    if (this.halted) return Promise.reject(new AppError('Unavailable', 'The local host is stopping.'));
    const current = this.inFlight.get(run.org);
    if (current && current.run.runId === run.runId && current.run.fromStep === run.fromStep) {
      return Promise.resolve();
    }
    // One run per tenant at a time: a new one waits for the previous one to wind down.
    const previous = current?.done ?? Promise.resolve();
    const done = previous.then(() => this.prepareAndDrive(run));
    const entry = { run, done };
    this.inFlight.set(run.org, entry);
    void done.finally(() => {
      if (this.inFlight.get(run.org) === entry) this.inFlight.delete(run.org);
    });
    return Promise.resolve();
  }

  /** The stop flag is in the status document; the run sees it between steps and pages. */
  stop(): Promise<void> {
    return Promise.resolve();
  }

  /** Starts again every run the status documents show as interrupted (call once at host start). */
  async resumeInterrupted(): Promise<ProvisioningRunInput[]> {
    const statuses = await listProvisioningStatuses(this.services.store.control);
    const resumed: ProvisioningRunInput[] = [];
    for (const status of statuses) {
      const interrupted =
        status.state === 'provisioning' || status.state === 'stopping' || status.state === 'deprovisioning';
      if (!interrupted || status.action === null || status.runId === null) continue;
      const run = provisioningRunInputSchema.parse({
        org: status.org,
        action: status.action,
        runId: status.runId,
        fromStep: Math.min(resumeStep(status), status.steps.length),
      });
      this.line('info', `Resuming ${run.action} at step ${run.fromStep}.`, run);
      await this.start(run);
      resumed.push(run);
    }
    return resumed;
  }

  /**
   * One structured line about a run (shared/telemetry/log.ts: org, trigger `provisioning`, the
   * fields given; an error by its type), written where the host's lines go.
   */
  private line(
    level: LogLevel,
    msg: string,
    run: Pick<ProvisioningRunInput, 'org' | 'action' | 'runId'>,
    data: Record<string, unknown> = {},
  ): void {
    withLogScope({ org: run.org, trigger: 'provisioning', sink: (_level, text) => this.log(text) }, () =>
      logLine(level, msg, { action: run.action, runId: run.runId, ...data }),
    );
  }

  /** Resolves when no run is in flight. */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.all([...this.inFlight.values()].map((entry) => entry.done));
    }
  }

  /**
   * Stops advancing runs, as a killed process would: nothing more is recorded after the activity in
   * hand ends. The next host start resumes them ({@link resumeInterrupted}).
   */
  halt(): void {
    this.halted = true;
  }

  /**
   * Host shutdown: halts, and waits up to `graceMs` for the activities in hand to end. A long step 5
   * may still be running then: it is left like a crash (the store closes under it), and the next
   * start resumes it at that step, which re-reads only the entities it had not finished.
   */
  async close(graceMs = 2000): Promise<void> {
    this.halt();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
      timer.unref();
    });
    await Promise.race([this.whenIdle(), grace]);
    clearTimeout(timer);
  }

  private async prepareAndDrive(run: ProvisioningRunInput): Promise<void> {
    if (this.beforeRun && !this.halted) {
      try {
        await this.beforeRun(run);
      } catch (error) {
        if (this.halted) return;
        const message = error instanceof Error ? error.message : String(error);
        this.line('error', `Preparing ${run.action} failed.`, run, errorFields(error));
        // The run's own finish activity records the failure, as a failed first step would.
        await finishProvisioningRun(this.services, {
          org: run.org,
          runId: run.runId,
          outcome: 'failed',
          step: run.fromStep,
          message: `Could not prepare the run: ${message}`,
        }).catch((recordError: unknown) =>
          // The status stays where it was; the next host start resumes the run.
          this.line('error', 'Recording that failure failed too.', run, errorFields(recordError)),
        );
        return;
      }
    }
    await this.drive(run);
  }

  /**
   * Runs the orchestrator to its end; an execution that continues as new (`continueAsNew`) is
   * followed, as Durable does, by a fresh execution of the same instance with the new input.
   */
  private async drive(first: ProvisioningRunInput): Promise<void> {
    let run: ProvisioningRunInput | undefined = first;
    while (run !== undefined && !this.halted) run = await this.driveExecution(run);
  }

  /** One execution of the orchestrator; answers the input it continued as new with, if it did. */
  private async driveExecution(run: ProvisioningRunInput): Promise<ProvisioningRunInput | undefined> {
    const instanceId = provisioningInstanceId(run.action, run.org);
    const { context, continuedAs } = this.orchestrationContext(instanceId, run);
    try {
      const generator = provisioningOrchestrator(context);
      let next = generator.next();
      while (!next.done) {
        if (this.halted) return undefined;
        const task = next.value as unknown as DriverTask;
        let result: unknown;
        try {
          result = await this.perform(task);
        } catch (error) {
          if (this.halted) return undefined;
          context.df.currentUtcDateTime = this.services.clock.now();
          next = generator.throw(error);
          continue;
        }
        if (this.halted) return undefined;
        context.df.currentUtcDateTime = this.services.clock.now();
        next = generator.next(result);
      }
      const input = continuedAs();
      if (input !== undefined) {
        // Validated like any start: the next execution reads it with getInput.
        const nextRun = provisioningRunInputSchema.parse(input);
        this.line('info', `${PROVISIONING_ORCHESTRATOR} continued as new at step ${nextRun.fromStep}.`, run, {
          instanceId,
        });
        return nextRun;
      }
      this.line('info', `${PROVISIONING_ORCHESTRATOR} ended.`, run, { instanceId, result: next.value });
    } catch (error) {
      // An orchestration bug or a store failure past every retry: the status stays where it was and
      // the next host start resumes it.
      this.line('error', `${PROVISIONING_ORCHESTRATOR} failed.`, run, { instanceId, ...errorFields(error) });
    }
    return undefined;
  }

  private async perform(task: DriverTask): Promise<unknown> {
    if (task.kind === 'timer') {
      await this.sleep(Math.max(0, task.fireAt.getTime() - this.services.clock.now().getTime()));
      return undefined;
    }
    const activity = provisioningActivities[task.name];
    if (!activity) throw new Error(`No activity '${task.name}' is registered.`);
    const attempts = task.retry?.maxNumberOfAttempts ?? 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await activity(this.services, task.input);
      } catch (error) {
        if (attempt >= attempts || this.halted) throw error;
        await this.sleep(retryDelay(task.retry!, attempt));
      }
    }
  }

  /**
   * The part of Durable's orchestration context the provisioning orchestrator uses, and the input the
   * execution continued as new with (undefined unless it called `continueAsNew`).
   */
  private orchestrationContext(
    instanceId: string,
    run: ProvisioningRunInput,
  ): { context: OrchestrationContext; continuedAs: () => unknown } {
    const task = (value: DriverTask): Task => ({ ...value, isCompleted: false, isFaulted: false });
    let continuedAs: unknown;
    const df = {
      instanceId,
      isReplaying: false,
      currentUtcDateTime: this.services.clock.now(),
      customStatus: undefined as unknown,
      getInput: () => run,
      setCustomStatus(status: unknown) {
        df.customStatus = status;
      },
      callActivity: (name: string, input?: unknown) =>
        task({ kind: 'activity', name, input, retry: undefined }),
      callActivityWithRetry: (name: string, retry: RetryOptions, input?: unknown) =>
        task({ kind: 'activity', name, input, retry }),
      createTimer: (fireAt: Date) => task({ kind: 'timer', fireAt }),
      continueAsNew(input: unknown) {
        continuedAs = input;
      },
    };
    return { context: { df } as unknown as OrchestrationContext, continuedAs: () => continuedAs };
  }
}

/** Durable's backoff: first interval × coefficient^(attempt-1), capped by the maximum interval. */
export function retryDelay(retry: RetryOptions, attempt: number): number {
  const coefficient = retry.backoffCoefficient || 1;
  const delay = retry.firstRetryIntervalInMilliseconds * coefficient ** (attempt - 1);
  return retry.maxRetryIntervalInMilliseconds > 0
    ? Math.min(delay, retry.maxRetryIntervalInMilliseconds)
    : delay;
}

/** The local host's runner over its services (the lead wires it into AppServices.provisioning). */
export function createLocalProvisioningDriver(
  services: AppServices,
  options: LocalProvisioningDriverOptions = {},
): LocalProvisioningDriver {
  return new LocalProvisioningDriver(services, options);
}
