import { parseArgs } from 'node:util';
import { createApiToken } from '@khata/api';
import { openInfrastructure } from '@khata/runtime';
import { type CliCommand, EXIT_OK, UsageError } from '../command.ts';

const ROLES = ['admin', 'auditor', 'finance', 'system'] as const;

export const tokenCommand: CliCommand = {
  name: 'token',
  summary: 'create or revoke API tokens for machines and operators',
  usage: `usage: khata token create --role ROLE --label TEXT
       khata token revoke --id TOKEN_ID
       khata token list

API tokens authenticate operators and machines (role system: a CDR mediation or call-control client using the HTTP API; the ESL connector and the FreeSWITCH webhook need none).
The token is printed once and stored only as a SHA-256 hash. Roles: ${ROLES.join(', ')}.`,
  async run(args, context) {
    const { positionals, values } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { role: { type: 'string' }, label: { type: 'string' }, id: { type: 'string' } },
    });
    const action = positionals[0];
    if (action !== 'create' && action !== 'revoke' && action !== 'list')
      throw new UsageError('expected create, revoke or list');
    if (action === 'create') {
      if (!ROLES.includes(values.role as (typeof ROLES)[number]))
        throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
      if (values.label === undefined || values.label.trim() === '') throw new UsageError('--label is required');
    }
    if (action === 'revoke' && !/^[0-9a-f-]{36}$/i.test(values.id ?? ''))
      throw new UsageError('--id must be a token id');
    const infrastructure = await openInfrastructure(context.config(), {
      migrate: true,
      applicationName: 'khata-token',
    });
    try {
      const db = infrastructure.readDb;
      if (action === 'create') {
        const { tokenId, token } = await createApiToken(
          db,
          values.role as (typeof ROLES)[number],
          (values.label as string).trim(),
        );
        context.stdout(`token ${tokenId} (${values.role}) — shown once:\n  Authorization: Bearer ${token}`);
      } else if (action === 'revoke') {
        const rows = await db.query(
          'UPDATE api.tokens SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL RETURNING token_id',
          [values.id],
        );
        context.stdout(rows.length === 1 ? `revoked ${values.id}` : `no active token ${values.id}`);
      } else {
        const rows = await db.query<{
          token_id: string;
          role: string;
          label: string;
          created_at: Date;
          revoked_at: Date | null;
        }>('SELECT token_id, role, label, created_at, revoked_at FROM api.tokens ORDER BY created_at');
        for (const row of rows) {
          context.stdout(
            `${row.token_id} ${row.role.padEnd(8)} ${row.revoked_at === null ? 'active ' : 'revoked'} ${row.label}`,
          );
        }
      }
      return EXIT_OK;
    } finally {
      await infrastructure.close();
    }
  },
};
