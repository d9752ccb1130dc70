import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * An embedded database directory may be opened by one process at a time: PGlite keeps the database in
 * the process's memory and writes it back, so two processes on one directory would overwrite each
 * other. The lock is a file beside the directory holding the owner's pid; a lock whose process is gone
 * is taken over.
 */
export class DataDirectoryInUse extends Error {
  override readonly name = 'DataDirectoryInUse';
  readonly pid: number;

  constructor(dataDir: string, pid: number) {
    super(`the embedded database ${dataDir} is in use by process ${pid} (stop it, or point KHATA_DATA_DIR elsewhere)`);
    this.pid = pid;
  }
}

export function lockPath(dataDir: string): string {
  return `${dataDir.replace(/\/+$/, '')}.lock`;
}

/** The pid holding the directory, or null when it is free (or its holder has died). */
export function dataDirectoryHolder(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(lockPath(dataDir), 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  if (pid === process.pid) return pid;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/** Takes the directory's lock; returns the function that releases it. */
export function lockDataDirectory(dataDir: string): () => void {
  const path = lockPath(dataDir);
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = dataDirectoryHolder(dataDir);
      if (holder !== null) throw new DataDirectoryInUse(dataDir, holder);
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}
