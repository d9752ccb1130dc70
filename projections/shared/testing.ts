/**
 * What the read models' integration tests share: a harness that runs the real command handler
 * (Ledger) against an event store and the projector over it, on PGlite always and on PostgreSQL when
 * DATABASE_URL is set; and one realistic history of four accounts that every read model's test replays
 * and checks its rows against.
 */
import { type AccountRules, accountRules, parseCatalog, parseTariff } from '@khata/domain';
import { eventStoreMigrations, matchesFilter, type Position, SqlEventStore } from '@khata/event-store';
import { type AcceptedEvent, type CommandOutcome, Ledger, MemoryCommandLog, MemorySnapshotStore } from '@khata/ledger';
import { type Projection, Projector } from '@khata/projector';
import addOnsFile from '@khata/schemas/catalog/add-ons.json' with { type: 'json' };
import plansFile from '@khata/schemas/catalog/plans.json' with { type: 'json' };
import internationalTariff from '@khata/schemas/tariffs/intl-2026.json' with { type: 'json' };
import { createPgliteClient, createPostgresClient, migrate, type SqlClient, type SqlQueryable } from '@khata/sql';
import { createTestDatabase, describeWithService, postgres } from '@khata/testing';
import { describe, expect } from 'vitest';
import { accountIdOf } from './accounts.ts';

type PlanDocument = (typeof plansFile.plans)[number];

function rules(overage: (plan: PlanDocument) => PlanDocument['overage'] = (plan) => plan.overage): AccountRules {
  return accountRules({
    catalog: parseCatalog([
      { file: 'plans.json', content: { plans: plansFile.plans.map((plan) => ({ ...plan, overage: overage(plan) })) } },
      { file: 'add-ons.json', content: addOnsFile },
    ]),
    supplierState: '29',
    destinationTariff: parseTariff(internationalTariff),
  });
}

/** The shipped catalog and international tariff, supplier in Karnataka (29). */
export const testRules: AccountRules = rules();

/** The same, with the Professional and Starter overage corrected to ₹1.00 a minute (re-rating). */
export const correctedRules: AccountRules = rules((plan) =>
  plan.id === 'professional' || plan.id === 'starter' ? { ...plan.overage, pricePerMinute: '1.00' } : plan.overage,
);

export interface Connection {
  readonly db: SqlClient;
  close(): Promise<void>;
}

/**
 * Declares `body` once per database: PGlite always, PostgreSQL (a throwaway database on DATABASE_URL's
 * server) when it is set. `connect` opens that database; call it once per file and share it.
 */
export function eachDatabase(title: string, body: (connect: () => Promise<Connection>) => void): void {
  describe(`${title} (pglite)`, { timeout: 60_000 }, () => {
    body(async () => {
      const db = await createPgliteClient();
      return { db, close: () => db.close() };
    });
  });
  describeWithService(postgres(), `${title} (postgres)`, (serverUrl) => {
    body(async () => {
      const database = await createTestDatabase(serverUrl);
      const db = createPostgresClient({ connectionString: database.url, applicationName: 'khata-test' });
      return {
        db,
        async close() {
          await db.close();
          await database.drop();
        },
      };
    });
  });
}

const META = { actor: 'user:test' };

/** `tx` as it is, counting the COPYs run through it (which path a read model's write took). */
export function countingCopies(tx: SqlQueryable): { readonly tx: SqlQueryable; copies(): number } {
  let copies = 0;
  return {
    tx: {
      query: (text, params, options) => tx.query(text, params, options),
      exec: (script) => tx.exec(script),
      copyFrom(target, data) {
        copies += 1;
        return tx.copyFrom(target, data);
      },
    },
    copies: () => copies,
  };
}

export class Harness {
  readonly db: SqlClient;
  readonly store: SqlEventStore;
  readonly ledger: Ledger;
  readonly projector: Projector;
  readonly #connection: Connection;
  #now: number;

  constructor(connection: Connection, store: SqlEventStore, projector: Projector, startAt: string) {
    this.#connection = connection;
    this.db = connection.db;
    this.store = store;
    this.projector = projector;
    this.#now = Date.parse(startAt);
    this.ledger = this.ledgerWith(testRules);
  }

  /** A command handler on the same store with other rules (e.g. corrected tariffs). */
  ledgerWith(accountRulesToUse: AccountRules): Ledger {
    return new Ledger({
      store: this.store,
      commandLog: new MemoryCommandLog(),
      snapshots: new MemorySnapshotStore(),
      rules: accountRulesToUse,
      clock: () => new Date(this.#now),
    });
  }

  get now(): string {
    return new Date(this.#now).toISOString();
  }

  /** Moves the command handler's clock (never backwards). */
  setNow(instant: string): void {
    const next = Date.parse(instant);
    expect(next).toBeGreaterThanOrEqual(this.#now);
    this.#now = next;
  }

  async attempt(accountId: string, type: string, fields: object = {}): Promise<CommandOutcome> {
    return this.ledger.execute({ type, commandId: crypto.randomUUID(), accountId, ...fields }, META);
  }

  /** Runs a command that must be accepted; returns the events it appended. */
  async run(accountId: string, type: string, fields: object = {}): Promise<readonly AcceptedEvent[]> {
    const outcome = await this.attempt(accountId, type, fields);
    if (outcome.status !== 'accepted') {
      throw new Error(`${type} rejected: ${outcome.rejection.code} ${outcome.rejection.message}`);
    }
    return outcome.events;
  }

  /** Waits until every read model has applied everything appended so far. */
  async settle(): Promise<void> {
    const head = await this.store.headPosition();
    if (head !== null) await this.projector.waitFor(head as Position);
  }

  schema(name: string): Promise<string> {
    return this.projector.activeSchema(name);
  }

  /** Every row of a table, in a stable order, for comparing two generations of a read model. */
  async rows(schema: string, table: string): Promise<unknown[]> {
    return this.db.query(`SELECT * FROM ${schema}.${table} AS t ORDER BY t::text`);
  }

  /**
   * Rebuilds a read model beside the live generation and checks that the rebuilt tables hold exactly
   * the rows the live one had built event by event, with the same indexes and constraints (a rebuild drops
   * secondary indexes and foreign keys while it writes and restores them before the switch).
   */
  async expectRebuildMatches(name: string, tables: readonly string[]): Promise<void> {
    await this.settle();
    const live = await this.schema(name);
    const before = Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await this.rows(live, t)])));
    const structure = await this.structure(live);
    await this.projector.rebuild(name);
    const rebuilt = await this.schema(name);
    expect(rebuilt).not.toBe(live);
    const after = Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await this.rows(rebuilt, t)])));
    expect(after).toEqual(before);
    for (const table of tables) expect(before[table]?.length ?? 0, table).toBeGreaterThan(0);
    expect(await this.structure(rebuilt)).toEqual(structure);
  }

  /** The indexes and constraints of a generation's tables, its schema name replaced by `SCHEMA`. */
  async structure(schema: string): Promise<string[]> {
    const rows = await this.db.query<{ definition: string }>(
      `SELECT 'index ' || indexname || ': ' || indexdef AS definition FROM pg_indexes WHERE schemaname = $1
       UNION ALL
       SELECT 'constraint ' || t.relname || '.' || c.conname || ': ' || pg_get_constraintdef(c.oid)
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = $1
       ORDER BY 1`,
      [schema],
    );
    return rows.map((row) => row.definition.replaceAll(schema, 'SCHEMA'));
  }

  /**
   * Applies every event of the log to the live generation a second time, straight through the
   * projection (as a crash between the write and the checkpoint would, were the runtime not
   * transactional), and checks that no row changed.
   */
  async expectReapplyChangesNothing(projection: Projection, tables: readonly string[]): Promise<void> {
    await this.settle();
    const schema = await this.schema(projection.name);
    const before = Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await this.rows(schema, t)])));
    const { events } = await this.store.readAll({ after: null, maxCount: 100_000, filter: projection.filter });
    expect(events.length).toBeGreaterThan(0);
    await this.db.transaction((tx) => projection.apply(tx, events, { schema, memory: new Map() }));
    const after = Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await this.rows(schema, t)])));
    expect(after).toEqual(before);
  }

  /**
   * The read model reads only `types` of the account streams: its filter lets no other event through, and its
   * stream versions are those of the last event of those types in each stream (none for a stream without one).
   */
  async expectReadsOnly(projection: Projection, types: readonly string[]): Promise<void> {
    await this.settle();
    const schema = await this.schema(projection.name);
    const { events } = await this.store.readAll({ after: null, maxCount: 100_000 });
    const wanted = new Set(types);
    const expected = new Map<string, string>();
    let left = 0;
    for (const event of events) {
      const accountId = accountIdOf(event.streamId);
      if (accountId === null) continue;
      expect(matchesFilter(event, projection.filter), event.type).toBe(wanted.has(event.type));
      if (wanted.has(event.type)) expected.set(accountId, event.version.toString());
      else left += 1;
    }
    expect(left).toBeGreaterThan(0);
    expect(expected.size).toBeGreaterThan(0);
    const rows = await this.db.query<{ account_id: string; stream_version: string }>(
      `SELECT account_id, stream_version FROM ${schema}.stream_versions`,
    );
    expect(new Map(rows.map((row) => [row.account_id, row.stream_version]))).toEqual(expected);
  }

  async close(): Promise<void> {
    await this.projector.stop();
    await this.store.close();
    await this.#connection.close();
  }
}

export const HISTORY_START = '2026-11-02T04:30:00.000Z';

/** Migrates the event store and the read models, and starts a projector over them. */
export async function startHarness(connection: Connection, projections: readonly Projection[]): Promise<Harness> {
  const { db } = connection;
  await migrate(db, eventStoreMigrations);
  const store = await SqlEventStore.open(db, { ownsClient: false });
  await Projector.prepare(db, projections);
  const projector = new Projector({ store, db, projections, workerId: 'test-worker', renewIntervalMs: 100 });
  projector.start();
  return new Harness(connection, store, projector, HISTORY_START);
}

const INDIA = '+919845012345';
const UK = '+447911123456';

const contact = (name: string) => ({ name, email: `${name.toLowerCase()}@example.in`, phone: '+91 98450 00000' });
const address = (stateCode: string, city: string, postalCode: string) => ({
  line1: '12 MG Road',
  city,
  stateCode,
  postalCode,
  country: 'IN' as const,
});

const cdr = (callId: string, startedAt: string, answeredAt: string | null, billableMilliseconds: number) => ({
  cdr: { callId, leg: 'A', destination: INDIA, startedAt, answeredAt, billableMilliseconds },
});

const at = (base: string, seconds: number) => new Date(Date.parse(base) + seconds * 1_000).toISOString();

/** The accounts of the history, and every event it appended to each, in order. */
export interface History {
  /**
   * Prepaid in Karnataka (intra-state GST): calls (answered, B-leg, unanswered, expired then rated late,
   * never authorized), numbers, payments, adjustments, a re-rating that moves free seconds, an upgrade,
   * a scheduled downgrade, a renewal, a cancellation at the period end and the end of the subscription.
   */
  readonly acme: string;
  /**
   * Postpaid in Maharashtra with a GSTIN: overage re-rated to a lower price, takes over acme's toll-free
   * number, cancels now with a credit, is suspended and reinstated, subscribes again.
   */
  readonly bharat: string;
  /** Prepaid in Tamil Nadu: an international call extended by a top-up mid-call; cancels at period end. */
  readonly chennai: string;
  /** Opened and closed. */
  readonly dormant: string;
  readonly events: ReadonlyMap<string, readonly AcceptedEvent[]>;
  /** The acme toll-free number that moves to bharat. */
  readonly tollFree: string;
}

/** Days of the history after which a test may look at the read models (`playHistory`'s `onDay`). */
export type HistoryDay = '2026-11-02' | '2026-11-03' | '2026-11-05' | '2026-11-17' | '2026-12-05';

/**
 * Plays a realistic history through the real command handler (see `History`). Times run from
 * 2026-11-02 10:00 IST into January 2027; every command must be accepted. `onDay` is called, with the
 * read models caught up, at the end of the days named by HistoryDay.
 */
export async function playHistory(
  h: Harness,
  onDay: (day: HistoryDay, accounts: Pick<History, 'acme' | 'bharat' | 'chennai'>) => Promise<void> = async () => {},
): Promise<History> {
  const acme = crypto.randomUUID();
  const bharat = crypto.randomUUID();
  const chennai = crypto.randomUUID();
  const dormant = crypto.randomUUID();
  const tollFree = '18001234567';
  const events = new Map<string, AcceptedEvent[]>([acme, bharat, chennai, dormant].map((id) => [id, []]));
  const run = async (accountId: string, type: string, fields: object = {}) => {
    const appended = await h.run(accountId, type, fields);
    events.get(accountId)?.push(...appended);
    return appended;
  };
  const t0 = HISTORY_START;
  const endOf = async (day: HistoryDay) => {
    await h.settle();
    await onDay(day, { acme, bharat, chennai });
  };

  // 2 November: four accounts open; three subscribe.
  await run(acme, 'OpenAccount', {
    legalName: 'Acme Contact Centre Pvt Ltd',
    contact: contact('Asha'),
    billingAddress: address('29', 'Bengaluru', '560001'),
    billingMode: 'prepaid',
  });
  await run(acme, 'TopUpWallet', { amount: '2360.00' });
  await run(acme, 'Subscribe', { planId: 'professional', cycle: 'monthly' });
  await run(acme, 'AssignNumber', { kind: 'toll-free', number: tollFree });
  await run(acme, 'AssignNumber', { kind: 'extension', number: '101' });
  await run(acme, 'AssignNumber', { kind: 'extension', number: '102' });
  await run(acme, 'AddAddOn', { addOnId: 'extra-extension', quantity: 1 });
  await run(bharat, 'OpenAccount', {
    legalName: 'Bharat Logistics LLP',
    contact: contact('Vikram'),
    billingAddress: address('27', 'Mumbai', '400001'),
    gstin: '27AAPFU0939F1ZV',
    billingMode: 'postpaid',
    creditLimit: '11800.00',
  });
  await run(bharat, 'Subscribe', { planId: 'starter', cycle: 'monthly' });
  await run(bharat, 'SetCreditLimit', { creditLimit: '23600.00' });
  await run(chennai, 'OpenAccount', {
    legalName: 'Chennai Travels',
    contact: contact('Meena'),
    billingAddress: address('33', 'Chennai', '600001'),
    billingMode: 'prepaid',
  });
  await run(chennai, 'TopUpWallet', { amount: '590.00' });
  await run(chennai, 'Subscribe', { planId: 'starter', cycle: 'monthly' });
  await run(dormant, 'OpenAccount', {
    legalName: 'Dormant Services',
    contact: contact('Ravi'),
    billingAddress: address('29', 'Mysuru', '570001'),
    billingMode: 'prepaid',
  });
  await run(dormant, 'CloseAccount', { reason: 'opened by mistake' });

  // Calls on 2 November: answered (and its B-leg), unanswered, expired then rated late, never authorized.
  h.setNow(at(t0, 60));
  await run(acme, 'StartCall', { callId: 'c-answered', destination: INDIA, at: at(t0, 60) });
  h.setNow(at(t0, 300));
  await run(acme, 'RateCdr', cdr('c-answered', at(t0, 60), at(t0, 65), 125_000));
  const bLeg = cdr('c-answered', at(t0, 60), at(t0, 65), 125_000);
  expect(await run(acme, 'RateCdr', { cdr: { ...bLeg.cdr, leg: 'B' } })).toEqual([]);
  h.setNow(at(t0, 360));
  await run(acme, 'StartCall', { callId: 'c-unanswered', destination: INDIA, at: at(t0, 360) });
  h.setNow(at(t0, 420));
  await run(acme, 'RateCdr', cdr('c-unanswered', at(t0, 360), null, 0));
  h.setNow(at(t0, 480));
  await run(acme, 'StartCall', { callId: 'c-expired', destination: INDIA, at: at(t0, 480) });
  h.setNow(at(t0, 3 * 3600));
  await run(acme, 'ExpireReservation', { callId: 'c-expired' });
  h.setNow(at(t0, 3 * 3600 + 60));
  await run(acme, 'RateCdr', cdr('c-expired', at(t0, 480), at(t0, 485), 30_000));
  await run(acme, 'RateCdr', cdr('c-unauthorized', at(t0, 3 * 3600 + 60), at(t0, 3 * 3600 + 62), 65_000));

  await endOf('2026-11-02');

  // 3 November, 12:00 IST (weekday peak): chennai calls the UK, tops up mid-call, and the call is extended.
  const noon = '2026-11-03T06:30:00.000Z';
  h.setNow(noon);
  await run(chennai, 'StartCall', { callId: 'uk-1', destination: UK, at: noon });
  h.setNow(at(noon, 60));
  await run(chennai, 'TopUpWallet', { amount: '1180.00' });
  await run(chennai, 'ExtendReservation', { callId: 'uk-1' });
  h.setNow(at(noon, 1_200));
  await run(chennai, 'RateCdr', {
    cdr: {
      callId: 'uk-1',
      leg: 'A',
      destination: UK,
      startedAt: noon,
      answeredAt: at(noon, 10),
      billableMilliseconds: 600_500,
    },
  });

  // 3 November evening: a long call leaves acme 2,640 free seconds, which an open call then reserves.
  // A call answered earlier that day is rated meanwhile, so it gets no free seconds and pays overage;
  // re-rating in answer-time order will give it free seconds. bharat goes past its free minutes.
  h.setNow('2026-11-03T14:00:00.000Z');
  await run(acme, 'RateCdr', cdr('bulk', '2026-11-03T04:30:00.000Z', '2026-11-03T04:30:00.000Z', 27_000_000));
  await run(acme, 'StartCall', { callId: 'holder', destination: INDIA, at: '2026-11-03T14:00:00.000Z' });
  await run(acme, 'RateCdr', cdr('over', '2026-11-03T03:30:00.000Z', '2026-11-03T03:30:00.000Z', 90_000));
  h.setNow('2026-11-03T14:10:00.000Z');
  await run(acme, 'RateCdr', cdr('holder', '2026-11-03T14:00:00.000Z', '2026-11-03T14:00:05.000Z', 30_000));
  await run(bharat, 'RateCdr', cdr('b-bulk', '2026-11-03T05:00:00.000Z', '2026-11-03T05:00:00.000Z', 6_090_000));

  await endOf('2026-11-03');

  // 4 November: a gateway payment (recorded and credited) and two manual adjustments.
  h.setNow('2026-11-04T05:00:00.000Z');
  await run(acme, 'RecordPayment', {
    paymentId: 'pay_R1',
    gateway: 'razorpay',
    amount: '1180.00',
    purpose: 'topup',
    reference: 'order_R1',
  });
  await run(acme, 'AdjustWallet', { amount: '10.00', reason: 'goodwill for a dropped call' });
  await run(acme, 'AdjustWallet', { amount: '-5.00', reason: 'duplicate goodwill reversed' });

  // 5 November: the overage prices are corrected and November re-rated.
  h.setNow('2026-11-05T05:00:00.000Z');
  const rerating = h.ledgerWith(correctedRules);
  for (const accountId of [acme, bharat]) {
    const period = { from: '2026-11-02', to: '2026-11-30', reason: 'overage price corrected' };
    const rerated = await rerating.rerate(accountId, { ...period, commandId: crypto.randomUUID() }, META);
    if (rerated.status !== 'accepted') throw new Error(`re-rating rejected: ${rerated.rejection.code}`);
    events.get(accountId)?.push(...rerated.events);
    h.ledger.writer.forget(accountId);
  }

  await endOf('2026-11-05');

  // 10 November: the toll-free number moves from acme to bharat; acme gives up an extension.
  h.setNow('2026-11-10T05:00:00.000Z');
  await run(acme, 'ReleaseNumber', { kind: 'toll-free', number: tollFree });
  await run(bharat, 'AssignNumber', { kind: 'toll-free', number: tollFree });
  await run(acme, 'ReleaseNumber', { kind: 'extension', number: '102' });

  // 17 November: acme upgrades now (prorated) and schedules a downgrade; bharat cancels now.
  h.setNow('2026-11-17T05:00:00.000Z');
  await run(acme, 'RecordPayment', { paymentId: 'pi_S1', gateway: 'stripe', amount: '5900.00', purpose: 'topup' });
  await run(acme, 'ChangePlan', { planId: 'call-center' });
  await run(acme, 'ChangePlan', { planId: 'starter' });
  await run(bharat, 'CancelSubscription', { when: 'now', reason: 'moving offices' });
  await run(bharat, 'SuspendAccount', { reason: 'invoice overdue' });
  await run(bharat, 'ReinstateAccount', { reason: 'invoice paid' });

  await endOf('2026-11-17');

  // 5 December: acme renews on the scheduled plan, calls, and cancels at the period end; bharat
  // subscribes again; chennai renews (by cancelling) and cancels at the period end.
  h.setNow('2026-12-05T05:00:00.000Z');
  await run(acme, 'ChargeSubscription', { on: '2026-12-05' });
  await run(acme, 'RateCdr', cdr('dec-1', '2026-12-05T04:00:00.000Z', '2026-12-05T04:00:00.000Z', 60_000));
  await run(acme, 'CancelSubscription', { when: 'period_end' });
  await run(bharat, 'Subscribe', { planId: 'professional', cycle: 'monthly' });
  await run(chennai, 'CancelSubscription', { when: 'period_end' });

  await endOf('2026-12-05');

  // 3 January: acme's subscription ends.
  h.setNow('2027-01-03T05:00:00.000Z');
  await run(acme, 'ChargeSubscription', { on: '2027-01-03' });
  await h.settle();
  return { acme, bharat, chennai, dormant, events, tollFree };
}

/** The data of the events of one type an account appended, in order. */
export function dataOf<Data = Record<string, unknown>>(history: History, accountId: string, type: string): Data[] {
  return (history.events.get(accountId) ?? [])
    .filter((event) => event.type === type)
    .map((event) => event.data as Data);
}
