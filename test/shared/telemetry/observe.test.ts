import { SpanStatusCode } from '@opentelemetry/api';
import type { Clock } from '../../../shared/clock';
import { AppError } from '../../../shared/errors';
import { PoisonMessageError, type DeliveryInfo } from '../../../shared/queue/port';
import { observeReplicationMessage } from '../../../shared/telemetry/observe';
import { ATTR, METRIC, SPAN } from '../../../shared/telemetry/telemetry';
import { captureTelemetry, total, type TelemetryCapture } from '../../support/telemetry-capture';

/**
 * The replication hook's rules at their source: which outcome counts as a re-send for throttling,
 * which failure as a dead letter (the delivery that was the last, or poison where the host
 * dead-letters it at once), and the lag measured on the injected clock.
 */

const enqueuedAt = new Date('2026-03-01T10:00:00Z');
const clock: Clock = { now: () => new Date(enqueuedAt.getTime() + 42_000) };
const body = { type: 'syncEntity', org: 'acme', entity: 'account', v: 1 };
const delivery = (over: Partial<DeliveryInfo> = {}): DeliveryInfo => ({
  messageId: 'm1',
  deliveryCount: 1,
  enqueuedAt,
  maxDeliveryCount: 3,
  ...over,
});
const labels = { [ATTR.org]: 'acme', [ATTR.messageType]: 'syncEntity' };

describe('observeReplicationMessage', () => {
  let capture: TelemetryCapture;
  beforeEach(() => {
    capture = captureTelemetry();
  });
  afterEach(() => capture.stop());

  it('records the lag from enqueueing to done on the clock, per entity, for work done', async () => {
    await observeReplicationMessage(body, delivery(), clock, () => Promise.resolve({ outcome: 'synced' }));
    const lag = await capture.points(METRIC.replicationLag);
    expect(lag).toEqual([
      expect.objectContaining({ attributes: { ...labels, [ATTR.entity]: 'account' }, count: 1, sum: 42 }),
    ]);
    expect(
      total(await capture.points(METRIC.replicationMessages), { ...labels, [ATTR.outcome]: 'synced' }),
    ).toBe(1);
  });

  it('counts a deferral for throttling as a re-send, with no lag (its work is not done)', async () => {
    const deferred = { outcome: 'deferred', reason: 'throttled' };
    await observeReplicationMessage(body, delivery(), clock, () => Promise.resolve(deferred));
    await observeReplicationMessage(body, delivery(), clock, () =>
      Promise.resolve({ outcome: 'deferred', reason: 'busy' }),
    );
    expect(total(await capture.points(METRIC.replicationThrottled), labels)).toBe(1);
    expect(await capture.points(METRIC.replicationLag)).toEqual([]);
  });

  it('counts a dead letter only for the last delivery, or poison where it dead-letters at once', async () => {
    const fail = (error: Error) => () => Promise.reject(error);
    const throttled = new AppError('Unavailable', 'down');
    await expect(observeReplicationMessage(body, delivery(), clock, fail(throttled))).rejects.toBe(throttled);
    expect(total(await capture.points(METRIC.replicationDeadLettered), labels)).toBe(0);
    await expect(
      observeReplicationMessage(body, delivery({ deliveryCount: 3 }), clock, fail(throttled)),
    ).rejects.toBe(throttled);
    expect(total(await capture.points(METRIC.replicationDeadLettered), labels)).toBe(1);
    const poison = new PoisonMessageError('bad');
    await expect(
      observeReplicationMessage(body, delivery({ poisonDeadLettersAtOnce: false }), clock, fail(poison)),
    ).rejects.toBe(poison);
    expect(total(await capture.points(METRIC.replicationDeadLettered), labels)).toBe(1);
    await expect(observeReplicationMessage(body, delivery(), clock, fail(poison))).rejects.toBe(poison);
    expect(total(await capture.points(METRIC.replicationDeadLettered), labels)).toBe(2);

    const failed = capture.spans().filter((s) => s.name === SPAN.replicationMessage);
    expect(failed.map((s) => s.status)).toEqual([
      { code: SpanStatusCode.ERROR, message: 'Unavailable' },
      { code: SpanStatusCode.ERROR, message: 'Unavailable' },
      { code: SpanStatusCode.ERROR, message: 'PoisonMessage' },
      { code: SpanStatusCode.ERROR, message: 'PoisonMessage' },
    ]);
    const counts = await capture.points(METRIC.replicationMessages);
    expect(total(counts, { ...labels, [ATTR.outcome]: 'failed', [ATTR.errorType]: 'Unavailable' })).toBe(2);
  });

  it('labels a body it cannot read as unknown, with no tenant', async () => {
    await observeReplicationMessage('not json', delivery(), clock, () =>
      Promise.resolve({ outcome: 'applied' }),
    );
    const [span] = capture.spans();
    expect(span!.attributes[ATTR.messageType]).toBe('unknown');
    expect(span!.attributes[ATTR.org]).toBeUndefined();
  });
});

describe('the hooks without an SDK', () => {
  it('run the work and answer its result (the API is a no-op)', async () => {
    const result = await observeReplicationMessage(body, delivery(), clock, () =>
      Promise.resolve({ outcome: 'synced' }),
    );
    expect(result).toEqual({ outcome: 'synced' });
  });
});
