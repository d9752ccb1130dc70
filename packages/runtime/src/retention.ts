import { RATE_CDR } from '@khata/process-managers';
import { PURGE_BATCH_ROWS_MAX, PURGE_BATCHES_MAX, purgeFinishedJobs } from '@khata/scheduler';
import type { SqlClient, SqlQueryable } from '@khata/sql';
import { Counter, type Registry } from 'prom-client';

/**
 * Retention of the operational tables that would otherwise grow forever: stored responses of idempotent
 * requests (`api.idempotency_keys`) and finished scheduler jobs (`scheduler.jobs`). Both are deleted in
 * statements of a bounded number of rows, so a purge never holds many locks for long, and both are aged by
 * the database's clock: it stamps the rows (`DEFAULT now()`), and Khata's injected clock may be a test's.
 */

/**
 * How long the API keeps an idempotency key and its stored response (draft-ietf-httpapi-idempotency-key-header
 * leaves it to the server). A key older than this is expired: reusing it runs the request again.
 */
export const IDEMPOTENCY_KEY_RETENTION_HOURS = 24;

/** How often the worker role purges. */
export const RETENTION_INTERVAL_MILLISECONDS = 60 * 60 * 1_000;

export interface RetentionOptions {
  /** Age past which a finished (`done`, `cancelled`) scheduler job is deleted (configuration). */
  readonly finishedJobRetentionSeconds: number;
  /** Rows per deleting statement (default PURGE_BATCH_ROWS_MAX; tests use a few). */
  readonly batchRowsMax?: number;
  /** Stops the purge after the statement running when it aborts (a worker shutting down). */
  readonly signal?: AbortSignal;
}

export interface PurgeReport {
  readonly idempotencyKeys: number;
  readonly jobs: number;
}

/** Deletes expired idempotency keys and old finished jobs; returns how many rows of each went. */
export async function purgeExpired(db: SqlQueryable, options: RetentionOptions): Promise<PurgeReport> {
  const batchRowsMax = options.batchRowsMax ?? PURGE_BATCH_ROWS_MAX;
  const { signal } = options;
  const idempotencyKeys = await purgeExpiredIdempotencyKeys(db, batchRowsMax, signal);
  const jobs = await purgeFinishedJobs(db, {
    retentionSeconds: options.finishedJobRetentionSeconds,
    batchRowsMax,
    // A rate-cdr job holds the CDR as the switch posted it, and for B-legs and CDRs no account pays for it is
    // the only record. CDRs must be kept for years (telecom licences require it), so they are never purged.
    keepKinds: [RATE_CDR],
    ...(signal === undefined ? {} : { signal }),
  });
  return { idempotencyKeys, jobs };
}

/**
 * Keys past IDEMPOTENCY_KEY_RETENTION_HOURS, whatever their state: the API already treats them as absent (a
 * request with such a key deletes it first), so nothing reads them again.
 */
async function purgeExpiredIdempotencyKeys(
  db: SqlQueryable,
  batchRowsMax: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  if (!Number.isInteger(batchRowsMax) || batchRowsMax < 1) {
    throw new Error(`batchRowsMax must be a positive integer; got ${batchRowsMax}`);
  }
  let deleted = 0;
  for (let batch = 0; batch < PURGE_BATCHES_MAX && signal?.aborted !== true; batch++) {
    const [row] = await db.query<{ deleted: number }>(
      // As purgeFinishedJobs (@khata/scheduler): one locked batch, deleted by ctid.
      `WITH batch AS MATERIALIZED (
         SELECT ctid FROM api.idempotency_keys
          WHERE created_at < now() - make_interval(hours => $1)
          LIMIT $2
          FOR UPDATE SKIP LOCKED
       ), gone AS (
         DELETE FROM api.idempotency_keys WHERE ctid = ANY (ARRAY(SELECT ctid FROM batch)) RETURNING 1
       )
       SELECT count(*)::integer AS deleted FROM gone`,
      [IDEMPOTENCY_KEY_RETENTION_HOURS, batchRowsMax],
    );
    const count = row?.deleted ?? 0;
    deleted += count;
    if (count < batchRowsMax) break;
  }
  return deleted;
}

const RETAINED_TABLES = ['api.idempotency_keys', 'scheduler.jobs'] as const;

export interface RetentionLog {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface RetentionSchedule extends Omit<RetentionOptions, 'signal'> {
  readonly db: SqlClient;
  readonly metrics: Registry;
  readonly log: RetentionLog;
  readonly intervalMilliseconds?: number;
}

/**
 * Runs `purgeExpired` when started and then every RETENTION_INTERVAL_MILLISECONDS (the worker role). A
 * failed purge is logged and tried again at the next interval; the timer never keeps the process alive.
 * Several workers may purge at once: each skips the rows another is deleting.
 */
export class Retention {
  readonly #options: RetentionSchedule;
  readonly #deleted: Counter<'table'>;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #abort: AbortController | null = null;

  constructor(options: RetentionSchedule) {
    this.#options = options;
    this.#deleted = new Counter({
      name: 'khata_retention_deleted_total',
      help: 'Rows deleted by retention, per table',
      labelNames: ['table'],
      registers: [options.metrics],
    });
    // Both series exist from the start, so a rate over them is defined before the first deletion.
    for (const table of RETAINED_TABLES) this.#deleted.inc({ table }, 0);
  }

  start(): void {
    if (this.#abort !== null) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#tick(abort.signal);
  }

  /** Stops the timer, and a purge in progress after its current statement. */
  async stop(): Promise<void> {
    this.#abort?.abort();
    this.#abort = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** Purges once now (what the timer runs); never throws. */
  async runOnce(signal?: AbortSignal): Promise<PurgeReport | null> {
    const { db, log } = this.#options;
    try {
      const report = await purgeExpired(db, { ...this.#options, ...(signal === undefined ? {} : { signal }) });
      this.#deleted.inc({ table: 'api.idempotency_keys' }, report.idempotencyKeys);
      this.#deleted.inc({ table: 'scheduler.jobs' }, report.jobs);
      if (report.idempotencyKeys + report.jobs > 0) log.info('retention purged rows', { ...report });
      return report;
    } catch (error) {
      log.error('retention purge failed', { error: String(error) });
      return null;
    }
  }

  #tick(signal: AbortSignal): void {
    const running = this.runOnce(signal).then(() => {
      if (this.#running === running) this.#running = null;
      if (signal.aborted) return;
      this.#timer = setTimeout(
        () => this.#tick(signal),
        this.#options.intervalMilliseconds ?? RETENTION_INTERVAL_MILLISECONDS,
      );
      this.#timer.unref();
    });
    this.#running = running;
  }
}
