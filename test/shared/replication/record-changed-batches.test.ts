import {
  MAX_BATCH_BODY_BYTES,
  MAX_BATCH_CHANGES,
  recordChangedBatchMessages,
  replicationMessageSchema,
  type BatchedChange,
} from '../../../shared/replication';

const upsert = (id: string, name = 'x'): BatchedChange => ({
  entity: 'account',
  id,
  op: 'upsert',
  attributes: { name },
  version: '1',
});

const bodyBytes = (message: unknown): number => Buffer.byteLength(JSON.stringify(message));

describe('recordChangedBatchMessages', () => {
  it('packs changes in order into messages of at most 500 changes, each a valid replication message', () => {
    const changes = Array.from({ length: 1200 }, (_, i) => upsert(`r${i}`));
    const messages = recordChangedBatchMessages('contoso', 'ingest', changes);
    expect(messages.map((m) => m.changes.length)).toEqual([MAX_BATCH_CHANGES, MAX_BATCH_CHANGES, 200]);
    expect(messages.flatMap((m) => m.changes.map((c) => c.id))).toEqual(changes.map((c) => c.id));
    for (const message of messages) {
      expect(replicationMessageSchema.parse(message)).toEqual(message);
      expect(message).toMatchObject({ type: 'recordChangedBatch', v: 1, org: 'contoso', origin: 'ingest' });
    }
  });

  it('splits by serialized size so that no body passes the limit, filling each as far as it goes', () => {
    const big = 'é'.repeat(1000); // 2 bytes each in UTF-8: sizes are bytes, not characters
    const changes = Array.from({ length: 40 }, (_, i) => upsert(`r${i}`, big));
    const maxBodyBytes = 10_000;
    const messages = recordChangedBatchMessages('contoso', 'ingest', changes, { maxBodyBytes });
    expect(messages.length).toBeGreaterThan(1);
    for (const [i, message] of messages.entries()) {
      expect(bodyBytes(message)).toBeLessThanOrEqual(maxBodyBytes);
      // Full: the next message's first change would not have fitted.
      const next = messages[i + 1];
      if (next !== undefined) {
        const grown = { ...message, changes: [...message.changes, next.changes[0]!] };
        expect(bodyBytes(grown)).toBeGreaterThan(maxBodyBytes);
      }
    }
    expect(messages.flatMap((m) => m.changes)).toEqual(changes);
  });

  it('keeps the default body under the Service Bus standard limit of 256 KB with room for headers', () => {
    expect(MAX_BATCH_BODY_BYTES).toBeLessThan(256 * 1024);
    const changes = Array.from({ length: 500 }, (_, i) => upsert(`r${i}`, 'y'.repeat(2000)));
    const messages = recordChangedBatchMessages('contoso', 'ingest', changes);
    expect(messages.length).toBeGreaterThan(1);
    for (const message of messages) expect(bodyBytes(message)).toBeLessThanOrEqual(MAX_BATCH_BODY_BYTES);
  });

  it('sends a change larger than the limit alone, and refuses an invalid change at the sender', () => {
    const messages = recordChangedBatchMessages(
      'contoso',
      'ingest',
      [upsert('a'), upsert('huge', 'z'.repeat(500)), upsert('b')],
      { maxBodyBytes: 300 },
    );
    expect(messages.map((m) => m.changes.map((c) => c.id))).toEqual([['a'], ['huge'], ['b']]);
    expect(() =>
      recordChangedBatchMessages('contoso', 'ingest', [{ entity: 'account', id: 'a', op: 'upsert' }]),
    ).toThrow(/an upsert needs a version/);
    expect(recordChangedBatchMessages('contoso', 'ingest', [])).toEqual([]);
  });
});
