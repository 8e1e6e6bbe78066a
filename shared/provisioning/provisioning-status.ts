import { z } from 'zod';
import type { Clock } from '../clock';
import type { TenantState } from '../model/tenant';
import type { DocStore } from '../store/port';
import { retryOnWriteRace, unchangedSince } from '../store/port';

/**
 * The provisioning status document: one per tenant in the control store, the one source the status
 * route (and the admin page) reads. Every step activity and every admin action updates it with
 * optimistic concurrency, so it survives restarts of either host and never loses a concurrent write.
 */

/** Doc kind of provisioning status documents in the control store (id: the org). */
export const PROVISIONING_STATUS_KIND = 'provisioning-status';

/** Where a tenant's offline service is in its lifecycle (see the diagram in provisioning-lifecycle.ts). */
export const provisioningStateSchema = z.enum([
  'idle',
  'provisioning',
  'provisioned',
  'stopping',
  'stopped',
  'failed',
  'deprovisioning',
  'deprovisioned',
]);
export type ProvisioningState = z.infer<typeof provisioningStateSchema>;

/** What a run does. */
export const runActionSchema = z.enum(['provision', 'deprovision']);
export type RunAction = z.infer<typeof runActionSchema>;

/** What an admin may ask for (`POST admin/{org}/provisioning`). */
export const provisioningActionSchema = z.enum(['provision', 'stop', 'deprovision', 'retry']);
export type ProvisioningAction = z.infer<typeof provisioningActionSchema>;

export const stepStatusSchema = z.enum(['pending', 'running', 'succeeded', 'failed', 'stopped']);
export type StepStatus = z.infer<typeof stepStatusSchema>;

/** One step of a run, with its timestamps and last message. */
export const provisioningStepSchema = z.object({
  /** 1-based. */
  number: z.number().int().positive(),
  name: z.string(),
  status: stepStatusSchema,
  startedAt: z.iso.datetime().nullable(),
  endedAt: z.iso.datetime().nullable(),
  message: z.string().nullable(),
});
export type ProvisioningStep = z.infer<typeof provisioningStepSchema>;

/** Download progress of one entity in step 5. */
export const entityProgressSchema = z.object({
  entity: z.string(),
  rowsDone: z.number().int().nonnegative(),
  /** From the source's count; may be an estimate, so `rowsDone` can pass it. */
  rowsExpected: z.number().int().nonnegative(),
  percent: z.number().min(0).max(100),
  /** Seconds left at the rate observed so far in this step; null until there is a rate. */
  etaSeconds: z.number().nonnegative().nullable(),
  /** Downloaded completely (a resumed step skips it). */
  done: z.boolean(),
  /**
   * Where the entity's read goes on (the source's position after its last stored page), while it is
   * partly downloaded: the next chunk, a retry or a restart continues there instead of at page 1.
   */
  resumeAt: z.string().min(1).optional(),
  /** Downloaded before the tenant is activated early (directory, security and required entities). */
  priority: z.boolean(),
});
export type EntityProgress = z.infer<typeof entityProgressSchema>;

/** Step 5 progress: per entity and overall, with the window the rate is measured over. */
export const downloadProgressSchema = z.object({
  entities: z.array(entityProgressSchema),
  rowsDone: z.number().int().nonnegative(),
  rowsExpected: z.number().int().nonnegative(),
  percent: z.number().min(0).max(100),
  etaSeconds: z.number().nonnegative().nullable(),
  /** Start of the rate window: when (this attempt of) step 5 started and the rows done then. */
  rateWindow: z.object({ startedAt: z.iso.datetime(), rowsDoneAtStart: z.number().int().nonnegative() }),
  /** When the tenant was activated early, once the priority entities were downloaded. */
  activatedEarlyAt: z.iso.datetime().nullable(),
});
export type DownloadProgress = z.infer<typeof downloadProgressSchema>;

export const statusMessageSchema = z.object({
  at: z.iso.datetime(),
  level: z.enum(['info', 'warning', 'error']),
  text: z.string(),
});
export type StatusMessage = z.infer<typeof statusMessageSchema>;

/**
 * The orchestration instance that carries out the current attempt of a run (Durable Functions: a
 * fresh instance per start and per retry, so a retry never waits for the previous instance's
 * asynchronous termination). Reading the status compares it with the instance's runtime status.
 */
export const orchestrationAttemptSchema = z.object({
  instanceId: z.string().min(1),
  /** When the attempt was handed to the host (an instance not found long after is gone). */
  requestedAt: z.iso.datetime(),
});
export type OrchestrationAttempt = z.infer<typeof orchestrationAttemptSchema>;

/** The status document of one tenant. */
export const provisioningStatusSchema = z.object({
  org: z.string(),
  state: provisioningStateSchema,
  /** The action of the current or last run (null before the first run). */
  action: runActionSchema.nullable(),
  /** Identifies the current or last run; step activities of an older run do nothing. */
  runId: z.string().nullable(),
  /**
   * The orchestration instance of the run's current attempt (null before the first run, and on
   * hosts that name none); activities of another attempt of the same run do nothing.
   */
  orchestration: orchestrationAttemptSchema.nullable().default(null),
  /** The step running, or where the run stopped or failed (null when idle or finished). */
  currentStep: z.number().int().positive().nullable(),
  steps: z.array(provisioningStepSchema),
  /** Set by `stop`; the run stops before its next step or page. */
  stopRequested: z.boolean(),
  progress: downloadProgressSchema.nullable(),
  /** Newest last; capped at {@link MAX_MESSAGES}. */
  messages: z.array(statusMessageSchema),
  startedAt: z.iso.datetime().nullable(),
  endedAt: z.iso.datetime().nullable(),
  updatedAt: z.iso.datetime(),
  /** When the status was last read through the status route. */
  lastCheckedAt: z.iso.datetime().nullable(),
});
export type ProvisioningStatus = z.infer<typeof provisioningStatusSchema>;

/** Older messages are dropped so the document stays small. */
export const MAX_MESSAGES = 100;

/**
 * The status of a tenant without a status document: idle, or provisioned when the registry already
 * has it active (a tenant activated without a run, such as the local host's demo tenant), so that
 * it can be deprovisioned like any other.
 */
export function initialProvisioningStatus(
  org: string,
  now: Date,
  tenantState?: TenantState,
): ProvisioningStatus {
  const provisioned = tenantState === 'active';
  return {
    org,
    state: provisioned ? 'provisioned' : 'idle',
    action: null,
    runId: null,
    orchestration: null,
    currentStep: null,
    steps: [],
    stopRequested: false,
    progress: null,
    messages: provisioned
      ? [
          {
            at: now.toISOString(),
            level: 'info',
            text: 'The tenant was activated without a provisioning run.',
          },
        ]
      : [],
    startedAt: null,
    endedAt: null,
    updatedAt: now.toISOString(),
    lastCheckedAt: null,
  };
}

/** Appends a timestamped message, keeping the newest {@link MAX_MESSAGES}. */
export function withMessage(
  status: ProvisioningStatus,
  at: Date,
  text: string,
  level: StatusMessage['level'] = 'info',
): ProvisioningStatus {
  const messages = [...status.messages, { at: at.toISOString(), level, text }];
  return { ...status, messages: messages.slice(-MAX_MESSAGES) };
}

/** The stored status of a tenant, or the initial one when it never had a run. */
export async function readProvisioningStatus(
  control: DocStore,
  org: string,
  clock: Clock,
  tenantState?: TenantState,
): Promise<ProvisioningStatus> {
  const doc = await control.getDoc(PROVISIONING_STATUS_KIND, org);
  return doc
    ? provisioningStatusSchema.parse(doc.value)
    : initialProvisioningStatus(org, clock.now(), tenantState);
}

/** Every stored status document (the local driver resumes the interrupted ones at start). */
export async function listProvisioningStatuses(control: DocStore): Promise<ProvisioningStatus[]> {
  const docs = await control.listDocs(PROVISIONING_STATUS_KIND);
  return docs.map((doc) => provisioningStatusSchema.parse(doc.value));
}

/**
 * Reads, changes and writes a tenant's status with optimistic concurrency, retrying when another
 * writer got there first. `change` must be pure (it may run more than once); it returns the new
 * status, or undefined to write nothing.
 */
export async function updateProvisioningStatus(
  control: DocStore,
  org: string,
  clock: Clock,
  change: (current: ProvisioningStatus) => ProvisioningStatus | undefined,
  /** The registry state, for a tenant without a status document yet (see {@link initialProvisioningStatus}). */
  tenantState?: TenantState,
): Promise<ProvisioningStatus> {
  return retryOnWriteRace(21, async () => {
    const doc = await control.getDoc(PROVISIONING_STATUS_KIND, org);
    const current = doc
      ? provisioningStatusSchema.parse(doc.value)
      : initialProvisioningStatus(org, clock.now(), tenantState);
    const next = change(current);
    if (!next) return current;
    const value = provisioningStatusSchema.parse({ ...next, updatedAt: clock.now().toISOString() });
    await control.putDoc(PROVISIONING_STATUS_KIND, org, value, unchangedSince(doc?.etag));
    return value;
  });
}
