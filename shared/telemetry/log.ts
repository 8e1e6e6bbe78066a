import { AsyncLocalStorage } from 'node:async_hooks';
import { trace } from '@opentelemetry/api';
import { AppError } from '../errors';
import { PoisonMessageError } from '../queue/port';
import { errorType } from './telemetry';

/**
 * The core's log lines (issue 18): one JSON object per line, `{ time, level, msg, org, route |
 * trigger, traceId, ms, … }`. What a line is about — the tenant, the HTTP route or the trigger (a
 * queue, a timer, a provisioning step), the trace and the milliseconds since that request or
 * message began — comes from the scope the host opened for it ({@link withLogScope}), added here and
 * only here, so no call site repeats it or forgets it. Fields a scope does not know are left out.
 *
 * A line names codes, counts, kinds and ids of the service's own things; never a token, a key, a row
 * value or an error message (which may quote a value): {@link errorFields} logs an error by its type,
 * with the stack only for errors that are not the product's own (a bug, whose stack is the clue).
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where a scope's lines go: the host's writer (stdout locally, the invocation's log in Azure). */
export type LogSink = (level: LogLevel, line: string) => void;

/** What a scope says about every line written within it. */
export interface LogScopeFields {
  org?: string;
  /** The HTTP route's name (route table). */
  route?: string;
  /** What started the work when it is not a request: `queue:<name>`, `timer:<name>`, `provisioning`. */
  trigger?: string;
  /** The trace id; without one, the active span's when it is recording. */
  traceId?: string;
}

interface LogScope {
  fields: LogScopeFields;
  sink: LogSink | undefined;
  /** `performance.now()` when the request or message began (lines carry `ms` since). */
  startedMs: number | undefined;
}

const scopes = new AsyncLocalStorage<LogScope>();

/**
 * Where lines go when no host opened a scope with its sink (a tool or a test calling the core):
 * warnings and errors to the console; info and debug lines are the hosts' to keep.
 */
const consoleSink: LogSink = (level, line) => {
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
};

/**
 * Runs `work` in a log scope: lines within it (across awaits) carry `fields` over those of the scope
 * around it, go to `sink` (else the outer scope's, else the console), and carry `ms` since this
 * scope began when it names a route or a trigger. Hosts open one per request, message and timer run.
 */
export function withLogScope<T>(fields: LogScopeFields & { sink?: LogSink }, work: () => T): T {
  const outer = scopes.getStore();
  const { sink, ...own } = fields;
  const starts = own.route !== undefined || own.trigger !== undefined;
  return scopes.run(
    {
      fields: { ...outer?.fields, ...own },
      sink: sink ?? outer?.sink,
      startedMs: starts ? performance.now() : outer?.startedMs,
    },
    work,
  );
}

/** Writes one line: `msg` and `data`, with the scope's fields (which `data` cannot override). */
export function logLine(level: LogLevel, msg: string, data: Record<string, unknown> = {}): void {
  const scope = scopes.getStore();
  const fields: Record<string, unknown> = { ...scope?.fields };
  if (fields.traceId === undefined) {
    const span = trace.getActiveSpan();
    if (span?.isRecording() === true) fields.traceId = span.spanContext().traceId;
  }
  if (scope?.startedMs !== undefined) fields.ms = Math.round((performance.now() - scope.startedMs) * 10) / 10;
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...data, ...fields });
  (scope?.sink ?? consoleSink)(level, line);
}

/** How a line names an error: its type (an AppError's code); the stack only of an error not the product's own. */
export function errorFields(error: unknown): Record<string, unknown> {
  const fields: Record<string, unknown> = { errorType: errorType(error) };
  const own = error instanceof AppError || error instanceof PoisonMessageError;
  if (!own && error instanceof Error && error.stack !== undefined) {
    fields.stack = error.stack;
  }
  return fields;
}
