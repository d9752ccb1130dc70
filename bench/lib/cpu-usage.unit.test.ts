import { describe, expect, it } from 'vitest';
import { type CpuSnapshot, cpuSnapshot, cpuUsage, cpuUsageOfPhases } from './cpu-usage.ts';

const snapshot = (at: number, machine: CpuSnapshot['machine'], processes: [number, string, number][]): CpuSnapshot => ({
  at,
  machine,
  processes: new Map(processes.map(([pid, group, ticks]) => [pid, { group, ticks }])),
});

describe('cpu usage', () => {
  it('sums each group’s CPU seconds over the phase and the machine’s busy and stolen shares', () => {
    const before = snapshot(1_000, { total: 1_000, idle: 600, steal: 10 }, [
      [1, 'connector', 500],
      [2, 'postgresql', 100],
      [3, 'postgresql', 50],
    ]);
    // 10 s on two cores: 2,000 jiffies, of which 700 idle and 100 stolen. Process 4 started meanwhile; 3 ended.
    const after = snapshot(11_000, { total: 3_000, idle: 1_300, steal: 110 }, [
      [1, 'connector', 1_300],
      [2, 'postgresql', 700],
      [4, 'postgresql', 150],
    ]);
    expect(cpuUsage(before, after)).toEqual({
      seconds: 10,
      busyPercent: 60,
      stealPercent: 5,
      groups: [
        { group: 'connector', seconds: 8 },
        { group: 'postgresql', seconds: 7.5 },
      ],
    });
  });

  it('adds consecutive phases: seconds per group summed, shares weighted by each phase’s length', () => {
    const first = {
      seconds: 30,
      busyPercent: 90,
      stealPercent: 1,
      groups: [
        { group: 'postgresql', seconds: 20 },
        { group: 'api', seconds: 15 },
      ],
    };
    const second = {
      seconds: 10,
      busyPercent: 70,
      stealPercent: 0,
      groups: [
        { group: 'worker', seconds: 12 },
        { group: 'postgresql', seconds: 6 },
      ],
    };
    expect(cpuUsageOfPhases(first, second)).toEqual({
      seconds: 40,
      busyPercent: 85,
      stealPercent: 0.75,
      groups: [
        { group: 'postgresql', seconds: 26 },
        { group: 'api', seconds: 15 },
        { group: 'worker', seconds: 12 },
      ],
    });
    // A phase whose machine share could not be read leaves the whole share unknown.
    expect(cpuUsageOfPhases(first, { ...second, busyPercent: null }).busyPercent).toBeNull();
  });

  it('reads this process from /proc', () => {
    const classify = (pid: number) => (pid === process.pid ? 'self' : null);
    const before = cpuSnapshot(classify);
    const until = performance.now() + 150;
    let spin = 0;
    while (performance.now() < until) spin += Math.sqrt(spin + 1);
    const usage = cpuUsage(before, cpuSnapshot(classify));
    expect(spin).toBeGreaterThan(0);
    expect(usage.groups.map((group) => group.group)).toEqual(['self']);
    expect(usage.groups[0]?.seconds).toBeGreaterThan(0.05);
    expect(usage.busyPercent).toBeGreaterThan(0);
  });
});
