import { createHash } from 'node:crypto';
import type { SqlParameter } from '@azure/cosmos';
import { AppError } from '../../errors';
import { isPlainAttributeName } from '../record-keys';
import type { RecordProbe } from '../port';
import { MAX_TEXT_KEY_LENGTH, normalizeProbe, probeIsEmpty } from '../record-keys';

/**
 * How a probe is asked of the `records` container (keys: record-item.ts). A probe whose values
 * all have keys and whose attribute has a plain name compares the stored key fields directly
 * (`ARRAY_CONTAINS(@values, c.k.t["ownerid"])`, `c.k.d["modifiedon"] >= @from`), served by the
 * index on `/k/*`; long value lists are split into chunks of {@link VALUES_PER_QUERY}, asked one
 * after the other. Any other probe reads the entity's live rows (`scan`). Either way the caller
 * keeps only the rows `probeMatches` accepts, so the answer is exactly the shared semantics.
 */
export interface ProbeQueries {
  /** `keyed`: each chunk's condition finds exactly its rows; `scan`: one chunk, no condition. */
  kind: 'keyed' | 'scan';
  /** The probe with values de-duplicated and lower-cased (what `next` tokens are bound to). */
  probe: RecordProbe;
  /** Conditions ANDed to the entity's live rows ('' for none), asked in this order. */
  chunks: { condition: string; parameters: SqlParameter[] }[];
}

/** Values per keyed query: keeps the query's parameters well under the service's size limits. */
export const VALUES_PER_QUERY = 500;

/** The queries that answer a probe; undefined when it can find no row at all. */
export function probeQueries(probe: RecordProbe): ProbeQueries | undefined {
  const normalized = sanitize(normalizeProbe(probe));
  if (normalized === undefined || probeIsEmpty(normalized)) return undefined;
  const scan: ProbeQueries = { kind: 'scan', probe: normalized, chunks: [{ condition: '', parameters: [] }] };
  switch (normalized.kind) {
    case 'all':
      return { kind: 'keyed', probe: normalized, chunks: [{ condition: '', parameters: [] }] };
    case 'text': {
      const field = normalized.attribute === null ? 'c.k.id' : keyField('t', normalized.attribute);
      // A value longer than the limit has no stored key to compare with.
      if (field === undefined || normalized.values.some((v) => v.length > MAX_TEXT_KEY_LENGTH)) return scan;
      const keyed = valueChunks(normalized, field, normalized.values);
      const { within } = normalized;
      if (within === undefined) return keyed;
      const timeField = keyField('d', within.attribute);
      if (timeField === undefined) return scan;
      // The range narrows each chunk in the query: only the rows in it are read.
      const range = timeRange(timeField, within.from, within.to, '@wfrom', '@wto');
      return {
        ...keyed,
        chunks: keyed.chunks.map((chunk) => ({
          condition: `${chunk.condition} AND ${range.condition}`,
          parameters: [...chunk.parameters, ...range.parameters],
        })),
      };
    }
    case 'number': {
      const field = keyField('n', normalized.attribute);
      return field === undefined ? scan : valueChunks(normalized, field, normalized.values);
    }
    case 'time': {
      const field = keyField('d', normalized.attribute);
      if (field === undefined) return scan;
      return {
        kind: 'keyed',
        probe: normalized,
        chunks: [timeRange(field, normalized.from, normalized.to, '@from', '@to')],
      };
    }
  }
}

/** A time key field in [from, to) as a query condition (null bounds: open). */
function timeRange(
  field: string,
  from: number | null,
  to: number | null,
  fromName: string,
  toName: string,
): { condition: string; parameters: SqlParameter[] } {
  // Without a lower bound, any stored (finite) time key: an index range rather than IS_DEFINED.
  const bounds = [`${field} >= ${fromName}`];
  const parameters: SqlParameter[] = [{ name: fromName, value: from ?? -Number.MAX_VALUE }];
  if (to !== null) {
    bounds.push(`${field} < ${toName}`);
    parameters.push({ name: toName, value: to });
  }
  return { condition: bounds.join(' AND '), parameters };
}

/**
 * A probe without values that JSON cannot carry: non-finite numbers never match a key (keys are
 * finite), and infinite time bounds are no bounds. Undefined when nothing can match.
 */
function sanitize(probe: RecordProbe): RecordProbe | undefined {
  if (probe.kind === 'number') return { ...probe, values: probe.values.filter((v) => Number.isFinite(v)) };
  if (probe.kind === 'text') {
    if (probe.within === undefined) return probe;
    const within = sanitizeRange(probe.within);
    return within === undefined ? undefined : { ...probe, within: { ...probe.within, ...within } };
  }
  if (probe.kind !== 'time') return probe;
  const range = sanitizeRange(probe);
  return range === undefined ? undefined : { ...probe, ...range };
}

function sanitizeRange(range: {
  from: number | null;
  to: number | null;
}): { from: number | null; to: number | null } | undefined {
  const { from, to } = range;
  if ((from !== null && Number.isNaN(from)) || (to !== null && Number.isNaN(to))) return undefined;
  if (from === Infinity || to === -Infinity) return undefined;
  return {
    from: from === null || from === -Infinity ? null : from,
    to: to === null || to === Infinity ? null : to,
  };
}

function keyField(kind: 't' | 'n' | 'd', attribute: string): string | undefined {
  // Brackets, so that names the query language reserves (`value`, `order` …) stay property names.
  return isPlainAttributeName(attribute) ? `c.k.${kind}["${attribute}"]` : undefined;
}

function valueChunks(probe: RecordProbe, field: string, values: readonly (string | number)[]): ProbeQueries {
  const chunks: ProbeQueries['chunks'] = [];
  for (let start = 0; start < values.length; start += VALUES_PER_QUERY) {
    chunks.push({
      condition: `ARRAY_CONTAINS(@values, ${field})`,
      parameters: [{ name: '@values', value: values.slice(start, start + VALUES_PER_QUERY) }],
    });
  }
  return { kind: 'keyed', probe, chunks };
}

/** Where a look-up continues: the chunk, and the last row id read in it (null: its start). */
export interface ProbePosition {
  chunk: number;
  afterId: string | null;
}

/**
 * The opaque `next` of a page: the position, bound to the entity and probe it belongs to (a hash),
 * so that a token handed to another look-up is refused instead of silently skipping rows.
 */
export function encodeProbePosition(entity: string, queries: ProbeQueries, position: ProbePosition): string {
  const token = { v: 1, h: probeHash(entity, queries.probe), c: position.chunk, a: position.afterId };
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64url');
}

/** Where a page starts: the position a previous page's `next` names, or the first chunk's start. */
export function decodeProbePosition(
  entity: string,
  queries: ProbeQueries,
  next: string | undefined,
): ProbePosition {
  if (next === undefined) return { chunk: 0, afterId: null };
  let token: unknown;
  try {
    token = JSON.parse(Buffer.from(next, 'base64url').toString('utf8'));
  } catch {
    token = undefined;
  }
  const { v, h, c, a } = (typeof token === 'object' && token !== null ? token : {}) as Record<
    string,
    unknown
  >;
  const valid =
    v === 1 &&
    h === probeHash(entity, queries.probe) &&
    typeof c === 'number' &&
    Number.isInteger(c) &&
    c >= 0 &&
    c < queries.chunks.length &&
    (a === null || typeof a === 'string');
  if (!valid) {
    throw new AppError('ValidationFailed', 'The page position is not valid for this look-up.', {
      details: [{ path: 'after', message: 'not a position of this look-up' }],
    });
  }
  return { chunk: c, afterId: a };
}

function probeHash(entity: string, probe: RecordProbe): string {
  return createHash('sha256')
    .update(JSON.stringify([entity, probe]))
    .digest('base64url')
    .slice(0, 12);
}
