/**
 * The one output format of every benchmark (issue 8): a JSON line per measurement on stdout, so runs
 * can be compared and collected by scripts. Progress and explanations go to stderr.
 */
export interface MeasurementLine {
  readonly bench: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  /** The same metric measured on the baseline in the same invocation; null when there is none. */
  readonly baseline: number | null;
  /** value ÷ baseline for rates, baseline ÷ value for durations and latencies (higher is better). */
  readonly ratio: number | null;
  /** The target from SPEC §14 / the issue, in the same unit, when one exists. */
  readonly target?: number;
  readonly met?: boolean;
}

export type Direction = 'higher-is-better' | 'lower-is-better';

export interface Measurement {
  readonly bench: string;
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  readonly direction: Direction;
  readonly baseline?: number;
  readonly target?: number;
}

const DECIMALS = 3;

function round(value: number): number {
  const scale = 10 ** DECIMALS;
  return Math.round(value * scale) / scale;
}

export function toLine(measurement: Measurement): MeasurementLine {
  const { bench, metric, value, unit, direction, baseline, target } = measurement;
  let ratio: number | null = null;
  if (baseline !== undefined && baseline > 0 && value > 0) {
    ratio = direction === 'higher-is-better' ? value / baseline : baseline / value;
  }
  const line: MeasurementLine = {
    bench,
    metric,
    value: round(value),
    unit,
    baseline: baseline === undefined ? null : round(baseline),
    ratio: ratio === null ? null : round(ratio),
  };
  if (target === undefined) return line;
  const met = direction === 'higher-is-better' ? value >= target : value <= target;
  return { ...line, target, met };
}

/** Prints one measurement as a JSON line on stdout and returns it for the results table. */
export function report(measurement: Measurement): MeasurementLine {
  const line = toLine(measurement);
  process.stdout.write(`${JSON.stringify(line)}\n`);
  return line;
}

export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}
