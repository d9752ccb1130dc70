/**
 * @khata/testing — what integration tests share: throwaway PostgreSQL databases and Redis key spaces
 * on the services named by DATABASE_URL / REDIS_URL, and the rule for when they are missing.
 *
 * Without DATABASE_URL (or REDIS_URL) a test that needs the service is reported as skipped, with the
 * reason in its name; with KHATA_REQUIRE_SERVICES=1 (CI) it fails instead, so CI can never pass by
 * silently skipping.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';

export const servicesRequired = process.env.KHATA_REQUIRE_SERVICES === '1';

export interface ServiceAvailability {
  readonly url: string | undefined;
  /** Why the service's tests do not run, when they do not. */
  readonly missing: string | undefined;
}

function availability(variable: 'DATABASE_URL' | 'REDIS_URL' | 'EVENTSTORE_URL'): ServiceAvailability {
  const url = process.env[variable];
  if (url !== undefined && url !== '') return { url, missing: undefined };
  return { url: undefined, missing: `${variable} is not set` };
}

export const postgres = (): ServiceAvailability => availability('DATABASE_URL');
export const redis = (): ServiceAvailability => availability('REDIS_URL');

/**
 * `describe` for tests that need a service. When it is unavailable the block is skipped with the reason
 * in its title; when services are required, a failing test takes its place.
 */
export function describeWithService(
  service: ServiceAvailability,
  title: string,
  body: (url: string) => void,
  options: { readonly required?: boolean } = {},
): void {
  const { url, missing } = service;
  if (url !== undefined) {
    describe(title, () => body(url));
    return;
  }
  if (options.required ?? servicesRequired) {
    describe(title, () => {
      it(`needs its service: ${missing} (KHATA_REQUIRE_SERVICES=1)`, () => {
        throw new Error(`${title}: ${missing}, and KHATA_REQUIRE_SERVICES=1 forbids skipping`);
      });
    });
    return;
  }
  describe.skip(`${title} (skipped: ${missing})`, () => body(''));
}

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

// Databases left behind by a crashed run are dropped by a later run once they are this old.
const STALE_DATABASE_AGE_MS = 6 * 60 * 60 * 1000;

/**
 * Creates an empty database on the server of `serverUrl` (DATABASE_URL) for one test file, named
 * `khata_t_<epoch ms>_<random>` so that parallel test files never share one.
 */
export async function createTestDatabase(serverUrl: string): Promise<TestDatabase> {
  const now = Date.now();
  const name = `khata_t_${now}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await dropStaleDatabases(admin, now);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function dropStaleDatabases(admin: pg.Client, now: number): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE 'khata\\_t\\_%'",
  );
  for (const { datname } of rows) {
    const created = Number(datname.split('_')[2]);
    if (Number.isFinite(created) && now - created > STALE_DATABASE_AGE_MS) {
      await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => {});
    }
  }
}

/** A key prefix unique to one test file, for sharing one Redis between parallel files. */
export function testKeyPrefix(label: string): string {
  return `khata-test:${label}:${randomBytes(4).toString('hex')}:`;
}

const BLIP_WAIT_MS = 15_000;
const BLIP_POLL_MS = 10;

/**
 * A database blip under a reader, deterministically: locks `table` so that the next read of the connections
 * named `applicationName` waits, then terminates those backends while their query is in flight (what a
 * PostgreSQL restart or failover does to it). Returns how many backends were terminated.
 */
export async function terminateReadsOf(databaseUrl: string, applicationName: string, table: string): Promise<number> {
  const admin = new pg.Client({ connectionString: databaseUrl, application_name: 'khata-test-blip' });
  await admin.connect();
  try {
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    const deadline = performance.now() + BLIP_WAIT_MS;
    for (;;) {
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
        [applicationName],
      );
      // One by one: in a single WHERE clause PostgreSQL may call the function before it filters.
      for (const { pid } of rows) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      if (rows.length > 0) return rows.length;
      if (performance.now() > deadline) throw new Error(`no connection of ${applicationName} read ${table}`);
      await new Promise((resolve) => setTimeout(resolve, BLIP_POLL_MS));
    }
  } finally {
    await admin.query('ROLLBACK').catch(() => {});
    await admin.end();
  }
}

/** How a table was read and written so far, by PostgreSQL's cumulative statistics. */
export interface TableReads {
  /** Sequential scans of the table started. */
  readonly seqScans: number;
  /** Entries returned by scans of its indexes. */
  readonly indexEntriesRead: number;
  /** Rows inserted. */
  readonly inserted: number;
}

const STATISTICS_WAIT_MS = 15_000;
const STATISTICS_POLL_MS = 100;

/**
 * The statistics of `tables` (schema-qualified names) once `ready` holds for them. A backend reports what it did
 * when it ends, or when idle at most once a second, so a test closes the connections it measures and waits here for
 * their counts to arrive (`ready` checks what it expects, e.g. the rows they inserted).
 */
export async function reportedTableReads(
  databaseUrl: string,
  tables: readonly string[],
  ready: (reads: ReadonlyMap<string, TableReads>) => boolean = () => true,
): Promise<ReadonlyMap<string, TableReads>> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'khata-test-statistics' });
  await client.connect();
  try {
    const deadline = performance.now() + STATISTICS_WAIT_MS;
    for (;;) {
      const reads = new Map<string, TableReads>();
      for (const table of tables) {
        const { rows } = await client.query<{ seq_scan: string; entries: string; inserted: string }>(
          `SELECT t.seq_scan::text AS seq_scan, t.n_tup_ins::text AS inserted,
                  (SELECT coalesce(sum(i.idx_tup_read), 0) FROM pg_stat_user_indexes i WHERE i.relid = t.relid)::text
                    AS entries
             FROM pg_stat_user_tables t WHERE t.relid = $1::regclass`,
          [table],
        );
        const [row] = rows;
        if (row === undefined) throw new Error(`no statistics for ${table}`);
        reads.set(table, {
          seqScans: Number(row.seq_scan),
          indexEntriesRead: Number(row.entries),
          inserted: Number(row.inserted),
        });
      }
      if (ready(reads)) return reads;
      if (performance.now() > deadline) {
        throw new Error(`the statistics were not reported in time: ${JSON.stringify([...reads])}`);
      }
      await new Promise((resolve) => setTimeout(resolve, STATISTICS_POLL_MS));
    }
  } finally {
    await client.end();
  }
}

/**
 * `reportedTableReads` including everything one connection (`query` runs SQL on it, and only on it) has done so far:
 * it inserts a row into a marker table and asks PostgreSQL to report its statistics; a backend reports all its counts
 * at once, so once the marker's count has arrived, so has the rest. The connection stays open (its cached plans too).
 */
export async function tableReadsIncluding(
  databaseUrl: string,
  query: (text: string) => Promise<readonly unknown[]>,
  tables: readonly string[],
): Promise<ReadonlyMap<string, TableReads>> {
  const marker = 'public.khata_statistics_marker';
  await query(`CREATE TABLE IF NOT EXISTS ${marker} (n integer)`);
  const [row] = (await query(`INSERT INTO ${marker} SELECT count(*) + 1 FROM ${marker} RETURNING n`)) as {
    n: number;
  }[];
  await query('SELECT pg_stat_force_next_flush()');
  const markers = Number(row?.n);
  return reportedTableReads(databaseUrl, [...tables, marker], (reads) => reads.get(marker)?.inserted === markers);
}

/** What happened to `table` between two readings of the statistics: each counter's increase. */
export function readsBetween(
  before: ReadonlyMap<string, TableReads>,
  after: ReadonlyMap<string, TableReads>,
  table: string,
): TableReads {
  const from = before.get(table);
  const to = after.get(table);
  if (from === undefined || to === undefined) throw new Error(`no statistics for ${table} in both readings`);
  return {
    seqScans: to.seqScans - from.seqScans,
    indexEntriesRead: to.indexEntriesRead - from.indexEntriesRead,
    inserted: to.inserted - from.inserted,
  };
}
