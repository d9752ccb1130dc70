import type { CliCommand } from '../command.ts';
import { doctorCommand } from './doctor.ts';
import { migrateCommand } from './migrate.ts';
import { startCommand } from './start.ts';
import { testCommand } from './test.ts';

/** Every `khata` subcommand, in the order `khata help` lists them. */
export const commands: readonly CliCommand[] = [startCommand, testCommand, migrateCommand, doctorCommand];

export function findCommand(name: string): CliCommand | undefined {
  return commands.find((command) => command.name === name);
}
