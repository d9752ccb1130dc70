import type { ProjectionMigration } from '@khata/projector';
import { type StreamVersionsTable, streamVersionsSql } from '../shared/streams.ts';

/**
 * One row per subscription (an account may have had several): plan, cycle, the period it is in, what
 * is charged next and when, pending plan changes and cancellations, add-ons. An account has at most one
 * subscription that is `active` or `cancelling` at a time (the domain's rule), which the partial index
 * finds; `ended` (at its period end) and `cancelled` (now) are final.
 */
export const subscriptionsMigrations: readonly ProjectionMigration[] = [
  {
    version: 1,
    name: 'subscriptions',
    sql: (schema) => `
CREATE TABLE ${schema}.subscriptions (
  subscription_id           uuid          PRIMARY KEY,
  account_id                uuid          NOT NULL,
  plan_id                   text          NOT NULL,
  cycle                     text          NOT NULL CHECK (cycle IN ('monthly', 'quarterly', 'annual')),
  anchor                    date          NOT NULL,
  period_index              integer       NOT NULL,
  period_start              date          NOT NULL,
  period_end                date          NOT NULL,
  charged_through           integer       NOT NULL,
  status                    text          NOT NULL CHECK (status IN ('active', 'cancelling', 'ended', 'cancelled')),
  next_charge_on            date,
  last_charged_at           timestamptz,
  last_charge_amount        numeric(20,4),
  pending_plan_id           text,
  pending_cycle             text,
  pending_effective_on      date,
  cancellation_when         text          CHECK (cancellation_when IN ('now', 'period_end')),
  cancellation_effective_on date,
  cancellation_reason       text,
  ended_on                  date,
  add_ons                   jsonb         NOT NULL,
  started_on                date          NOT NULL,
  started_at                timestamptz   NOT NULL,
  updated_at                timestamptz   NOT NULL
);
CREATE INDEX subscriptions_newest_first ON ${schema}.subscriptions (started_at DESC, subscription_id DESC);
CREATE INDEX subscriptions_of_account ON ${schema}.subscriptions (account_id, started_at DESC, subscription_id DESC);
CREATE INDEX subscriptions_current ON ${schema}.subscriptions (account_id) WHERE status IN ('active', 'cancelling');
CREATE INDEX subscriptions_by_status ON ${schema}.subscriptions (status, started_at DESC, subscription_id DESC);
CREATE INDEX subscriptions_next_charge ON ${schema}.subscriptions (next_charge_on) WHERE next_charge_on IS NOT NULL;
${streamVersionsSql(schema)}`,
  },
];

export type SubscriptionStatus = 'active' | 'cancelling' | 'ended' | 'cancelled';
export type BillingCycle = 'monthly' | 'quarterly' | 'annual';

export interface SubscriptionsTable {
  subscription_id: string;
  account_id: string;
  plan_id: string;
  cycle: BillingCycle;
  anchor: string;
  /** The period the subscription is in, counted from `anchor`. */
  period_index: number;
  period_start: string;
  period_end: string;
  /** Highest period index charged under the current anchor (−1: none yet). */
  charged_through: number;
  status: SubscriptionStatus;
  next_charge_on: string | null;
  last_charged_at: Date | null;
  last_charge_amount: string | null;
  pending_plan_id: string | null;
  pending_cycle: BillingCycle | null;
  pending_effective_on: string | null;
  cancellation_when: 'now' | 'period_end' | null;
  cancellation_effective_on: string | null;
  cancellation_reason: string | null;
  ended_on: string | null;
  /** Add-on id → quantity. */
  add_ons: unknown;
  started_on: string;
  started_at: Date;
  updated_at: Date;
}

export interface SubscriptionsDatabase {
  subscriptions: SubscriptionsTable;
  stream_versions: StreamVersionsTable;
}
