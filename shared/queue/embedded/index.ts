/** The embedded adapter of the Queue port: the local host's queue, persisted in the data folder. */
export {
  createEmbeddedQueue,
  type DrainResult,
  type EmbeddedQueue,
  type EmbeddedQueueOptions,
  type WorkerOptions,
} from './embedded-queue';
export type { DeadLetter, QueueCounts } from './queue-database';
