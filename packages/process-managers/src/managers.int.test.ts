import { randomUUID } from 'node:crypto';
import { eventStoreMigrations, SqlEventStore } from '@khata/event-store';
import { Ledger, ledgerMigrations, SqlCommandLog, SqlSnapshotStore } from '@khata/ledger';
import { catalogRules } from '@khata/ledger/testing';
import { Projector } from '@khata/projector';
import {
  cancelJobs,
  jobs,
  SCHEDULE_JOBS_PER_STATEMENT_MAX,
  Scheduler,
  scheduleJob,
  scheduleJobs,
  schedulerMigrations,
} from '@khata/scheduler';
import { createPgliteClient, createPostgresClient, migrate, type SqlClient } from '@khata/sql';
import { createTestDatabase, describeWithService, postgres, type TestDatabase } from '@khata/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jobHandlers } from './jobs.ts';
import { processManagers } from './managers.ts';

const START = Date.parse('2026-11-02T04:30:00.000Z'); // 10:00 IST
const INDIA = '+919845012345';

function suite(name: string, open: () => Promise<{ db: SqlClient; close(): Promise<void> }>) {
  describe(`${name}: process managers and the scheduler`, { timeout: 60_000 }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setUp() {
      const { db, close } = await open();
      cleanups.push(close);
      for (const set of [eventStoreMigrations, ledgerMigrations, schedulerMigrations]) await migrate(db, set);
      const store = await SqlEventStore.open(db, { ownsClient: false });
      let now = START;
      const clock = () => new Date(now);
      const ledger = new Ledger({
        store,
        commandLog: new SqlCommandLog(db),
        snapshots: new SqlSnapshotStore(db),
        rules: catalogRules,
        clock,
      });
      await Projector.prepare(db, processManagers);
      const projector = new Projector({ store, db, projections: processManagers, workerId: 'w', renewIntervalMs: 50 });
      projector.start();
      cleanups.push(() => projector.stop());
      const scheduler = new Scheduler({
        db,
        workerId: 'w',
        clock,
        handlers: jobHandlers((c, m) => ledger.execute(c, m)),
      });
      const accountId = randomUUID();
      const run = async (type: string, fields: object) => {
        const outcome = await ledger.execute(
          { type, commandId: randomUUID(), accountId, ...fields },
          { actor: 'user:test' },
        );
        if (outcome.status !== 'accepted') throw new Error(`${type}: ${outcome.rejection.code}`);
      };
      await run('OpenAccount', {
        legalName: 'Acme',
        contact: { name: 'Asha', email: 'a@acme.example', phone: '+91 98450 00000' },
        billingAddress: { line1: '1 MG Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
        billingMode: 'prepaid',
      });
      await run('TopUpWallet', { amount: '5900.00' });
      await run('Subscribe', { planId: 'professional', cycle: 'monthly' });
      const settle = async () => projector.waitFor((await store.headPosition()) as never);
      return { db, store, ledger, scheduler, accountId, run, settle, setNow: (ms: number) => (now = ms) };
    }

    it('expires a reservation whose CDR never came, at its expiry time, once', async () => {
      const { db, ledger, scheduler, accountId, run, settle, setNow } = await setUp();
      await run('StartCall', { callId: 'lost', destination: INDIA, at: new Date(START).toISOString() });
      await settle();
      const [job] = await jobs(db, { kind: 'expire-reservation' });
      expect(job).toMatchObject({ job_id: `expire-reservation:${accountId}:lost`, status: 'pending' });
      const expiresAt = (job as { due_at: Date }).due_at.getTime();
      setNow(expiresAt - 1_000);
      expect(await scheduler.runDue()).toBe(0);
      setNow(expiresAt);
      expect(await scheduler.runDue()).toBe(1);
      expect((await ledger.load(accountId)).state.reservations.size).toBe(0);
      expect((await jobs(db, { kind: 'expire-reservation' }))[0]?.status).toBe('done');
      expect(await scheduler.runDue()).toBe(0);
    });

    it('cancels the expiry when the CDR arrives first', async () => {
      const { db, scheduler, run, settle, setNow } = await setUp();
      await run('StartCall', { callId: 'rated', destination: INDIA, at: new Date(START).toISOString() });
      await run('RateCdr', {
        cdr: {
          callId: 'rated',
          leg: 'A',
          destination: INDIA,
          startedAt: new Date(START).toISOString(),
          answeredAt: new Date(START).toISOString(),
          billableMilliseconds: 30_000,
        },
      });
      await settle();
      expect((await jobs(db, { kind: 'expire-reservation' }))[0]?.status).toBe('cancelled');
      setNow(START + 86_400_000);
      expect(await scheduler.runDue()).toBe(0);
    });

    it('renews the subscription at the next period start and resets the free minutes', async () => {
      const { db, ledger, scheduler, accountId, settle, setNow } = await setUp();
      await settle();
      const renewal = (await jobs(db, { kind: 'charge-subscription', status: 'pending' }))[0];
      expect(renewal?.payload).toEqual({ accountId, on: '2026-12-02' });
      expect((renewal as { due_at: Date }).due_at.toISOString()).toBe('2026-12-01T18:30:00.000Z'); // IST midnight
      setNow(Date.parse('2026-12-01T18:30:00.000Z'));
      expect(await scheduler.runDue()).toBe(2);
      const { state } = await ledger.load(accountId);
      expect(state.subscription).toMatchObject({ periodIndex: 1, periodStart: '2026-12-02', chargedThrough: 1 });
      expect(state.usageMonth).toMatchObject({ start: '2026-12-02', usedSeconds: 0 });
      await settle();
      expect((await jobs(db, { kind: 'charge-subscription', status: 'pending' }))[0]?.payload).toEqual({
        accountId,
        on: '2027-01-02',
      });
    });

    it('retries a failing job with back-off and marks it failed after its last attempt', async () => {
      const { db, setNow } = await setUp();
      let calls = 0;
      let round = 0;
      const failing = new Scheduler({
        db,
        workerId: 'f',
        // Each round is far enough in the future for any back-off to have passed.
        clock: () => new Date(START + round * 10_000_000),
        handlers: {
          flaky: async () => {
            calls += 1;
            throw new Error('gateway timeout');
          },
        },
      });
      await db.query(
        `INSERT INTO scheduler.jobs (job_id, kind, payload, due_at, max_attempts) VALUES ('flaky-1', 'flaky', '{}', $1, 3)`,
        [new Date(START)],
      );
      setNow(START);
      for (round = 0; round < 5; round += 1) await failing.runDue();
      const [job] = await jobs(db, { kind: 'flaky' });
      expect(calls).toBe(3);
      expect(job).toMatchObject({ status: 'failed', attempts: 3, last_error: 'gateway timeout' });
    });

    it('schedules many jobs in one call as scheduling each would, past one statement’s bound', async () => {
      const { db } = await setUp();
      const at = (minutes: number) => new Date(START + minutes * 60_000);
      const spec = (jobId: string, minutes: number) => ({
        jobId,
        kind: 'bulk',
        payload: { jobId },
        dueAt: at(minutes),
      });
      await scheduleJob(db, spec('done', 1));
      await scheduleJob(db, spec('cancelled', 1));
      await db.query(`UPDATE scheduler.jobs SET status = 'done' WHERE job_id = 'done'`);
      await cancelJobs(db, ['cancelled']);
      const many = Array.from({ length: SCHEDULE_JOBS_PER_STATEMENT_MAX + 1 }, (_, i) => spec(`job-${i}`, 5));
      await scheduleJobs(db, [...many, spec('done', 9), spec('cancelled', 9), spec('twice', 2), spec('twice', 3)]);
      const rows = await jobs(db, { kind: 'bulk' });
      expect(rows.length).toBe(SCHEDULE_JOBS_PER_STATEMENT_MAX + 4);
      const byId = new Map(rows.map((row) => [row.job_id, row]));
      // A job that ran is left alone; a cancelled one is pending again; the last spec of a repeated id wins.
      expect(byId.get('done')).toMatchObject({ status: 'done', due_at: at(1) });
      expect(byId.get('cancelled')).toMatchObject({ status: 'pending', due_at: at(9) });
      expect(byId.get('twice')).toMatchObject({ status: 'pending', due_at: at(3), payload: { jobId: 'twice' } });
      expect(byId.get(`job-${SCHEDULE_JOBS_PER_STATEMENT_MAX}`)).toMatchObject({ status: 'pending', due_at: at(5) });
    });

    it('never runs one job in two workers at once', async () => {
      const { db } = await setUp();
      const ran: string[] = [];
      const handlers = {
        slow: async (job: { jobId: string }) => {
          ran.push(job.jobId);
          await new Promise((resolve) => setTimeout(resolve, 20));
        },
      };
      for (let i = 0; i < 30; i += 1) {
        await db.query(
          `INSERT INTO scheduler.jobs (job_id, kind, payload, due_at, max_attempts) VALUES ($1, 'slow', '{}', $2, 3)`,
          [`slow-${i}`, new Date(START)],
        );
      }
      const a = new Scheduler({ db, workerId: 'a', clock: () => new Date(START), handlers });
      const b = new Scheduler({ db, workerId: 'b', clock: () => new Date(START), handlers });
      await Promise.all([a.runDue(), b.runDue(), a.runDue(), b.runDue()]);
      expect(ran.length).toBe(30);
      expect(new Set(ran).size).toBe(30);
    });
  });
}

suite('pglite', async () => {
  const db = await createPgliteClient();
  return { db, close: () => db.close() };
});

describeWithService(postgres(), 'process managers on postgres', (serverUrl) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(serverUrl);
  });
  afterAll(async () => {
    await database?.drop();
  });
  suite('postgres', async () => {
    const db = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' });
    await db
      .exec(
        'DROP SCHEMA IF EXISTS es, ledger, scheduler, projections CASCADE; DELETE FROM public.khata_migrations WHERE true',
      )
      .catch(() => {});
    return { db, close: () => db.close() };
  });
});
