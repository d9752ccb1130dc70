import { getPriority, setPriority } from 'node:os';

/** What lowerPriority did. */
export interface PriorityChange {
  /** The process's nice value before. */
  readonly from: number;
  /** Its nice value now. */
  readonly to: number;
  /** Why it could not lower it, when it could not. */
  readonly error?: string;
}

/**
 * Lowers this process's CPU priority to the nice value `nice` (0–19), never raising it: a process that runs only
 * the background work (read models, process managers, the scheduler) yields the cores to the processes that
 * decide calls and answer requests on the same host. Read models are eventually consistent; a parked call waits.
 * Measured with the ESL benchmark (bench/RESULTS.md): the worker at nice 10 beside the connector took the p99 of a
 * decision at 200 parks/s from 11–14 ms to 7.7–8.1 ms, three runs each, back to back.
 *
 * The kernel weighs nice values only between processes of one control group: on hosts where every service has a
 * cgroup of its own (systemd units, containers), CPU weights (`CPUWeight=`, CPU requests) do this instead.
 */
export function lowerPriority(nice: number): PriorityChange {
  const from = getPriority();
  if (nice <= from) return { from, to: from };
  try {
    setPriority(nice);
    return { from, to: getPriority() };
  } catch (error) {
    return { from, to: from, error: error instanceof Error ? error.message : String(error) };
  }
}
