import { ManualClock } from '../../../shared/clock';
import { compileCondition } from '../../../shared/filters/evaluate-filter';
import { buildUserContext } from '../../../shared/security/user-context';
import { accountEntity, syncDirectory } from '../security/sync-security-fixture';

const user = buildUserContext(syncDirectory(), 'user-alice');

function lastDays(days: number | string, clock: ManualClock) {
  return compileCondition({ attribute: 'modifiedon', operator: 'last-x-days', value: days }, accountEntity, {
    user,
    clock,
  });
}

describe('last-x-days: from midnight UTC N days before today to the end of today', () => {
  const clock = new ManualClock('2026-01-15T12:00:00.000Z');
  const tenDays = lastDays(10, clock);

  it.each([
    ['2026-01-05T00:00:00.000Z', true], // the first instant of the window
    ['2026-01-04T23:59:59.999Z', false], // the last instant before it
    ['2026-01-10T08:00:00Z', true],
    ['2026-01-15T12:00:00.000Z', true], // now
    ['2026-01-15T23:59:59.999Z', true], // later today: whole days
    ['2026-01-16T00:00:00.000Z', false], // tomorrow
    ['2026-01-05T00:30:00+01:00', false], // 2026-01-04T23:30Z: offsets count
    [null, false],
    ['not a date', false],
  ])('modifiedon %p → %p', (modifiedon, expected) => {
    expect(tenDays({ modifiedon })).toBe(expected);
  });

  it('reads the clock once, when compiled', () => {
    const moving = new ManualClock('2026-01-15T12:00:00.000Z');
    const predicate = lastDays(1, moving);
    moving.advance(24 * 60 * 60 * 1000);
    expect(predicate({ modifiedon: '2026-01-16T12:30:00Z' })).toBe(false);
    expect(lastDays(1, moving)({ modifiedon: '2026-01-16T12:30:00Z' })).toBe(true);
  });

  it('moves the window at midnight UTC, not before', () => {
    const late = new ManualClock('2026-01-15T23:59:59.999Z');
    expect(lastDays(1, late)({ modifiedon: '2026-01-14T00:00:00Z' })).toBe(true);
    late.advance(1);
    expect(lastDays(1, late)({ modifiedon: '2026-01-14T00:00:00Z' })).toBe(false);
    expect(lastDays(1, late)({ modifiedon: '2026-01-15T00:00:00Z' })).toBe(true);
  });

  it('with 0 days covers today only, and takes the days as a numeric string too', () => {
    expect(lastDays(0, clock)({ modifiedon: '2026-01-15T00:00:00Z' })).toBe(true);
    expect(lastDays(0, clock)({ modifiedon: '2026-01-14T23:59:59Z' })).toBe(false);
    expect(lastDays('2', clock)({ modifiedon: '2026-01-13T00:00:00Z' })).toBe(true);
  });
});
