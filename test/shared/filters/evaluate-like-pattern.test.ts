import { compileLikePattern } from '../../../shared/filters/evaluate-like-pattern';

describe('compileLikePattern', () => {
  it.each<[pattern: string, text: string, expected: boolean]>([
    ['abc', 'ABC', true],
    ['abc', 'abcd', false],
    ['a%', 'a', true],
    ['a_', 'a', false],
    ['_', '😀', true], // one character, not one UTF-16 unit
    ['[]]x', ']x', true], // `]` first in a set is a member
    ['[^]]x', 'ax', true],
    ['[^]]x', ']x', false],
    ['[a-]', '-', true],
    ['[z-a]', 'm', false], // a reversed range matches nothing
    ['[abc', '[abc', true], // an unclosed `[` is literal
    ['a[\\]b', 'a\\b', true],
    ['[a^]', '^', true],
    ['a\\b', 'a\\b', true],
    ['{1}', '{1}', true],
    ['a|b', 'a', false],
    ['%x%', 'line\nx\nline', true],
  ])('%p on %p → %p', (pattern, text, expected) => {
    expect(compileLikePattern(pattern).test(text)).toBe(expected);
  });
});
