import type { ProjectionMigration } from '@khata/projector';
import { type StreamVersionsTable, streamVersionsSql } from '../shared/streams.ts';

/**
 * Usage per account per calendar month (IST, `YYYY-MM` of the answer time; an unanswered call counts in
 * the month it was rated), in total and per destination. `usage_calls` remembers the month and
 * destination of every rated call, so that a later re-rating corrects the month the call was made in.
 * The rows are sums, added to batch by batch; `stream_versions` makes applying an event twice harmless.
 */
export const usageMigrations: readonly ProjectionMigration[] = [
  {
    version: 1,
    name: 'usage',
    sql: (schema) => `
CREATE TABLE ${schema}.usage_months (
  account_id        uuid          NOT NULL,
  month             text          NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  calls             integer       NOT NULL,
  answered_calls    integer       NOT NULL,
  duration_seconds  bigint        NOT NULL,
  billed_seconds    bigint        NOT NULL,
  free_seconds_used bigint        NOT NULL,
  overage_seconds   bigint        NOT NULL,
  cost              numeric(20,4) NOT NULL,
  rerated_calls     integer       NOT NULL,
  PRIMARY KEY (account_id, month)
);

CREATE TABLE ${schema}.usage_destinations (
  account_id        uuid          NOT NULL,
  month             text          NOT NULL,
  destination_name  text          NOT NULL,
  calls             integer       NOT NULL,
  answered_calls    integer       NOT NULL,
  duration_seconds  bigint        NOT NULL,
  billed_seconds    bigint        NOT NULL,
  cost              numeric(20,4) NOT NULL,
  PRIMARY KEY (account_id, month, destination_name)
);

CREATE TABLE ${schema}.usage_calls (
  account_id       uuid NOT NULL,
  call_id          text NOT NULL,
  month            text NOT NULL,
  destination_name text NOT NULL,
  PRIMARY KEY (account_id, call_id)
);
${streamVersionsSql(schema)}`,
  },
];

export interface UsageMonthsTable {
  account_id: string;
  month: string;
  calls: number;
  answered_calls: number;
  duration_seconds: string;
  billed_seconds: string;
  free_seconds_used: string;
  overage_seconds: string;
  cost: string;
  rerated_calls: number;
}

export interface UsageDestinationsTable {
  account_id: string;
  month: string;
  destination_name: string;
  calls: number;
  answered_calls: number;
  duration_seconds: string;
  billed_seconds: string;
  cost: string;
}

export interface UsageCallsTable {
  account_id: string;
  call_id: string;
  month: string;
  destination_name: string;
}

export interface UsageDatabase {
  usage_months: UsageMonthsTable;
  usage_destinations: UsageDestinationsTable;
  usage_calls: UsageCallsTable;
  stream_versions: StreamVersionsTable;
}
