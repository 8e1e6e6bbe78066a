import * as z from 'zod';
import { safeIdSchema } from './safe-text';

/** Operators evaluated against the syncing user (id, teams, hierarchy, business unit, language); they take no value. */
const USER_CONTEXT_OPERATORS = [
  'eq-userid',
  'ne-userid',
  'eq-userteams',
  'eq-useroruserteams',
  'eq-useroruserhierarchy',
  'eq-useroruserhierarchyandteams',
  'eq-businessid',
  'ne-businessid',
  'eq-userlanguage',
] as const;

/** Condition operators of offline filters (SPEC §4; FetchXML semantics, reference/dataverse.md §5). */
export const operatorSchema = z.enum([
  'eq',
  'ne',
  'gt',
  'ge',
  'lt',
  'le',
  'like',
  'not-like',
  'in',
  'not-in',
  'null',
  'not-null',
  ...USER_CONTEXT_OPERATORS,
  'begins-with',
  'not-begin-with',
  'ends-with',
  'not-end-with',
  'last-x-days',
]);
export type Operator = z.infer<typeof operatorSchema>;

export const userContextOperators: ReadonlySet<Operator> = new Set<Operator>(USER_CONTEXT_OPERATORS);

const scalarSchema = z.union([z.string(), z.number(), z.boolean()]);

/** One condition: attribute, operator and (for operators that take one) a value or a list. */
export const conditionSchema = z
  .object({
    attribute: safeIdSchema(100),
    operator: operatorSchema,
    value: z.union([scalarSchema, z.array(scalarSchema)]).optional(),
  })
  .strict();
export type Condition = z.infer<typeof conditionSchema>;
