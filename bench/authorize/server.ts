/**
 * One Khata process of the system under test, in a process of its own so that the load generator does
 * not share its event loop. As in production (SPEC §2), the API and the worker are separate processes:
 * - `api`: Khata with the API role on the benchmark's database, the Fastify app from `buildApp` with its
 *   production authentication (API tokens), listening on a free port of 127.0.0.1. With the in-process
 *   store it keeps its own hot projection; with Redis it reads the one the worker keeps. With
 *   `baseline`, call authorization reads the PostgreSQL read model instead of the hot projection.
 * - `worker`: the read models and process managers (and the Redis hot projection), no HTTP; like
 *   `khata start --worker-only` without FreeSWITCH, at the CPU priority WORKER_NICE (10 unless set).
 *
 * Started by main.ts with `fork`; the configuration is argv[2] (JSON). Sends `{type: 'ready', port,
 * token}` once it runs (port 0 and no token for a worker), answers `{type: 'settle'}` with `{type: 'settled'}` once
 * its read models and hot projection have every event of the log so far, and closes everything on `{type: 'stop'}`.
 */
import { buildApp, createApiToken } from '@khata/api';
import { CallAuthorizer } from '@khata/hot-projection';
import { type Khata, lowerPriority } from '@khata/runtime';
import { openBenchKhata, settle } from '../lib/billing-setup.ts';
import { ReadModelStore } from './read-model-store.ts';

export interface ServerOptions {
  readonly databaseUrl: string;
  readonly redisUrl: string | null;
  readonly redisKeyPrefix: string;
  readonly baseline: boolean;
  readonly poolSize: number;
  readonly role: 'api' | 'worker' | 'both';
}

export type ServerMessage = { readonly type: 'ready'; readonly port: number; readonly token: string };

const options = JSON.parse(process.argv[2] ?? '{}') as ServerOptions;

const opened = await openBenchKhata(
  { databaseUrl: options.databaseUrl, redisUrl: options.redisUrl, poolSize: options.poolSize },
  {
    roles: { api: options.role !== 'worker', worker: options.role !== 'api' },
    redisKeyPrefix: options.redisKeyPrefix,
  },
);
const khata: Khata = options.baseline ? withReadModelAuthorizer(opened) : opened;
if (options.role === 'worker') lowerPriority(khata.config.worker.nice);
const app = options.role === 'worker' ? null : await buildApp({ khata, logger: false });
let port = 0;
let token = '';
if (app !== null) {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  port = address.port;
  token = (await createApiToken(khata.readDb, 'system', 'authorize benchmark')).token;
}
process.send?.({ type: 'ready', port, token } satisfies ServerMessage);

process.on('message', (message: { type?: string }) => {
  if (message.type === 'settle') {
    void settle(khata).then(() => process.send?.({ type: 'settled' }));
    return;
  }
  if (message.type !== 'stop') return;
  void (async () => {
    if (app !== null) await app.close();
    await opened.close();
    process.exit(0);
  })();
});

function withReadModelAuthorizer(khata: Khata): Khata {
  const authorizer = new CallAuthorizer({
    hot: new ReadModelStore(khata),
    decider: khata.ledger.decider,
    reload: async (accountId) => {
      const { state, version } = await khata.ledger.load(accountId);
      return { state, version };
    },
    policy: { mode: 'fail-closed' },
  });
  return { ...khata, hot: { ...khata.hot, authorizer } };
}
