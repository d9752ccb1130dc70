import { Money } from '@khata/domain';
import type { Projection } from '@khata/projector';
import { queryBuilder, run, type SqlQueryable } from '@khata/sql';
import type { AccountEventAt } from '../shared/accounts.ts';
import { statementSlices } from '../shared/rows.ts';
import { saveStreamVersions, unappliedEvents } from '../shared/streams.ts';
import { type SubscriptionsDatabase, type SubscriptionsTable, subscriptionsMigrations } from './migrations.ts';

const db = queryBuilder<SubscriptionsDatabase>();

const CURRENT_STATUSES = ['active', 'cancelling'] as const;

/** The events this read model folds; a batch without them only moves the stream versions. */
const SUBSCRIPTION_EVENTS: ReadonlySet<string> = new Set([
  'SubscriptionStarted',
  'SubscriptionCharged',
  'PlanChanged',
  'PlanChangeScheduled',
  'SubscriptionCancelled',
  'SubscriptionEnded',
  'AddOnAdded',
  'AddOnRemoved',
]);

/**
 * When the next charge falls due: the start of a period not charged yet (a plan change to a new
 * cycle starts an uncharged period), else the end of the paid one. Only an active subscription is
 * charged again; one cancelling at its period end is not.
 */
function nextChargeOn(row: SubscriptionsTable): string | null {
  if (row.status !== 'active') return null;
  return row.charged_through >= row.period_index ? row.period_end : row.period_start;
}

/** The subscriptions a batch touches, and which one is each account's current one. */
class Subscriptions {
  readonly #rows: Map<string, SubscriptionsTable>;
  readonly #current = new Map<string, string>();
  readonly changed = new Set<string>();

  constructor(rows: readonly SubscriptionsTable[]) {
    this.#rows = new Map(rows.map((row) => [row.subscription_id, row]));
    for (const row of rows) {
      if ((CURRENT_STATUSES as readonly string[]).includes(row.status))
        this.#current.set(row.account_id, row.subscription_id);
    }
  }

  rows(): SubscriptionsTable[] {
    return [...this.changed].map((id) => this.#rows.get(id) as SubscriptionsTable);
  }

  start(row: SubscriptionsTable): void {
    if (this.#rows.has(row.subscription_id)) throw new Error(`subscription ${row.subscription_id} started twice`);
    this.#rows.set(row.subscription_id, row);
    this.#current.set(row.account_id, row.subscription_id);
    this.changed.add(row.subscription_id);
  }

  /** Changes a subscription the account holds; `id` null means the account's current one. */
  update(accountId: string, id: string | null, at: Date, change: (row: SubscriptionsTable) => void): void {
    const subscriptionId = id ?? this.#current.get(accountId);
    const row = subscriptionId === undefined ? undefined : this.#rows.get(subscriptionId);
    if (row === undefined || row.account_id !== accountId) {
      throw new Error(`account ${accountId}: no subscription ${id ?? '(current)'} to change`);
    }
    const next = { ...row, updated_at: at };
    change(next);
    next.next_charge_on = nextChargeOn(next);
    if (next.status === 'ended' || next.status === 'cancelled') this.#current.delete(accountId);
    this.#rows.set(next.subscription_id, next);
    this.changed.add(next.subscription_id);
  }
}

function applyEvent(subscriptions: Subscriptions, { accountId, event, at }: AccountEventAt): void {
  switch (event.type) {
    case 'SubscriptionStarted': {
      const { data } = event;
      const row: SubscriptionsTable = {
        subscription_id: data.subscriptionId,
        account_id: accountId,
        plan_id: data.planId,
        cycle: data.cycle,
        anchor: data.anchor,
        period_index: 0,
        period_start: data.periodStart,
        period_end: data.periodEnd,
        charged_through: -1,
        status: 'active',
        next_charge_on: null,
        last_charged_at: null,
        last_charge_amount: null,
        pending_plan_id: null,
        pending_cycle: null,
        pending_effective_on: null,
        cancellation_when: null,
        cancellation_effective_on: null,
        cancellation_reason: null,
        ended_on: null,
        add_ons: {},
        started_on: data.periodStart,
        started_at: at,
        updated_at: at,
      };
      row.next_charge_on = nextChargeOn(row);
      subscriptions.start(row);
      return;
    }
    case 'SubscriptionCharged': {
      const { data } = event;
      subscriptions.update(accountId, data.subscriptionId, at, (row) => {
        row.plan_id = data.planId;
        row.cycle = data.cycle;
        row.period_index = data.periodIndex;
        row.period_start = data.periodStart;
        row.period_end = data.periodEnd;
        row.charged_through = data.periodIndex;
        row.last_charged_at = at;
        row.last_charge_amount = Money.parse(data.amount).toString();
        // As the domain does: a charge applies the plan it charged, so nothing is pending any more.
        row.pending_plan_id = null;
        row.pending_cycle = null;
        row.pending_effective_on = null;
      });
      return;
    }
    case 'PlanChanged': {
      const { data } = event;
      subscriptions.update(accountId, data.subscriptionId, at, (row) => {
        const cycleChanged = data.fromCycle !== data.toCycle;
        // A change now replaces the current period; a change of cycle starts a new anchor and period.
        // A scheduled change with the same cycle leaves the period to the charge that follows it.
        if (data.timing === 'now' || cycleChanged) {
          row.period_start = data.periodStart;
          row.period_end = data.periodEnd;
        }
        if (cycleChanged) {
          row.period_index = 0;
          row.charged_through = data.timing === 'now' ? 0 : -1;
        }
        row.plan_id = data.toPlanId;
        row.cycle = data.toCycle;
        row.anchor = data.anchor;
        row.pending_plan_id = null;
        row.pending_cycle = null;
        row.pending_effective_on = null;
      });
      return;
    }
    case 'PlanChangeScheduled': {
      const { data } = event;
      subscriptions.update(accountId, data.subscriptionId, at, (row) => {
        row.pending_plan_id = data.toPlanId;
        row.pending_cycle = data.toCycle;
        row.pending_effective_on = data.effectiveOn;
      });
      return;
    }
    case 'SubscriptionCancelled': {
      const { data } = event;
      subscriptions.update(accountId, data.subscriptionId, at, (row) => {
        row.status = data.when === 'now' ? 'cancelled' : 'cancelling';
        row.cancellation_when = data.when;
        row.cancellation_effective_on = data.effectiveOn;
        row.cancellation_reason = data.reason;
        if (data.when === 'now') row.ended_on = data.effectiveOn;
        row.pending_plan_id = null;
        row.pending_cycle = null;
        row.pending_effective_on = null;
      });
      return;
    }
    case 'SubscriptionEnded': {
      const { data } = event;
      subscriptions.update(accountId, data.subscriptionId, at, (row) => {
        row.status = 'ended';
        row.ended_on = data.endedOn;
      });
      return;
    }
    case 'AddOnAdded':
    case 'AddOnRemoved': {
      const { data } = event;
      const sign = event.type === 'AddOnAdded' ? 1 : -1;
      subscriptions.update(accountId, null, at, (row) => {
        const addOns = { ...(row.add_ons as Record<string, number>) };
        const quantity = (addOns[data.addOnId] ?? 0) + sign * data.quantity;
        if (quantity < 0) throw new Error(`account ${accountId}: removed more ${data.addOnId} than it had`);
        if (quantity === 0) delete addOns[data.addOnId];
        else addOns[data.addOnId] = quantity;
        row.add_ons = addOns;
      });
      return;
    }
    default:
      return;
  }
}

async function loadSubscriptions(
  tx: SqlQueryable,
  schema: string,
  relevant: ReadonlyMap<string, readonly AccountEventAt[]>,
): Promise<SubscriptionsTable[]> {
  const referenced = new Set<string>();
  for (const events of relevant.values()) {
    for (const { event } of events) {
      if ('subscriptionId' in event.data && event.type !== 'SubscriptionStarted') {
        referenced.add(event.data.subscriptionId);
      }
    }
  }
  const accounts = [...relevant.keys()];
  return run(
    tx,
    db
      .withSchema(schema)
      .selectFrom('subscriptions')
      .selectAll()
      .where((eb) => {
        const current = eb.and([eb('account_id', 'in', accounts), eb('status', 'in', CURRENT_STATUSES)]);
        return referenced.size === 0 ? current : eb.or([current, eb('subscription_id', 'in', [...referenced])]);
      }),
  );
}

const SUBSCRIPTION_COLUMNS = 24;

async function writeSubscriptions(tx: SqlQueryable, schema: string, rows: readonly SubscriptionsTable[]) {
  for (const slice of statementSlices(rows, SUBSCRIPTION_COLUMNS)) {
    await run(
      tx,
      db
        .withSchema(schema)
        .insertInto('subscriptions')
        .values(slice.map((row) => ({ ...row, add_ons: JSON.stringify(row.add_ons) })))
        .onConflict((conflict) =>
          conflict.column('subscription_id').doUpdateSet((eb) => ({
            plan_id: eb.ref('excluded.plan_id'),
            cycle: eb.ref('excluded.cycle'),
            anchor: eb.ref('excluded.anchor'),
            period_index: eb.ref('excluded.period_index'),
            period_start: eb.ref('excluded.period_start'),
            period_end: eb.ref('excluded.period_end'),
            charged_through: eb.ref('excluded.charged_through'),
            status: eb.ref('excluded.status'),
            next_charge_on: eb.ref('excluded.next_charge_on'),
            last_charged_at: eb.ref('excluded.last_charged_at'),
            last_charge_amount: eb.ref('excluded.last_charge_amount'),
            pending_plan_id: eb.ref('excluded.pending_plan_id'),
            pending_cycle: eb.ref('excluded.pending_cycle'),
            pending_effective_on: eb.ref('excluded.pending_effective_on'),
            cancellation_when: eb.ref('excluded.cancellation_when'),
            cancellation_effective_on: eb.ref('excluded.cancellation_effective_on'),
            cancellation_reason: eb.ref('excluded.cancellation_reason'),
            ended_on: eb.ref('excluded.ended_on'),
            add_ons: eb.ref('excluded.add_ons'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        ),
    );
  }
}

/**
 * Subscriptions folded from the subscription events of each account stream. Per batch: one read of the
 * stream versions, one read of the subscriptions the batch touches (by id, plus each account's current
 * one for add-on events, which carry no subscription id), one upsert.
 */
export const subscriptionsProjection: Projection = {
  name: 'subscriptions',
  description: 'subscriptions: plan, cycle, current period, next charge, pending changes, cancellation, add-ons',
  migrations: subscriptionsMigrations,
  // Only the subscription events: the calls and money that make up most of the log never reach it (a batch of them
  // had cost a read and an upsert of every account's stream version in it).
  filter: { streamPrefixes: ['account-'], eventTypes: [...SUBSCRIPTION_EVENTS] },
  shards: 4,
  async apply(tx, events, { schema }) {
    // The filter keeps other events out of the projector's batches; a caller handing it whole streams is held to it.
    const mine = events.filter((event) => SUBSCRIPTION_EVENTS.has(event.type));
    const pending = await unappliedEvents(tx, schema, mine, { contiguous: false });
    if (pending.size === 0) return;
    const subscriptions = new Subscriptions(await loadSubscriptions(tx, schema, pending));
    for (const accountEventsInBatch of pending.values()) {
      for (const item of accountEventsInBatch) applyEvent(subscriptions, item);
    }
    await writeSubscriptions(tx, schema, subscriptions.rows());
    await saveStreamVersions(tx, schema, pending);
  },
};
