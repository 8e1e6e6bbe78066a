import type { SyncClient, SyncSummary } from './sync-client';

/**
 * The optional sync loop: syncs when started, then again when the server says (`nextSyncSeconds`),
 * backs off after failures, pauses while the device is offline or the app is hidden and syncs at once
 * when it is back. Its transitions are one pure function, {@link nextLoopState}, tested as a table;
 * {@link startSyncLoop} only carries out the effects it returns (start a sync, arm or clear the timer).
 *
 * ```
 *             start                   succeeded: arm nextSyncSeconds
 *   stopped ─────────▶ syncing ──────────────────────────────────────▶ waiting
 *      │                ▲   │         failed: arm backoff (5 s … 5 min)  │  │
 *      │                │   └── ended while offline or hidden ──┐        │  │
 *      │                └───────────── timer, syncNow ──────────┼────────┘  │
 *      │ start while offline or hidden                          ▼           │
 *      └──────────────────────────────────────────────────▶  paused ◀───────┘
 *                                                              │  offline or hidden
 *        syncing ◀── online and visible again, and due ────────┘
 *        (online and visible again, not yet due: waiting for the rest)
 *
 *   any state ── stop ──▶ stopped (timer cleared)
 * ```
 *
 * While `syncing`, offline / hidden only note the fact: the running sync ends (or fails) on its own
 * and the loop then pauses instead of arming its timer.
 */
export type LoopPhase = 'stopped' | 'syncing' | 'waiting' | 'paused';

export interface LoopState {
  phase: LoopPhase;
  online: boolean;
  visible: boolean;
  /** Failures in a row (reset by a success); sets the backoff. */
  failures: number;
  /** When the next sync is due (ms since the epoch), while waiting or paused after a sync. */
  dueAt?: number;
}

export type LoopEvent =
  | { type: 'start'; at: number }
  | { type: 'stop' }
  | { type: 'synced'; at: number; nextSyncSeconds: number }
  | { type: 'failed'; at: number }
  | { type: 'timer'; at: number }
  | { type: 'syncNow'; at: number }
  | { type: 'online'; at: number }
  | { type: 'offline' }
  | { type: 'visible'; at: number }
  | { type: 'hidden' };

/** What the driver does after a transition. */
export type LoopEffect = { type: 'sync' } | { type: 'arm'; ms: number } | { type: 'clear' };

export interface LoopPolicy {
  /** First wait after a failure (default 5 s), doubled per failure in a row. */
  minBackoffSeconds: number;
  /** Longest wait after failures (default 300 s). */
  maxBackoffSeconds: number;
}

export const DEFAULT_LOOP_POLICY: LoopPolicy = { minBackoffSeconds: 5, maxBackoffSeconds: 300 };

export const INITIAL_LOOP_STATE: LoopState = { phase: 'stopped', online: true, visible: true, failures: 0 };

/** The wait after `failures` failures in a row (before jitter). */
export function backoffMs(failures: number, policy: LoopPolicy = DEFAULT_LOOP_POLICY): number {
  return Math.min(policy.maxBackoffSeconds, policy.minBackoffSeconds * 2 ** Math.max(0, failures - 1)) * 1000;
}

/** The loop's one transition function (see the drawing above). */
export function nextLoopState(
  state: LoopState,
  event: LoopEvent,
  policy: LoopPolicy = DEFAULT_LOOP_POLICY,
): { state: LoopState; effects: LoopEffect[] } {
  const can = (s: LoopState): boolean => s.online && s.visible;
  const syncing = (s: LoopState): { state: LoopState; effects: LoopEffect[] } => {
    const { dueAt: _due, ...rest } = s;
    return { state: { ...rest, phase: 'syncing' }, effects: [{ type: 'clear' }, { type: 'sync' }] };
  };
  /** After a sync, wait until `dueAt`, or pause until the device may sync again. */
  const waitUntil = (s: LoopState, dueAt: number, at: number) =>
    can(s)
      ? {
          state: { ...s, phase: 'waiting' as const, dueAt },
          effects: [{ type: 'arm' as const, ms: Math.max(0, dueAt - at) }],
        }
      : { state: { ...s, phase: 'paused' as const, dueAt }, effects: [] };
  /** Online and visible again (or already): sync if due, else wait the rest. */
  const resume = (s: LoopState, at: number) => {
    if (!can(s)) return { state: s, effects: [] };
    if (s.dueAt === undefined || s.dueAt <= at) return syncing(s);
    return waitUntil(s, s.dueAt, at);
  };

  if (event.type === 'stop') {
    const { dueAt: _due, ...rest } = state;
    return { state: { ...rest, phase: 'stopped', failures: 0 }, effects: [{ type: 'clear' }] };
  }
  if (state.phase === 'stopped') {
    if (
      event.type === 'online' ||
      event.type === 'offline' ||
      event.type === 'visible' ||
      event.type === 'hidden'
    )
      return { state: { ...state, ...flags(event) }, effects: [] };
    if (event.type !== 'start') return { state, effects: [] };
    return can(state) ? syncing(state) : { state: { ...state, phase: 'paused' }, effects: [] };
  }
  switch (event.type) {
    case 'start':
      return { state, effects: [] };
    case 'synced': {
      if (state.phase !== 'syncing') return { state, effects: [] };
      return waitUntil({ ...state, failures: 0 }, event.at + event.nextSyncSeconds * 1000, event.at);
    }
    case 'failed': {
      if (state.phase !== 'syncing') return { state, effects: [] };
      const failures = state.failures + 1;
      return waitUntil({ ...state, failures }, event.at + backoffMs(failures, policy), event.at);
    }
    case 'timer':
      return state.phase === 'waiting' ? syncing(state) : { state, effects: [] };
    case 'syncNow':
      if (state.phase === 'syncing') return { state, effects: [] };
      // Asked by the app (a pull to refresh, a local write): not while offline, whatever the timer says.
      return state.online ? syncing(state) : { state, effects: [] };
    case 'online':
    case 'visible': {
      const next = { ...state, ...flags(event) };
      return state.phase === 'paused' ? resume(next, event.at) : { state: next, effects: [] };
    }
    case 'offline':
    case 'hidden': {
      const next = { ...state, ...flags(event) };
      if (state.phase === 'waiting')
        return { state: { ...next, phase: 'paused' }, effects: [{ type: 'clear' }] };
      return { state: next, effects: [] };
    }
  }
}

function flags(event: { type: 'online' | 'offline' | 'visible' | 'hidden' }): Partial<LoopState> {
  switch (event.type) {
    case 'online':
      return { online: true };
    case 'offline':
      return { online: false };
    case 'visible':
      return { visible: true };
    case 'hidden':
      return { visible: false };
  }
}

/**
 * Where the loop learns about the network and the app's visibility. {@link webLoopEnvironment} reads a
 * browser's (`navigator.onLine`, `online` / `offline`, `visibilitychange`); on React Native pass
 * NetInfo and AppState (see the client README).
 */
export interface SyncLoopEnvironment {
  isOnline(): boolean;
  isVisible(): boolean;
  /** Calls `listener` on each change; returns the function that removes it. */
  onOnlineChange(listener: (online: boolean) => void): () => void;
  onVisibilityChange(listener: (visible: boolean) => void): () => void;
}

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** The browser's signals; where there is no window or document, always online and visible. */
export function webLoopEnvironment(): SyncLoopEnvironment {
  const g = globalThis as {
    navigator?: { onLine?: boolean };
    document?: EventTargetLike & { visibilityState?: string };
  } & Partial<EventTargetLike>;
  const target = typeof g.addEventListener === 'function' ? (g as EventTargetLike) : undefined;
  const doc = g.document;
  const listen = (on: EventTargetLike | undefined, types: string[], listener: () => void): (() => void) => {
    for (const type of types) on?.addEventListener(type, listener);
    return () => {
      for (const type of types) on?.removeEventListener(type, listener);
    };
  };
  return {
    isOnline: () => g.navigator?.onLine !== false,
    isVisible: () => doc?.visibilityState !== 'hidden',
    onOnlineChange: (listener) =>
      listen(target, ['online', 'offline'], () => listener(g.navigator?.onLine !== false)),
    onVisibilityChange: (listener) =>
      listen(doc, ['visibilitychange'], () => listener(doc?.visibilityState !== 'hidden')),
  };
}

export interface SyncLoopOptions {
  environment?: SyncLoopEnvironment;
  policy?: Partial<LoopPolicy>;
  /** Timers and clock (tests). */
  setTimer?: (run: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
  now?: () => number;
  /** Jitter source in [0, 1): waits are scaled by 0.5 … 1 so devices that failed together spread out. */
  random?: () => number;
  /** Told of each sync the loop ran (its summary, or its error: the status holds it too). */
  onSync?: (result: { summary: SyncSummary } | { error: unknown }) => void;
}

export interface SyncLoop {
  /** Syncs now unless offline (a pull to refresh, a write the app wants uploaded soon). */
  syncNow(): void;
  stop(): void;
  state(): LoopState;
}

/** Starts the loop on a client; `stop()` ends it (a running sync finishes on its own). */
export function startSyncLoop(
  client: Pick<SyncClient, 'sync' | 'setOnline'>,
  options: SyncLoopOptions = {},
): SyncLoop {
  const environment = options.environment ?? webLoopEnvironment();
  const policy: LoopPolicy = { ...DEFAULT_LOOP_POLICY, ...options.policy };
  const setTimer = options.setTimer ?? ((run: () => void, ms: number) => setTimeout(run, ms));
  const clearTimer =
    options.clearTimer ?? ((handle: unknown) => clearTimeout(handle as ReturnType<typeof setTimeout>));
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  let state: LoopState = {
    ...INITIAL_LOOP_STATE,
    online: environment.isOnline(),
    visible: environment.isVisible(),
  };
  let timer: unknown;

  const dispatch = (event: LoopEvent): void => {
    const result = nextLoopState(state, event, policy);
    state = result.state;
    for (const effect of result.effects) {
      if (effect.type === 'clear') {
        if (timer !== undefined) clearTimer(timer);
        timer = undefined;
      } else if (effect.type === 'arm') {
        if (timer !== undefined) clearTimer(timer);
        const ms = state.failures > 0 ? Math.round(effect.ms * (0.5 + random() / 2)) : effect.ms;
        timer = setTimer(() => {
          timer = undefined;
          dispatch({ type: 'timer', at: now() });
        }, ms);
      } else {
        client.sync().then(
          (summary) => {
            options.onSync?.({ summary });
            dispatch({ type: 'synced', at: now(), nextSyncSeconds: summary.nextSyncSeconds });
          },
          (error: unknown) => {
            options.onSync?.({ error });
            dispatch({ type: 'failed', at: now() });
          },
        );
      }
    }
  };

  client.setOnline(state.online);
  const offOnline = environment.onOnlineChange((online) => {
    client.setOnline(online);
    dispatch(online ? { type: 'online', at: now() } : { type: 'offline' });
  });
  const offVisible = environment.onVisibilityChange((visible) =>
    dispatch(visible ? { type: 'visible', at: now() } : { type: 'hidden' }),
  );
  dispatch({ type: 'start', at: now() });

  return {
    syncNow: () => dispatch({ type: 'syncNow', at: now() }),
    stop() {
      offOnline();
      offVisible();
      dispatch({ type: 'stop' });
    },
    state: () => state,
  };
}
