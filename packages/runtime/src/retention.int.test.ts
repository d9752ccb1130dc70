import { RATE_CDR } from '@khata/process-managers';
import { schedulerMigrations } from '@khata/scheduler';
import { createPgliteClient, createPostgresClient, migrate, type SqlClient, type SqlQueryable } from '@khata/sql';
import { createTestDatabase, describeWithService, postgres, type TestDatabase } from '@khata/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { httpMigrations } from './http-schema.ts';
import { IDEMPOTENCY_KEY_RETENTION_HOURS, purgeExpired, Retention } from './retention.ts';

const HOUR_SECONDS = 3_600;
const DAY_SECONDS = 86_400;
const JOB_RETENTION_SECONDS = 30 * DAY_SECONDS;
const quietLog = { info: () => {}, error: () => {} };

/** Stores an idempotency key last written `ageSeconds` ago by the database's clock. */
async function idempotencyKey(db: SqlQueryable, key: string, ageSeconds: number, state = 'done'): Promise<void> {
  await db.query(
    `INSERT INTO api.idempotency_keys (principal, key, route, body_hash, state, created_at)
     VALUES ('user:test', $1, 'POST /api/v1/x', 'hash', $2, now() - make_interval(secs => $3))`,
    [key, state, ageSeconds],
  );
}

/** Stores a job in `status` that last changed `ageSeconds` ago by the database's clock. */
async function job(db: SqlQueryable, jobId: string, status: string, ageSeconds: number, kind = 'test'): Promise<void> {
  await db.query(
    `INSERT INTO scheduler.jobs (job_id, kind, payload, due_at, status, max_attempts, created_at, updated_at)
     VALUES ($1, $4, '{}', now() - make_interval(secs => $3), $2, 8,
             now() - make_interval(secs => $3), now() - make_interval(secs => $3))`,
    [jobId, status, ageSeconds, kind],
  );
}

async function keysLeft(db: SqlQueryable): Promise<string[]> {
  const rows = await db.query<{ key: string }>('SELECT key FROM api.idempotency_keys ORDER BY key');
  return rows.map((row) => row.key);
}

async function jobsLeft(db: SqlQueryable): Promise<string[]> {
  const rows = await db.query<{ job_id: string }>('SELECT job_id FROM scheduler.jobs ORDER BY job_id');
  return rows.map((row) => row.job_id);
}

const WAIT_MILLISECONDS = 10_000;

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + WAIT_MILLISECONDS;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function suite(name: string, open: () => Promise<SqlClient>): void {
  describe(`${name}: retention`, () => {
    let db: SqlClient;
    beforeAll(async () => {
      db = await open();
      await migrate(db, schedulerMigrations);
      await migrate(db, httpMigrations);
    });
    afterAll(async () => {
      await db?.close();
    });
    beforeEach(async () => {
      await db.exec('TRUNCATE api.idempotency_keys, scheduler.jobs');
    });

    it('deletes expired idempotency keys and old finished jobs, and keeps fresh, pending and failed ones', async () => {
      const expired = (IDEMPOTENCY_KEY_RETENTION_HOURS + 1) * HOUR_SECONDS;
      await idempotencyKey(db, 'expired-done', expired);
      await idempotencyKey(db, 'expired-in-progress', expired, 'in_progress');
      await idempotencyKey(db, 'fresh-done', HOUR_SECONDS);
      await idempotencyKey(db, 'nearly-expired', (IDEMPOTENCY_KEY_RETENTION_HOURS - 1) * HOUR_SECONDS);
      const old = JOB_RETENTION_SECONDS + DAY_SECONDS;
      await job(db, 'old-done', 'done', old);
      await job(db, 'old-cancelled', 'cancelled', old);
      await job(db, 'old-failed', 'failed', old);
      await job(db, 'old-pending', 'pending', old);
      await job(db, 'recent-done', 'done', JOB_RETENTION_SECONDS - DAY_SECONDS);
      await job(db, 'recent-cancelled', 'cancelled', DAY_SECONDS);
      // A CDR as the switch posted it: a record to keep, however old.
      await job(db, 'rate-cdr:old-call', 'done', old, RATE_CDR);

      const report = await purgeExpired(db, { finishedJobRetentionSeconds: JOB_RETENTION_SECONDS });

      expect(report).toEqual({ idempotencyKeys: 2, jobs: 2 });
      expect(await keysLeft(db)).toEqual(['fresh-done', 'nearly-expired']);
      expect(await jobsLeft(db)).toEqual([
        'old-failed',
        'old-pending',
        'rate-cdr:old-call',
        'recent-cancelled',
        'recent-done',
      ]);
      expect(await purgeExpired(db, { finishedJobRetentionSeconds: JOB_RETENTION_SECONDS })).toEqual({
        idempotencyKeys: 0,
        jobs: 0,
      });
    });

    it('deletes in statements of at most the batch size until a statement finds fewer', async () => {
      for (let index = 0; index < 10; index++) {
        await idempotencyKey(db, `expired-${index}`, (IDEMPOTENCY_KEY_RETENTION_HOURS + 1) * HOUR_SECONDS);
        await job(db, `old-${index}`, index % 2 === 0 ? 'done' : 'cancelled', JOB_RETENTION_SECONDS + DAY_SECONDS);
      }
      await idempotencyKey(db, 'fresh', HOUR_SECONDS);
      await job(db, 'recent', 'done', HOUR_SECONDS);
      const deletedPerStatement: number[] = [];
      const counting: SqlQueryable = {
        async query<Row>(text: string, params?: readonly unknown[]) {
          const rows = await db.query<Row>(text, params);
          if (text.includes('DELETE')) deletedPerStatement.push((rows[0] as { deleted: number }).deleted);
          return rows;
        },
        exec: (script) => db.exec(script),
        copyFrom: (target, data) => db.copyFrom(target, data),
      };

      const report = await purgeExpired(counting, {
        finishedJobRetentionSeconds: JOB_RETENTION_SECONDS,
        batchRowsMax: 3,
      });

      expect(report).toEqual({ idempotencyKeys: 10, jobs: 10 });
      expect(deletedPerStatement).toEqual([3, 3, 3, 1, 3, 3, 3, 1]);
      expect(await keysLeft(db)).toEqual(['fresh']);
      expect(await jobsLeft(db)).toEqual(['recent']);
    });

    it('deletes every old row exactly once when two workers purge at the same time', async () => {
      for (let index = 0; index < 10; index++) {
        await idempotencyKey(db, `expired-${index}`, (IDEMPOTENCY_KEY_RETENTION_HOURS + 1) * HOUR_SECONDS);
        await job(db, `old-${index}`, 'done', JOB_RETENTION_SECONDS + DAY_SECONDS);
      }
      const options = { finishedJobRetentionSeconds: JOB_RETENTION_SECONDS, batchRowsMax: 3 };

      const reports = await Promise.all([purgeExpired(db, options), purgeExpired(db, options)]);

      expect(reports.reduce((sum, report) => sum + report.idempotencyKeys, 0)).toBe(10);
      expect(reports.reduce((sum, report) => sum + report.jobs, 0)).toBe(10);
      expect(await keysLeft(db)).toEqual([]);
      expect(await jobsLeft(db)).toEqual([]);
    });

    it('purges when the worker starts, and counts what it deleted per table', async () => {
      await idempotencyKey(db, 'expired', (IDEMPOTENCY_KEY_RETENTION_HOURS + 1) * HOUR_SECONDS);
      await job(db, 'old-done', 'done', JOB_RETENTION_SECONDS + DAY_SECONDS);
      await job(db, 'old-cancelled', 'cancelled', JOB_RETENTION_SECONDS + DAY_SECONDS);
      const metrics = new Registry();
      const retention = new Retention({
        db,
        metrics,
        log: quietLog,
        finishedJobRetentionSeconds: JOB_RETENTION_SECONDS,
      });

      retention.start();
      await until(async () => (await jobsLeft(db)).length === 0, 'the first purge');
      await retention.stop();

      expect(await keysLeft(db)).toEqual([]);
      const text = await metrics.getSingleMetricAsString('khata_retention_deleted_total');
      expect(text).toContain('khata_retention_deleted_total{table="api.idempotency_keys"} 1');
      expect(text).toContain('khata_retention_deleted_total{table="scheduler.jobs"} 2');
    });

    it('stops a purge in progress after its current statement when the worker stops', async () => {
      for (let index = 0; index < 10; index++) {
        await idempotencyKey(db, `expired-${index}`, (IDEMPOTENCY_KEY_RETENTION_HOURS + 1) * HOUR_SECONDS);
        await job(db, `old-${index}`, 'done', JOB_RETENTION_SECONDS + DAY_SECONDS);
      }
      const retention = new Retention({
        db,
        metrics: new Registry(),
        log: quietLog,
        finishedJobRetentionSeconds: JOB_RETENTION_SECONDS,
        batchRowsMax: 3,
      });

      retention.start();
      await retention.stop();

      expect(await keysLeft(db)).toHaveLength(7);
      expect(await jobsLeft(db)).toHaveLength(10);
    });

    it('logs a failed purge instead of throwing it', async () => {
      const errors: string[] = [];
      const broken: SqlClient = Object.create(db, {
        query: { value: async () => Promise.reject(new Error('database unreachable')) },
      });
      const retention = new Retention({
        db: broken,
        metrics: new Registry(),
        log: { info: () => {}, error: (message) => errors.push(message) },
        finishedJobRetentionSeconds: JOB_RETENTION_SECONDS,
      });

      expect(await retention.runOnce()).toBeNull();
      expect(errors).toEqual(['retention purge failed']);
    });
  });
}

suite('pglite', () => createPgliteClient());

describeWithService(postgres(), 'retention on postgres', (serverUrl) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(serverUrl);
  });
  afterAll(async () => {
    await database?.drop();
  });
  suite('postgres', async () =>
    createPostgresClient({ connectionString: database.url, applicationName: 'khata-test-retention' }));
});
