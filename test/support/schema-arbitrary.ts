import fc from 'fast-check';

/** A JSON Schema (2020-12) of the OpenAPI document, as zod writes them. */
type Schema = Record<string, unknown> | boolean;

export interface SchemaArbitraryOptions {
  /** Resolves `#/components/schemas/X`. */
  resolve: (ref: string) => Schema;
  /** Strings worth trying where a string goes (ids and names the tenant really has). */
  knownStrings: readonly string[];
  /** Values tried most of the time for string properties of these names (`app`, `entity`, …). */
  preferred?: Readonly<Record<string, readonly string[]>>;
  /** Also tried, now and then, where the schema takes any JSON value (a row's columns, an unknown body). */
  freeForm?: fc.Arbitrary<unknown>;
  /** Levels of objects and arrays before values become as small as the schema allows. */
  maxDepth?: number;
}

/**
 * Values a JSON Schema describes, for fast-check: what the subset zod emits (type, enum, const,
 * anyOf/oneOf, $ref, properties/required/additionalProperties, items, lengths, bounds, pattern,
 * formats) becomes an arbitrary. Mostly valid values, so a fuzzed request gets past validation
 * into the handler; the fuzz test mutates them to reach the refusals too.
 */
export function schemaArbitrary(schema: Schema, options: SchemaArbitraryOptions): fc.Arbitrary<unknown> {
  const maxDepth = options.maxDepth ?? 4;
  const known = options.knownStrings;

  function of(s: Schema, depth: number): fc.Arbitrary<unknown> {
    if (s === true || (typeof s === 'object' && Object.keys(s).length === 0)) return anyJson(depth);
    if (s === false) return fc.constant(null);
    if (typeof s.$ref === 'string')
      return fc.constant(null).chain(() => of(options.resolve(s.$ref as string), depth));
    if ('const' in s) return fc.constant(s.const);
    if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
    const alternatives = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
    if (alternatives) return fc.oneof(...alternatives.map((a) => of(a, depth)));
    const type = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string | undefined];
    return fc.oneof(...type.map((t) => ofType(t, s, depth)));
  }

  function ofType(
    type: string | undefined,
    s: Record<string, unknown>,
    depth: number,
  ): fc.Arbitrary<unknown> {
    switch (type) {
      case 'string':
        return stringOf(s);
      case 'integer':
      case 'number': {
        const min =
          num(s.minimum) ?? (num(s.exclusiveMinimum) === undefined ? -1e6 : num(s.exclusiveMinimum)! + 1);
        const max =
          num(s.maximum) ?? (num(s.exclusiveMaximum) === undefined ? 1e6 : num(s.exclusiveMaximum)! - 1);
        const lo = Math.max(min, -Number.MAX_SAFE_INTEGER);
        const hi = Math.min(max, Number.MAX_SAFE_INTEGER);
        return type === 'integer'
          ? fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) })
          : fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true });
      }
      case 'boolean':
        return fc.boolean();
      case 'null':
        return fc.constant(null);
      case 'array': {
        const minLength = num(s.minItems) ?? 0;
        const maxLength = Math.max(
          minLength,
          Math.min(num(s.maxItems) ?? 3, depth >= maxDepth ? minLength : 3),
        );
        return fc.array(of((s.items as Schema | undefined) ?? true, depth + 1), { minLength, maxLength });
      }
      case 'object':
        return objectOf(s, depth);
      default:
        return anyJson(depth);
    }
  }

  function objectOf(s: Record<string, unknown>, depth: number): fc.Arbitrary<unknown> {
    const properties = (s.properties ?? {}) as Record<string, Schema>;
    const required = new Set((s.required ?? []) as string[]);
    const shape: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [name, p] of Object.entries(properties)) {
      const real = options.preferred?.[name];
      shape[name] =
        real && real.length > 0 && typeof p === 'object' && p.type === 'string'
          ? fc.oneof(
              { weight: 3, arbitrary: fc.constantFrom(...real) },
              { weight: 1, arbitrary: of(p, depth + 1) },
            )
          : of(p, depth + 1);
    }
    const fixed = fc.record(shape, {
      requiredKeys: depth >= maxDepth ? [...required] : [...required].filter((k) => k in shape),
    });
    const extra = s.additionalProperties;
    if (extra === undefined || extra === false || Object.keys(properties).length > 0 || depth >= maxDepth) {
      return fixed;
    }
    // A record: keys as its propertyNames say, values as additionalProperties says.
    const keys = s.propertyNames
      ? (of(s.propertyNames as Schema, depth) as fc.Arbitrary<string>)
      : fc.string();
    return fc
      .dictionary(
        keys.filter((k) => typeof k === 'string'),
        of(extra as Schema, depth + 1),
        { maxKeys: 3 },
      )
      .map((d) => ({ ...d }));
  }

  function stringOf(s: Record<string, unknown>): fc.Arbitrary<string> {
    const minLength = num(s.minLength) ?? 0;
    const maxLength = num(s.maxLength);
    const free = { minLength, maxLength: Math.max(minLength, Math.min(maxLength ?? 40, 40)) };
    let base: fc.Arbitrary<string>;
    if (s.format === 'uuid') base = fc.uuid();
    else if (s.format === 'date-time') base = fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
    else if (s.format === 'uri') base = fc.webUrl();
    else if (typeof s.pattern === 'string') {
      try {
        base = fc.stringMatching(new RegExp(s.pattern));
      } catch {
        base = fc.string(free);
      }
    } else base = fc.oneof(fc.string({ ...free, unit: 'grapheme' }), fc.string({ ...free, unit: 'binary' }));
    const fits = (v: string): boolean =>
      v.length >= minLength && (maxLength === undefined || v.length <= maxLength);
    const fitting = known.filter((k) => fits(k) && (typeof s.pattern !== 'string' || safeTest(s.pattern, k)));
    // Bounded by the schema's own lengths: a pattern or format longer than maxLength is cut, not retried.
    const sized = base.map((v) =>
      maxLength !== undefined && v.length > maxLength ? v.slice(0, maxLength) : v,
    );
    return fitting.length > 0 ? fc.oneof(fc.constantFrom(...fitting), sized) : sized;
  }

  function anyJson(depth: number): fc.Arbitrary<unknown> {
    const json = fc.jsonValue({ maxDepth: Math.max(0, maxDepth - depth) });
    return options.freeForm
      ? fc.oneof({ weight: 3, arbitrary: json }, { weight: 1, arbitrary: options.freeForm })
      : json;
  }

  return of(schema, 0);
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function safeTest(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return false;
  }
}
