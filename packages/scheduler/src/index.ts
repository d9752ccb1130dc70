/**
 * @khata/scheduler — durable, time-driven jobs claimed with FOR UPDATE SKIP LOCKED and retried with
 * bounded back-off; scheduled idempotently by deterministic job ids. Finished jobs are purged after a
 * retention period; failed ones stay for an operator.
 */
export {
  CLAIM_BATCH_MAX,
  cancelAccountJobs,
  cancelAccountsJobs,
  cancelJob,
  cancelJobs,
  JOB_ATTEMPTS_MAX_DEFAULT,
  JOB_LOCK_SECONDS,
  type Job,
  type JobHandler,
  type JobSpec,
  jobs,
  PURGE_BATCH_ROWS_MAX,
  PURGE_BATCHES_MAX,
  type PurgeOptions,
  purgeFinishedJobs,
  SCHEDULE_JOBS_PER_STATEMENT_MAX,
  Scheduler,
  type SchedulerOptions,
  scheduleJob,
  scheduleJobs,
  scheduleNewJobs,
  schedulerMigrations,
} from './scheduler.ts';
