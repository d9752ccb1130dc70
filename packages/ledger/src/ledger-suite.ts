/**
 * The command handler's behaviour as a test suite, run against every event store (memory in the unit
 * tier; PostgreSQL and PGlite in the integration tier) with that store's command log and snapshots.
 */
import { randomUUID } from 'node:crypto';
import { accountRules, Money, parseCatalog } from '@khata/domain';
import type { EventStore, NewEvent } from '@khata/event-store';
import addOnsFile from '@khata/schemas/catalog/add-ons.json' with { type: 'json' };
import plansFile from '@khata/schemas/catalog/plans.json' with { type: 'json' };
import { afterEach, describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH } from './chain.ts';
import { accountStream } from './ids.ts';
import { InvalidCommand, Ledger } from './ledger.ts';
import { type CommandOutcome, toLogged } from './outcome.ts';
import { type CommandLog, MemoryCommandLog, MemorySnapshotStore, type SnapshotStore } from './stores.ts';
import { catalogRules } from './testing.ts';

export interface LedgerTarget {
  /** An empty store with its command log and snapshot store. */
  fresh(): Promise<{ store: EventStore; commandLog: CommandLog; snapshots: SnapshotStore; close(): Promise<void> }>;
  /** Overwrites one stored event's data, as an attacker with database access would (absent: no tamper test). */
  tamper?(store: EventStore, streamId: string, version: bigint, data: object): Promise<void>;
  /** The store writes the command log in the append's own statement (a SQL store with the ledger's function). */
  readonly logsWithAppends?: boolean;
}

export { catalogRules };

const NOW = Date.parse('2026-11-02T04:30:00.000Z');
const META = { actor: 'user:test' };
const INDIA = '+919845012345';

function openAccountCommand(accountId: string) {
  return {
    type: 'OpenAccount',
    commandId: randomUUID(),
    accountId,
    legalName: 'Acme Contact Centre Pvt Ltd',
    contact: { name: 'Asha Rao', email: 'asha@acme.example', phone: '+91 98450 00000' },
    billingAddress: { line1: '12 MG Road', city: 'Bengaluru', stateCode: '29', postalCode: '560001', country: 'IN' },
    billingMode: 'prepaid',
  };
}

const command = (accountId: string, type: string, fields: object) => ({
  type,
  commandId: randomUUID(),
  accountId,
  ...fields,
});

function expectAccepted(outcome: CommandOutcome): asserts outcome is Extract<CommandOutcome, { status: 'accepted' }> {
  if (outcome.status !== 'accepted')
    throw new Error(`expected acceptance, got ${outcome.rejection.code}: ${outcome.rejection.message}`);
}

export function ledgerSuite(name: string, target: LedgerTarget): void {
  describe(`${name}: command handling`, { timeout: 60_000 }, () => {
    const closers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const close of closers.splice(0)) await close();
    });

    async function setUp(options: { snapshotEvery?: number } = {}) {
      const env = await target.fresh();
      closers.push(env.close);
      let clock = NOW;
      const make = () =>
        new Ledger({
          store: env.store,
          commandLog: env.commandLog,
          snapshots: env.snapshots,
          rules: catalogRules,
          clock: () => new Date(clock),
          ...(options.snapshotEvery === undefined ? {} : { snapshotEvery: options.snapshotEvery }),
        });
      const ledger = make();
      return {
        ...env,
        ledger,
        make,
        advance: (ms: number) => {
          clock += ms;
        },
        async funded(rupeesGross: string, planId = 'professional') {
          const accountId = randomUUID();
          expectAccepted(await ledger.execute(openAccountCommand(accountId), META));
          expectAccepted(await ledger.execute(command(accountId, 'TopUpWallet', { amount: rupeesGross }), META));
          expectAccepted(await ledger.execute(command(accountId, 'Subscribe', { planId, cycle: 'monthly' }), META));
          return accountId;
        },
      };
    }

    it('appends decided events with metadata and a hash chain that verifies', async () => {
      const { ledger, store, funded } = await setUp();
      const accountId = await funded('2360.00');
      const { events, version } = await store.readStream(accountStream(accountId));
      expect(version).toBe(5n);
      expect(events.map((e) => e.type)).toEqual([
        'AccountOpened',
        'WalletToppedUp',
        'SubscriptionStarted',
        'SubscriptionCharged',
        'UsageMonthStarted',
      ]);
      expect(events[0]?.metadata).toMatchObject({ actor: 'user:test', recordedAt: new Date(NOW).toISOString() });
      let previous = GENESIS_HASH;
      for (const e of events) {
        expect(e.metadata.chainHash).toBe(
          chainHash(previous, {
            streamId: e.streamId,
            version: e.version,
            eventId: e.eventId,
            type: e.type,
            schemaVersion: e.schemaVersion,
            data: e.data,
            metadata: e.metadata as never,
          }),
        );
        previous = e.metadata.chainHash as string;
      }
      expect(await ledger.verifyChain(accountId)).toMatchObject({ ok: true, eventsChecked: 5, firstBreak: null });
      const loaded = await ledger.load(accountId);
      expect(loaded.state.balance.toString()).toBe('1001.00');
      expect(loaded.lastHash).toBe(previous);
    });

    if (target.tamper !== undefined) {
      const tamper = target.tamper;
      it('reports the first broken link when a stored event is edited', async () => {
        const { ledger, store, funded } = await setUp();
        const accountId = await funded('2360.00');
        await tamper(store, accountStream(accountId), 2n, { gross: '23600.00', taxable: '20000.00' });
        const report = await ledger.verifyChain(accountId);
        expect(report.ok).toBe(false);
        expect(report.eventsChecked).toBe(1);
        expect(report.firstBreak).toMatchObject({ version: '2' });
      });
    }

    it('refuses a command that does not match its schema, and writes nothing', async () => {
      const { ledger, store } = await setUp();
      const accountId = randomUUID();
      const bad = { ...openAccountCommand(accountId), billingMode: 'credit-card', extra: 1 };
      const attempt = ledger.execute(bad, META);
      await expect(attempt).rejects.toBeInstanceOf(InvalidCommand);
      await expect(attempt).rejects.toMatchObject({
        issues: expect.arrayContaining([{ path: '/extra', message: 'is not allowed here' }]),
      });
      await expect(
        ledger.execute({ type: 'TopUpWallet', accountId, commandId: 'nope', amount: '1' }, META),
      ).rejects.toBeInstanceOf(InvalidCommand);
      expect(await store.headPosition()).toBeNull();
    });

    it('answers a retried command with its first outcome, rejections included, and appends nothing', async () => {
      const { ledger, store, funded } = await setUp();
      const accountId = await funded('1180.00', 'starter'); // ₹651 left
      const topUp = command(accountId, 'TopUpWallet', { amount: '118.00' });
      const first = await ledger.execute(topUp, META);
      const again = await ledger.execute(topUp, META);
      expect(again).toEqual(first);
      const tooMuch = command(accountId, 'AdjustWallet', { amount: '-5000', reason: 'test' });
      const refused = await ledger.execute(tooMuch, META);
      expect(refused).toMatchObject({ status: 'rejected', rejection: { code: 'INSUFFICIENT_FUNDS' } });
      expectAccepted(await ledger.execute(command(accountId, 'TopUpWallet', { amount: '11800.00' }), META));
      // Now the adjustment would succeed, but the same command id keeps its first answer.
      expect(await ledger.execute(tooMuch, META)).toEqual(refused);
      expect((await store.readStream(accountStream(accountId))).version).toBe(7n);
    });

    it('appends nothing for a command whose log entry was lost, and recovers its original events', async () => {
      const { make, store, funded } = await setUp();
      const accountId = await funded('2360.00');
      const topUp = command(accountId, 'TopUpWallet', { amount: '590.00' });
      const first = await make().execute(topUp, META);
      expectAccepted(first);
      // Simulate a crash between the append and the log write: a process with no log entry and no cache.
      const outcomeWithoutLog = await new Ledger({
        store,
        commandLog: { getMany: async () => new Map(), putMany: async () => {} },
        snapshots: { load: async () => null, save: async () => {} },
        rules: catalogRules,
        clock: () => new Date(NOW + 60_000),
      }).execute(topUp, META);
      expect(outcomeWithoutLog).toMatchObject({ status: 'accepted', events: first.events });
      expect((await store.readStream(accountStream(accountId))).version).toBe(6n);
    });

    it('records every outcome in the command log, in the append itself when the store can', async () => {
      const { store, commandLog, snapshots, funded } = await setUp();
      const accountId = await funded('2360.00');
      let separateWrites = 0;
      let reads = 0;
      const counted: CommandLog = {
        getMany: (ids) => {
          reads += 1;
          return commandLog.getMany(ids);
        },
        putMany: async (outcomes) => {
          separateWrites += 1;
          await commandLog.putMany(outcomes);
        },
      };
      const ledger = new Ledger({
        store,
        commandLog: counted,
        snapshots,
        rules: catalogRules,
        clock: () => new Date(NOW),
      });
      const topUp = command(accountId, 'TopUpWallet', { amount: '590.00' });
      const tooMuch = command(accountId, 'AdjustWallet', { amount: '-99999', reason: 'test' });
      const [accepted, refused] = await ledger.executeBatch([topUp, tooMuch], META);
      expectAccepted(accepted as CommandOutcome);
      expect(refused).toMatchObject({ status: 'rejected', rejection: { code: 'INSUFFICIENT_FUNDS' } });
      const logged = await commandLog.getMany([topUp.commandId, tooMuch.commandId]);
      // The log names an accepted command's events (id, type, version); their data stays in the stream only.
      expect(logged.get(topUp.commandId)).toEqual(toLogged(accepted as CommandOutcome));
      expect(JSON.stringify(logged.get(topUp.commandId))).not.toContain('"data"');
      expect(logged.get(tooMuch.commandId)).toEqual(refused);
      // With the append's statement writing both entries there is nothing left to write after it, and nothing to
      // read before it (the append is refused if a command is in the log already).
      expect(separateWrites).toBe(target.logsWithAppends === true ? 0 : 1);
      expect(reads).toBe(target.logsWithAppends === true ? 0 : 1);
      // A batch that appends nothing (a rejection alone) is logged on its own.
      const alone = command(accountId, 'AdjustWallet', { amount: '-99999', reason: 'again' });
      expect(await ledger.execute(alone, META)).toMatchObject({ status: 'rejected' });
      expect((await commandLog.getMany([alone.commandId])).get(alone.commandId)).toMatchObject({ status: 'rejected' });
      // Another process retrying at once finds the first outcomes, the events' data read back from the stream.
      const elsewhere = new Ledger({ store, commandLog, snapshots, rules: catalogRules, clock: () => new Date(NOW) });
      expect(await elsewhere.executeBatch([topUp, tooMuch], META)).toEqual([accepted, refused]);
    });

    it('answers a retried batch from the log with one read of its events, however many commands it holds', async () => {
      const { store, commandLog, snapshots, funded } = await setUp();
      const accountId = await funded('2360.00');
      const topUps = Array.from({ length: 30 }, () => command(accountId, 'TopUpWallet', { amount: '11.80' }));
      const first = await new Ledger({
        store,
        commandLog,
        snapshots,
        rules: catalogRules,
        clock: () => new Date(NOW),
      }).executeBatch(topUps, META);
      // A process that holds nothing of the account retries all of them, and another one of them only.
      const retry = async (commands: readonly object[]) => {
        let reads = 0;
        const counted = new Proxy(store, {
          get(target, property) {
            const value = Reflect.get(target, property, target);
            if (property === 'readStream') {
              return (...args: Parameters<EventStore['readStream']>) => {
                reads += 1;
                return target.readStream(...args);
              };
            }
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
        const ledger = new Ledger({
          store: counted,
          commandLog,
          snapshots,
          rules: catalogRules,
          clock: () => new Date(NOW),
        });
        return { outcomes: await ledger.executeBatch(commands, META), reads: () => reads };
      };
      const all = await retry(topUps);
      expect(all.outcomes).toEqual(first);
      const one = await retry([topUps[7] as object]);
      expect(one.outcomes).toEqual([first[7]]);
      expect(all.reads()).toBe(one.reads());
      expect((await store.readStream(accountStream(accountId))).version).toBe(35n);
    });

    it('answers from a log entry that still holds its events data, as entries written before did', async () => {
      const { store, commandLog, snapshots, funded } = await setUp();
      const accountId = await funded('2360.00');
      const topUp = command(accountId, 'TopUpWallet', { amount: '590.00' });
      const fresh = () => new Ledger({ store, commandLog, snapshots, rules: catalogRules, clock: () => new Date(NOW) });
      const first = await fresh().execute(topUp, META);
      expectAccepted(first);
      const [event] = first.events;
      if (event === undefined) throw new Error('the top-up appended no event');
      // An entry of the older shape (data copied into the log) with data the stream does not hold: it is answered
      // as logged, without reading the stream.
      const older = { ...first, commandId: randomUUID(), events: [{ ...event, data: { marker: 'from the log' } }] };
      await commandLog.putMany([older]);
      expect(await fresh().execute({ ...topUp, commandId: older.commandId }, META)).toEqual(older);
    });

    it('refuses to answer from a log entry whose events the stream does not hold', async () => {
      const { store, commandLog, snapshots, funded } = await setUp();
      const accountId = await funded('2360.00');
      const missing = {
        status: 'accepted' as const,
        commandId: randomUUID(),
        streamId: accountStream(accountId),
        events: [{ eventId: randomUUID(), type: 'WalletToppedUp', version: '2' }],
        streamVersion: '2',
      };
      await commandLog.putMany([missing]);
      const ledger = new Ledger({ store, commandLog, snapshots, rules: catalogRules, clock: () => new Date(NOW) });
      await expect(
        ledger.execute(command(accountId, 'TopUpWallet', { amount: '1.00', commandId: missing.commandId }), META),
      ).rejects.toThrow(/which the stream does not hold/);
    });

    it('rates a CDR once per call uuid, however many commands report it', async () => {
      const { ledger, store, funded, make } = await setUp();
      const accountId = await funded('2360.00');
      expectAccepted(
        await ledger.execute(
          command(accountId, 'StartCall', { callId: 'call-1', destination: INDIA, at: new Date(NOW).toISOString() }),
          META,
        ),
      );
      const cdr = {
        callId: 'call-1',
        leg: 'A',
        destination: INDIA,
        startedAt: new Date(NOW).toISOString(),
        answeredAt: new Date(NOW).toISOString(),
        billableMilliseconds: 125_000,
      };
      const first = await ledger.execute(command(accountId, 'RateCdr', { cdr }), META);
      expectAccepted(first);
      expect(first.events.map((e) => e.type)).toEqual(['CdrRated']);
      const versionAfterFirst = (await store.readStream(accountStream(accountId))).version;
      // The same call arrives again: by HTTP with a new command id, and through another process.
      const second = await ledger.execute(command(accountId, 'RateCdr', { cdr }), META);
      const third = await make().execute(
        command(accountId, 'RateCdr', { cdr: { ...cdr, billableMilliseconds: 126_000 } }),
        META,
      );
      for (const repeat of [second, third]) {
        expectAccepted(repeat);
        expect(repeat.events).toEqual(first.events);
      }
      expect((await store.readStream(accountStream(accountId))).version).toBe(versionAfterFirst);
      expect((await ledger.load(accountId)).state.usageMonth?.usedSeconds).toBe(180);
    });

    it('batches a hot account’s concurrent commands through one writer without overspending', async () => {
      const { ledger, store, funded } = await setUp();
      const accountId = await funded('11800.00', 'call-center'); // ₹5,001 after the plan
      let appends = 0;
      const append = store.appendToStream.bind(store);
      store.appendToStream = (...args) => {
        appends += 1;
        return append(...args);
      };
      const at = new Date(NOW).toISOString();
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          ledger.execute(command(accountId, 'StartCall', { callId: `c-${i}`, destination: INDIA, at }), META),
        ),
      );
      store.appendToStream = append;
      const accepted = outcomes.filter((o) => o.status === 'accepted');
      const refused = outcomes.filter((o) => o.status === 'rejected');
      expect(accepted.length + refused.length).toBe(200);
      for (const o of refused) expect(o).toMatchObject({ rejection: { code: 'INSUFFICIENT_FUNDS' } });
      expect(appends).toBeLessThan(20);
      const { state } = await ledger.load(accountId);
      expect(state.reservations.size).toBe(accepted.length);
      expect(state.balance.minus(state.reserved).isNegative()).toBe(false);
      const month = state.usageMonth;
      expect(state.reservedFreeSeconds).toBeLessThanOrEqual(month?.freeSeconds ?? 0);
    });

    it('stays consistent when two processes write to the same account at once', async () => {
      const { make, funded } = await setUp();
      const accountId = await funded('23600.00');
      const a = make();
      const b = make();
      const topUps = Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? a : b).execute(command(accountId, 'TopUpWallet', { amount: '11.80' }), META),
      );
      for (const outcome of await Promise.all(topUps)) expectAccepted(outcome);
      const fresh = make();
      const { state } = await fresh.load(accountId);
      expect(state.balance.toString()).toBe(Money.parse('19001').plus(Money.parse('400')).toString());
      expect(await fresh.verifyChain(accountId)).toMatchObject({ ok: true });
    });

    it('decides on the stream, not on its cached state, after another process wrote to the account', async () => {
      const { make, funded } = await setUp();
      const accountId = await funded('2360.00');
      const a = make();
      const b = make();
      const at = new Date(NOW).toISOString();
      // `a` suspends the account and so caches it as suspended; `b` reinstates it, which `a` does not see.
      expectAccepted(await a.execute(command(accountId, 'SuspendAccount', { reason: 'unpaid invoice' }), META));
      expectAccepted(await b.execute(command(accountId, 'ReinstateAccount', { reason: 'paid' }), META));
      // A refusal on the stale state would be wrong: `a` reads what it missed and accepts.
      const allowed = await a.execute(command(accountId, 'StartCall', { callId: 'c-1', destination: INDIA, at }), META);
      expectAccepted(allowed);
      // An acceptance on stale state cannot be appended: `b` writes again, then `a` appends after it.
      expectAccepted(await b.execute(command(accountId, 'AdjustWallet', { amount: '1.00', reason: 'goodwill' }), META));
      const released = await a.execute(
        command(accountId, 'ReleaseReservation', { callId: 'c-1', reason: 'caller hung up before answer' }),
        META,
      );
      expectAccepted(released);
      const fresh = make();
      const { state, version } = await fresh.load(accountId);
      expect(BigInt(released.streamVersion)).toBe(version);
      expect(state.status).toBe('active');
      expect(state.reservations.size).toBe(0);
      expect(await fresh.verifyChain(accountId)).toMatchObject({ ok: true });
    });

    it('loads a long stream from its latest snapshot and the events after it', async () => {
      const { make, store, funded } = await setUp({ snapshotEvery: 10 });
      const accountId = await funded('2360.00');
      const ledger = make();
      for (let i = 0; i < 20; i += 1) {
        expectAccepted(
          await ledger.execute(command(accountId, 'AdjustWallet', { amount: '1.00', reason: `credit ${i}` }), META),
        );
      }
      await ledger.writer.settled();
      let readFrom: bigint | undefined;
      const read = store.readStream.bind(store);
      store.readStream = (stream, options) => {
        readFrom ??= options?.fromVersion;
        return read(stream, options);
      };
      const restarted = make();
      const loaded = await restarted.load(accountId);
      store.readStream = read;
      expect(loaded.version).toBe(25n);
      expect(readFrom).toBe(21n);
      expect(loaded.state.balance.toString()).toBe('1021.00');
    });

    it('answers commands without waiting for the snapshot save, which lands afterwards', async () => {
      const env = await target.fresh();
      closers.push(env.close);
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const saved: bigint[] = [];
      const slowSnapshots: SnapshotStore = {
        load: (streamId) => env.snapshots.load(streamId),
        save: async (snapshot) => {
          await gate;
          await env.snapshots.save(snapshot);
          saved.push(snapshot.version);
        },
      };
      const ledger = new Ledger({
        store: env.store,
        commandLog: env.commandLog,
        snapshots: slowSnapshots,
        rules: catalogRules,
        clock: () => new Date(NOW),
        snapshotEvery: 4,
      });
      const accountId = randomUUID();
      expectAccepted(await ledger.execute(openAccountCommand(accountId), META));
      for (let i = 0; i < 8; i += 1) {
        expectAccepted(
          await ledger.execute(command(accountId, 'AdjustWallet', { amount: '1.00', reason: `credit ${i}` }), META),
        );
      }
      expect((await ledger.load(accountId)).version).toBe(9n);
      // Every command was answered while both saves (versions 4 and 8) were held back.
      expect(saved).toEqual([]);
      let settled = false;
      const settling = ledger.writer.settled().then(() => {
        settled = true;
      });
      await Promise.resolve();
      expect(settled).toBe(false);
      release();
      await settling;
      expect(saved.sort()).toEqual([4n, 8n]);
      expect((await env.snapshots.load(accountStream(accountId)))?.version).toBe(8n);
    });

    it('keeps each toll-free number on one account at a time', async () => {
      const { ledger, funded } = await setUp();
      const first = await funded('2360.00');
      const second = await funded('2360.00');
      expectAccepted(
        await ledger.execute(command(first, 'AssignNumber', { kind: 'toll-free', number: '18001234567' }), META),
      );
      expect(
        await ledger.execute(command(second, 'AssignNumber', { kind: 'toll-free', number: '18001234567' }), META),
      ).toMatchObject({
        status: 'rejected',
        rejection: { code: 'NUMBER_IN_USE' },
      });
      expectAccepted(
        await ledger.execute(command(first, 'ReleaseNumber', { kind: 'toll-free', number: '18001234567' }), META),
      );
      expectAccepted(
        await ledger.execute(command(second, 'AssignNumber', { kind: 'toll-free', number: '18001234567' }), META),
      );
      expect((await ledger.holderOf('18001234567')).holder).toBe(second);
    });

    it('takes over a claim whose holder never completed the assignment', async () => {
      const { ledger, store, funded } = await setUp();
      const crashed = await funded('2360.00');
      const next = await funded('2360.00');
      // A claim written by a process that died before assigning the number to its account.
      const claim: NewEvent = { eventId: randomUUID(), type: 'TollFreeNumberClaimed', data: { accountId: crashed } };
      await store.appendToStream('tollfree-18009990000', [claim], { expected: 'no_stream' });
      expectAccepted(
        await ledger.execute(command(next, 'AssignNumber', { kind: 'toll-free', number: '18009990000' }), META),
      );
      expect((await ledger.holderOf('18009990000')).holder).toBe(next);
    });

    it('re-rates a month against a corrected tariff with compensating events, once', async () => {
      const { ledger, store, funded } = await setUp();
      const accountId = await funded('118000.00', 'professional');
      const at = new Date(NOW).toISOString();
      // 500 free minutes used up by one long call, then one 90 s overage call at ₹1.60 per started minute.
      for (const [callId, ms] of [
        ['bulk', 30_000_000],
        ['over', 90_000],
      ] as const) {
        const cdr = { callId, leg: 'A', destination: INDIA, startedAt: at, answeredAt: at, billableMilliseconds: ms };
        expectAccepted(await ledger.execute(command(accountId, 'RateCdr', { cdr }), META));
      }
      const corrected = accountRules({
        catalog: parseCatalog([
          {
            file: 'plans.json',
            content: {
              plans: plansFile.plans.map((plan) =>
                plan.id === 'professional' ? { ...plan, overage: { ...plan.overage, pricePerMinute: '1.00' } } : plan,
              ),
            },
          },
          { file: 'add-ons.json', content: addOnsFile },
        ]),
        supplierState: '29',
      });
      const fixedLedger = new Ledger({
        store,
        commandLog: new MemoryCommandLog(),
        snapshots: new MemorySnapshotStore(),
        rules: corrected,
        clock: () => new Date(NOW),
      });
      const period = { from: '2026-11-02', to: '2026-11-30', reason: 'overage price corrected' };
      const outcome = await fixedLedger.rerate(accountId, { ...period, commandId: randomUUID() }, META);
      expectAccepted(outcome);
      expect(outcome.events).toEqual([
        expect.objectContaining({
          type: 'CallRerated',
          data: expect.objectContaining({ callId: 'over', previousCost: '3.20', newCost: '2.00', adjustment: '-1.20' }),
        }),
      ]);
      const again = await fixedLedger.rerate(accountId, { ...period, commandId: randomUUID() }, META);
      expectAccepted(again);
      expect(again.events).toEqual([]);
      const { state } = await fixedLedger.load(accountId);
      // ₹1,00,000 − ₹999 plan − ₹2.00 for the overage call at the corrected price.
      expect(state.balance.toString()).toBe('98999.00');
    });

    it('upcasts older event versions while loading', async () => {
      const { ledger, store, funded } = await setUp();
      const accountId = await funded('2360.00');
      const at = new Date(NOW).toISOString();
      await store.appendToStream(
        accountStream(accountId),
        [
          {
            eventId: randomUUID(),
            type: 'CdrRated',
            schemaVersion: 1,
            data: {
              callId: 'old',
              destination: INDIA,
              destinationName: 'Overage',
              tariffId: 'professional-overage',
              answeredAt: at,
              durationSeconds: 30,
              billedSeconds: 60,
              freeSecondsUsed: 60,
              overageSeconds: 0,
              cost: '0.00',
              hadReservation: false,
              reservedAmount: '0.00',
              reservedFreeSeconds: 0,
              excess: '0.00',
              usageMonthStart: '2026-11-02',
              ratedAt: at,
              billSeconds: 30,
            },
          },
        ],
        { expected: 5n },
      );
      ledger.writer.forget(accountId);
      const { state } = await ledger.load(accountId);
      expect(state.callsRated).toBe(1);
      expect(state.usageMonth?.usedSeconds).toBe(60);
    });
  });
}
