import type { SyncSummary } from '../../client';
import {
  backoffMs,
  INITIAL_LOOP_STATE,
  nextLoopState,
  startSyncLoop,
  type LoopEffect,
  type LoopEvent,
  type LoopState,
  type SyncLoopEnvironment,
} from '../../client/sync-loop';

const T = 1_000_000;
const stopped = INITIAL_LOOP_STATE;
const syncing: LoopState = { ...stopped, phase: 'syncing' };
const waiting: LoopState = { ...stopped, phase: 'waiting', dueAt: T + 60_000 };
const SYNC: LoopEffect[] = [{ type: 'clear' }, { type: 'sync' }];

describe('sync loop transitions (nextLoopState)', () => {
  const table: [string, LoopState, LoopEvent, LoopState, LoopEffect[]][] = [
    ['stopped, start online and visible: sync', stopped, { type: 'start', at: T }, syncing, SYNC],
    [
      'stopped, start offline: paused, no sync',
      { ...stopped, online: false },
      { type: 'start', at: T },
      { ...stopped, online: false, phase: 'paused' },
      [],
    ],
    [
      'stopped, start hidden: paused',
      { ...stopped, visible: false },
      { type: 'start', at: T },
      { ...stopped, visible: false, phase: 'paused' },
      [],
    ],
    [
      'syncing, succeeded: wait nextSyncSeconds',
      { ...syncing, failures: 2 },
      { type: 'synced', at: T, nextSyncSeconds: 60 },
      waiting,
      [{ type: 'arm', ms: 60_000 }],
    ],
    [
      'syncing, first failure: back off 5 s',
      syncing,
      { type: 'failed', at: T },
      { ...syncing, phase: 'waiting', failures: 1, dueAt: T + 5_000 },
      [{ type: 'arm', ms: 5_000 }],
    ],
    [
      'syncing, third failure in a row: back off 20 s',
      { ...syncing, failures: 2 },
      { type: 'failed', at: T },
      { ...syncing, phase: 'waiting', failures: 3, dueAt: T + 20_000 },
      [{ type: 'arm', ms: 20_000 }],
    ],
    [
      'syncing, went offline meanwhile, then the sync failed: paused, no timer',
      { ...syncing, online: false },
      { type: 'failed', at: T },
      { ...syncing, online: false, phase: 'paused', failures: 1, dueAt: T + 5_000 },
      [],
    ],
    [
      'syncing, hidden meanwhile, then succeeded: paused until visible',
      { ...syncing, visible: false },
      { type: 'synced', at: T, nextSyncSeconds: 60 },
      { ...waiting, visible: false, phase: 'paused' },
      [],
    ],
    [
      'syncing, offline: noted, the sync runs on',
      syncing,
      { type: 'offline' },
      { ...syncing, online: false },
      [],
    ],
    ['waiting, timer: sync', waiting, { type: 'timer', at: T + 60_000 }, syncing, SYNC],
    ['waiting, syncNow: sync before the timer', waiting, { type: 'syncNow', at: T }, syncing, SYNC],
    [
      'waiting, offline: paused, timer cleared, due time kept',
      waiting,
      { type: 'offline' },
      { ...waiting, phase: 'paused', online: false },
      [{ type: 'clear' }],
    ],
    [
      'waiting, hidden: paused, timer cleared',
      waiting,
      { type: 'hidden' },
      { ...waiting, phase: 'paused', visible: false },
      [{ type: 'clear' }],
    ],
    [
      'paused offline, online again after the due time: sync at once',
      { ...waiting, phase: 'paused', online: false },
      { type: 'online', at: T + 90_000 },
      syncing,
      SYNC,
    ],
    [
      'paused hidden, visible before the due time: wait for the rest',
      { ...waiting, phase: 'paused', visible: false },
      { type: 'visible', at: T + 45_000 },
      waiting,
      [{ type: 'arm', ms: 15_000 }],
    ],
    [
      'paused offline and hidden, online: still paused (hidden)',
      { ...waiting, phase: 'paused', online: false, visible: false },
      { type: 'online', at: T + 90_000 },
      { ...waiting, phase: 'paused', visible: false },
      [],
    ],
    [
      'paused at start (offline), online: first sync',
      { ...stopped, phase: 'paused', online: false },
      { type: 'online', at: T },
      syncing,
      SYNC,
    ],
    [
      'paused offline, syncNow: nothing (no network)',
      { ...waiting, phase: 'paused', online: false },
      { type: 'syncNow', at: T },
      { ...waiting, phase: 'paused', online: false },
      [],
    ],
    [
      'paused hidden but online, syncNow: the app asked, sync',
      { ...waiting, phase: 'paused', visible: false },
      { type: 'syncNow', at: T },
      { ...syncing, visible: false },
      SYNC,
    ],
    ['syncing, syncNow: nothing (one sync at a time)', syncing, { type: 'syncNow', at: T }, syncing, []],
    [
      'waiting, stop: stopped, timer cleared',
      { ...waiting, failures: 3 },
      { type: 'stop' },
      stopped,
      [{ type: 'clear' }],
    ],
    [
      'stopped, a sync that was running ends: nothing',
      stopped,
      { type: 'synced', at: T, nextSyncSeconds: 60 },
      stopped,
      [],
    ],
    ['stopped, timer: nothing', stopped, { type: 'timer', at: T }, stopped, []],
  ];
  it.each(table)('%s', (_name, before, event, after, effects) => {
    expect(nextLoopState(before, event)).toEqual({ state: after, effects });
  });

  it('backs off 5 s, doubling per failure, at most 5 min', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffMs(n) / 1000)).toEqual([
      5, 10, 20, 40, 80, 160, 300, 300, 300,
    ]);
  });
});

/** An environment the test flips by hand. */
function fakeEnvironment(online = true, visible = true) {
  const onlineListeners = new Set<(online: boolean) => void>();
  const visibleListeners = new Set<(visible: boolean) => void>();
  const environment: SyncLoopEnvironment = {
    isOnline: () => online,
    isVisible: () => visible,
    onOnlineChange: (l) => (onlineListeners.add(l), () => onlineListeners.delete(l)),
    onVisibilityChange: (l) => (visibleListeners.add(l), () => visibleListeners.delete(l)),
  };
  return {
    environment,
    setOnline(value: boolean) {
      online = value;
      for (const l of onlineListeners) l(value);
    },
    setVisible(value: boolean) {
      visible = value;
      for (const l of visibleListeners) l(value);
    },
    listeners: () => onlineListeners.size + visibleListeners.size,
  };
}

const summary = (nextSyncSeconds: number) => ({ nextSyncSeconds }) as SyncSummary;
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('startSyncLoop carries out the transitions', () => {
  it('syncs at start, arms the timer from nextSyncSeconds, backs off with jitter, pauses offline and resumes', async () => {
    const env = fakeEnvironment();
    const timers: { run: () => void; ms: number; cleared: boolean }[] = [];
    const results: (() => Promise<SyncSummary>)[] = [
      async () => summary(120),
      async () => {
        throw new Error('server down');
      },
      async () => summary(30),
    ];
    let syncs = 0;
    const onlineReports: boolean[] = [];
    const client = {
      sync: () => results[syncs++]!(),
      setOnline: (online: boolean) => onlineReports.push(online),
    };
    let clock = T;
    const loop = startSyncLoop(client, {
      environment: env.environment,
      now: () => clock,
      random: () => 0.5,
      setTimer: (run, ms) => {
        const timer = { run, ms, cleared: false };
        timers.push(timer);
        return timer;
      },
      clearTimer: (handle) => {
        (handle as { cleared: boolean }).cleared = true;
      },
    });
    expect(syncs).toBe(1);
    await settle();
    expect(loop.state()).toMatchObject({ phase: 'waiting', dueAt: T + 120_000 });
    expect(timers.map((t) => t.ms)).toEqual([120_000]);

    clock += 120_000;
    timers[0]!.run();
    expect(syncs).toBe(2);
    await settle();
    // First failure: 5 s scaled by the jitter (0.5 + 0.5 / 2 = 0.75).
    expect(loop.state()).toMatchObject({ phase: 'waiting', failures: 1 });
    expect(timers[1]!.ms).toBe(3_750);

    env.setOnline(false);
    expect(loop.state().phase).toBe('paused');
    expect(timers[1]!.cleared).toBe(true);
    clock += 10_000;
    env.setOnline(true);
    expect(syncs).toBe(3);
    await settle();
    expect(loop.state()).toMatchObject({ phase: 'waiting', failures: 0, dueAt: clock + 30_000 });
    expect(onlineReports).toEqual([true, false, true]);

    loop.stop();
    expect(loop.state().phase).toBe('stopped');
    expect(timers.at(-1)!.cleared).toBe(true);
    expect(env.listeners()).toBe(0);
  });
});
