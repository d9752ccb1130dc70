import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openKhata } from '@khata/runtime';
import { type CliCommand, EXIT_OK, UsageError } from '../command.ts';

export const seedCommand: CliCommand = {
  name: 'seed',
  summary: 'load the catalog and publish tariffs (and, with --demo, a demo account)',
  usage: `usage: khata seed [--tariffs DIR] [--demo]

Checks the catalog (CATALOG_DIR), publishes every tariff document in DIR (default: the directory of
DESTINATION_TARIFF) that differs from its published version, and with --demo opens a prepaid demo account
subscribed to Professional after a ₹2,360 recharge (GST included). Safe to run repeatedly.`,
  async run(args, context) {
    const { values } = parseArgs({
      args: [...args],
      options: { tariffs: { type: 'string' }, demo: { type: 'boolean' } },
    });
    const config = context.config();
    const khata = await openKhata(config, { roles: { api: false, worker: false }, migrate: true });
    try {
      context.stdout(
        `catalog: ${khata.catalog.plans.size} plans, ${khata.catalog.addOns.size} add-ons (${config.billing.catalogDir})`,
      );
      const directory =
        values.tariffs ??
        (config.billing.destinationTariffFile === null ? null : join(config.billing.destinationTariffFile, '..'));
      if (directory !== null) {
        const names = (await readdir(directory)).filter((name) => name.endsWith('.json')).sort();
        for (const name of names) {
          const document: unknown = JSON.parse(await readFile(join(directory, name), 'utf8'));
          const id = (document as { id?: unknown }).id;
          // Plan overage tariffs come from the catalog; only free-standing tariffs are published.
          if (typeof id !== 'string' || id.endsWith('-overage')) continue;
          const published = await khata.tariffs.publish(document, 'system:seed', khata.clock());
          context.stdout(`tariff ${published.id}: version ${published.version}`);
        }
      }
      if (values.demo === true) {
        const accountId = '00000000-0000-4000-8000-0000000000de';
        const meta = { actor: 'system:seed' };
        const run = (type: string, fields: object, commandId: string) =>
          khata.ledger.execute({ type, commandId, accountId, ...fields }, meta);
        await run(
          'OpenAccount',
          {
            legalName: 'Demo Contact Centre Pvt Ltd',
            contact: { name: 'Demo Admin', email: 'demo@khata.example', phone: '+91 80 4000 0000' },
            billingAddress: {
              line1: '1 Demo Road',
              city: 'Bengaluru',
              stateCode: '29',
              postalCode: '560001',
              country: 'IN',
            },
            billingMode: 'prepaid',
          },
          '00000000-0000-4000-8000-00000000de01',
        );
        await run('TopUpWallet', { amount: '2360.00' }, '00000000-0000-4000-8000-00000000de02');
        await run('Subscribe', { planId: 'professional', cycle: 'monthly' }, '00000000-0000-4000-8000-00000000de03');
        context.stdout(`demo account ${accountId}`);
      }
      return EXIT_OK;
    } catch (error) {
      if (error instanceof SyntaxError) throw new UsageError(`a tariff file is not JSON: ${error.message}`);
      throw error;
    } finally {
      await khata.close();
    }
  },
};
