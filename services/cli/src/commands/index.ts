import type { CliCommand } from '../command.ts';
import { doctorCommand } from './doctor.ts';
import { migrateCommand } from './migrate.ts';
import { rateCommand } from './rate.ts';
import { startCommand } from './start.ts';
import { taxCommand } from './tax.ts';
import { testCommand } from './test.ts';

/** Every `khata` subcommand, in the order `khata help` lists them. */
export const commands: readonly CliCommand[] = [
  startCommand,
  testCommand,
  migrateCommand,
  doctorCommand,
  rateCommand,
  taxCommand,
];

export function findCommand(name: string): CliCommand | undefined {
  return commands.find((command) => command.name === name);
}
