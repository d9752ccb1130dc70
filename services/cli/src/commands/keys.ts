import { parseArgs } from 'node:util';
import { Identity, identitySettingsFromConfig } from '@khata/identity';
import { type CliCommand, EXIT_OK, UsageError } from '../command.ts';

export const keysCommand: CliCommand = {
  name: 'keys',
  summary: 'list the token signing keys, or rotate to a new one now',
  usage: `usage: khata keys list
       khata keys rotate

The signing keys live in JWT_KEYS_DIR (a directory every API replica shares). The newest key signs new
tokens; older keys keep verifying until every token they signed has expired, then they are removed.
JWT_KEY_ROTATION rotates on a schedule; "rotate" does it now (after a suspected leak, retire the old key
by deleting its file once the new key is in use: tokens it signed then stop verifying).`,
  async run(args, context) {
    const { positionals } = parseArgs({ args: [...args], allowPositionals: true, options: {} });
    const action = positionals[0];
    if (action !== 'list' && action !== 'rotate') throw new UsageError('expected list or rotate');
    const config = context.config();
    if (config.jwt.keysDir.startsWith('memory://')) {
      throw new UsageError('JWT_KEYS_DIR is memory://: the keys live only inside the running process');
    }
    const keys = await Identity.openKeys(
      { keysDirectory: config.jwt.keysDir, clock: () => new Date() },
      identitySettingsFromConfig(config),
    );
    if (action === 'rotate') {
      const kid = await keys.rotate();
      context.stdout(`new signing key ${kid} in ${config.jwt.keysDir}; other processes use it within a minute`);
    }
    for (const key of keys.describe()) context.stdout(`${key.kid}  ${key.status.padEnd(9)}  created ${key.createdAt}`);
    return EXIT_OK;
  },
};
