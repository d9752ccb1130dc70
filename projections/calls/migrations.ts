import type { ProjectionMigration } from '@khata/projector';

/**
 * One row per call (per account and FreeSWITCH call uuid): its authorization (reservation, limit,
 * extensions), how it ended (rated, or expired without a CDR) and what it cost, latest correction
 * included. Rated calls are the CDR list, indexed by when the call was answered (or rated, when it
 * was not answered). Each row keeps the stream version of the last event applied to it, so an event
 * applied twice changes nothing.
 */
export const callsMigrations: readonly ProjectionMigration[] = [
  {
    version: 1,
    name: 'calls',
    sql: (schema) => `
CREATE TABLE ${schema}.calls (
  account_id            uuid          NOT NULL,
  call_id               text          NOT NULL,
  destination           text          NOT NULL,
  destination_name      text          NOT NULL,
  basis                 text          CHECK (basis IN ('plan', 'tariff')),
  tariff_id             text          NOT NULL,
  status                text          NOT NULL CHECK (status IN ('authorized', 'rated', 'expired')),
  started_at            timestamptz   NOT NULL,
  authorized_at         timestamptz,
  max_seconds           integer,
  reserved_amount       numeric(20,4),
  reserved_free_seconds integer,
  expires_at            timestamptz,
  extensions            integer       NOT NULL,
  expired_at            timestamptz,
  answered_at           timestamptz,
  duration_seconds      integer,
  billable_milliseconds integer,
  billed_seconds        integer,
  free_seconds_used     integer,
  overage_seconds       integer,
  cost                  numeric(20,4),
  rated_cost            numeric(20,4),
  excess                numeric(20,4),
  had_reservation       boolean,
  usage_month_start     date,
  rated_at              timestamptz,
  cdr_at                timestamptz,
  rerated_count         integer       NOT NULL,
  stream_version        bigint        NOT NULL,
  PRIMARY KEY (account_id, call_id)
);
CREATE INDEX calls_of_account ON ${schema}.calls (account_id, started_at DESC, call_id DESC);
CREATE INDEX cdrs_newest_first ON ${schema}.calls (cdr_at DESC, account_id DESC, call_id DESC) WHERE status = 'rated';
CREATE INDEX cdrs_of_account ON ${schema}.calls (account_id, cdr_at DESC, call_id DESC) WHERE status = 'rated';`,
  },
];

export type CallStatus = 'authorized' | 'rated' | 'expired';

export interface CallsTable {
  account_id: string;
  call_id: string;
  destination: string;
  destination_name: string;
  /** Null for a call rated without an authorization (the CDR does not say). */
  basis: 'plan' | 'tariff' | null;
  /** The tariff that priced the call last (its re-rating's, after one). */
  tariff_id: string;
  status: CallStatus;
  /** When the call began, as far as Khata knows: authorized, else answered, else rated. The list order. */
  started_at: Date;
  authorized_at: Date | null;
  max_seconds: number | null;
  /** Money set aside, extensions included. */
  reserved_amount: string | null;
  reserved_free_seconds: number | null;
  expires_at: Date | null;
  /** How many times the reservation was extended (a top-up during the call). */
  extensions: number;
  expired_at: Date | null;
  answered_at: Date | null;
  duration_seconds: number | null;
  billable_milliseconds: number | null;
  billed_seconds: number | null;
  free_seconds_used: number | null;
  overage_seconds: number | null;
  /** What the call costs now (after re-rating). */
  cost: string | null;
  /** What it cost when it was first rated. */
  rated_cost: string | null;
  excess: string | null;
  had_reservation: boolean | null;
  usage_month_start: string | null;
  rated_at: Date | null;
  /** The CDR's time: answered, else rated. */
  cdr_at: Date | null;
  rerated_count: number;
  stream_version: string;
}

export interface CallsDatabase {
  calls: CallsTable;
}
