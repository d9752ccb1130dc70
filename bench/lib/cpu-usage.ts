/**
 * Where a benchmark's CPU went (Linux): the machine's busy share and the CPU seconds of groups of processes over a
 * phase, read from /proc. A latency benchmark on shared cores means little without it: the same code gave an ESL
 * p99 of 10 ms on a quiet host and 16 ms on a busy one (bench/RESULTS.md).
 *
 *   const before = cpuSnapshot(classify);
 *   … the phase …
 *   const usage = cpuUsage(before, cpuSnapshot(classify));
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Names the group a process belongs to (by pid and command line), or null to leave it out. */
export type Classify = (pid: number, commandLine: string) => string | null;

export interface CpuSnapshot {
  readonly at: number;
  /** Jiffies of the whole machine: all, idle (with I/O wait) and stolen by the hypervisor. */
  readonly machine: { readonly total: number; readonly idle: number; readonly steal: number } | null;
  /** User + system jiffies of each process, with its group. */
  readonly processes: ReadonlyMap<number, { readonly group: string; readonly ticks: number }>;
}

export interface CpuUsage {
  readonly seconds: number;
  /** Share of all cores busy (steal excluded), 0–100; null where /proc/stat cannot be read. */
  readonly busyPercent: number | null;
  /** Share of all cores the hypervisor took, 0–100. */
  readonly stealPercent: number | null;
  /** CPU seconds of each group, largest first. */
  readonly groups: readonly { readonly group: string; readonly seconds: number }[];
}

/** Jiffies per second: USER_HZ, 100 on every Linux configuration Node supports. */
const TICKS_PER_SECOND = 100;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function machineTicks(): CpuSnapshot['machine'] {
  const line = readText('/proc/stat')?.split('\n', 1)[0];
  if (line === undefined || !line.startsWith('cpu ')) return null;
  // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const fields = [user, nice, system, idle, iowait, irq, softirq, steal].map((value) => value ?? 0);
  const total = fields.reduce((sum, value) => sum + value, 0);
  return { total, idle: (fields[3] ?? 0) + (fields[4] ?? 0), steal: fields[7] ?? 0 };
}

export function cpuSnapshot(classify: Classify): CpuSnapshot {
  const processes = new Map<number, { group: string; ticks: number }>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    entries = [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const commandLine = readText(`/proc/${entry}/cmdline`)?.replaceAll('\0', ' ').trim();
    const stat = readText(`/proc/${entry}/stat`);
    if (commandLine === undefined || stat === null) continue;
    const group = classify(pid, commandLine);
    if (group === null) continue;
    // Fields after the command name (which may hold spaces) start at state; utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    processes.set(pid, { group, ticks: Number(fields[11] ?? 0) + Number(fields[12] ?? 0) });
  }
  return { at: performance.now(), machine: machineTicks(), processes };
}

export function cpuUsage(before: CpuSnapshot, after: CpuSnapshot): CpuUsage {
  const seconds = (after.at - before.at) / 1000;
  const groups = new Map<string, number>();
  for (const [pid, { group, ticks }] of after.processes) {
    // A process started during the phase counts from zero.
    const used = ticks - (before.processes.get(pid)?.ticks ?? 0);
    if (used > 0) groups.set(group, (groups.get(group) ?? 0) + used / TICKS_PER_SECOND);
  }
  let busyPercent: number | null = null;
  let stealPercent: number | null = null;
  if (before.machine !== null && after.machine !== null) {
    const total = after.machine.total - before.machine.total;
    const idle = after.machine.idle - before.machine.idle;
    const steal = after.machine.steal - before.machine.steal;
    if (total > 0) {
      busyPercent = (100 * (total - idle - steal)) / total;
      stealPercent = (100 * steal) / total;
    }
  }
  return {
    seconds,
    busyPercent,
    stealPercent,
    groups: [...groups].map(([group, used]) => ({ group, seconds: used })).sort((a, b) => b.seconds - a.seconds),
  };
}

/**
 * Consecutive phases as one: CPU seconds summed per group, the busy and stolen shares weighted by duration. Better
 * than one snapshot pair over the whole span when processes end between the phases (a pooled PostgreSQL connection
 * closed while idle takes its CPU time with it).
 */
export function cpuUsageOfPhases(...phases: readonly CpuUsage[]): CpuUsage {
  const seconds = phases.reduce((sum, phase) => sum + phase.seconds, 0);
  const groups = new Map<string, number>();
  for (const phase of phases) {
    for (const { group, seconds: used } of phase.groups) groups.set(group, (groups.get(group) ?? 0) + used);
  }
  const weighted = (share: (phase: CpuUsage) => number | null): number | null => {
    if (seconds === 0 || phases.some((phase) => share(phase) === null)) return null;
    return phases.reduce((sum, phase) => sum + (share(phase) as number) * phase.seconds, 0) / seconds;
  };
  return {
    seconds,
    busyPercent: weighted((phase) => phase.busyPercent),
    stealPercent: weighted((phase) => phase.stealPercent),
    groups: [...groups].map(([group, used]) => ({ group, seconds: used })).sort((a, b) => b.seconds - a.seconds),
  };
}
