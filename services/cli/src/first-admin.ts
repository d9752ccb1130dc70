import { type Authenticator, apiTokens, createApiToken, hasAdminToken } from '@khata/api';
import type { Khata } from '@khata/runtime';

/**
 * The first administrator: when no admin credential exists yet, one is created and its token printed
 * once (it is stored only as a hash). Returns how requests are authenticated.
 */
export async function firstAdmin(
  khata: Khata,
  _root: string,
): Promise<{ authenticate: Authenticator; announcement: string[] }> {
  const authenticate = apiTokens(khata.readDb);
  if (await hasAdminToken(khata.readDb)) return { authenticate, announcement: [] };
  const { token } = await createApiToken(khata.readDb, 'admin', 'first administrator');
  return {
    authenticate,
    announcement: [
      '',
      'first administrator created. Its API token is shown once; keep it safe:',
      `  Authorization: Bearer ${token}`,
      '',
    ],
  };
}
