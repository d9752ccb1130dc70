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
  scheduleNewJobs,
  schedulerMigrations,
} from '@khata/scheduler';
import { createPgliteClient, createPostgresClient, migrate, type SqlClient, type SqlQueryable } from '@khata/sql';
import { createTestDatabase, describeWithService, postgres, type TestDatabase } from '@khata/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jobHandlers } from './jobs.ts';
import { processManagers, renewalManager, usageMonthManager } from './managers.ts';

const START = Date.parse('2026-11-02T04:30:00.000Z'); // 10:00 IST
const INDIA = '+919845012345';

function suite(name: string, open: () => Promise<{ db: SqlClient; close(): Promise<void> }>) {
  describe(`${name}: process managers and the scheduler`, { timeout: 60_000 }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setUp(options: { readonly projector?: boolean } = {}) {
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
      if (options.projector !== false) {
        projector.start();
        cleanups.push(() => projector.stop());
      }
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

    it('expires reservations whose CDR never came by one sweep of the account at the end of their minute', async () => {
      const { db, ledger, scheduler, accountId, run, settle, setNow } = await setUp();
      await run('StartCall', { callId: 'lost-1', destination: INDIA, at: new Date(START).toISOString() });
      await run('StartCall', { callId: 'lost-2', destination: INDIA, at: new Date(START + 5_000).toISOString() });
      await settle();
      const expiries = [...(await ledger.load(accountId)).state.reservations.values()].map((r) =>
        Date.parse(r.expiresAt),
      );
      const sweeps = await jobs(db, { kind: 'expire-reservations' });
      const minutes = new Set(expiries.map((ms) => Math.ceil(ms / 60_000) * 60_000));
      expect(sweeps.length).toBe(minutes.size);
      for (const sweep of sweeps) {
        const dueAt = (sweep as { due_at: Date }).due_at;
        expect(sweep).toMatchObject({
          job_id: `expire-reservations:${accountId}:${dueAt.toISOString()}`,
          status: 'pending',
          payload: { accountId, dueBy: dueAt.toISOString() },
        });
        expect(dueAt.getTime() % 60_000).toBe(0);
      }
      const last = Math.max(...minutes);
      expect(last - Math.max(...expiries)).toBeLessThan(60_000);
      setNow(Math.min(...expiries) - 1_000);
      expect(await scheduler.runDue()).toBe(0);
      setNow(last);
      expect(await scheduler.runDue()).toBe(sweeps.length);
      expect((await ledger.load(accountId)).state.reservations.size).toBe(0);
      expect((await jobs(db, { kind: 'expire-reservations' })).map((job) => job.status)).toEqual(
        sweeps.map(() => 'done'),
      );
      expect(await scheduler.runDue()).toBe(0);
    });

    it('leaves a rated call to the sweep, which finds nothing to release', async () => {
      const { db, ledger, scheduler, accountId, run, settle, setNow } = await setUp();
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
      const [sweep] = await jobs(db, { kind: 'expire-reservations' });
      const { version } = await ledger.load(accountId);
      setNow((sweep as { due_at: Date }).due_at.getTime());
      expect(await scheduler.runDue()).toBe(1);
      expect((await jobs(db, { kind: 'expire-reservations' }))[0]?.status).toBe('done');
      expect((await ledger.load(accountId)).version).toBe(version);
    });

    it('runs a sweep again while a reservation due by its time is not yet due by the ledger’s clock', async () => {
      const { db, ledger, scheduler, accountId, run, settle, setNow } = await setUp();
      await run('StartCall', { callId: 'skewed', destination: INDIA, at: new Date(START).toISOString() });
      await settle();
      const [reservation] = (await ledger.load(accountId)).state.reservations.values();
      const expiresAt = Date.parse((reservation as { expiresAt: string }).expiresAt);
      // As if the scheduler's host ran ahead of the ledger's: the job is claimed before the reservation's time.
      await db.query(`UPDATE scheduler.jobs SET due_at = $1 WHERE kind = 'expire-reservations'`, [
        new Date(expiresAt - 2_000),
      ]);
      setNow(expiresAt - 1_000);
      expect(await scheduler.runDue()).toBe(1);
      const [retried] = await jobs(db, { kind: 'expire-reservations' });
      expect(retried).toMatchObject({ status: 'pending', attempts: 1 });
      expect(retried?.last_error).toMatch(/^RESERVATION_NOT_EXPIRED/);
      expect((await ledger.load(accountId)).state.reservations.size).toBe(1);
      // Backed off: once both the retry and the reservation are due, it releases it.
      setNow(Math.max((retried as { due_at: Date }).due_at.getTime(), expiresAt));
      expect(await scheduler.runDue()).toBe(1);
      expect((await ledger.load(accountId)).state.reservations.size).toBe(0);
    });

    it('still runs a call’s own expiry job scheduled before the sweeps', async () => {
      const { db, ledger, scheduler, accountId, run, setNow } = await setUp();
      await run('StartCall', { callId: 'older', destination: INDIA, at: new Date(START).toISOString() });
      const [reservation] = (await ledger.load(accountId)).state.reservations.values();
      const expiresAt = Date.parse((reservation as { expiresAt: string }).expiresAt);
      await scheduleJob(db, {
        jobId: `expire-reservation:${accountId}:older`,
        kind: 'expire-reservation',
        payload: { accountId, callId: 'older' },
        dueAt: new Date(expiresAt),
      });
      setNow(expiresAt);
      expect(await scheduler.runDue()).toBeGreaterThanOrEqual(1);
      expect((await jobs(db, { kind: 'expire-reservation' }))[0]?.status).toBe('done');
      expect((await ledger.load(accountId)).state.reservations.size).toBe(0);
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

    it('writes a batch of many accounts’ subscription events in two statements per manager, with the jobs one per event would leave', async () => {
      // The managers are applied by hand here, to one batch holding every account's events.
      const { db, store, ledger, accountId: subscribed } = await setUp({ projector: false });
      const execute = async (accountId: string, type: string, fields: object) => {
        const outcome = await ledger.execute(
          { type, commandId: randomUUID(), accountId, ...fields },
          { actor: 'user:test' },
        );
        if (outcome.status !== 'accepted') throw new Error(`${type}: ${outcome.rejection.code}`);
      };
      const accounts = Array.from({ length: 12 }, () => randomUUID());
      const leaving = new Set(accounts.slice(0, 4));
      // A renewal already pending before the batch, for an account whose subscription the batch cancels.
      await scheduleJob(db, {
        jobId: `charge-subscription:${accounts[0]}:2026-11-20`,
        kind: 'charge-subscription',
        payload: { accountId: accounts[0], on: '2026-11-20' },
        dueAt: new Date('2026-11-19T18:30:00.000Z'),
      });
      for (const accountId of accounts) {
        await execute(accountId, 'OpenAccount', {
          legalName: 'Acme',
          contact: { name: 'Asha', email: 'a@acme.example', phone: '+91 98450 00000' },
          billingAddress: {
            line1: '1 MG Road',
            city: 'Bengaluru',
            stateCode: '29',
            postalCode: '560001',
            country: 'IN',
          },
          billingMode: 'prepaid',
        });
        await execute(accountId, 'TopUpWallet', { amount: '5900.00' });
        await execute(accountId, 'Subscribe', { planId: 'professional', cycle: 'monthly' });
        if (leaving.has(accountId)) await execute(accountId, 'CancelSubscription', { when: 'now' });
      }
      const { events } = await store.readAll({ maxCount: 1_000 });
      let statements = 0;
      const counting: SqlQueryable = {
        query: (text, params, queryOptions) => {
          statements += 1;
          return db.query(text, params, queryOptions);
        },
        exec: (script) => db.exec(script),
        copyFrom: (target, data) => db.copyFrom(target, data),
      };
      const context = { schema: 'unused', memory: new Map<string, unknown>() };
      for (const manager of [renewalManager, usageMonthManager]) {
        statements = 0;
        await manager.apply(counting, events, context);
        expect({ manager: manager.name, statements }).toEqual({ manager: manager.name, statements: 2 });
      }
      const pending = async (kind: string) =>
        (await jobs(db, { kind, status: 'pending' })).map((job) => job.payload as { accountId: string; on: string });
      const staying = [subscribed, ...accounts.filter((accountId) => !leaving.has(accountId))];
      // Subscribed on 2026-11-02 and charged at once: the next charge and the next usage month are due on 2026-12-02.
      const expected = staying.map((accountId) => ({ accountId, on: '2026-12-02' }));
      const byAccount = (a: { accountId: string }, b: { accountId: string }) => a.accountId.localeCompare(b.accountId);
      expect((await pending('charge-subscription')).sort(byAccount)).toEqual(expected.sort(byAccount));
      expect((await pending('start-usage-month')).sort(byAccount)).toEqual(expected.sort(byAccount));
      expect(
        (await jobs(db, { kind: 'charge-subscription' })).find((job) => job.job_id.endsWith(':2026-11-20')),
      ).toMatchObject({ status: 'cancelled' });
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

    it('schedules many new jobs in one call, past one statement’s bound, and leaves every job already there alone', async () => {
      const { db } = await setUp();
      const at = (minutes: number) => new Date(START + minutes * 60_000);
      const spec = (jobId: string, minutes: number) => ({
        jobId,
        kind: 'bulk',
        payload: { jobId, minutes },
        dueAt: at(minutes),
      });
      await scheduleJob(db, spec('done', 1));
      await scheduleJob(db, spec('cancelled', 1));
      await scheduleJob(db, spec('pending', 1));
      await db.query(`UPDATE scheduler.jobs SET status = 'done' WHERE job_id = 'done'`);
      await cancelJobs(db, ['cancelled']);
      const many = Array.from({ length: SCHEDULE_JOBS_PER_STATEMENT_MAX + 1 }, (_, i) => spec(`job-${i}`, 5));
      const extra = [spec('done', 9), spec('cancelled', 9), spec('pending', 9), spec('twice', 2), spec('twice', 3)];
      await scheduleNewJobs(db, [...many, ...extra]);
      const rows = await jobs(db, { kind: 'bulk' });
      expect(rows.length).toBe(SCHEDULE_JOBS_PER_STATEMENT_MAX + 5);
      const byId = new Map(rows.map((row) => [row.job_id, row]));
      expect(byId.get('done')).toMatchObject({ status: 'done', due_at: at(1) });
      expect(byId.get('cancelled')).toMatchObject({ status: 'cancelled', due_at: at(1) });
      expect(byId.get('pending')).toMatchObject({ status: 'pending', due_at: at(1), payload: { minutes: 1 } });
      // A repeated id keeps its first spec, as the table would.
      expect(byId.get('twice')).toMatchObject({ status: 'pending', due_at: at(2), payload: { minutes: 2 } });
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
