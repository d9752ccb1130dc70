/**
 * Test harness of the API: a Khata on a throwaway embedded database (or on PostgreSQL/Redis when the
 * test passes their URLs), started with both roles, and bearer tokens for every role.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { loadConfig } from '@khata/config';
import { type Khata, openKhata } from '@khata/runtime';
import { type Api, buildApp } from './app.ts';
import { type Principal, staticTokens } from './principal.ts';
import { identityTokens } from './security.ts';
import { apiTokens } from './tokens.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');

export interface TestApi {
  readonly app: Api;
  readonly khata: Khata;
  /** What the hot projection's Redis keys begin with after the `{khata}:` hash tag (unique to this API). */
  readonly redisKeyPrefix: string;
  /** Bearer tokens: `admin`, `auditor`, `finance`, `system`, and one customer per `customer(accountId)`. */
  readonly tokens: Map<string, Principal>;
  token(role: 'admin' | 'auditor' | 'finance' | 'system'): string;
  customer(...accountIds: string[]): string;
  /** Waits until read models and the hot projection have caught up with everything appended. */
  settle(): Promise<void>;
  /**
   * Stops the API and deletes the hot projection's keys from Redis; `redisReachable: false` (a test that took Redis
   * away) leaves them to the caller.
   */
  close(options?: { readonly redisReachable?: boolean }): Promise<void>;
}

export async function testApi(
  options: { readonly env?: Record<string, string>; readonly clock?: () => Date } = {},
): Promise<TestApi> {
  const config = loadConfig(
    { KHATA_DATA_DIR: 'memory://', JWT_KEYS_DIR: 'memory://', NODE_ENV: 'test', ...options.env },
    { cwd: REPO_ROOT },
  );
  const redisKeyPrefix = `test-${randomUUID()}:`;
  const khata = await openKhata(config, {
    roles: { api: true, worker: true },
    migrate: true,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    redisKeyPrefix,
    // Cheap password hashing in tests; the production cost is measured and tested in @khata/identity.
    passwordCost: { logN: 10, blockSize: 8, parallelization: 1 },
  });
  await khata.start();
  const tokens = new Map<string, Principal>();
  for (const role of ['admin', 'auditor', 'finance', 'system'] as const) {
    tokens.set(`${role}-token`, { userId: `${role}-1`, role, accountIds: [], sessionId: null });
  }
  // Static role tokens for the route tests, then the real chain (API tokens, identity JWTs).
  const real = apiTokens(khata.readDb, identityTokens(khata.identity));
  const statics = staticTokens(tokens);
  const app = await buildApp({
    khata,
    authenticate: async (request) => {
      const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
      return token !== undefined && tokens.has(token) ? statics(request) : real(request);
    },
  });
  await app.ready();
  return {
    app,
    khata,
    redisKeyPrefix,
    tokens,
    token: (role) => `${role}-token`,
    customer: (...accountIds) => {
      const token = `customer-${randomUUID()}`;
      tokens.set(token, {
        userId: token,
        role: 'customer',
        accountIds: accountIds.map((id) => id.toLowerCase()),
        sessionId: null,
      });
      return token;
    },
    async settle() {
      const head = await khata.eventStore.headPosition();
      if (head === null) return;
      await khata.projector.waitFor(head, { timeoutMs: 20_000 });
      const hot = khata.hot.projector;
      for (let i = 0; i < 2_000 && hot !== null && (hot.position === null || hot.position < head); i += 1) {
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async close(closeOptions = {}) {
      await app.close();
      try {
        // Redis is shared by every test run on the machine: the hot projection stops first, then its keys go.
        await khata.hot.projector?.stop();
        if (closeOptions.redisReachable !== false) await khata.hot.store.clear();
      } finally {
        await khata.close();
      }
    },
  };
}

export interface PrepaidAccountSetUp {
  readonly legalName?: string;
  /** GST-inclusive top-up before subscribing; none when absent. */
  readonly topUp?: string;
  /** The plan subscribed to monthly; none when absent. */
  readonly planId?: string;
  /** A second top-up after the plan's fee has been charged. */
  readonly topUpAfterPlan?: string;
}

/** Opens a prepaid account through the ledger (as a customer's set-up would), then waits for the read side. */
export async function openPrepaidAccount(api: TestApi, setUp: PrepaidAccountSetUp = {}): Promise<string> {
  const accountId = randomUUID();
  const run = async (type: string, fields: object) => {
    const outcome = await api.khata.ledger.execute(
      { type, commandId: randomUUID(), accountId, ...fields },
      { actor: 'user:test' },
    );
    if (outcome.status !== 'accepted') throw new Error(`${type}: ${outcome.rejection.code}`);
  };
  await run('OpenAccount', {
    legalName: setUp.legalName ?? 'Test Telecom Pvt Ltd',
    contact: { name: 'T', email: 't@telecom.example', phone: '+91 98450 00009' },
    billingAddress: { line1: '1 Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
    billingMode: 'prepaid',
  });
  if (setUp.topUp !== undefined) await run('TopUpWallet', { amount: setUp.topUp });
  if (setUp.planId !== undefined) await run('Subscribe', { planId: setUp.planId, cycle: 'monthly' });
  if (setUp.topUpAfterPlan !== undefined) await run('TopUpWallet', { amount: setUp.topUpAfterPlan });
  await api.settle();
  return accountId;
}
