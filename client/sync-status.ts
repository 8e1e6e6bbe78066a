/**
 * The client's sync status: what an app shows ("offline", "uploading 3 of 10", "downloading account
 * 40 %", "last synced 2 min ago", an error banner), derived from the events of `sync()` by one pure
 * function, {@link nextSyncStatus}, so every transition is in one place and tested as a table.
 *
 * ```
 *            sync()                 metadata answered, outbox not empty
 *   idle ──────────────▶ checking ──────────────────────────────────▶ uploading
 *    ▲ ▲                    │                                             │ outbox sent
 *    │ │                    │ metadata answered, outbox empty             ▼
 *    │ │                    └──────────────────────────────────────▶ downloading
 *    │ │                                                                  │
 *    │ └──── failed (from any phase): lastError; online = false ◀─────────┤
 *    │       when the network could not be reached                        │ last page applied
 *    └────── succeeded: lastSyncedAt, hasSynced, lastError cleared ◀──────┘
 *
 *   In any phase, `online` / `offline` (the platform's network events) set `online` only; an
 *   answer from the server (an upload batch, a download page) sets it true.
 * ```
 */

/** The last sync's error as the app shows it (no token, no stack). */
export interface SyncStatusError {
  /** The SDK's or the server's code: `Network`, `Unauthorized`, `Throttled`, `BadResponse`, … */
  code: string;
  message: string;
}

/** Download progress of the running sync. */
export interface DownloadStatus {
  /** The server's count of rows done of this download (its own estimate of the total). */
  done: number;
  total: number;
  percent: number;
  /** True during the first (full) download of this device. */
  initial: boolean;
  /** Rows applied so far in this sync, per entity (upserts and removals). */
  entities: Record<string, number>;
}

export interface SyncStatus {
  /** `checking`: metadata; `uploading`: the outbox; `downloading`: pages. */
  phase: 'idle' | 'checking' | 'uploading' | 'downloading';
  /** Last known reachability: false after an `offline` event or a request that could not connect. */
  online: boolean;
  uploading: boolean;
  downloading: boolean;
  /** While uploading: outbox entries answered of those there were. */
  upload?: { done: number; total: number };
  /** While downloading. */
  download?: DownloadStatus;
  /** When the last sync that succeeded ended (ISO 8601). */
  lastSyncedAt?: string;
  /** True once a sync succeeded on this client. */
  hasSynced: boolean;
  /** The last sync's failure; cleared by the next success. */
  lastError?: SyncStatusError;
}

export const INITIAL_SYNC_STATUS: SyncStatus = {
  phase: 'idle',
  online: true,
  uploading: false,
  downloading: false,
  hasSynced: false,
};

/** What happens to a client, in the order `sync()` reports it. */
export type SyncStatusEvent =
  | { type: 'started' }
  | { type: 'upload'; done: number; total: number }
  | {
      type: 'download';
      done: number;
      total: number;
      percent: number;
      initial: boolean;
      entities: Record<string, number>;
    }
  | { type: 'succeeded'; at: string }
  | { type: 'failed'; error: SyncStatusError }
  | { type: 'online' }
  | { type: 'offline' };

/** The network could not be reached: what makes a failure read as offline. */
const OFFLINE_CODES = new Set(['Network']);

/** The one transition function of the status (see the drawing above). */
export function nextSyncStatus(status: SyncStatus, event: SyncStatusEvent): SyncStatus {
  const idle = { phase: 'idle' as const, uploading: false, downloading: false };
  const { upload: _upload, download: _download, ...rest } = status;
  switch (event.type) {
    case 'started':
      return { ...rest, phase: 'checking', uploading: false, downloading: false };
    case 'upload':
      return {
        ...rest,
        phase: 'uploading',
        uploading: true,
        downloading: false,
        online: true,
        upload: { done: event.done, total: event.total },
      };
    case 'download': {
      const { type: _type, ...download } = event;
      return { ...rest, phase: 'downloading', uploading: false, downloading: true, online: true, download };
    }
    case 'succeeded': {
      const { lastError: _cleared, ...kept } = rest;
      return { ...kept, ...idle, online: true, hasSynced: true, lastSyncedAt: event.at };
    }
    case 'failed':
      return {
        ...rest,
        ...idle,
        online: OFFLINE_CODES.has(event.error.code) ? false : status.online,
        lastError: event.error,
      };
    case 'online':
      return status.online ? status : { ...status, online: true };
    case 'offline':
      return status.online ? { ...status, online: false } : status;
  }
}

/** Holds the current status and tells subscribers of each change. */
export interface SyncStatusStore {
  get(): SyncStatus;
  dispatch(event: SyncStatusEvent): void;
  /** Calls `listener` with every new status; returns the unsubscribe function. */
  subscribe(listener: (status: SyncStatus) => void): () => void;
}

export function createSyncStatusStore(initial: SyncStatus = INITIAL_SYNC_STATUS): SyncStatusStore {
  let status = initial;
  const listeners = new Set<(status: SyncStatus) => void>();
  return {
    get: () => status,
    dispatch(event) {
      const next = nextSyncStatus(status, event);
      if (next === status) return;
      status = next;
      for (const listener of [...listeners]) listener(status);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
