import type { MigrationSet, SqlClient, SqlQueryable } from '@khata/sql';

/**
 * Durable time-driven work (SPEC §2 process managers): jobs with a due time in PostgreSQL/PGlite,
 * claimed with `FOR UPDATE SKIP LOCKED` so several workers never run one job twice at once, retried with
 * bounded exponential back-off and jitter, and kept as `failed` after the last attempt for an operator.
 * Job ids are deterministic (`start-usage-month:<account>:<date>`), so scheduling is idempotent.
 */
export const schedulerMigrations: MigrationSet = {
  namespace: 'scheduler',
  migrations: [
    {
      version: 1,
      name: 'jobs',
      sql: `
CREATE SCHEMA IF NOT EXISTS scheduler;
CREATE TABLE scheduler.jobs (
  job_id       text        PRIMARY KEY,
  kind         text        NOT NULL,
  payload      jsonb       NOT NULL,
  due_at       timestamptz NOT NULL,
  status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed', 'cancelled')),
  attempts     integer     NOT NULL DEFAULT 0,
  max_attempts integer     NOT NULL,
  last_error   text,
  locked_by    text,
  locked_until timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due_idx ON scheduler.jobs (due_at) WHERE status = 'pending';`,
    },
    {
      version: 2,
      name: 'finished jobs by age',
      // Lets each batch of purgeFinishedJobs find its rows without scanning the jobs still to run.
      sql: `
CREATE INDEX jobs_finished_idx ON scheduler.jobs (updated_at) WHERE status IN ('done', 'cancelled');`,
    },
    {
      version: 3,
      name: 'pending jobs by account',
      // cancelAccountJobs runs for every subscription event; without it each call scans every pending job.
      sql: `
CREATE INDEX jobs_pending_account_idx ON scheduler.jobs (kind, (payload->>'accountId')) WHERE status = 'pending';`,
    },
  ],
};

export interface JobSpec {
  readonly jobId: string;
  readonly kind: string;
  readonly payload: { readonly [key: string]: unknown };
  readonly dueAt: Date;
  readonly maxAttempts?: number;
}

export interface Job extends JobSpec {
  readonly attempts: number;
}

export const JOB_ATTEMPTS_MAX_DEFAULT = 8;
export const CLAIM_BATCH_MAX = 50;
/** A claimed job not finished within this is offered again (its worker died). */
export const JOB_LOCK_SECONDS = 60;
const BACKOFF_SECONDS_BASE = 5;
const BACKOFF_SECONDS_MAX = 3_600;

/**
 * Schedules (or re-schedules) a job inside the caller's transaction — a process manager does it in the
 * same transaction as its checkpoint. A job that already ran is left alone.
 */
export async function scheduleJob(tx: SqlQueryable, job: JobSpec): Promise<void> {
  await tx.query(
    `INSERT INTO scheduler.jobs (job_id, kind, payload, due_at, max_attempts)
     VALUES ($1, $2, $3::jsonb, $4, $5)
     ON CONFLICT (job_id) DO UPDATE
       SET payload = EXCLUDED.payload, due_at = EXCLUDED.due_at, max_attempts = EXCLUDED.max_attempts,
           status = 'pending', updated_at = now()
     WHERE scheduler.jobs.status IN ('pending', 'cancelled')`,
    [job.jobId, job.kind, JSON.stringify(job.payload), job.dueAt, job.maxAttempts ?? JOB_ATTEMPTS_MAX_DEFAULT],
    { name: 'khata_schedule_job' },
  );
}

/** A job as a row of the JSON the scheduling statements read. */
function jobRow(job: JobSpec) {
  return {
    job_id: job.jobId,
    kind: job.kind,
    payload: job.payload,
    due_at: job.dueAt.toISOString(),
    max_attempts: job.maxAttempts ?? JOB_ATTEMPTS_MAX_DEFAULT,
  };
}

/** Jobs per scheduling statement in `scheduleNewJobs` and `scheduleJobs`: bounds the JSON parameter. */
export const SCHEDULE_JOBS_PER_STATEMENT_MAX = 1_000;

/**
 * Schedules each job whose id is not in the table yet, whatever the status of the one that is: for jobs whose id
 * names their due time (a sweep of an account at a time), where a job that exists is already the right one. A job
 * already there writes nothing, so a process manager may ask for the same job with every event.
 */
export async function scheduleNewJobs(tx: SqlQueryable, specs: readonly JobSpec[]): Promise<void> {
  const byId = new Map<string, JobSpec>();
  for (const spec of specs) if (!byId.has(spec.jobId)) byId.set(spec.jobId, spec);
  await insertJobs(tx, [...byId.values()], 'keep');
}

/**
 * `scheduleJob` for many jobs, one statement per SCHEDULE_JOBS_PER_STATEMENT_MAX of them: the jobs end up as they
 * would after a `scheduleJob` for each in turn (of a repeated id, the last spec counts).
 */
export async function scheduleJobs(tx: SqlQueryable, specs: readonly JobSpec[]): Promise<void> {
  const byId = new Map<string, JobSpec>();
  for (const spec of specs) byId.set(spec.jobId, spec);
  await insertJobs(tx, [...byId.values()], 'reschedule');
}

const ON_JOB_CONFLICT = {
  keep: 'DO NOTHING',
  // As scheduleJob: a job that already ran (or failed) is left alone.
  reschedule: `DO UPDATE
         SET payload = EXCLUDED.payload, due_at = EXCLUDED.due_at, max_attempts = EXCLUDED.max_attempts,
             status = 'pending', updated_at = now()
       WHERE scheduler.jobs.status IN ('pending', 'cancelled')`,
} as const;

/** Inserts jobs of distinct ids, SCHEDULE_JOBS_PER_STATEMENT_MAX per statement; `conflict` says what a job already there becomes. */
async function insertJobs(tx: SqlQueryable, jobs: readonly JobSpec[], conflict: keyof typeof ON_JOB_CONFLICT) {
  for (let start = 0; start < jobs.length; start += SCHEDULE_JOBS_PER_STATEMENT_MAX) {
    const rows = jobs.slice(start, start + SCHEDULE_JOBS_PER_STATEMENT_MAX).map(jobRow);
    // In job id order, so two statements touching overlapping jobs wait for each other in the same order.
    await tx.query(
      `INSERT INTO scheduler.jobs (job_id, kind, payload, due_at, max_attempts)
       SELECT j.job_id, j.kind, j.payload, j.due_at, j.max_attempts
         FROM jsonb_to_recordset($1::jsonb)
           AS j(job_id text, kind text, payload jsonb, due_at timestamptz, max_attempts integer)
        ORDER BY j.job_id
       ON CONFLICT (job_id) ${ON_JOB_CONFLICT[conflict]}`,
      [JSON.stringify(rows)],
      { name: `khata_insert_jobs_${conflict}` },
    );
  }
}

/**
 * Cancels a pending job; one that is running right now finishes (its result stands). Not a prepared statement (nor
 * `cancelJobs`): a generic plan made while `scheduler.jobs` was small would read the whole table for as long as the
 * connection lives; planned each time, the job is found by its key.
 */
export async function cancelJob(tx: SqlQueryable, jobId: string): Promise<void> {
  await tx.query(
    `UPDATE scheduler.jobs SET status = 'cancelled', updated_at = now()
      WHERE job_id = $1 AND status = 'pending' AND locked_by IS NULL`,
    [jobId],
  );
}

/** Job ids per cancelling statement: bounds the array parameter. */
export const CANCEL_JOBS_PER_STATEMENT_MAX = 5_000;

/** `cancelJob` for many jobs at once: one statement per CANCEL_JOBS_PER_STATEMENT_MAX ids. */
export async function cancelJobs(tx: SqlQueryable, jobIds: readonly string[]): Promise<void> {
  for (let start = 0; start < jobIds.length; start += CANCEL_JOBS_PER_STATEMENT_MAX) {
    await tx.query(
      `UPDATE scheduler.jobs SET status = 'cancelled', updated_at = now()
        WHERE job_id = ANY($1::text[]) AND status = 'pending' AND locked_by IS NULL`,
      [jobIds.slice(start, start + CANCEL_JOBS_PER_STATEMENT_MAX)],
    );
  }
}

/** Cancels the pending jobs of a kind whose payload names the account (a subscription that ended). */
export async function cancelAccountJobs(tx: SqlQueryable, kind: string, accountId: string): Promise<void> {
  await tx.query(
    `UPDATE scheduler.jobs SET status = 'cancelled', updated_at = now()
      WHERE kind = $1 AND status = 'pending' AND locked_by IS NULL AND payload->>'accountId' = $2`,
    [kind, accountId],
  );
}

/** `cancelAccountJobs` for many accounts: one statement per CANCEL_JOBS_PER_STATEMENT_MAX of them. */
export async function cancelAccountsJobs(tx: SqlQueryable, kind: string, accountIds: readonly string[]): Promise<void> {
  for (let start = 0; start < accountIds.length; start += CANCEL_JOBS_PER_STATEMENT_MAX) {
    await tx.query(
      `UPDATE scheduler.jobs SET status = 'cancelled', updated_at = now()
        WHERE kind = $1 AND status = 'pending' AND locked_by IS NULL AND payload->>'accountId' = ANY($2::text[])`,
      [kind, accountIds.slice(start, start + CANCEL_JOBS_PER_STATEMENT_MAX)],
    );
  }
}

/** Rows one purging statement deletes at most: each statement's locks are short-lived. */
export const PURGE_BATCH_ROWS_MAX = 10_000;
/** Statements one purge runs at most; what is left waits for the next purge. */
export const PURGE_BATCHES_MAX = 1_000;

export interface PurgeOptions {
  /** Age (since the row last changed, by the database's clock) beyond which a row is deleted. */
  readonly retentionSeconds: number;
  /** Rows per statement (default PURGE_BATCH_ROWS_MAX; tests use a few). */
  readonly batchRowsMax?: number;
  /** Kinds whose finished jobs are records in their own right and are never purged. */
  readonly keepKinds?: readonly string[];
  /** Stops the purge after the statement running when it aborts (a worker shutting down). */
  readonly signal?: AbortSignal;
}

/**
 * Deletes jobs that finished (`done`, `cancelled`) more than `retentionSeconds` ago, in statements of at most
 * `batchRowsMax` rows; returns how many went. `failed` jobs stay until an operator deals with them. Deleting
 * a finished job forgets that it ran: were the same job id scheduled again, it would run again, which every
 * handler tolerates (its commands are idempotent by state or by event id, see @khata/process-managers).
 * Rows are aged by the database's clock, which is what stamps `updated_at`.
 */
export async function purgeFinishedJobs(db: SqlQueryable, options: PurgeOptions): Promise<number> {
  const batchRowsMax = options.batchRowsMax ?? PURGE_BATCH_ROWS_MAX;
  assertPositiveInteger(batchRowsMax, 'batchRowsMax');
  let deleted = 0;
  for (let batch = 0; batch < PURGE_BATCHES_MAX && options.signal?.aborted !== true; batch++) {
    // The batch is picked once (MATERIALIZED: a LIMIT in an `IN (subquery)` may run again per row and delete
    // more) and locked as it is picked, skipping rows another worker holds; locked rows cannot move, so the
    // delete finds them by ctid (a TID scan, where a join on job_id may scan the table).
    const [row] = await db.query<{ deleted: number }>(
      `WITH batch AS MATERIALIZED (
         SELECT ctid FROM scheduler.jobs
          WHERE status IN ('done', 'cancelled') AND updated_at < now() - make_interval(secs => $1)
            AND kind <> ALL ($3::text[])
          LIMIT $2
          FOR UPDATE SKIP LOCKED
       ), gone AS (
         DELETE FROM scheduler.jobs WHERE ctid = ANY (ARRAY(SELECT ctid FROM batch)) RETURNING 1
       )
       SELECT count(*)::integer AS deleted FROM gone`,
      [options.retentionSeconds, batchRowsMax, options.keepKinds ?? []],
    );
    const count = row?.deleted ?? 0;
    deleted += count;
    if (count < batchRowsMax) break;
  }
  return deleted;
}

function assertPositiveInteger(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer; got ${value}`);
}

export type JobHandler = (job: Job) => Promise<void>;

export interface SchedulerOptions {
  readonly db: SqlClient;
  readonly workerId: string;
  readonly handlers: { readonly [kind: string]: JobHandler };
  /** The scheduler's clock (injected so tests can move time). */
  readonly clock: () => Date;
  readonly pollIntervalMs?: number;
  readonly log?: { warn(message: string, fields?: Record<string, unknown>): void };
}

interface JobRow {
  job_id: string;
  kind: string;
  payload: { [key: string]: unknown };
  due_at: Date;
  attempts: number;
  max_attempts: number;
}

export class Scheduler {
  readonly #options: SchedulerOptions;
  #abort: AbortController | null = null;
  #done: Promise<void> = Promise.resolve();

  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#abort !== null) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#done = this.#loop(abort.signal);
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    this.#abort = null;
    await this.#done;
  }

  /** Claims and runs the jobs due now; returns how many ran (tests call this directly). */
  async runDue(): Promise<number> {
    const { db, workerId, clock } = this.#options;
    const now = clock();
    const claimed = await db.query<JobRow>(
      `WITH due AS (
         SELECT job_id FROM scheduler.jobs
          WHERE status = 'pending' AND due_at <= $1 AND (locked_until IS NULL OR locked_until < $1)
          ORDER BY due_at
          LIMIT $3
          FOR UPDATE SKIP LOCKED
       )
       UPDATE scheduler.jobs AS j
          SET locked_by = $2, locked_until = $1::timestamptz + make_interval(secs => $4), attempts = j.attempts + 1, updated_at = now()
         FROM due WHERE j.job_id = due.job_id
       RETURNING j.job_id, j.kind, j.payload, j.due_at, j.attempts, j.max_attempts`,
      [now, workerId, CLAIM_BATCH_MAX, JOB_LOCK_SECONDS],
    );
    for (const row of claimed) await this.#run(row);
    return claimed.length;
  }

  async #run(row: JobRow): Promise<void> {
    const { db, handlers, clock, log } = this.#options;
    const handler = handlers[row.kind];
    try {
      if (handler === undefined) throw new Error(`no handler for jobs of kind ${row.kind}`);
      await handler({
        jobId: row.job_id,
        kind: row.kind,
        payload: row.payload,
        dueAt: row.due_at,
        attempts: row.attempts,
        maxAttempts: row.max_attempts,
      });
      // Rescheduled while it ran (e.g. a reservation extended during its expiry): stay pending for the new time.
      await db.query(
        `UPDATE scheduler.jobs
            SET status = CASE WHEN due_at = $2 THEN 'done' ELSE 'pending' END,
                locked_by = NULL, locked_until = NULL, last_error = NULL, updated_at = now()
          WHERE job_id = $1 AND status = 'pending'`,
        [row.job_id, row.due_at],
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const finalAttempt = row.attempts >= row.max_attempts;
      // Exponential back-off with full jitter, bounded.
      const ceiling = Math.min(BACKOFF_SECONDS_BASE * 2 ** (row.attempts - 1), BACKOFF_SECONDS_MAX);
      const retryAt = new Date(clock().getTime() + Math.ceil(Math.random() * ceiling * 1000));
      await db.query(
        `UPDATE scheduler.jobs
            SET status = $2, due_at = $3, last_error = $4, locked_by = NULL, locked_until = NULL, updated_at = now()
          WHERE job_id = $1`,
        [row.job_id, finalAttempt ? 'failed' : 'pending', retryAt, message],
      );
      log?.warn('scheduled job failed', {
        jobId: row.job_id,
        attempts: row.attempts,
        final: finalAttempt,
        error: message,
      });
    }
  }

  async #loop(signal: AbortSignal): Promise<void> {
    const interval = this.#options.pollIntervalMs ?? 1_000;
    while (!signal.aborted) {
      let ran = 0;
      try {
        ran = await this.runDue();
      } catch (error) {
        this.#options.log?.warn('scheduler round failed', { error: String(error) });
      }
      if (ran < CLAIM_BATCH_MAX) await sleep(interval, signal);
    }
  }
}

export async function jobs(db: SqlQueryable, filter: { readonly status?: string; readonly kind?: string } = {}) {
  return db.query<{
    job_id: string;
    kind: string;
    status: string;
    due_at: Date;
    attempts: number;
    last_error: string | null;
    payload: unknown;
  }>(
    `SELECT job_id, kind, status, due_at, attempts, last_error, payload FROM scheduler.jobs
      WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2) ORDER BY due_at, job_id`,
    [filter.status ?? null, filter.kind ?? null],
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
