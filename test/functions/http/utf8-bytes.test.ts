import { utf8Bytes } from '../../../functions/http/handle-request';

describe('utf8Bytes', () => {
  it.each([
    ['empty', ''],
    ['ASCII', '{"a":[1,2,"x"]}'],
    ['Latin-1', 'Zoë, Søren, Ångström'],
    ['beyond Latin-1', 'Δ — 漢字'],
    ['surrogate pairs', '😀 and 𝄞'],
    ['lone surrogates', 'a\uD800b\uDC00c'],
  ])('gives the same bytes as Buffer.from for %s text', (_name, text) => {
    const bytes = utf8Bytes(text);
    expect(bytes.equals(Buffer.from(text, 'utf8'))).toBe(true);
    expect(bytes.length).toBe(Buffer.byteLength(text, 'utf8'));
  });

  it('encodes a page of many megabytes whole', () => {
    const text = JSON.stringify({ rows: Array.from({ length: 20_000 }, (_, i) => `row ${i} — ü`) });
    expect(utf8Bytes(text).toString('utf8')).toBe(text);
  });
});
