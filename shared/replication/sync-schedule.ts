import { z } from 'zod';
import { AppError } from '../errors';
import type { QueueSender } from '../queue/port';
import type { DocStore } from '../store/port';
import { unchangedSince } from '../store/port';
import { syncEntityMessage } from './messages';

/** Doc kind of each entity's next scheduled run (id: the entity's logical name). */
const SCHEDULE_KIND = 'replication-schedule';

const scheduleSchema = z.object({ nextRunId: z.string(), nextRunAt: z.iso.datetime() });

/** An entity's next scheduled run, as the last run that scheduled it recorded it. */
export interface SyncSchedule {
  nextRunId: string;
  nextRunAt: Date;
}

/** The entity's next scheduled run; undefined when no chain was ever started for it. */
export async function readSyncSchedule(store: DocStore, entity: string): Promise<SyncSchedule | undefined> {
  const doc = await store.getDoc(SCHEDULE_KIND, entity);
  if (doc === undefined) return undefined;
  const { nextRunId, nextRunAt } = scheduleSchema.parse(doc.value);
  return { nextRunId, nextRunAt: new Date(nextRunAt) };
}

/** What {@link scheduleNextSyncRun} did. */
export type ScheduleOutcome =
  | { scheduled: true; nextRunAt: Date; messageId: string }
  /** Another run is already scheduled for later: this message's chain ends here. */
  | { scheduled: false; nextRunAt: Date };

/**
 * Schedules the next `syncEntity` of an entity, `intervalMs` from now, so each entity is re-read
 * forever at the tenant's interval. Exactly one chain of scheduled runs survives per entity, even
 * without the broker's duplicate detection (on in Bicep, but its window is minutes): a document names the
 * run that is scheduled next; a message that is not that run while a later one is pending schedules
 * nothing, so a retried message, a second provisioning run or a run started by hand never multiplies
 * the schedule. The message is sent before the document is written, so a failure in between can
 * duplicate a run (later merged by this same rule) but never lose the schedule. The message id is
 * deterministic per org, entity and due time.
 */
export async function scheduleNextSyncRun(
  queue: QueueSender,
  store: DocStore,
  org: string,
  entity: string,
  runId: string | undefined,
  now: Date,
  intervalMs: number,
): Promise<ScheduleOutcome> {
  const doc = await store.getDoc(SCHEDULE_KIND, entity);
  const current = doc === undefined ? undefined : scheduleSchema.parse(doc.value);
  if (current !== undefined && current.nextRunId !== runId && new Date(current.nextRunAt) > now) {
    return { scheduled: false, nextRunAt: new Date(current.nextRunAt) };
  }
  const nextRunAt = new Date(now.getTime() + intervalMs);
  const nextRunId = `scheduled-${nextRunAt.getTime()}`;
  const messageId = `syncEntity-${org}-${entity}-${nextRunAt.getTime()}`;
  await queue.send(syncEntityMessage(org, entity, nextRunId), { scheduleAt: nextRunAt, messageId });
  try {
    await store.putDoc(
      SCHEDULE_KIND,
      entity,
      { nextRunId, nextRunAt: nextRunAt.toISOString() },
      unchangedSince(doc?.etag),
    );
  } catch (error) {
    // A concurrent handler scheduled too: two chains now, which the next arrivals merge.
    if (!(error instanceof AppError && (error.code === 'PreconditionFailed' || error.code === 'Conflict'))) {
      throw error;
    }
  }
  return { scheduled: true, nextRunAt, messageId };
}
