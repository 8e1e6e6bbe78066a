import type { DownloadProgress, EntityProgress } from './provisioning-status';

/**
 * Step 5 progress arithmetic: percent per entity and overall, and the time remaining from the rate
 * observed since the step (or its resumption) started. Pure, so ETA is tested with a manual clock.
 */

/** An entity to download: name, rows the source expects, and whether it comes first. */
export interface PlannedEntity {
  entity: string;
  rowsExpected: number;
  priority: boolean;
}

/** The starting progress of step 5: priority entities first, each keeping its order otherwise. */
export function planDownload(entities: readonly PlannedEntity[], now: Date): DownloadProgress {
  const ordered = [...entities.filter((e) => e.priority), ...entities.filter((e) => !e.priority)];
  return recomputeProgress(
    {
      entities: ordered.map((e) => ({
        entity: e.entity,
        rowsDone: 0,
        rowsExpected: e.rowsExpected,
        percent: 0,
        etaSeconds: null,
        done: false,
        priority: e.priority,
      })),
      rowsDone: 0,
      rowsExpected: 0,
      percent: 0,
      etaSeconds: null,
      rateWindow: { startedAt: now.toISOString(), rowsDoneAtStart: 0 },
      activatedEarlyAt: null,
    },
    now,
  );
}

/**
 * Progress to resume from after a restart, a retry or the step's next chunk: finished entities keep
 * their counts; an entity with a saved position (`resumeAt`) keeps the rows stored up to it and goes
 * on from there; other unfinished ones start over (their rows are read again, which is safe: writes
 * are upsert-if-newer); the rate window restarts now, so the time spent down does not count as
 * slowness.
 */
export function resumeDownload(progress: DownloadProgress, now: Date): DownloadProgress {
  const entities = progress.entities.map((e) =>
    e.done || e.resumeAt !== undefined ? e : { ...e, rowsDone: 0, percent: 0, etaSeconds: null },
  );
  const rowsDone = entities.reduce((sum, e) => sum + e.rowsDone, 0);
  return recomputeProgress(
    { ...progress, entities, rateWindow: { startedAt: now.toISOString(), rowsDoneAtStart: rowsDone } },
    now,
  );
}

/**
 * Records rows done for one entity (and whether it is finished, or where its read goes on) and
 * recomputes every figure.
 */
export function recordEntityProgress(
  progress: DownloadProgress,
  entity: string,
  rowsDone: number,
  done: boolean,
  now: Date,
  resumeAt?: string,
): DownloadProgress {
  return recomputeProgress(
    {
      ...progress,
      entities: progress.entities.map((e) => {
        if (e.entity !== entity) return e;
        const { resumeAt: _previous, ...rest } = e;
        return { ...rest, rowsDone, done, ...(done || resumeAt === undefined ? {} : { resumeAt }) };
      }),
    },
    now,
  );
}

/** Whether every priority entity is downloaded (devices may start: SPEC §8). */
export function priorityEntitiesDone(progress: DownloadProgress): boolean {
  return progress.entities.every((e) => !e.priority || e.done);
}

/** Recomputes percent and ETA of each entity and overall from the rows done and the rate window. */
export function recomputeProgress(progress: DownloadProgress, now: Date): DownloadProgress {
  // A finished entity's real total is what was read (the source's count may be an estimate).
  const expectedOf = (e: EntityProgress): number =>
    e.done ? e.rowsDone : Math.max(e.rowsExpected, e.rowsDone);
  const rowsDone = progress.entities.reduce((sum, e) => sum + e.rowsDone, 0);
  const rowsExpected = progress.entities.reduce((sum, e) => sum + expectedOf(e), 0);
  const elapsedSeconds = (now.getTime() - Date.parse(progress.rateWindow.startedAt)) / 1000;
  const rowsInWindow = rowsDone - progress.rateWindow.rowsDoneAtStart;
  const rowsPerSecond = elapsedSeconds > 0 && rowsInWindow > 0 ? rowsInWindow / elapsedSeconds : undefined;
  const eta = (remaining: number): number | null =>
    remaining === 0 ? 0 : rowsPerSecond === undefined ? null : Math.ceil(remaining / rowsPerSecond);
  const entities = progress.entities.map((e) => {
    const expected = expectedOf(e);
    return {
      ...e,
      percent: e.done ? 100 : percentOf(e.rowsDone, expected),
      etaSeconds: e.done ? 0 : eta(Math.max(0, expected - e.rowsDone)),
    };
  });
  const allDone = entities.every((e) => e.done);
  return {
    ...progress,
    entities,
    rowsDone,
    rowsExpected,
    percent: allDone ? 100 : percentOf(rowsDone, rowsExpected),
    etaSeconds: allDone ? 0 : eta(Math.max(0, rowsExpected - rowsDone)),
  };
}

/** Percent with one decimal, below 100 until done (an estimate may be passed). */
function percentOf(done: number, expected: number): number {
  if (expected === 0) return 0;
  return Math.min(99.9, Math.floor((done / expected) * 1000) / 10);
}
