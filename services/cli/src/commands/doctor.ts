import { diagnose } from '@khata/runtime';
import { type CliCommand, EXIT_FAILURE, EXIT_OK, UsageError } from '../command.ts';

export const doctorCommand: CliCommand = {
  name: 'doctor',
  summary: 'show which adapters are configured and whether each is reachable',
  usage: `usage: khata doctor [--json]

Prints one line per component (event store, read models, hot projection, FreeSWITCH, payments): the
adapter the configuration selects, where it points (never a secret), and whether it answers. Exits 1
when a configured component is unreachable.`,
  async run(args, context) {
    const json = args.includes('--json');
    const unknown = args.find((arg) => arg !== '--json');
    if (unknown !== undefined) throw new UsageError(`unexpected argument ${unknown}`);
    const checks = await diagnose(context.config(), context.root);
    if (json) {
      context.stdout(JSON.stringify(checks, null, 2));
    } else {
      const widths = [14, 11, 30, 14];
      for (const check of checks) {
        const cells = [check.component, check.adapter, check.target, check.status];
        context.stdout(`${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' ')} ${check.detail}`.trimEnd());
      }
    }
    const broken = checks.some((check) => check.status === 'unreachable' || check.status === 'error');
    return broken ? EXIT_FAILURE : EXIT_OK;
  },
};
