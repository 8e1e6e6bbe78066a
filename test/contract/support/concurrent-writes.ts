import type { RecordWrite } from '../../../shared/store/port';

/** What one concurrent writer writes: a deterministic plan, so the test can compute the end state. */
export interface ConcurrentWriterPlan {
  dataDir: string;
  org: string;
  writer: number;
  batches: number;
  batchSize: number;
  rowCount: number;
}

/**
 * The i-th write of a batch. Writers overlap on the same rows; versions are unique per
 * (batch, writer, i) and grow with the batch, so every writer's later batches supersede earlier ones.
 */
export function concurrentWrite(plan: ConcurrentWriterPlan, batch: number, i: number): RecordWrite {
  const id = `row${(batch * 7 + i * 3 + plan.writer) % plan.rowCount}`;
  const version = batch * 10_000 + plan.writer * 1_000 + i;
  return {
    entity: 'account',
    id,
    version: String(version),
    deleted: version % 11 === 0,
    attributes: version % 11 === 0 ? {} : { writer: plan.writer, batch, i },
  };
}
