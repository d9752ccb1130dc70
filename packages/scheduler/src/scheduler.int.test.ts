/**
 * Cancelling jobs finds them by key after `scheduler.jobs` has grown, whatever the connection planned while the table
 * was small (a prepared statement's generic plan lives as long as the connection, until the statistics change).
 */
import { createPostgresClient, migrate } from '@khata/sql';
import { createTestDatabase, describeWithService, postgres, readsBetween, tableReadsIncluding } from '@khata/testing';
import { expect, it } from 'vitest';
import { cancelJob, cancelJobs, scheduleJob, schedulerMigrations } from './scheduler.ts';

const JOBS = 'scheduler.jobs';
const DUE = new Date('2026-12-06T12:00:00.000Z');

describeWithService(postgres(), 'scheduler on postgres: cancelling by key', (serverUrl) => {
  it('never reads scheduler.jobs whole to cancel a job, with plans made while it held ten jobs', async () => {
    const own = await createTestDatabase(serverUrl);
    const session = createPostgresClient({
      connectionString: own.url,
      applicationName: 'khata-test',
      maxConnections: 1,
    });
    try {
      await migrate(session, schedulerMigrations);
      // Statistics stay as ANALYZE leaves them here: autovacuum would refresh them (and the plans) mid-test.
      await session.query(`ALTER TABLE ${JOBS} SET (autovacuum_enabled = off)`);
      for (let i = 1; i <= 10; i += 1)
        await scheduleJob(session, { jobId: `job-${i}`, kind: 'test', payload: {}, dueAt: DUE });
      await session.query(`ANALYZE ${JOBS}`);
      // More than five executions of each statement, so a prepared statement would settle on a plan for ten rows.
      for (let i = 1; i <= 8; i += 1) {
        await cancelJob(session, `job-${i}`);
        await cancelJobs(session, [`job-${i}`, 'job-10']);
      }
      await session.query(
        `INSERT INTO ${JOBS} (job_id, kind, payload, due_at, max_attempts)
         SELECT 'bulk-' || g, 'test', '{}', $1, 3 FROM generate_series(1, 50000) g`,
        [DUE.toISOString()],
      );
      const before = await tableReadsIncluding(own.url, (text) => session.query(text), [JOBS]);
      await cancelJob(session, 'bulk-7');
      await cancelJobs(session, ['bulk-8', 'bulk-49999']);
      const after = await tableReadsIncluding(own.url, (text) => session.query(text), [JOBS]);
      const [cancelled] = await session.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${JOBS} WHERE job_id LIKE 'bulk-%' AND status = 'cancelled'`,
      );
      expect(cancelled?.n).toBe(3);
      const { seqScans, indexEntriesRead } = readsBetween(before, after, JOBS);
      // A lookup reads an entry or two; a walk of the whole key would read 50,000.
      expect({ seqScans, fewEntries: indexEntriesRead < 100 }).toEqual({ seqScans: 0, fewEntries: true });
    } finally {
      await session.close();
      await own.drop();
    }
  });
});
