import * as z from 'zod';

/**
 * Names and ids shown to people (on the admin page, in sync error logs, in messages) must read as
 * what they are. Refused in them: control characters (C0, DEL, C1: NUL, escape sequences, line
 * breaks), the line and paragraph separators, bidirectional embeddings, overrides and isolates
 * (U+202A–U+202E, U+2066–U+2069: "‮txt.exe" shown as "exe.txt"), and lone surrogates (not text at all:
 * they break UTF-8 encoders and databases). Data columns are not checked: they keep whatever their
 * source allows.
 */

/** Characters refused in names and ids, by what they are. */
const UNSAFE_CHARACTER: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\p{Cc}/u, what: 'a control character' },
  { pattern: /[\u2028\u2029]/u, what: 'a line or paragraph separator' },
  { pattern: /[\u202A-\u202E\u2066-\u2069]/u, what: 'a bidirectional override or isolate' },
  // With the `u` flag a surrogate range matches only surrogates that are not part of a pair.
  { pattern: /[\uD800-\uDFFF]/u, what: 'a lone surrogate' },
];

/** In multi-line text (descriptions) tabs and line breaks are text; the other refusals stand. */
const MULTILINE_ALLOWED = /[\t\n\r]/gu;

/** Why `text` may not be a name or id (e.g. "contains a control character"), or undefined if it may. */
export function unsafeTextReason(text: string, options: { multiline?: boolean } = {}): string | undefined {
  const checked = options.multiline === true ? text.replace(MULTILINE_ALLOWED, ' ') : text;
  const found = UNSAFE_CHARACTER.find(({ pattern }) => pattern.test(checked));
  return found === undefined ? undefined : `contains ${found.what}`;
}

/** True when `text` may be a name or id. */
export function isSafeText(text: string): boolean {
  return unsafeTextReason(text) === undefined;
}

const SAFE_TEXT_MESSAGE =
  'must not contain control characters, bidirectional overrides or isolates, or lone surrogates';

/** A name shown to people (display names, directory names): 1 to `max` safe characters. */
export function safeNameSchema(max = 200) {
  return z.string().min(1).max(max).refine(isSafeText, SAFE_TEXT_MESSAGE);
}

/** An id chosen by a client or a source (directory ids, record ids, operation ids): 1 to `max` safe characters. */
export function safeIdSchema(max = 100) {
  return z.string().min(1).max(max).refine(isSafeText, SAFE_TEXT_MESSAGE);
}

/** Free text of several lines (descriptions): tabs and line breaks allowed, the other refusals stand. */
export function safeMultilineTextSchema(max: number) {
  return z
    .string()
    .max(max)
    .refine((text) => unsafeTextReason(text, { multiline: true }) === undefined, SAFE_TEXT_MESSAGE);
}

/** A refinement for a schema that trims or shapes its string first (`z.string().trim()…`). */
export const safeTextRefinement = [isSafeText, SAFE_TEXT_MESSAGE] as const;
