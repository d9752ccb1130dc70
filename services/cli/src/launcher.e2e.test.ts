/**
 * The `./khata` launcher's own checks, before it hands over to Node (its heap bound for `start` is checked by
 * start.e2e.test.ts on the running server).
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const LAUNCHER = join(resolve(import.meta.dirname, '../../..'), 'khata');

describe('./khata launcher', () => {
  it('refuses a KHATA_HEAP_MB that is not a whole number of MiB before starting anything', () => {
    for (const value of ['x', '160MB', '-1', '1.5']) {
      const run = spawnSync(LAUNCHER, ['start'], {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KHATA_HEAP_MB: value },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(run.status, value).toBe(2);
      expect(run.stderr).toContain(`KHATA_HEAP_MB must be a whole number of MiB (0 for V8's default), not '${value}'`);
      expect(run.stdout).toBe('');
    }
  });

  it('leaves other commands without the heap bound', () => {
    // `help` runs through the same launcher; a bad KHATA_HEAP_MB matters to `start` only.
    const run = spawnSync(LAUNCHER, ['help'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', KHATA_HEAP_MB: 'x' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('usage: khata <command>');
  });
});
