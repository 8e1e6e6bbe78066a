import { checkpointStep, type CheckpointStep } from '../../../shared/sync/device-state';

const page = (seq: number) => ({ seq, segment: `s${seq}`, count: 5, sizeDelta: 5 });
/** Held segments ending with page `seq`'s (acknowledged last). */
const heldUpTo = (seq: number) => ({
  segments: [
    { id: `s${seq - 1}`, count: 5 },
    { id: `s${seq}`, count: 5 },
  ],
});

type State = Parameters<typeof checkpointStep>[0];

/**
 * The device state machine of device-state.ts as a table: what each checkpoint a device may present
 * does, in each shape the state takes (page 5 pending on base 4; nothing pending; page 4 acknowledged
 * on base 3 and still takeable back; a page to take back that is not the held set's last segment).
 */
describe('checkpoint steps', () => {
  const pending: State = { issuedSeq: 5, baseSeq: 4, pending: page(5), previous: null, held: heldUpTo(4) };
  const idle: State = { issuedSeq: 5, baseSeq: 5, pending: null, previous: null, held: heldUpTo(5) };
  const withPrevious: State = { ...pending, previous: { ...page(4), baseSeq: 3 } };
  const previousOnly: State = {
    issuedSeq: 4,
    baseSeq: 4,
    pending: null,
    previous: { ...page(4), baseSeq: 3 },
    held: heldUpTo(4),
  };
  const notLast: State = {
    ...withPrevious,
    held: {
      segments: [
        { id: 's4', count: 5 },
        { id: 'sX', count: 1 },
      ],
    },
  };
  const rows: [string, State, number, CheckpointStep][] = [
    ['pending page presented: acknowledged', pending, 5, 'acknowledge'],
    ['base presented: the pending page was lost, sent again', pending, 4, 'resend'],
    ['older than the base, nothing to take back', pending, 3, 'stale'],
    ['ahead of what was issued', pending, 6, 'stale'],
    ['nothing pending, base presented: nothing to do', idle, 5, 'current'],
    ['nothing pending, older than the base', idle, 4, 'stale'],
    ['pending page presented, a page takeable back too: acknowledged', withPrevious, 5, 'acknowledge'],
    ['base presented: only the pending page is sent again', withPrevious, 4, 'resend'],
    ['the base before the last acknowledged page: both taken back', withPrevious, 3, 'takeBack'],
    ['older still', withPrevious, 2, 'stale'],
    ['nothing pending, the base before the acknowledged page: taken back', previousOnly, 3, 'takeBack'],
    ['nothing pending, the base itself', previousOnly, 4, 'current'],
    ['the page to take back is not the last held segment: stale, never a wrong set', notLast, 3, 'stale'],
  ];
  it.each(rows)('%s', (_name, state, seq, step) => {
    expect(checkpointStep(state, seq)).toBe(step);
  });
});
