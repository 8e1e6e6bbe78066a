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
  /**
   * The orchestration instance of this attempt, as the status document records it (fresh for each
   * start and retry). Absent on runs a host resumes by itself (the local driver after a restart).
   */
  instanceId: z.string().min(1).max(200).optional(),
  /**
   * The chunk of step `fromStep` to go on with (a step that runs in chunks, step 5): set when the
   * orchestration continues as new after a number of chunks; absent: the step's first chunk.
   */
  chunk: z.number().int().positive().optional(),
});
export type ProvisioningRunInput = z.infer<typeof provisioningRunInputSchema>;

/** What the host knows of an orchestration instance (see {@link ProvisioningRunner.inspect}). */
export type OrchestrationState =
  /** Pending, running, suspended or continued as new: it may still record its outcome. */
  | { kind: 'running' }
  | { kind: 'completed' }
  | { kind: 'failed'; message: string }
  /** Terminated (or cancelled) from outside: it will record nothing more. */
  | { kind: 'terminated'; message: string }
  /** The host has no such instance (never started, or its history was purged). */
  | { kind: 'missing' }
  /** The host could not be asked. */
  | { kind: 'unknown' };

/** How a start relates to what ran before. */
export interface StartOptions {
  /**
   * The instance of the run's previous attempt, which the host may terminate. Nothing waits for
   * that termination (Durable's terminate is asynchronous): the old instance's activities find a
   * newer attempt in the status document and do nothing.
   */
  replaces?: string;
}

/**
 * The ProvisioningRunner port: how the provisioning route hands a run to the host's orchestration.
 * In Azure it starts a Durable Functions orchestration with the durable client (instance id
 * `provision-{org}` or `deprovision-{org}`); on the local host the in-process driver runs the same
 * orchestrator generator. The status document has already been updated when these are called.
 */
export interface ProvisioningRunner {
  /** Starts the run (idempotent: a run of the same instance already going is left alone). */
  start(run: ProvisioningRunInput, options?: StartOptions): Promise<void>;
  /** A stop was recorded in the status document; the run ends before its next step or page. */
  stop(org: string): Promise<void>;
  /**
   * The runtime status of an orchestration instance, for reconciling the status document with it
   * (a terminated, failed or vanished instance leaves a run that nothing will finish). Optional: a
   * host that resumes its runs by itself (the local driver) has nothing to answer.
   */
  inspect?(instanceId: string): Promise<OrchestrationState>;
}

/**
 * The Durable instance id of a tenant's run: `provision-{org}` / `deprovision-{org}`, and with an
 * attempt (each start and retry gets a fresh one) `provision-{org}-{attempt}`, so a repeated start
 * of the same attempt is idempotent while a retry never meets the previous instance's id.
 */
export function provisioningInstanceId(
  action: ProvisioningRunInput['action'],
  org: string,
  attempt?: string,
): string {
  return attempt === undefined ? `${action}-${org}` : `${action}-${org}-${attempt}`;
}
