import type { MigrationSet } from '@khata/sql';

/**
 * Tables of the HTTP API that are not read models: stored responses of idempotent requests, and
 * recharges a customer has asked for but that are not paid yet (no money moved, so not events).
 */
export const httpMigrations: MigrationSet = {
  namespace: 'api',
  migrations: [
    {
      version: 1,
      name: 'idempotency keys and pending top-ups',
      sql: `
CREATE SCHEMA IF NOT EXISTS api;
CREATE TABLE api.idempotency_keys (
  principal       text        NOT NULL,
  key             text        NOT NULL,
  route           text        NOT NULL,
  body_hash       text        NOT NULL,
  state           text        NOT NULL CHECK (state IN ('in_progress', 'done')),
  response_status integer,
  response_body   jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_idx ON api.idempotency_keys (created_at);
CREATE TABLE api.topups (
  topup_id     uuid        PRIMARY KEY,
  account_id   uuid        NOT NULL,
  amount       numeric(20,4) NOT NULL,
  status       text        NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled')),
  requested_by text        NOT NULL,
  requested_at timestamptz NOT NULL,
  confirmed_by text,
  confirmed_at timestamptz
);
CREATE INDEX topups_account_idx ON api.topups (account_id, requested_at DESC);`,
    },
    {
      version: 2,
      name: 'API tokens',
      sql: `
CREATE TABLE api.tokens (
  token_id    uuid        PRIMARY KEY,
  token_hash  text        NOT NULL UNIQUE,
  role        text        NOT NULL CHECK (role IN ('admin', 'auditor', 'finance', 'system')),
  label       text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);`,
    },
    {
      version: 3,
      name: 'bootstrap markers',
      sql: `
CREATE TABLE api.bootstrap (
  step       text        PRIMARY KEY,
  done_at    timestamptz NOT NULL DEFAULT now(),
  detail     text
);`,
    },
  ],
};
