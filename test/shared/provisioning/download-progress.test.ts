import { ManualClock } from '../../../shared/clock';
import {
  planDownload,
  priorityEntitiesDone,
  recordEntityProgress,
  resumeDownload,
} from '../../../shared/provisioning/download-progress';

describe('download progress and ETA', () => {
  it('orders priority entities first and has no ETA before any row is done', () => {
    const clock = new ManualClock();
    const progress = planDownload(
      [
        { entity: 'account', rowsExpected: 100, priority: false },
        { entity: 'systemuser', rowsExpected: 10, priority: true },
      ],
      clock.now(),
    );
    expect(progress.entities.map((e) => e.entity)).toEqual(['systemuser', 'account']);
    expect(progress).toMatchObject({ rowsDone: 0, rowsExpected: 110, percent: 0, etaSeconds: null });
    expect(priorityEntitiesDone(progress)).toBe(false);
  });

  it('computes percent and the time remaining from the observed rate', () => {
    const clock = new ManualClock();
    let progress = planDownload([{ entity: 'account', rowsExpected: 100, priority: false }], clock.now());
    clock.advance(10_000);
    progress = recordEntityProgress(progress, 'account', 25, false, clock.now());
    // 25 rows in 10 s: 2.5 rows/s, 75 rows left → 30 s.
    expect(progress).toMatchObject({ rowsDone: 25, percent: 25, etaSeconds: 30 });
    expect(progress.entities[0]).toMatchObject({ percent: 25, etaSeconds: 30 });
    clock.advance(30_000);
    progress = recordEntityProgress(progress, 'account', 50, false, clock.now());
    // Slower: 50 rows in 40 s → 1.25 rows/s, 50 left → 40 s.
    expect(progress).toMatchObject({ percent: 50, etaSeconds: 40 });
    progress = recordEntityProgress(progress, 'account', 98, true, clock.now());
    // The source's count was an estimate: done means 100 %.
    expect(progress).toMatchObject({ rowsExpected: 98, percent: 100, etaSeconds: 0 });
  });

  it('never shows 100 % before the end when the estimate is passed', () => {
    const clock = new ManualClock();
    let progress = planDownload([{ entity: 'a', rowsExpected: 10, priority: true }], clock.now());
    clock.advance(1000);
    progress = recordEntityProgress(progress, 'a', 12, false, clock.now());
    expect(progress.percent).toBeLessThan(100);
  });

  it('resumes with finished entities kept and a new rate window', () => {
    const clock = new ManualClock();
    let progress = planDownload(
      [
        { entity: 'a', rowsExpected: 10, priority: true },
        { entity: 'b', rowsExpected: 30, priority: false },
      ],
      clock.now(),
    );
    clock.advance(10_000);
    progress = recordEntityProgress(progress, 'a', 10, true, clock.now());
    progress = recordEntityProgress(progress, 'b', 8, false, clock.now());
    expect(priorityEntitiesDone(progress)).toBe(true);
    clock.advance(3_600_000); // an hour down
    const resumed = resumeDownload(progress, clock.now());
    expect(resumed.entities.map((e) => [e.entity, e.rowsDone, e.done])).toEqual([
      ['a', 10, true],
      ['b', 0, false],
    ]);
    expect(resumed.etaSeconds).toBeNull();
    clock.advance(5_000);
    const next = recordEntityProgress(resumed, 'b', 10, false, clock.now());
    // 10 rows in 5 s since the restart (the hour down does not count) → 20 left at 2/s.
    expect(next.etaSeconds).toBe(10);
  });

  it('keeps the rows of an entity stored up to its saved position, and forgets the position once done', () => {
    const clock = new ManualClock();
    let progress = planDownload(
      [
        { entity: 'a', rowsExpected: 30, priority: false },
        { entity: 'b', rowsExpected: 30, priority: false },
      ],
      clock.now(),
    );
    progress = recordEntityProgress(progress, 'a', 20, false, clock.now(), 'page:2');
    progress = recordEntityProgress(progress, 'b', 5, false, clock.now());
    const resumed = resumeDownload(progress, clock.now());
    // a goes on at its saved page with its 20 rows; b had no position and starts over.
    expect(resumed.entities.map((e) => [e.entity, e.rowsDone, e.resumeAt])).toEqual([
      ['a', 20, 'page:2'],
      ['b', 0, undefined],
    ]);
    expect(resumed.rowsDone).toBe(20);
    const finished = recordEntityProgress(resumed, 'a', 30, true, clock.now());
    expect(finished.entities[0]).not.toHaveProperty('resumeAt');
  });
});
