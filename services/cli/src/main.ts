#!/usr/bin/env node
/**
 * `khata` — one command for running and operating Khata. `./khata <subcommand>` from the repository
 * root (which first brings Node 24 and the dependencies) or `pnpm khata <subcommand>`.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, type KhataConfig, loadConfig } from '@khata/config';
import { type CliContext, EXIT_FAILURE, EXIT_USAGE, UsageError } from './command.ts';
import { commands, findCommand } from './commands/index.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `usage: khata <command> [arguments]\n\ncommands:\n${lines.join('\n')}\n\nkhata help <command> shows a command's arguments.\n`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  const stdout = (text: string): void => {
    process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  const stderr = (text: string): void => {
    process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const wanted = args[0] === undefined ? undefined : findCommand(args[0]);
    stdout(wanted === undefined ? help() : (await wanted.load()).usage);
    return name === undefined ? EXIT_USAGE : 0;
  }
  const entry = findCommand(name);
  if (entry === undefined) {
    stderr(`khata: unknown command ${JSON.stringify(name)}\n\n${help()}`);
    return EXIT_USAGE;
  }
  const command = await entry.load();
  let config: KhataConfig | undefined;
  const context: CliContext = {
    root,
    env: process.env,
    config: () => {
      config ??= loadConfig(process.env, { cwd: root });
      return config;
    },
    stdout,
    stderr,
  };
  try {
    return await command.run(args, context);
  } catch (error) {
    if (error instanceof UsageError) {
      stderr(`khata ${command.name}: ${error.message}\n\n${command.usage}`);
      return EXIT_USAGE;
    }
    if (error instanceof ConfigError) {
      stderr(`khata: configuration: ${error.message}`);
      return EXIT_USAGE;
    }
    stderr(`khata ${command.name}: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.KHATA_DEBUG === '1' && error instanceof Error) stderr(error.stack ?? '');
    return EXIT_FAILURE;
  }
}

process.exitCode = await main(process.argv.slice(2));
