import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataDirectoryInUse, dataDirectoryHolder, lockDataDirectory, lockPath } from './lock.ts';

describe('embedded data directory lock', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'khata-lock-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lets one holder in, refuses a second with the holder pid, and frees on release', () => {
    const dir = join(root, 'data');
    const release = lockDataDirectory(dir);
    expect(dataDirectoryHolder(dir)).toBe(process.pid);
    expect(() => lockDataDirectory(dir)).toThrow(DataDirectoryInUse);
    release();
    expect(dataDirectoryHolder(dir)).toBeNull();
    lockDataDirectory(dir)();
  });

  it('takes over a lock left by a process that no longer exists', async () => {
    const dir = join(root, 'data');
    await writeFile(lockPath(dir), '999999999\n');
    expect(dataDirectoryHolder(dir)).toBeNull();
    const release = lockDataDirectory(dir);
    expect(dataDirectoryHolder(dir)).toBe(process.pid);
    release();
  });
});
