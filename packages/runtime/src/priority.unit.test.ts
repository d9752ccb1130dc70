import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';

/** Runs lowerPriority in a child process (a nice value, once raised, cannot be lowered again without privileges). */
function inChild(startAt: number, nice: number): unknown {
  const script = `
    import { setPriority } from 'node:os';
    import { lowerPriority } from ${JSON.stringify(new URL('./priority.ts', import.meta.url).href)};
    setPriority(${startAt});
    process.stdout.write(JSON.stringify(lowerPriority(${nice})));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(child.stderr);
  return JSON.parse(child.stdout);
}

it('lowers the priority of the process to the nice value asked for', () => {
  expect(inChild(0, 10)).toEqual({ from: 0, to: 10 });
});

it('never raises the priority of a process already nicer than asked', () => {
  expect(inChild(15, 10)).toEqual({ from: 15, to: 15 });
  expect(inChild(10, 10)).toEqual({ from: 10, to: 10 });
});
