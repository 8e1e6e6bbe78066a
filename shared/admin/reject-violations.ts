import { AppError, type ErrorCode } from '../errors';
import type { Violation } from '../model/profile';

/** Throws `code` (a 422 code) with every violation in `details` when there is any; else returns. */
export function rejectViolations(
  violations: readonly Violation[],
  code: Extract<ErrorCode, 'ProfileInvalid' | 'Unprocessable'>,
  message: string,
): void {
  if (violations.length > 0) {
    throw new AppError(
      code,
      `${message} (${violations.length} violation${violations.length === 1 ? '' : 's'})`,
      {
        details: [...violations],
      },
    );
  }
}

/** Prefixes every violation's path, e.g. with `profiles[2]`. */
export function prefixViolations(prefix: string, violations: readonly Violation[]): Violation[] {
  return violations.map((v) => ({ ...v, path: v.path === '' ? prefix : `${prefix}.${v.path}` }));
}
