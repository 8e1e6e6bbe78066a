import { z } from 'zod';
import { conditionSchema } from './condition';
import type { Condition } from './condition';

/**
 * A custom filter of an offline profile item (SPEC §4): an `and` / `or` group of conditions and nested
 * groups, as a FetchXML `<filter>`. The limits (at most three conditions, three levels) are checked
 * when a profile is validated, not here, so that every violation can be reported with its path.
 */
export interface FilterTree {
  type: 'and' | 'or';
  conditions: Condition[];
  filters: FilterTree[];
}

/** Input shape of {@link FilterTree}: `conditions` and `filters` may be left out. */
export interface FilterTreeInput {
  type: 'and' | 'or';
  conditions?: z.input<typeof conditionSchema>[];
  filters?: FilterTreeInput[];
}

/** Schema of {@link FilterTree}; recursive through `filters`. */
export const filterTreeSchema: z.ZodType<FilterTree, FilterTreeInput> = z.lazy(() =>
  z
    .object({
      type: z.enum(['and', 'or']),
      conditions: z.array(conditionSchema).default([]),
      filters: z.array(filterTreeSchema).default([]),
    })
    .strict(),
);
