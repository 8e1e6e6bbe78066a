/** Characters with a meaning in regular expressions outside a character class (escapable with `u`). */
const regexSyntax = new Set(['^', '$', '\\', '.', '*', '+', '?', '(', ')', '[', ']', '{', '}', '|', '/']);
/** Characters with a meaning inside a character class. */
const classSyntax = new Set(['\\', ']', '[', '^', '-']);

/**
 * Translates a SQL `LIKE` pattern (FetchXML `like`, reference/dataverse.md §5) into an anchored,
 * case-insensitive regular expression:
 *
 * - `%` any run of characters (also none), `_` exactly one character;
 * - `[abc]` one of a set, `[a-f]` one of a range, `[^abc]` one not in the set; a wildcard inside
 *   brackets is literal, so `[%]`, `[_]` and `[[]` match `%`, `_` and `[`;
 * - a `]` right after `[` or `[^` is a member of the set; a `[` with no closing `]` is literal;
 * - a reversed range such as `[z-a]` matches nothing, as in SQL Server;
 * - everything else is literal, compared case-insensitively.
 */
export function compileLikePattern(pattern: string): RegExp {
  let source = '^';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern.charAt(i);
    if (c === '%') {
      source += '.*';
      i += 1;
    } else if (c === '_') {
      source += '.';
      i += 1;
    } else if (c === '[') {
      const set = readSet(pattern, i);
      if (set === undefined) {
        source += '\\[';
        i += 1;
      } else {
        source += set.source;
        i = set.end;
      }
    } else {
      source += regexSyntax.has(c) ? `\\${c}` : c;
      i += 1;
    }
  }
  // s: `%` and `_` match line breaks too; u: `_` is one character, not one UTF-16 unit.
  return new RegExp(`${source}$`, 'isu');
}

/** Reads the bracket set that starts at `start`; undefined when it is never closed. */
function readSet(pattern: string, start: number): { source: string; end: number } | undefined {
  let i = start + 1;
  const negated = pattern.charAt(i) === '^';
  if (negated) i += 1;
  // A `]` first in the set is a member, not the end.
  const close = pattern.indexOf(']', i + 1);
  if (close === -1) return undefined;
  const members = Array.from(pattern.slice(i, close));
  let body = '';
  for (let m = 0; m < members.length; m++) {
    const from = members[m] ?? '';
    const to = members[m + 2];
    if (members[m + 1] === '-' && to !== undefined) {
      // JavaScript refuses a reversed range; SQL Server's matches nothing, so leave it out.
      if (from <= to) body += `${escapeInSet(from)}-${escapeInSet(to)}`;
      m += 2;
    } else {
      body += escapeInSet(from);
    }
  }
  // An empty JavaScript class `[]` matches nothing and `[^]` anything, as an empty SQL set would.
  return { source: `[${negated ? '^' : ''}${body}]`, end: close + 1 };
}

function escapeInSet(c: string): string {
  return classSyntax.has(c) ? `\\${c}` : c;
}
