import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { Violation } from '../../shared/model/profile';
import { ApiError, describeError } from './api';

/*
 * Small pieces every screen uses. Text from the API is always rendered as text (JSX children), never
 * as HTML: the page has no innerHTML anywhere.
 */

/**
 * Loads `load()` on mount and when `deps` change; `reload` loads again. Only the latest load's
 * answer is kept: one that returns after a newer load started (a search typed on) is dropped, so
 * answers arriving out of order never show an older query's result.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ value?: T; error?: unknown; loading: boolean }>({ loading: true });
  const latest = useRef(0);
  const run = useCallback(() => {
    const ticket = ++latest.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (value) => {
        if (ticket === latest.current) setState({ value, loading: false });
      },
      (error: unknown) => {
        if (ticket === latest.current) setState({ error, loading: false });
      },
    );
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

/** An error, shown as text with role=alert. */
export function ErrorText({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p class="error" role="alert">
      {describeError(error)}
    </p>
  );
}

/** A note that something worked. */
export function Notice({ text }: { text: string | undefined }) {
  if (!text) return null;
  return (
    <p class="notice" role="status">
      {text}
    </p>
  );
}

/** The id of the element that shows the violations at a path (for aria-describedby). */
export function violationId(path: string): string {
  return `v-${path.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** The violations whose path is `path` exactly, shown at the field. */
export function FieldViolations({ violations, path }: { violations: readonly Violation[]; path: string }) {
  const here = violations.filter((v) => v.path === path);
  if (here.length === 0) return null;
  return (
    <ul class="violations" id={violationId(path)} data-path={path}>
      {here.map((v, i) => (
        <li key={i}>
          <span class="code">{v.code}</span> {v.message}
        </li>
      ))}
    </ul>
  );
}

/** Props marking a control invalid when a violation names its path. */
export function invalidProps(violations: readonly Violation[], path: string) {
  const invalid = violations.some((v) => v.path === path);
  return invalid ? { 'aria-invalid': true as const, 'aria-describedby': violationId(path) } : {};
}

/**
 * One labelled input with the violations at its path: the form field every form repeated. `path`
 * defaults to `name` (the field's name is the path the server's violations give).
 */
export function Field(props: {
  label: ComponentChildren;
  name: string;
  value: string | number;
  onInput: (text: string) => void;
  path?: string;
  violations?: readonly Violation[];
  type?: 'text' | 'number';
  required?: boolean;
}) {
  const path = props.path ?? props.name;
  const violations = props.violations ?? [];
  const common = {
    name: props.name,
    value: props.value,
    required: props.required,
    ...invalidProps(violations, path),
    onInput: (e: { currentTarget: HTMLInputElement }) => props.onInput(e.currentTarget.value),
  };
  return (
    <div class="field">
      <label>
        {props.label}
        {props.type === 'number' ? <input type="number" {...common} /> : <input type="text" {...common} />}
      </label>
      <FieldViolations violations={violations} path={path} />
    </div>
  );
}

/**
 * Runs `send`, first clearing the violations a form shows, and on an API error keeping its violations
 * for the form's fields; the error still goes on (to `useAction`, which shows it).
 */
export async function keepViolations<T>(
  setViolations: (violations: Violation[]) => void,
  send: () => Promise<T>,
): Promise<T> {
  setViolations([]);
  try {
    return await send();
  } catch (error) {
    if (error instanceof ApiError) setViolations(error.violations);
    throw error;
  }
}

export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** Runs an action, keeping its error and a busy flag. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  /** Starts `action`; its message or error is kept for the screen (nothing is left unhandled). */
  const run = (action: () => Promise<string | undefined | void>): void => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    action().then(
      (message) => {
        if (typeof message === 'string') setDone(message);
        setBusy(false);
      },
      (e: unknown) => {
        setError(e);
        setBusy(false);
      },
    );
  };
  return { busy, error, done, run, setError };
}

/** Seconds as "1 h 2 min", "3 min 4 s", "5 s". */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return '—';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${s} s`;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} B`;
}

/** Offers `text` as a file download. */
export function downloadFile(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
