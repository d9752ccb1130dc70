import { IDEMPOTENCY_KEY_RETENTION_HOURS, openInfrastructure, purgeExpired } from '@khata/runtime';
import { type CliCommand, EXIT_OK, UsageError } from '../command.ts';

const DAY_SECONDS = 86_400;

export const purgeCommand: CliCommand = {
  name: 'purge',
  summary: 'delete expired idempotency keys and old finished jobs now',
  usage: `usage: khata purge

Deletes now what the worker role deletes every hour: idempotency keys older than
${IDEMPOTENCY_KEY_RETENTION_HOURS} hours, and scheduler jobs that finished (done or cancelled) longer ago than
FINISHED_JOB_RETENTION (failed jobs stay). Prints how many rows of each went. Safe while workers run.`,
  async run(args, context) {
    if (args.length > 0) throw new UsageError(`unexpected argument ${args[0]}`);
    const config = context.config();
    const infrastructure = await openInfrastructure(config, { migrate: true, applicationName: 'khata-purge' });
    try {
      const report = await purgeExpired(infrastructure.readDb, {
        finishedJobRetentionSeconds: config.retention.finishedJobSeconds,
      });
      const days = config.retention.finishedJobSeconds / DAY_SECONDS;
      context.stdout(
        `idempotency keys  ${report.idempotencyKeys} deleted (older than ${IDEMPOTENCY_KEY_RETENTION_HOURS} h)`,
      );
      context.stdout(`finished jobs     ${report.jobs} deleted (older than ${Number(days.toFixed(2))} d)`);
    } finally {
      await infrastructure.close();
    }
    return EXIT_OK;
  },
};
