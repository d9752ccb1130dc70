import { migrateAll } from '@khata/runtime';
import { type CliCommand, EXIT_OK, UsageError } from '../command.ts';

export const migrateCommand: CliCommand = {
  name: 'migrate',
  summary: 'create or update the event store and read-model schemas',
  usage: `usage: khata migrate

Applies every pending schema migration of the configured adapters: the event store's tables (PostgreSQL
or the embedded PGlite database) and each read model's. Safe to run repeatedly and from several
processes at once.`,
  async run(args, context) {
    if (args.length > 0) throw new UsageError(`unexpected argument ${args[0]}`);
    const reports = await migrateAll(context.config());
    for (const report of reports) {
      const applied = report.applied.length === 0 ? 'up to date' : `applied ${report.applied.join(', ')}`;
      context.stdout(`${report.namespace.padEnd(28)} v${report.current}  ${applied}`);
    }
    return EXIT_OK;
  },
};
