/** A goal a figure is read against: at most or at least `target`. */
export interface Goal {
  direction: 'at-most' | 'at-least';
  target: number;
  /** The goal as the issue words it. */
  text: string;
}

/** One measured figure, with its workload, the store it ran on, and its goal when it has one. */
export interface BenchFigure {
  workload: string;
  name: string;
  value: number;
  unit: string;
  store: string;
  goal?: Goal;
  /** PASS or MISS against the goal; absent when the figure has none. */
  verdict?: 'PASS' | 'MISS';
  /** What exactly ran (tenant size, user, devices…). */
  note?: string;
}

/** Builds a figure and judges it against its goal. */
export function figure(input: Omit<BenchFigure, 'verdict'>): BenchFigure {
  if (input.goal === undefined || !Number.isFinite(input.value)) return input;
  const pass =
    input.goal.direction === 'at-most' ? input.value <= input.goal.target : input.value >= input.goal.target;
  return { ...input, verdict: pass ? 'PASS' : 'MISS' };
}

/** Shorthand goals. */
export const atMost = (target: number, text: string): Goal => ({ direction: 'at-most', target, text });
export const atLeast = (target: number, text: string): Goal => ({ direction: 'at-least', target, text });
