import * as z from 'zod';

/**
 * Bounds of free-form JSON values (rows a device uploads, attributes a source ingests). Whatever a
 * schema leaves as `unknown` still has to be stored, logged, serialized and compared, and code that
 * walks JSON recursively (JSON.stringify among it) overflows the stack on a deep enough value: so
 * every such value is measured against these bounds, without recursion, before anything else reads it.
 */
export interface JsonLimits {
  /** Deepest nesting: the value itself is level 1, so a row of scalar columns has depth 1. */
  maxDepth: number;
  /** Longest string, in UTF-16 code units. */
  maxStringLength: number;
  /** Most items of one array. */
  maxArrayLength: number;
  /** Most keys of one object. */
  maxObjectKeys: number;
  /** Longest object key. */
  maxKeyLength: number;
}

/**
 * Limits of a row's attributes (upload and ingest). Every column type is a scalar; sources may hold
 * lists (multi-select choices) or small objects, so some nesting is allowed. Strings up to Dataverse's
 * memo ceiling; keys are column names (logical names are at most 100 characters); at most 1,024
 * columns (Dataverse's ceiling per table).
 */
export const ROW_LIMITS: JsonLimits = {
  maxDepth: 16,
  maxStringLength: 1_048_576,
  maxArrayLength: 10_000,
  maxObjectKeys: 1024,
  maxKeyLength: 128,
};

/** The first way `value` breaks `limits`: where (dotted path from the value) and what. */
export interface JsonLimitProblem {
  path: (string | number)[];
  message: string;
}

/**
 * The first way `value` breaks `limits`, or undefined. Walks the value with an explicit stack (never
 * recursion), so any depth is measured safely, and stops at the first problem.
 */
export function findJsonLimitProblem(value: unknown, limits: JsonLimits): JsonLimitProblem | undefined {
  // Each entry knows its parent and key: the path is built only for the value that breaks a limit.
  interface Entry {
    value: unknown;
    depth: number;
    parent: Entry | undefined;
    key: string | number | undefined;
  }
  const pathOf = (entry: Entry): (string | number)[] => {
    const path: (string | number)[] = [];
    for (let at: Entry | undefined = entry; at?.key !== undefined; at = at.parent) path.unshift(at.key);
    return path;
  };
  const stack: Entry[] = [{ value, depth: 1, parent: undefined, key: undefined }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const current = entry.value;
    if (typeof current === 'string') {
      if (current.length > limits.maxStringLength) {
        return { path: pathOf(entry), message: `is longer than ${limits.maxStringLength} characters` };
      }
      continue;
    }
    if (typeof current !== 'object' || current === null) continue;
    if (entry.depth > limits.maxDepth) {
      return { path: pathOf(entry), message: `nests deeper than ${limits.maxDepth} levels` };
    }
    const depth = entry.depth + 1;
    if (Array.isArray(current)) {
      if (current.length > limits.maxArrayLength) {
        return { path: pathOf(entry), message: `has more than ${limits.maxArrayLength} items` };
      }
      current.forEach((child: unknown, index) =>
        stack.push({ value: child, depth, parent: entry, key: index }),
      );
      continue;
    }
    const keys = Object.keys(current);
    if (keys.length > limits.maxObjectKeys) {
      return { path: pathOf(entry), message: `has more than ${limits.maxObjectKeys} keys` };
    }
    for (const key of keys) {
      if (key.length > limits.maxKeyLength) {
        return { path: pathOf(entry), message: `has a key longer than ${limits.maxKeyLength} characters` };
      }
      stack.push({ value: (current as Record<string, unknown>)[key], depth, parent: entry, key });
    }
  }
  return undefined;
}

/** The nesting depth of a JSON value (scalars 0, `{}` and `[]` 1), measured without recursion. */
export function jsonDepth(value: unknown, stopAbove = Number.POSITIVE_INFINITY): number {
  let deepest = 0;
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (typeof item.value !== 'object' || item.value === null) continue;
    deepest = Math.max(deepest, item.depth);
    if (deepest > stopAbove) return deepest;
    const children: unknown[] = Array.isArray(item.value)
      ? item.value
      : Object.values(item.value as Record<string, unknown>);
    for (const child of children) stack.push({ value: child, depth: item.depth + 1 });
  }
  return deepest;
}

/**
 * A JSON object of free-form values within `limits` (row attributes): checked as a whole without
 * recursion, each problem reported at its path.
 */
export function boundedJsonRecordSchema(limits: JsonLimits) {
  return z.record(z.string(), z.unknown()).superRefine((record, ctx) => {
    const problem = findJsonLimitProblem(record, limits);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  });
}
