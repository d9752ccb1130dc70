/**
 * A hot account under the switch's concurrency, over HTTP: many calls authorized and ended at once on
 * one account, with a wallet too small for all of them. Checked against the replayed stream: each call
 * the API authorized holds exactly one reservation, each refused call none, each ended call is rated
 * once, nothing is left reserved, and no reservation ever took more than the account could spend.
 * Counts are bounded; nothing here is timed (the throughput is `pnpm bench hot-account`).
 */
import { availableCredit, evolve, initialState, TELECOM_GST_RATE_PERCENT, upcastAccountEvent } from '@khata/domain';
import { createTestDatabase, describeWithService, postgres, redis, type TestDatabase } from '@khata/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPrepaidAccount, type TestApi, testApi } from '../testing.ts';
import { CALL_CONTROL_REQUESTS_PER_MINUTE_MAX } from './calls.ts';

const INDIA = '+919845012345';
/** Concurrent calls on the account, and calls each line makes: over 1,400 requests from one token. */
const LINES = 200;
const CALLS_PER_LINE = 7;
const READ_PAGE_EVENTS = 1_000;

interface Told {
  readonly authorized: Set<string>;
  readonly refused: Set<string>;
  readonly ended: Set<string>;
  readonly statuses: number[];
  readonly reasons: Set<string>;
}

function openCallCenter(api: TestApi, walletAfterPlan: string): Promise<string> {
  return openPrepaidAccount(api, {
    legalName: 'Busy Call Centre Pvt Ltd',
    topUp: '5900.00',
    planId: 'call-center',
    topUpAfterPlan: walletAfterPlan,
  });
}

/** `LINES` switch lines at once, each authorizing a call, ending it if authorized, and dialling again. */
async function busyHour(api: TestApi, accountId: string): Promise<Told> {
  const told: Told = { authorized: new Set(), refused: new Set(), ended: new Set(), statuses: [], reasons: new Set() };
  const headers = { authorization: `Bearer ${api.token('system')}` };
  const line = async (index: number) => {
    for (let call = 0; call < CALLS_PER_LINE; call += 1) {
      const callId = `line-${index}-call-${call}`;
      const at = new Date().toISOString();
      const authorized = await api.app.inject({
        method: 'POST',
        url: '/api/v1/calls/authorize',
        headers,
        payload: { callId, accountCode: accountId, destination: INDIA },
      });
      told.statuses.push(authorized.statusCode);
      if (authorized.statusCode !== 200) continue;
      const answer = authorized.json() as { authorized: boolean; reason: string };
      told.reasons.add(answer.reason);
      if (!answer.authorized) {
        told.refused.add(callId);
        continue;
      }
      told.authorized.add(callId);
      const ended = await api.app.inject({
        method: 'POST',
        url: `/api/v1/calls/${callId}/end`,
        headers,
        payload: { accountId, answeredAt: at, billableMilliseconds: 30_000 + index * 100 },
      });
      told.statuses.push(ended.statusCode);
      if (ended.statusCode === 200) told.ended.add(callId);
    }
  };
  await Promise.all(Array.from({ length: LINES }, (_, index) => line(index)));
  return told;
}

/** Replays the account's stream, counting reservations and ratings per call and checking every reservation. */
async function replayed(api: TestApi, accountId: string) {
  const reservations = new Map<string, number>();
  const ratings = new Map<string, number>();
  const overspentAt: bigint[] = [];
  let state = initialState();
  for (let from = 1n; ; ) {
    const page = await api.khata.eventStore.readStream(`account-${accountId}`, {
      fromVersion: from,
      maxCount: READ_PAGE_EVENTS,
    });
    for (const recorded of page.events) {
      const event = upcastAccountEvent(recorded);
      state = evolve(state, event);
      if (event.type === 'CallAuthorized') {
        const callId = String(event.data.callId);
        reservations.set(callId, (reservations.get(callId) ?? 0) + 1);
        if (availableCredit(state, { gstRatePercent: TELECOM_GST_RATE_PERCENT }).isNegative()) {
          overspentAt.push(recorded.version);
        }
      }
      if (event.type === 'CdrRated') {
        const callId = String(event.data.callId);
        ratings.set(callId, (ratings.get(callId) ?? 0) + 1);
      }
    }
    if (page.events.length < READ_PAGE_EVENTS) break;
    from += BigInt(page.events.length);
  }
  return { reservations, ratings, overspentAt, state };
}

function hotAccountSuite(title: string, services: { databaseServer?: string; redisUrl?: string } = {}) {
  describe(title, { timeout: 180_000 }, () => {
    let api: TestApi;
    let database: TestDatabase | null = null;
    beforeAll(async () => {
      const env: Record<string, string> = {};
      if (services.databaseServer !== undefined) {
        database = await createTestDatabase(services.databaseServer);
        Object.assign(env, { EVENT_STORE: 'postgres', DATABASE_URL: database.url });
      }
      if (services.redisUrl !== undefined) env.REDIS_URL = services.redisUrl;
      api = await testApi({ env });
    }, 120_000);
    afterAll(async () => {
      await api?.close();
      await database?.drop();
    });

    it('gives 200 concurrent calls on one account each at most one reservation, and never more than the wallet holds', async () => {
      // Free minutes for a dozen two-hour reservations and money for a few more: most lines are refused.
      const accountId = await openCallCenter(api, '2000.00');
      const told = await busyHour(api, accountId);
      // More requests than the general per-caller limit allows in a minute: call control is not throttled.
      expect(told.statuses.length).toBeGreaterThan(1_200);
      expect(told.statuses.length).toBeLessThan(CALL_CONTROL_REQUESTS_PER_MINUTE_MAX);
      expect(told.statuses.filter((status) => status !== 200)).toEqual([]);
      expect(told.authorized.size).toBeGreaterThan(0);
      expect(told.reasons).toContain('INSUFFICIENT_FUNDS');
      expect(told.authorized.size + told.refused.size).toBe(LINES * CALLS_PER_LINE);

      const { reservations, ratings, overspentAt, state } = await replayed(api, accountId);
      for (const callId of told.authorized) expect(reservations.get(callId), callId).toBe(1);
      for (const callId of told.refused) expect(reservations.get(callId), callId).toBeUndefined();
      expect([...reservations.keys()].sort()).toEqual([...told.authorized].sort());
      expect([...ratings.entries()].filter(([, count]) => count !== 1)).toEqual([]);
      expect([...ratings.keys()].sort()).toEqual([...told.ended].sort());
      expect(told.ended).toEqual(told.authorized);
      expect(overspentAt).toEqual([]);
      expect(state.reservations.size).toBe(0);
      expect(state.reserved.isZero()).toBe(true);
      expect(state.balance.isNegative()).toBe(false);
    });
  });
}

hotAccountSuite('a hot account over HTTP (embedded)');

describeWithService(postgres(), 'a hot account over HTTP on PostgreSQL', (databaseServer) => {
  describeWithService(redis(), 'with the hot projection in Redis', (redisUrl) => {
    hotAccountSuite('PostgreSQL event store and read models, Redis hot projection', { databaseServer, redisUrl });
  });
});
