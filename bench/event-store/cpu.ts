import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time spent by this process and by the PostgreSQL backends serving it. On a shared two-core
 * machine the wall-clock rates move with other people's load; CPU time per event moves much less, and
 * it tells whether the client or the server bounds a workload.
 */

function clockTicksPerSecond(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isSafeInteger(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    // Linux's USER_HZ is 100 on every common architecture.
    return 100;
  }
}

const TICKS_PER_SECOND = clockTicksPerSecond();

/** User plus system CPU seconds a process has used, or null when it has gone (or this is not Linux). */
export function processCpuSeconds(processId: number): number | null {
  try {
    const stat = readFileSync(`/proc/${processId}/stat`, 'utf8');
    // The command name in parentheses may contain spaces; the fields after it are space-separated, and
    // utime and stime are the 12th and 13th of them (fields 14 and 15 of proc(5)).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Snapshot of CPU seconds per backend, to subtract from a later one. */
export function backendCpuSnapshot(processIds: readonly number[]): Map<number, number> {
  const snapshot = new Map<number, number>();
  for (const processId of processIds) {
    const seconds = processCpuSeconds(processId);
    if (seconds !== null) snapshot.set(processId, seconds);
  }
  return snapshot;
}

/**
 * CPU seconds the backends used between two snapshots. A backend that appeared in between counts from
 * zero; one that went away in between is lost (pools only close connections that sat idle).
 */
export function backendCpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [processId, seconds] of after) total += seconds - (before.get(processId) ?? 0);
  return total;
}

/** This process's user plus system CPU seconds. */
export function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}
