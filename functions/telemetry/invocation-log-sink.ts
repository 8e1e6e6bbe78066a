import type { InvocationContext } from '@azure/functions';
import type { LogSink } from '../../shared/telemetry/log';

/**
 * The core's log lines (shared/telemetry/log.ts) to an invocation's log: the Functions host sends
 * them to Application Insights as traces of that invocation, at their level.
 */
export function invocationLogSink(invocation: InvocationContext): LogSink {
  return (level, line) => {
    if (level === 'error') invocation.error(line);
    else if (level === 'warn') invocation.warn(line);
    else if (level === 'debug') invocation.debug(line);
    else invocation.info(line);
  };
}
