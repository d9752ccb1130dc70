import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type CliCommand, EXIT_FAILURE, EXIT_OK } from '../command.ts';

function run(root: string, bin: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(root, 'node_modules', '.bin', bin), args, { cwd: root, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal === null ? EXIT_FAILURE : 128)));
  });
}

export const testCommand: CliCommand = {
  name: 'test',
  summary: 'run every check: format and lint, type check, then all tests',
  usage: `usage: khata test [--only-tests] [vitest arguments]

Runs, in order, stopping at the first failure:
  1. biome check       formatting and lint rules (including the domain's bans on clocks and floats)
  2. tsc -b            strict type check of the whole workspace
  3. vitest run        unit, integration and end-to-end tests (tiers from file names)
Tests that need PostgreSQL or Redis read DATABASE_URL / REDIS_URL; without them they are reported as
skipped, and with KHATA_REQUIRE_SERVICES=1 they fail instead. Arguments after the options go to vitest,
e.g. \`khata test --only-tests --project unit\`.`,
  async run(args, context) {
    const onlyTests = args[0] === '--only-tests';
    const vitestArgs = onlyTests ? args.slice(1) : args;
    if (!onlyTests) {
      context.stdout('khata test: biome check');
      if ((await run(context.root, 'biome', ['check', '.'])) !== 0) return EXIT_FAILURE;
      context.stdout('khata test: tsc -b');
      if ((await run(context.root, 'tsc', ['-b'])) !== 0) return EXIT_FAILURE;
    }
    context.stdout('khata test: vitest run');
    return (await run(context.root, 'vitest', ['run', ...vitestArgs])) === 0 ? EXIT_OK : EXIT_FAILURE;
  },
};
