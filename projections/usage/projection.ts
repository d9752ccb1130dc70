import { Money, toLocalDate } from '@khata/domain';
import type { Projection } from '@khata/projector';
import { queryBuilder, run, type SqlQueryable, tableColumns } from '@khata/sql';
import type { AccountEventAt } from '../shared/accounts.ts';
import { insertNewRows, statementSlices, writeRowsAsJson } from '../shared/rows.ts';
import { saveStreamVersions, unappliedEvents } from '../shared/streams.ts';
import {
  type UsageCallsTable,
  type UsageDatabase,
  type UsageDestinationsTable,
  type UsageMonthsTable,
  usageMigrations,
} from './migrations.ts';

const db = queryBuilder<UsageDatabase>();

/** The IST calendar month (`YYYY-MM`) of an instant. */
export function istMonth(instant: string): string {
  const date = toLocalDate(new Date(instant));
  return `${String(date.year).padStart(4, '0')}-${String(date.month).padStart(2, '0')}`;
}

interface MonthDelta {
  readonly accountId: string;
  readonly month: string;
  calls: number;
  answeredCalls: number;
  durationSeconds: number;
  billedSeconds: number;
  freeSecondsUsed: number;
  overageSeconds: number;
  cost: Money;
  reratedCalls: number;
}

interface DestinationDelta {
  readonly accountId: string;
  readonly month: string;
  readonly destinationName: string;
  calls: number;
  answeredCalls: number;
  durationSeconds: number;
  billedSeconds: number;
  cost: Money;
}

const emptyMonth = (accountId: string, month: string): MonthDelta => ({
  accountId,
  month,
  calls: 0,
  answeredCalls: 0,
  durationSeconds: 0,
  billedSeconds: 0,
  freeSecondsUsed: 0,
  overageSeconds: 0,
  cost: Money.zero,
  reratedCalls: 0,
});

const emptyDestination = (accountId: string, month: string, destinationName: string): DestinationDelta => ({
  accountId,
  month,
  destinationName,
  calls: 0,
  answeredCalls: 0,
  durationSeconds: 0,
  billedSeconds: 0,
  cost: Money.zero,
});

function entry<V>(map: Map<string, V>, key: string, empty: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = empty();
    map.set(key, value);
  }
  return value;
}

/** What a batch adds to each month and destination, and the calls it rated. */
class UsageChanges {
  readonly months = new Map<string, MonthDelta>();
  readonly destinations = new Map<string, DestinationDelta>();
  readonly calls = new Map<string, UsageCallsTable>();
  readonly #known: Map<string, UsageCallsTable>;

  constructor(known: readonly UsageCallsTable[]) {
    this.#known = new Map(known.map((call) => [`${call.account_id} ${call.call_id}`, call]));
  }

  #month(accountId: string, month: string): MonthDelta {
    return entry(this.months, `${accountId} ${month}`, () => emptyMonth(accountId, month));
  }

  #destination(accountId: string, month: string, name: string): DestinationDelta {
    return entry(this.destinations, `${accountId} ${month} ${name}`, () => emptyDestination(accountId, month, name));
  }

  apply({ accountId, event }: AccountEventAt): void {
    if (event.type === 'CdrRated') {
      const { data } = event;
      const month = istMonth(data.answeredAt ?? data.ratedAt);
      const answered = data.answeredAt === null ? 0 : 1;
      const cost = Money.parse(data.cost);
      const total = this.#month(accountId, month);
      total.calls += 1;
      total.answeredCalls += answered;
      total.durationSeconds += data.durationSeconds;
      total.billedSeconds += data.billedSeconds;
      total.freeSecondsUsed += data.freeSecondsUsed;
      total.overageSeconds += data.overageSeconds;
      total.cost = total.cost.plus(cost);
      const destination = this.#destination(accountId, month, data.destinationName);
      destination.calls += 1;
      destination.answeredCalls += answered;
      destination.durationSeconds += data.durationSeconds;
      destination.billedSeconds += data.billedSeconds;
      destination.cost = destination.cost.plus(cost);
      const call = { account_id: accountId, call_id: data.callId, month, destination_name: data.destinationName };
      this.calls.set(`${accountId} ${data.callId}`, call);
      this.#known.set(`${accountId} ${data.callId}`, call);
      return;
    }
    if (event.type === 'CallRerated') {
      const { data } = event;
      const call = this.#known.get(`${accountId} ${data.callId}`);
      if (call === undefined) throw new Error(`account ${accountId}: call ${data.callId} re-rated but never rated`);
      const adjustment = Money.parse(data.adjustment);
      const freeChange = data.newFreeSecondsUsed - data.previousFreeSecondsUsed;
      const total = this.#month(accountId, call.month);
      total.cost = total.cost.plus(adjustment);
      // Re-rating moves seconds between free and overage; the billed seconds stay those of the CDR.
      total.freeSecondsUsed += freeChange;
      total.overageSeconds -= freeChange;
      total.reratedCalls += 1;
      const destination = this.#destination(accountId, call.month, call.destination_name);
      destination.cost = destination.cost.plus(adjustment);
    }
  }
}

/** The months and destinations of the calls re-rated in this batch but rated in an earlier one. */
async function knownCalls(
  tx: SqlQueryable,
  schema: string,
  pending: ReadonlyMap<string, readonly AccountEventAt[]>,
): Promise<UsageCallsTable[]> {
  const keys: { accountId: string; callId: string }[] = [];
  for (const [accountId, events] of pending) {
    const ratedHere = new Set<string>();
    for (const { event } of events) {
      if (event.type === 'CdrRated') ratedHere.add(event.data.callId);
      if (event.type === 'CallRerated' && !ratedHere.has(event.data.callId)) {
        keys.push({ accountId, callId: event.data.callId });
      }
    }
  }
  const known: UsageCallsTable[] = [];
  for (const slice of statementSlices(keys, 2)) {
    known.push(
      ...(await run(
        tx,
        db
          .withSchema(schema)
          .selectFrom('usage_calls')
          .selectAll()
          .where(({ eb, refTuple, tuple }) =>
            eb(
              refTuple('account_id', 'call_id'),
              'in',
              slice.map((key) => tuple(key.accountId, key.callId)),
            ),
          ),
      )),
    );
  }
  return known;
}

const USAGE_CALL_COLUMNS = tableColumns<UsageCallsTable>()('account_id', 'call_id', 'month', 'destination_name');

async function writeChanges(tx: SqlQueryable, schema: string, changes: UsageChanges): Promise<void> {
  const months: UsageMonthsTable[] = [...changes.months.values()].map((delta) => {
    return {
      account_id: delta.accountId,
      month: delta.month,
      calls: delta.calls,
      answered_calls: delta.answeredCalls,
      duration_seconds: String(delta.durationSeconds),
      billed_seconds: String(delta.billedSeconds),
      free_seconds_used: String(delta.freeSecondsUsed),
      overage_seconds: String(delta.overageSeconds),
      cost: delta.cost.toString(),
      rerated_calls: delta.reratedCalls,
    };
  });
  await writeRowsAsJson(tx, schema, 'usage_months', months, {
    conflict: ['account_id', 'month'],
    update: {
      add: [
        'calls',
        'answered_calls',
        'duration_seconds',
        'billed_seconds',
        'free_seconds_used',
        'overage_seconds',
        'cost',
        'rerated_calls',
      ],
    },
  });
  const destinations: UsageDestinationsTable[] = [...changes.destinations.values()].map((delta) => {
    return {
      account_id: delta.accountId,
      month: delta.month,
      destination_name: delta.destinationName,
      calls: delta.calls,
      answered_calls: delta.answeredCalls,
      duration_seconds: String(delta.durationSeconds),
      billed_seconds: String(delta.billedSeconds),
      cost: delta.cost.toString(),
    };
  });
  await writeRowsAsJson(tx, schema, 'usage_destinations', destinations, {
    conflict: ['account_id', 'month', 'destination_name'],
    update: { add: ['calls', 'answered_calls', 'duration_seconds', 'billed_seconds', 'cost'] },
  });
  await insertNewRows(tx, schema, 'usage_calls', [...changes.calls.values()], {
    columns: USAGE_CALL_COLUMNS,
    conflict: ['account_id', 'call_id'],
  });
}

/**
 * Usage per account and IST calendar month. Per batch: one read of the stream versions, one read of
 * the months of calls re-rated in this batch, then one additive upsert per table.
 */
export const usageProjection: Projection = {
  name: 'usage',
  description:
    'usage per account and IST calendar month: calls, seconds, free and overage seconds, cost; per destination',
  migrations: usageMigrations,
  // Only rated and re-rated calls: authorizations, reservations and money never reach it (a batch of them had cost
  // a read and an upsert of every account's stream version in it).
  filter: { streamPrefixes: ['account-'], eventTypes: ['CdrRated', 'CallRerated'] },
  shards: 4,
  async apply(tx, events, { schema }) {
    const pending = await unappliedEvents(tx, schema, events, { contiguous: false });
    if (pending.size === 0) return;
    const changes = new UsageChanges(await knownCalls(tx, schema, pending));
    for (const accountEventsInBatch of pending.values()) {
      for (const item of accountEventsInBatch) changes.apply(item);
    }
    await writeChanges(tx, schema, changes);
    await saveStreamVersions(tx, schema, pending);
  },
};
