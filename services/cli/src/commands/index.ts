import type { CliCommand } from '../command.ts';

/**
 * Every `khata` subcommand, in the order `khata help` lists them. Each is loaded only when run, so a
 * quick command (`rate`, `tax`) does not pay for the database and Redis clients the others need.
 */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<CliCommand>;
}

export const commands: readonly CommandEntry[] = [
  {
    name: 'start',
    summary: 'start Khata (embedded defaults: no external service needed)',
    load: async () => (await import('./start.ts')).startCommand,
  },
  {
    name: 'test',
    summary: 'run every check: format and lint, type check, then all tests',
    load: async () => (await import('./test.ts')).testCommand,
  },
  {
    name: 'migrate',
    summary: 'create or update the event store and read-model schemas',
    load: async () => (await import('./migrate.ts')).migrateCommand,
  },
  {
    name: 'doctor',
    summary: 'show which adapters are configured and whether each is reachable',
    load: async () => (await import('./doctor.ts')).doctorCommand,
  },
  {
    name: 'projections',
    summary: 'show read-model positions and lag, or rebuild one',
    load: async () => (await import('./projections.ts')).projectionsCommand,
  },
  {
    name: 'audit',
    summary: 'verify an account: replay vs read models vs hot projection vs hash chain',
    load: async () => (await import('./audit.ts')).auditCommand,
  },
  {
    name: 'admin',
    summary: 'create staff users (admin, auditor, finance, system)',
    load: async () => (await import('./admin.ts')).adminCommand,
  },
  {
    name: 'seed',
    summary: 'load the catalog and publish tariffs (and, with --demo, a demo account)',
    load: async () => (await import('./seed.ts')).seedCommand,
  },
  {
    name: 'token',
    summary: 'create or revoke API tokens for machines and operators',
    load: async () => (await import('./token.ts')).tokenCommand,
  },
  {
    name: 'keys',
    summary: 'list the token signing keys, or rotate to a new one now',
    load: async () => (await import('./keys.ts')).keysCommand,
  },
  {
    name: 'purge',
    summary: 'delete expired idempotency keys and old finished jobs now',
    load: async () => (await import('./purge.ts')).purgeCommand,
  },
  {
    name: 'rate',
    summary: 'price a call (or find the longest affordable call) with a tariff file',
    load: async () => (await import('./rate.ts')).rateCommand,
  },
  {
    name: 'tax',
    summary: 'compute the GST heads (CGST, SGST/UTGST, IGST) of an amount',
    load: async () => (await import('./tax.ts')).taxCommand,
  },
];

export function findCommand(name: string): CommandEntry | undefined {
  return commands.find((command) => command.name === name);
}
