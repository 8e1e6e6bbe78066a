import { ServiceBusError, type ServiceBusMessage, type ServiceBusMessageBatch } from '@azure/service-bus';
import { AppError } from '../../../shared/errors';
import { wrapServiceBusSender, type ServiceBusSenderLike } from '../../../shared/queue/servicebus';

/** A batch that holds messages while their JSON bodies fit in `maxSizeInBytes`. */
class FakeBatch {
  readonly messages: ServiceBusMessage[] = [];
  private size = 0;
  constructor(readonly maxSizeInBytes: number) {}
  get count(): number {
    return this.messages.length;
  }
  tryAddMessage(message: ServiceBusMessage): boolean {
    const bytes = JSON.stringify(message.body).length;
    if (this.size + bytes > this.maxSizeInBytes) return false;
    this.size += bytes;
    this.messages.push(message);
    return true;
  }
}

/** Records what the adapter asks of Service Bus. */
function fakeSender(options: { maxBatchBytes?: number; fail?: Error } = {}) {
  const sent: ServiceBusMessage[][] = [];
  const scheduled: { message: ServiceBusMessage; at: Date }[] = [];
  const sender = {
    async sendMessages(messages: unknown) {
      if (options.fail !== undefined) throw options.fail;
      sent.push(messages instanceof FakeBatch ? messages.messages : [messages as ServiceBusMessage]);
    },
    async scheduleMessages(message: unknown, at: Date) {
      if (options.fail !== undefined) throw options.fail;
      scheduled.push({ message: message as ServiceBusMessage, at });
      return [];
    },
    async createMessageBatch() {
      return new FakeBatch(options.maxBatchBytes ?? 1000) as unknown as ServiceBusMessageBatch;
    },
    async close() {},
  };
  return { sender: sender as unknown as ServiceBusSenderLike, sent, scheduled };
}

describe('Service Bus sender', () => {
  it('sends a JSON body with its message id for duplicate detection and its type as subject', async () => {
    const fake = fakeSender();
    const queue = wrapServiceBusSender(fake.sender, 'replication');
    await queue.send({ type: 'syncEntity', org: 'contoso' }, { messageId: 'syncEntity-contoso-account-1' });
    expect(fake.sent).toEqual([
      [
        {
          body: { type: 'syncEntity', org: 'contoso' },
          contentType: 'application/json',
          messageId: 'syncEntity-contoso-account-1',
          subject: 'syncEntity',
        },
      ],
    ]);
    expect(fake.scheduled).toEqual([]);
  });

  it('gives each message without an id a distinct one', async () => {
    const fake = fakeSender();
    const queue = wrapServiceBusSender(fake.sender, 'replication');
    await queue.send({ n: 1 });
    await queue.send({ n: 2 });
    const ids = fake.sent.map(([m]) => String(m!.messageId));
    expect(ids[0]).toEqual(expect.any(String));
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('schedules a message for later with scheduleMessages', async () => {
    const fake = fakeSender();
    const queue = wrapServiceBusSender(fake.sender, 'replication');
    const at = new Date('2026-03-01T10:15:00.000Z');
    await queue.send({ type: 'syncEntity' }, { scheduleAt: at, messageId: 'm-1' });
    expect(fake.sent).toEqual([]);
    expect(fake.scheduled).toHaveLength(1);
    expect(fake.scheduled[0]!.message.messageId).toBe('m-1');
    expect(fake.scheduled[0]!.at).toBe(at);
  });

  it('splits a batch where the next message would overflow it, keeping the order', async () => {
    const fake = fakeSender({ maxBatchBytes: 25 });
    const queue = wrapServiceBusSender(fake.sender, 'replication');
    // Each body is 10 bytes of JSON: two fit in a batch of 25.
    const bodies = ['aaaaaaaa', 'bbbbbbbb', 'cccccccc', 'dddddddd', 'eeeeeeee'];
    await queue.sendBatch(bodies);
    expect(fake.sent.map((batch) => batch.map((m) => m.body as string))).toEqual([
      ['aaaaaaaa', 'bbbbbbbb'],
      ['cccccccc', 'dddddddd'],
      ['eeeeeeee'],
    ]);
  });

  it('refuses a message larger than a whole batch, and sends nothing for an empty batch', async () => {
    const fake = fakeSender({ maxBatchBytes: 5 });
    const queue = wrapServiceBusSender(fake.sender, 'replication');
    await expect(queue.sendBatch(['far too large'])).rejects.toMatchObject({ code: 'PayloadTooLarge' });
    await queue.sendBatch([]);
    expect(fake.sent).toEqual([]);
  });

  it('translates Service Bus failures into AppErrors', async () => {
    const busy = new ServiceBusError('busy', 'ServiceBusy');
    const queue = wrapServiceBusSender(fakeSender({ fail: busy }).sender, 'replication');
    const error = (await queue.send({ n: 1 }).catch((e: unknown) => e)) as AppError;
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'Unavailable', retryAfterSeconds: 10, cause: busy });
    expect(error.message).toContain('replication');

    const tooBig = wrapServiceBusSender(
      fakeSender({ fail: new ServiceBusError('big', 'MessageSizeExceeded') }).sender,
      'replication',
    );
    await expect(tooBig.send({ n: 1 }, { scheduleAt: new Date() })).rejects.toMatchObject({
      code: 'PayloadTooLarge',
    });

    const network = wrapServiceBusSender(fakeSender({ fail: new Error('ECONNRESET') }).sender, 'replication');
    await expect(network.sendBatch([{ n: 1 }])).rejects.toMatchObject({ code: 'Unavailable' });
  });
});
