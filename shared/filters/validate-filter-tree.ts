import type { EntityMetadata } from '../model/entity';
import type { FilterTree } from '../model/filter-tree';
import type { Violation } from '../model/profile';
import { validateCondition } from './validate-condition';

/** Most conditions a custom filter may hold in total (SPEC §4). */
export const MAX_CUSTOM_FILTER_CONDITIONS = 3;
/** Most levels of nesting of a custom filter; the root group is level 1 (SPEC §4). */
export const MAX_CUSTOM_FILTER_LEVELS = 3;

/**
 * Checks a profile item's custom filter: at least one and at most three conditions in total, groups
 * nested at most three levels, and every condition valid for the entity (custom-filter operators
 * only). Returns every violation, each with its path below `path`.
 */
export function validateFilterTree(tree: FilterTree, entity: EntityMetadata, path: string): Violation[] {
  const violations: Violation[] = [];
  let conditionCount = 0;

  function visit(group: FilterTree, groupPath: string, level: number): void {
    if (level === MAX_CUSTOM_FILTER_LEVELS + 1) {
      violations.push({
        path: groupPath,
        code: 'FilterTooDeep',
        message: `A custom filter nests at most ${MAX_CUSTOM_FILTER_LEVELS} levels.`,
      });
    }
    group.conditions.forEach((condition, i) => {
      conditionCount += 1;
      violations.push(...validateCondition(condition, entity, 'custom', `${groupPath}.conditions[${i}]`));
    });
    group.filters.forEach((child, i) => visit(child, `${groupPath}.filters[${i}]`, level + 1));
  }

  visit(tree, path, 1);
  if (conditionCount === 0) {
    violations.push({ path, code: 'FilterEmpty', message: 'A custom filter needs at least one condition.' });
  }
  if (conditionCount > MAX_CUSTOM_FILTER_CONDITIONS) {
    violations.push({
      path,
      code: 'TooManyConditions',
      message: `A custom filter has at most ${MAX_CUSTOM_FILTER_CONDITIONS} conditions in total; this one has ${conditionCount}.`,
    });
  }
  return violations;
}
