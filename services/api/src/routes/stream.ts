import { availableCredit, TELECOM_GST_RATE_PERCENT, upcastAccountEvent } from '@khata/domain';
import type { LogFollower, SubscriptionBatch } from '@khata/event-store';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { canSeeAccount } from '../access.ts';
import type { Principal } from '../principal.ts';

/** Live updates a client receives for the accounts it may see (SPEC §13). */
export interface LiveUpdate {
  readonly type: 'balance.changed' | 'call.authorized' | 'call.ended' | 'invoice.issued';
  readonly accountId: string;
  readonly version: string;
  readonly data: Record<string, unknown>;
}

const MONEY_EVENTS = new Set([
  'WalletToppedUp',
  'WalletAdjusted',
  'SubscriptionCharged',
  'PlanChanged',
  'SubscriptionCancelled',
  'AddOnAdded',
  'CdrRated',
  'CallRerated',
  'CallAuthorized',
  'ReservationExpired',
  'ReservationExtended',
]);
/** Messages queued for a slow client before it is disconnected (it can reconnect and re-read). */
const CLIENT_BUFFER_BYTES_MAX = 1024 * 1024;
/** The live feed's follower in logs, metrics and `/ready`. */
export const LIVE_UPDATES_FOLLOWER_NAME = 'live-updates';

/**
 * `GET /api/v1/stream` (WebSocket): authenticated like every route (bearer token, or `?access_token=`
 * for browsers, which cannot set headers on a WebSocket); follows the event log from now on and sends
 * each client the updates of its own accounts. The log is followed from the first connection on, and again
 * from where it stopped after a store outage, so updates resume by themselves once the store is back.
 */
export async function streamRoutes(app: FastifyInstance): Promise<void> {
  const clients = new Set<{ socket: WebSocket; principal: Principal }>();
  const abort = new AbortController();
  let follower: LogFollower | null = null;
  let starting: Promise<void> | null = null;

  // Live updates are best effort: an event that cannot be turned into updates is logged and skipped rather
  // than failing the batch, which the follower would then bring again (sending its other updates twice).
  const deliver = async (batch: SubscriptionBatch): Promise<void> => {
    if (clients.size === 0) return;
    for (const recorded of batch.events) {
      try {
        const accountId = recorded.streamId.slice('account-'.length);
        const updates = await toUpdates(accountId, recorded.version.toString(), upcastAccountEvent(recorded), app);
        for (const update of updates) {
          const text = JSON.stringify(update);
          for (const client of clients) {
            if (!canSeeAccount(client.principal, accountId)) continue;
            if (client.socket.bufferedAmount > CLIENT_BUFFER_BYTES_MAX) {
              client.socket.close(1013, 'too slow');
              continue;
            }
            client.socket.send(text);
          }
        }
      } catch (error) {
        app.log.warn({ err: error, eventId: recorded.eventId }, 'live update skipped');
      }
    }
  };

  const startFollowing = async (): Promise<void> => {
    // From now on: a client that (re)connects reads the current state over HTTP, then listens.
    const head = await app.khata.eventStore.headPosition();
    if (abort.signal.aborted) return;
    follower = app.khata.followers.follow({
      name: LIVE_UPDATES_FOLLOWER_NAME,
      store: app.khata.eventStore,
      after: head,
      filter: { streamPrefixes: ['account-'] },
      signal: abort.signal,
      handle: deliver,
    });
  };

  app.addHook('onClose', async () => {
    abort.abort();
    for (const client of clients) client.socket.close(1001, 'server shutting down');
    await starting;
    await follower?.done;
  });

  app.get(
    '/stream',
    {
      websocket: true,
      schema: {
        tags: ['live'],
        description: 'WebSocket of live updates (balance.changed, call.authorized, call.ended, invoice.issued)',
        response: { 101: {} },
      },
      config: { access: { roles: ['customer', 'admin', 'auditor', 'finance'] } },
    },
    (socket, request) => {
      const principal = request.principal as Principal;
      const client = { socket, principal };
      clients.add(client);
      // Started by the first client; when the store cannot say where the log ends, the next client tries again.
      starting ??= startFollowing().catch((error) => {
        starting = null;
        app.log.warn({ err: error }, 'live updates could not start');
      });
      socket.on('close', () => clients.delete(client));
      socket.on('message', () => {
        // Clients only listen; anything they send is ignored.
      });
      socket.send(JSON.stringify({ type: 'hello', accountIds: principal.accountIds, role: principal.role }));
    },
  );
}

async function toUpdates(
  accountId: string,
  version: string,
  event: ReturnType<typeof upcastAccountEvent>,
  app: FastifyInstance,
): Promise<LiveUpdate[]> {
  const updates: LiveUpdate[] = [];
  if (event.type === 'CallAuthorized') {
    updates.push({
      type: 'call.authorized',
      accountId,
      version,
      data: { callId: event.data.callId, destination: event.data.destination, maxSeconds: event.data.maxSeconds },
    });
  }
  if (event.type === 'CdrRated') {
    updates.push({
      type: 'call.ended',
      accountId,
      version,
      data: { callId: event.data.callId, cost: event.data.cost, billedSeconds: event.data.billedSeconds },
    });
  }
  if (MONEY_EVENTS.has(event.type)) {
    const hot = await app.khata.hot.store.get(accountId).catch(() => null);
    if (hot !== null) {
      updates.push({
        type: 'balance.changed',
        accountId,
        version: hot.version.toString(),
        data: {
          wallet: hot.state.balance.toString(),
          reserved: hot.state.reserved.toString(),
          available: availableCredit(hot.state, { gstRatePercent: TELECOM_GST_RATE_PERCENT }).toString(),
          currency: 'INR',
        },
      });
    }
  }
  return updates;
}
