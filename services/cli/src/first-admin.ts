import { randomBytes } from 'node:crypto';
import { createApiToken } from '@khata/api';
import type { Khata } from '@khata/runtime';

export const FIRST_ADMIN_EMAIL = 'admin@khata.local';

/**
 * The first administrator (SPEC §12): when Khata starts for the first time, an admin user with a random
 * password and an admin API token are created and printed once (only hashes are stored). Later starts
 * print nothing.
 */
export async function firstAdmin(khata: Khata): Promise<string[]> {
  const claimed = await khata.readDb.query(
    `INSERT INTO api.bootstrap (step, detail) VALUES ('first-admin', $1) ON CONFLICT (step) DO NOTHING RETURNING step`,
    [FIRST_ADMIN_EMAIL],
  );
  if (claimed.length === 0) return [];
  const password = randomBytes(18).toString('base64url');
  const created = await khata.identity.createUser(
    { email: FIRST_ADMIN_EMAIL, password, name: 'Administrator', role: 'admin' },
    { actor: 'system:bootstrap' },
  );
  if (!created.ok && created.rejection.code !== 'EMAIL_TAKEN') {
    throw new Error(`could not create the first administrator: ${created.rejection.message}`);
  }
  const { token } = await createApiToken(khata.readDb, 'admin', 'first administrator');
  // A user of that address made before the first start (khata admin create) keeps its own password.
  const login = created.ok
    ? `  login    ${FIRST_ADMIN_EMAIL}  /  ${password}   (POST /api/v1/auth/login)`
    : `  login    ${FIRST_ADMIN_EMAIL} already existed and keeps its password`;
  return [
    '',
    'first administrator created; these credentials are shown once, keep them safe:',
    login,
    `  token    Authorization: Bearer ${token}`,
    '',
  ];
}
