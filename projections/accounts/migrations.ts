import type { ProjectionMigration } from '@khata/projector';

/**
 * One row per account (profile, billing mode, credit limit, status, current plan) and one row per
 * number an account holds: toll-free numbers keyed by the number alone, so that one resolves to one
 * account (what the FreeSWITCH dialplan endpoint asks), extensions unique within their account only.
 * `account_numbers` shows both kinds as one list.
 */
export const accountsMigrations: readonly ProjectionMigration[] = [
  {
    version: 1,
    name: 'accounts',
    sql: (schema) => `
CREATE TABLE ${schema}.accounts (
  account_id      uuid          PRIMARY KEY,
  legal_name      text          NOT NULL,
  contact         jsonb         NOT NULL,
  billing_address jsonb         NOT NULL,
  state_code      text          NOT NULL,
  gstin           text,
  billing_mode    text          NOT NULL CHECK (billing_mode IN ('prepaid', 'postpaid')),
  credit_limit    numeric(20,4) NOT NULL,
  status          text          NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
  status_reason   text,
  plan_id         text,
  plan_cycle      text,
  opened_at       timestamptz   NOT NULL,
  updated_at      timestamptz   NOT NULL,
  stream_version  bigint        NOT NULL
);
CREATE INDEX accounts_newest_first ON ${schema}.accounts (opened_at DESC, account_id DESC);
CREATE INDEX accounts_by_status ON ${schema}.accounts (status, opened_at DESC, account_id DESC);

CREATE TABLE ${schema}.toll_free_numbers (
  number      text        PRIMARY KEY,
  account_id  uuid        NOT NULL,
  assigned_at timestamptz NOT NULL
);
CREATE INDEX toll_free_numbers_by_account ON ${schema}.toll_free_numbers (account_id);

CREATE TABLE ${schema}.extensions (
  account_id  uuid        NOT NULL,
  number      text        NOT NULL,
  assigned_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, number)
);

CREATE VIEW ${schema}.account_numbers AS
  SELECT 'toll-free'::text AS kind, number, account_id, assigned_at FROM ${schema}.toll_free_numbers
  UNION ALL
  SELECT 'extension'::text AS kind, number, account_id, assigned_at FROM ${schema}.extensions;`,
  },
];

export interface AccountsTable {
  account_id: string;
  legal_name: string;
  contact: unknown;
  billing_address: unknown;
  state_code: string;
  gstin: string | null;
  billing_mode: 'prepaid' | 'postpaid';
  credit_limit: string;
  status: 'active' | 'suspended' | 'closed';
  status_reason: string | null;
  plan_id: string | null;
  plan_cycle: string | null;
  opened_at: Date;
  updated_at: Date;
  /** The account stream version of the last event that changed this row (calls and money do not). */
  stream_version: string;
}

export interface TollFreeNumbersTable {
  number: string;
  account_id: string;
  assigned_at: Date;
}

export interface ExtensionsTable {
  account_id: string;
  number: string;
  assigned_at: Date;
}

/** The `account_numbers` view. */
export interface AccountNumbersView {
  kind: 'toll-free' | 'extension';
  number: string;
  account_id: string;
  assigned_at: Date;
}

export interface AccountsDatabase {
  accounts: AccountsTable;
  toll_free_numbers: TollFreeNumbersTable;
  extensions: ExtensionsTable;
  account_numbers: AccountNumbersView;
}
