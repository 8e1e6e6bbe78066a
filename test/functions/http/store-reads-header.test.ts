import { formatStoreReads, storeReadsOf } from '../../../bench/store-reads';
import { formatReadMeter, STORE_READS_HEADER } from '../../../functions/http/routes/sync-download-routes';
import { newReadMeter } from '../../../shared/store/port';

describe('x-store-reads', () => {
  it('carries every count of the read meter, index entries (keys) included, as the bench reads it', () => {
    const meter = { ...newReadMeter(), rows: 1025, docs: 48, changes: 7, keys: 60, requestCharge: 12.34 };
    const header = formatReadMeter(meter);
    expect(header).toBe('rows=1025, docs=48, changes=7, keys=60, ru=12.3');
    expect(storeReadsOf({ [STORE_READS_HEADER]: header })).toEqual({
      rows: 1025,
      docs: 48,
      changes: 7,
      keys: 60,
      ru: 12.3,
    });
    expect(formatStoreReads(storeReadsOf({ [STORE_READS_HEADER]: header }))).toBe(
      'rows 1,025, docs 48, changes 7, keys 60, ru 12.3',
    );
  });

  it('refuses a header without a count rather than reading it as zero', () => {
    expect(() => storeReadsOf({ [STORE_READS_HEADER]: 'rows=1, docs=2, changes=3, ru=0.0' })).toThrow(/keys/);
    expect(() => storeReadsOf({})).toThrow(STORE_READS_HEADER);
  });
});
