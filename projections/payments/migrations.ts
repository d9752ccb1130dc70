import type { ProjectionMigration } from '@khata/projector';

/**
 * Payments recorded from the gateways (one row per account, gateway and gateway payment id, which the
 * domain records once per account) and wallet top-ups with their GST split (one row per WalletToppedUp
 * event; a top-up paid through a gateway names the payment as `<gateway>:<payment id>`). Rows are only
 * ever inserted, keyed so that inserting one twice does nothing. A payment id is not unique across
 * accounts here: nothing in the log makes it so (a manual payment's id may be reused, a webhook may be
 * attributed to the wrong account), and a read model must not drop one account's payment for another's.
 */
export const paymentsMigrations: readonly ProjectionMigration[] = [
  {
    version: 1,
    name: 'payments',
    sql: (schema) => `
CREATE TABLE ${schema}.payments (
  gateway        text          NOT NULL CHECK (gateway IN ('razorpay', 'stripe', 'manual')),
  payment_id     text          NOT NULL,
  account_id     uuid          NOT NULL,
  amount         numeric(20,4) NOT NULL,
  purpose        text          NOT NULL CHECK (purpose IN ('topup', 'invoice', 'subscription')),
  reference      text,
  recorded_at    timestamptz   NOT NULL,
  event_id       uuid          NOT NULL,
  stream_version bigint        NOT NULL,
  PRIMARY KEY (account_id, gateway, payment_id)
);
CREATE UNIQUE INDEX payments_of_account ON ${schema}.payments (account_id, stream_version DESC);
CREATE INDEX payments_by_gateway_id ON ${schema}.payments (gateway, payment_id);

CREATE TABLE ${schema}.top_ups (
  event_id        uuid          PRIMARY KEY,
  account_id      uuid          NOT NULL,
  gross           numeric(20,4) NOT NULL,
  taxable         numeric(20,4) NOT NULL,
  cgst            numeric(20,4) NOT NULL,
  sgst            numeric(20,4) NOT NULL,
  utgst           numeric(20,4) NOT NULL,
  igst            numeric(20,4) NOT NULL,
  supplier_state  text          NOT NULL,
  place_of_supply text          NOT NULL,
  payment_id      text,
  topped_up_at    timestamptz   NOT NULL,
  stream_version  bigint        NOT NULL,
  CHECK (gross = taxable + cgst + sgst + utgst + igst)
);
CREATE UNIQUE INDEX top_ups_of_account ON ${schema}.top_ups (account_id, stream_version DESC);
CREATE INDEX top_ups_by_payment ON ${schema}.top_ups (payment_id) WHERE payment_id IS NOT NULL;`,
  },
];

export interface PaymentsTable {
  gateway: 'razorpay' | 'stripe' | 'manual';
  payment_id: string;
  account_id: string;
  amount: string;
  purpose: 'topup' | 'invoice' | 'subscription';
  reference: string | null;
  recorded_at: Date;
  event_id: string;
  stream_version: string;
}

export interface TopUpsTable {
  event_id: string;
  account_id: string;
  gross: string;
  taxable: string;
  cgst: string;
  sgst: string;
  utgst: string;
  igst: string;
  supplier_state: string;
  place_of_supply: string;
  payment_id: string | null;
  topped_up_at: Date;
  stream_version: string;
}

export interface PaymentsDatabase {
  payments: PaymentsTable;
  top_ups: TopUpsTable;
}
