import { randomUUID } from 'node:crypto';
import { createAccountDecider, evolve, initialState, isRejection, upcastAccountEvent } from '@khata/domain';
import { type EventStore, MemoryEventStore } from '@khata/event-store';
import { catalogRules } from '@khata/ledger/testing';
import { describeWithService, redis as redisService } from '@khata/testing';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { type AuthorizationDecision, CallAuthorizer } from './authorizer.ts';
import { HotProjector, loaderFrom } from './projector.ts';
import { type HotStore, MemoryHotStore, RedisHotStore } from './store.ts';
import { ledgerWithAccount } from './test-support.ts';

const NOW = Date.parse('2026-11-02T04:30:00.000Z');
const INDIA = '+919845012345';
const decider = createAccountDecider(catalogRules);

/** What the authority decides for a call on the account's state at `version`. */
async function authoritative(
  store: EventStore,
  accountId: string,
  version: bigint,
  now: Date,
): Promise<AuthorizationDecision> {
  const { events } = await store.readStream(`account-${accountId}`, { maxCount: Number(version) });
  const state = events.reduce((s, e) => evolve(s, upcastAccountEvent(e)), initialState());
  const decision = decider.decide(
    {
      type: 'StartCall',
      commandId: randomUUID(),
      accountId,
      callId: 'authorization-check',
      destination: INDIA,
      at: now.toISOString(),
    },
    state,
    now,
  );
  if (isRejection(decision))
    return { authorized: false, maxSeconds: 0, reason: decision.code, version: version.toString() };
  const authorized = decision.find((e) => e.type === 'CallAuthorized');
  return {
    authorized: true,
    maxSeconds: authorized?.type === 'CallAuthorized' ? authorized.data.maxSeconds : 0,
    reason: 'OK',
    version: version.toString(),
  };
}

function hotSuite(
  name: string,
  makeHot: () => Promise<{ hot: HotStore; flush(): Promise<void>; close(): Promise<void> }>,
) {
  describe(`${name}: hot projection`, { timeout: 60_000 }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setUp(topUp = '590.00') {
      const store = new MemoryEventStore();
      const { hot, flush, close } = await makeHot();
      cleanups.push(close);
      const { ledger, accountId, run } = await ledgerWithAccount(topUp, { store, planId: 'starter' });
      const loadAccount = loaderFrom(async (id) => {
        const loaded = await ledger.load(id);
        return { version: loaded.version, state: loaded.state };
      }, store);
      const projector = new HotProjector({
        store,
        hot,
        loadAccount,
        loadAll: async () => [],
        coldStartPosition: async () => null,
      });
      cleanups.push(() => projector.stop());
      const authorizer = new CallAuthorizer({
        hot,
        decider,
        reload: (id) => projector.reload(id),
        policy: { mode: 'fail-closed' },
      });
      const caughtUp = async () => {
        const head = await store.headPosition();
        for (let i = 0; i < 500 && projector.position !== head; i += 1) await new Promise((r) => setTimeout(r, 10));
        expect(projector.position).toBe(head);
      };
      return { store, hot, flush, ledger, accountId, run, projector, authorizer, caughtUp };
    }

    it('stores only v+1 on top of v: older updates are skipped and gaps reported', async () => {
      const { hot, close } = await makeHot();
      cleanups.push(close);
      const state = initialState();
      const id = randomUUID();
      expect(await hot.apply([{ accountId: id, fromVersion: 1n, toVersion: 3n, state }], null)).toEqual(['applied']);
      expect(await hot.apply([{ accountId: id, fromVersion: 2n, toVersion: 3n, state }], null)).toEqual(['skipped']);
      expect(await hot.apply([{ accountId: id, fromVersion: 6n, toVersion: 7n, state }], null)).toEqual(['gap']);
      expect(
        await hot.apply(
          [{ accountId: id, fromVersion: 4n, toVersion: 5n, state }],
          '00000000000000000000:00000000000000000009' as never,
        ),
      ).toEqual(['applied']);
      expect((await hot.get(id))?.version).toBe(5n);
      await hot.apply([], '00000000000000000000:00000000000000000002' as never);
      expect(await hot.checkpoint()).toBe('00000000000000000000:00000000000000000009');
    });

    it('follows the ledger and decides calls exactly as the StartCall append will', async () => {
      const { projector, authorizer, accountId, run, caughtUp, store } = await setUp('590.00'); // ₹151 after Starter
      await projector.start();
      await caughtUp();
      const first = await authorizer.authorize(accountId, INDIA, new Date(NOW));
      expect(first).toEqual(await authoritative(store, accountId, 5n, new Date(NOW)));
      expect(first).toMatchObject({ authorized: true, maxSeconds: 7_200 });
      await run('SuspendAccount', { reason: 'test' });
      await caughtUp();
      expect(await authorizer.authorize(accountId, INDIA, new Date(NOW))).toMatchObject({
        authorized: false,
        reason: 'ACCOUNT_SUSPENDED',
      });
      expect(await authorizer.authorize(accountId, '+15551234567', new Date(NOW))).toMatchObject({ authorized: false });
    });

    it('refills an account lost from the store (a flush) instead of deciding on nothing', async () => {
      const { projector, authorizer, accountId, run, caughtUp, flush } = await setUp();
      await projector.start();
      await caughtUp();
      await flush();
      const decision = await authorizer.authorize(accountId, INDIA, new Date(NOW));
      expect(decision).toMatchObject({ authorized: true, version: '5' });
      await run('TopUpWallet', { amount: '118.00' });
      await caughtUp();
      expect((await authorizer.authorize(accountId, INDIA, new Date(NOW))).version).toBe('6');
    });

    it('decides nothing wrong while the store is flushed during a stream of calls and top-ups', async () => {
      const { projector, authorizer, accountId, run, caughtUp, flush, store } = await setUp('590.00');
      await projector.start();
      await caughtUp();
      const decisions: AuthorizationDecision[] = [];
      const authorizing = (async () => {
        for (let i = 0; i < 300; i += 1) {
          decisions.push(await authorizer.authorize(accountId, INDIA, new Date(NOW)));
          if (i % 50 === 0) await flush();
        }
      })();
      for (let i = 0; i < 20; i += 1) {
        await run('StartCall', { callId: `c${i}`, destination: INDIA, at: new Date(NOW).toISOString() });
        await run('TopUpWallet', { amount: '11.80' });
      }
      await authorizing;
      await caughtUp();
      expect(decisions.length).toBe(300);
      for (const decision of decisions) {
        if (decision.version === null) {
          expect(decision.authorized).toBe(false);
          continue;
        }
        expect(decision).toEqual(await authoritative(store, accountId, BigInt(decision.version), new Date(NOW)));
      }
    });

    it('starts cold from the read model and tails the log from its checkpoint', async () => {
      const { store, hot, ledger, accountId, run } = await setUp();
      const loaded = await ledger.load(accountId);
      const head = await store.headPosition();
      await run('TopUpWallet', { amount: '118.00' }); // after the read model's checkpoint
      const projector = new HotProjector({
        store,
        hot,
        loadAccount: loaderFrom(async () => null, store),
        loadAll: async () => [{ accountId, version: loaded.version, state: loaded.state }],
        coldStartPosition: async () => head,
      });
      cleanups.push(() => projector.stop());
      await projector.start();
      for (let i = 0; i < 200 && (await hot.get(accountId))?.version !== 6n; i += 1)
        await new Promise((r) => setTimeout(r, 10));
      expect((await hot.get(accountId))?.version).toBe(6n);
      expect((await hot.get(accountId))?.state.balance.toString()).toBe(
        (await ledger.load(accountId)).state.balance.toString(),
      );
    });
  });
}

hotSuite('memory', async () => {
  const hot = new MemoryHotStore();
  return { hot, flush: () => hot.clear(), close: () => hot.close() };
});

describeWithService(redisService(), 'hot projection in redis', (url) => {
  hotSuite('redis', async () => {
    const client = new Redis(url, { maxRetriesPerRequest: 2 });
    const hot = new RedisHotStore(client, { keyPrefix: `test-${randomUUID()}:` });
    // A real flush would wipe other test files' keys on the shared server; clearing every key of this
    // store is the same event from the projection's point of view.
    return { hot, flush: () => hot.clear(), close: () => hot.clear().then(() => hot.close()) };
  });

  it('answers authorizations that arrive together with one Redis round trip, each with its own account', async () => {
    const client = new Redis(url, { maxRetriesPerRequest: 2 });
    const hot = new RedisHotStore(client, { keyPrefix: `test-${randomUUID()}:` });
    try {
      const accounts = Array.from({ length: 40 }, (_, index) => ({ id: randomUUID(), version: BigInt(index + 1) }));
      await hot.apply(
        accounts.map(({ id, version }) => ({
          accountId: id,
          fromVersion: 1n,
          toVersion: version,
          state: initialState(),
        })),
        null,
      );
      let scriptCalls = 0;
      const send = client.sendCommand.bind(client);
      client.sendCommand = ((command: { name: string }) => {
        if (command.name === 'evalsha' || command.name === 'eval') scriptCalls += 1;
        return send(command as never);
      }) as typeof client.sendCommand;
      const unknown = randomUUID();
      const asked = [...accounts.map(({ id }) => id), accounts[0]?.id as string, unknown];
      const first = await Promise.all(asked.map((id) => hot.get(id)));
      expect(scriptCalls).toBe(1);
      expect(first.map((account) => account?.version ?? null)).toEqual([
        ...accounts.map(({ version }) => version),
        1n,
        null,
      ]);
      // Unchanged versions: the states this process already decoded are answered again, not resent.
      const second = await Promise.all(accounts.map(({ id }) => hot.get(id)));
      expect(scriptCalls).toBe(2);
      second.forEach((account, index) => {
        expect(account).toBe(first[index]);
      });
    } finally {
      await hot.clear();
      await hot.close();
    }
  });

  it('fails closed (or open, with a cap) when Redis cannot be reached', async () => {
    const unreachable = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    });
    unreachable.on('error', () => {});
    const hot = new RedisHotStore(unreachable);
    const reload = async () => {
      throw new Error('database down too');
    };
    const closed = new CallAuthorizer({ hot, decider, reload, policy: { mode: 'fail-closed' } });
    const open = new CallAuthorizer({ hot, decider, reload, policy: { mode: 'fail-open', maxSeconds: 300 } });
    expect(await closed.authorize(randomUUID(), INDIA, new Date(NOW))).toEqual({
      authorized: false,
      maxSeconds: 0,
      reason: 'HOT_PROJECTION_UNAVAILABLE',
      version: null,
    });
    expect(await open.authorize(randomUUID(), INDIA, new Date(NOW))).toEqual({
      authorized: true,
      maxSeconds: 300,
      reason: 'HOT_PROJECTION_UNAVAILABLE',
      version: null,
    });
    unreachable.disconnect();
  });
});
