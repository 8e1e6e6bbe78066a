import { directoryInputSchema, directorySchema } from '../../../shared/model/directory';
import { isSafeText, unsafeTextReason } from '../../../shared/model/safe-text';

describe('unsafeTextReason', () => {
  it.each([
    ['NUL', 'a\u0000b', 'a control character'],
    ['DEL', 'a\u007fb', 'a control character'],
    ['a C1 control', 'a\u0085b', 'a control character'],
    ['a line break', 'a\nb', 'a control character'],
    ['the line separator', 'a\u2028b', 'a line or paragraph separator'],
    ['a left-to-right embedding', 'a\u202Ab', 'a bidirectional override or isolate'],
    ['a right-to-left override', 'a\u202Eb', 'a bidirectional override or isolate'],
    ['a pop directional isolate', 'a\u2069b', 'a bidirectional override or isolate'],
    ['a lone high surrogate', 'a\uD83D', 'a lone surrogate'],
    ['a lone low surrogate', '\uDE00a', 'a lone surrogate'],
    ['surrogates in the wrong order', '\uDE00\uD83D', 'a lone surrogate'],
  ])('refuses %s', (_what, text, reason) => {
    expect(unsafeTextReason(text)).toBe(`contains ${reason}`);
    expect(isSafeText(text)).toBe(false);
  });

  it.each([
    ['letters of any script', 'Société 東京 شركة'],
    ['emoji (surrogate pairs)', 'Team 🚀👩‍👩‍👧'],
    ['the right-to-left mark (not an override)', 'abc\u200Fdef'],
    ['spaces and punctuation', "O'Brien, Ann-Marie (East)"],
  ])('accepts %s', (_what, text) => {
    expect(unsafeTextReason(text)).toBeUndefined();
  });

  it('allows tabs and line breaks in multi-line text only', () => {
    expect(unsafeTextReason('a\n\tb\r\n', { multiline: true })).toBeUndefined();
    expect(unsafeTextReason('a\n\u202Eb', { multiline: true })).toBe(
      'contains a bidirectional override or isolate',
    );
    expect(unsafeTextReason('a\u0000b', { multiline: true })).toBe('contains a control character');
  });
});

describe('directory names', () => {
  const directory = (fullName: string) => ({
    businessUnits: [{ id: 'root', name: 'Root', parentId: null }],
    users: [
      {
        id: 'u1',
        entraObjectId: '00000000-0000-4000-8000-000000000001',
        userName: 'ann',
        fullName,
        businessUnitId: 'root',
      },
    ],
  });

  it('keeps what a replicated directory holds, and refuses it in what an admin declares', () => {
    // Text pasted from right-to-left editors carries embeddings: a Dataverse directory keeps them.
    const name = '\u202Bسارة\u202C';
    expect(directorySchema.safeParse(directory(name)).success).toBe(true);
    expect(directoryInputSchema.safeParse(directory(name)).success).toBe(false);
    expect(directoryInputSchema.safeParse(directory('سارة')).success).toBe(true);
  });

  it('refuses unsafe ids whichever way the directory comes', () => {
    const withId = {
      ...directory('Ann'),
      businessUnits: [{ id: 'root\u0000', name: 'Root', parentId: null }],
    };
    expect(directorySchema.safeParse(withId).success).toBe(false);
    expect(directoryInputSchema.safeParse(withId).success).toBe(false);
  });
});
