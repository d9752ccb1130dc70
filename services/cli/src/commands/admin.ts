import { parseArgs } from 'node:util';
import { openKhata } from '@khata/runtime';
import { type CliCommand, EXIT_FAILURE, EXIT_OK, UsageError } from '../command.ts';

const ROLES = ['admin', 'auditor', 'finance', 'system'] as const;

export const adminCommand: CliCommand = {
  name: 'admin',
  summary: 'create staff users (admin, auditor, finance, system)',
  usage: `usage: khata admin create --email E --password P [--name N] [--role admin|auditor|finance|system]

Creates a staff user (default role admin) who logs in at POST /api/v1/auth/login. The password must pass
the password policy (at least 12 characters, not a common password).`,
  async run(args, context) {
    const { positionals, values } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        email: { type: 'string' },
        password: { type: 'string' },
        name: { type: 'string' },
        role: { type: 'string' },
      },
    });
    if (positionals[0] !== 'create') throw new UsageError('expected create');
    if (values.email === undefined || !/^[^@\s]+@[^@\s]+$/.test(values.email))
      throw new UsageError('--email must be an e-mail address');
    if (values.password === undefined) throw new UsageError('--password is required');
    const role = values.role ?? 'admin';
    if (!ROLES.includes(role as (typeof ROLES)[number]))
      throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
    const khata = await openKhata(context.config(), { roles: { api: false, worker: false }, migrate: true });
    try {
      const created = await khata.identity.createUser(
        {
          email: values.email,
          password: values.password,
          name: values.name ?? values.email,
          role: role as (typeof ROLES)[number],
        },
        { actor: 'system:cli' },
      );
      if (!created.ok) {
        context.stderr(`khata admin: ${created.rejection.code}: ${created.rejection.message}`);
        return created.rejection.code === 'WEAK_PASSWORD' || created.rejection.code === 'PASSWORD_TOO_SHORT'
          ? 2
          : EXIT_FAILURE;
      }
      context.stdout(`created ${role} ${values.email} (user ${created.userId})`);
      return EXIT_OK;
    } finally {
      await khata.close();
    }
  },
};
