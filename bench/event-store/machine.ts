import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import type { SqlClient } from '@khata/sql';

/** Where the numbers were measured: enough to judge whether another machine's numbers compare. */
export interface MachineDescription {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGibibytes: number;
  readonly nodeVersion: string;
  readonly postgresVersion: string;
  readonly postgresSettings: Readonly<Record<string, string>>;
  readonly emmettVersion: string;
  readonly pgliteVersion: string;
  readonly khataCommit: string;
}

/** The settings that decide what an append costs (WAL flush) and what a read costs (cache). */
const REPORTED_SETTINGS = ['fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'max_connections'];

function cpuModel(): string {
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function packageVersion(packageJsonUrl: URL): string {
  try {
    const parsed = JSON.parse(readFileSync(packageJsonUrl, 'utf8')) as { version?: unknown };
    return typeof parsed.version === 'string' ? parsed.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function khataCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: new URL('.', import.meta.url),
      encoding: 'utf8',
    }).trim();
  } catch {
    return 'unknown';
  }
}

export async function describeMachine(admin: SqlClient): Promise<MachineDescription> {
  const [version] = await admin.query<{ server_version: string }>('SHOW server_version');
  const settings = await admin.query<{ name: string; setting: string }>(
    `SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY($1::text[]) ORDER BY name`,
    [REPORTED_SETTINGS],
  );
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    memoryGibibytes: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    nodeVersion: process.version,
    postgresVersion: version?.server_version ?? 'unknown',
    postgresSettings: Object.fromEntries(settings.map((row) => [row.name, row.setting])),
    // Read from the installed packages, so the report names what actually ran.
    emmettVersion: packageVersion(
      new URL('../node_modules/@event-driven-io/emmett-postgresql/package.json', import.meta.url),
    ),
    pgliteVersion: packageVersion(
      new URL('../../packages/sql/node_modules/@electric-sql/pglite/package.json', import.meta.url),
    ),
    khataCommit: khataCommit(),
  };
}
