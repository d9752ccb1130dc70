import { diagnose, openInfrastructure } from '@khata/runtime';
import { type CliCommand, EXIT_OK, UsageError } from '../command.ts';

export const startCommand: CliCommand = {
  name: 'start',
  summary: 'start Khata (embedded defaults: no external service needed)',
  usage: `usage: khata start

Migrates and opens the configured event store and read-model database (by default the embedded PGlite
database in ./.khata/data), prints what runs where, and keeps running until interrupted (Ctrl-C or
SIGTERM), then closes everything cleanly.`,
  async run(args, context) {
    if (args.length > 0) throw new UsageError(`unexpected argument ${args[0]}`);
    const config = context.config();
    const infrastructure = await openInfrastructure(config, { migrate: true });
    for (const report of infrastructure.migrations) {
      if (report.applied.length > 0) context.stdout(`migrated ${report.namespace} to v${report.current}`);
    }
    const head = await infrastructure.eventStore.headPosition();
    context.stdout(`khata started: event store ${infrastructure.eventStore.kind} (data ${config.dataDir})`);
    context.stdout(`  event log head: ${head ?? 'empty'}`);
    context.stdout('press Ctrl-C to stop');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await infrastructure.close();
    void diagnose;
    return EXIT_OK;
  },
};
