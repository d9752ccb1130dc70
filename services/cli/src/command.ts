import type { KhataConfig } from '@khata/config';

/** Exit codes of every `khata` subcommand. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
/** Bad arguments or bad input files: the message names the field. */
export const EXIT_USAGE = 2;

export interface CliContext {
  /** Repository root (where `./khata` lives); relative paths in configuration resolve from here. */
  readonly root: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Loads configuration on first use, so commands that need none (rate, tax) work without it. */
  config(): KhataConfig;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export interface CliCommand {
  readonly name: string;
  /** One line for `khata help`. */
  readonly summary: string;
  /** Full usage text shown by `khata help <name>` and after a usage error. */
  readonly usage: string;
  run(args: readonly string[], context: CliContext): Promise<number>;
}

/** A bad argument: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
