import {
  findJsonLimitProblem,
  jsonDepth,
  ROW_LIMITS,
  type JsonLimits,
} from '../../../shared/model/json-limits';

const LIMITS: JsonLimits = {
  maxDepth: 3,
  maxStringLength: 5,
  maxArrayLength: 2,
  maxObjectKeys: 2,
  maxKeyLength: 4,
};

describe('findJsonLimitProblem', () => {
  it('accepts values within every limit', () => {
    expect(findJsonLimitProblem({ a: [1, 'abcde'], b: { c: null } }, LIMITS)).toBeUndefined();
    expect(findJsonLimitProblem('abc', LIMITS)).toBeUndefined();
  });

  it.each([
    ['nesting', { a: { b: { c: {} } } }, ['a', 'b', 'c'], 'nests deeper than 3 levels'],
    ['a string', { a: ['abcdef'] }, ['a', 0], 'is longer than 5 characters'],
    ['an array', { a: [1, 2, 3] }, ['a'], 'has more than 2 items'],
    ['an object', { a: 1, b: 2, c: 3 }, [], 'has more than 2 keys'],
    ['a key', { abcde: 1 }, [], 'has a key longer than 4 characters'],
  ])('reports %s beyond its limit at its path', (_what, value, path, message) => {
    expect(findJsonLimitProblem(value, LIMITS)).toEqual({ path, message });
  });

  it('measures a value far too deep to recurse over without overflowing the stack', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    expect(findJsonLimitProblem({ v: deep }, ROW_LIMITS)?.message).toBe(
      `nests deeper than ${ROW_LIMITS.maxDepth} levels`,
    );
    expect(jsonDepth(deep)).toBe(100_000);
    expect(jsonDepth(deep, 64)).toBe(65); // stops as soon as it knows the limit is passed
  });

  it('counts scalars as depth 0 and each container as one level', () => {
    expect(jsonDepth(1)).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth({ a: [{}] })).toBe(3);
  });
});
