import { parseArgs } from 'node:util';
import { openKhata, verifyAccount } from '@khata/runtime';
import { type CliCommand, EXIT_FAILURE, EXIT_OK, UsageError } from '../command.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const auditCommand: CliCommand = {
  name: 'audit',
  summary: 'verify an account: replay vs read models vs hot projection vs hash chain',
  usage: `usage: khata audit verify --account ID [--json]

Replays the account's event stream, recomputes its SHA-256 hash chain, lets the read models catch up, and
compares the replayed state with every read model and the hot projection. Prints the differences (none
when everything agrees) and exits 1 when there is any, or when the chain is broken.`,
  async run(args, context) {
    const { positionals, values } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { account: { type: 'string' }, json: { type: 'boolean' } },
    });
    if (positionals[0] !== 'verify') throw new UsageError('expected verify');
    const accountId = values.account;
    if (accountId === undefined || !UUID.test(accountId))
      throw new UsageError('--account must be an account id (a UUID)');
    const khata = await openKhata(context.config(), { roles: { api: true, worker: true }, migrate: true });
    try {
      await khata.start();
      const report = await verifyAccount(khata, accountId.toLowerCase());
      if (values.json === true) {
        context.stdout(JSON.stringify(report, null, 2));
      } else {
        context.stdout(
          `account ${report.accountId}: ${report.eventsReplayed} events, stream version ${report.streamVersion}`,
        );
        context.stdout(
          report.chain.ok
            ? `hash chain: intact (${report.chain.eventsChecked} links)`
            : `hash chain: BROKEN at version ${report.chain.firstBreak?.version} (event ${report.chain.firstBreak?.eventId})`,
        );
        if (report.differences.length === 0) context.stdout('read models and hot projection: no differences');
        for (const d of report.differences)
          context.stdout(`DIFF ${d.source} ${d.field}: replay ${d.expected}, found ${d.actual}`);
      }
      return report.ok ? EXIT_OK : EXIT_FAILURE;
    } finally {
      await khata.close();
    }
  },
};
