import type { MigrationSet } from '@khata/sql';

/**
 * The event store's tables in PostgreSQL and PGlite (the same SQL runs on both).
 *
 * Global order (research/eventsourcing.md §1.3, §7.2): each event row carries the id of the
 * transaction that wrote it (`xid8`, never wraps) and a sequence number. Readers only return rows whose
 * transaction id is below the oldest still-running transaction (`pg_snapshot_xmin`), ordered by
 * `(transaction_id, global_position)`. Every transaction below that bound has ended, so no row can later
 * appear behind a reader's checkpoint: the log is read without gaps and without gap detection.
 *
 * That order agrees with each stream's version order only if a writer gets its transaction id after it
 * has seen the version it builds on. `append_to_stream` guarantees it: it must be the transaction's
 * first write, it reads the version before writing, and it moves the version with an exact
 * compare-and-set. It never retries once the transaction holds an id (it answers `retry` and the
 * client starts a new transaction).
 */
export const EVENT_STORE_SCHEMA = 'es';

const V1 = `
CREATE SCHEMA IF NOT EXISTS es;

CREATE TABLE es.streams (
  stream_id  text        NOT NULL,
  category   text        NOT NULL,
  version    bigint      NOT NULL CHECK (version > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT streams_pkey PRIMARY KEY (stream_id)
);

CREATE SEQUENCE es.events_global_position_seq AS bigint;

CREATE TABLE es.events (
  transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
  global_position bigint      NOT NULL DEFAULT nextval('es.events_global_position_seq'),
  stream_id       text        NOT NULL,
  stream_version  bigint      NOT NULL CHECK (stream_version > 0),
  event_id        uuid        NOT NULL,
  event_type      text        NOT NULL,
  schema_version  smallint    NOT NULL,
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL,
  stored_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT events_pkey PRIMARY KEY (stream_id, stream_version),
  CONSTRAINT events_event_id_key UNIQUE (event_id)
);
ALTER SEQUENCE es.events_global_position_seq OWNED BY es.events.global_position;

-- The global log, in the order subscribers read it.
CREATE INDEX events_log_idx ON es.events (transaction_id, global_position);

CREATE FUNCTION es.append_to_stream(
  p_stream   text,
  p_category text,
  p_expected text,   -- 'any' | 'no_stream' | 'stream_exists' | a version
  p_events   jsonb,  -- [{id, type, sv, data, meta}, ...]
  p_notify   boolean
) RETURNS TABLE (outcome text, next_version bigint, last_tx xid8, last_gp bigint, actual_version bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_count    bigint := jsonb_array_length(p_events);
  v_current  bigint;
  v_base     bigint;
  v_last_gp  bigint;
  v_attempt  integer := 0;
BEGIN
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'es.append_to_stream must be the first write of its transaction'
      USING ERRCODE = 'KH001';
  END IF;

  LOOP
    v_attempt := v_attempt + 1;
    SELECT s.version INTO v_current FROM es.streams s WHERE s.stream_id = p_stream;
    v_current := coalesce(v_current, 0);

    IF p_expected = 'no_stream' OR p_expected = '0'
       OR (p_expected = 'any' AND v_current = 0) THEN
      IF v_current <> 0 THEN
        RETURN QUERY SELECT 'conflict'::text, NULL::bigint, NULL::xid8, NULL::bigint, v_current;
        RETURN;
      END IF;
      INSERT INTO es.streams (stream_id, category, version) VALUES (p_stream, p_category, v_count)
        ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING;
      IF FOUND THEN
        v_base := 0;
        EXIT;
      END IF;
    ELSIF p_expected = 'any' OR p_expected = 'stream_exists' THEN
      IF v_current = 0 THEN
        RETURN QUERY SELECT 'conflict'::text, NULL::bigint, NULL::xid8, NULL::bigint, v_current;
        RETURN;
      END IF;
      UPDATE es.streams SET version = v_current + v_count, updated_at = now()
        WHERE stream_id = p_stream AND version = v_current;
      IF FOUND THEN
        v_base := v_current;
        EXIT;
      END IF;
    ELSE
      IF v_current <> p_expected::bigint THEN
        RETURN QUERY SELECT 'conflict'::text, NULL::bigint, NULL::xid8, NULL::bigint, v_current;
        RETURN;
      END IF;
      UPDATE es.streams SET version = v_current + v_count, updated_at = now()
        WHERE stream_id = p_stream AND version = v_current;
      IF FOUND THEN
        v_base := v_current;
        EXIT;
      END IF;
      SELECT s.version INTO v_current FROM es.streams s WHERE s.stream_id = p_stream;
      RETURN QUERY SELECT 'conflict'::text, NULL::bigint, NULL::xid8, NULL::bigint, coalesce(v_current, 0);
      RETURN;
    END IF;

    -- Lost a race on the stream row. Reading again is only safe while this transaction has no id.
    IF pg_current_xact_id_if_assigned() IS NOT NULL OR v_attempt >= 3 THEN
      RETURN QUERY SELECT 'retry'::text, NULL::bigint, NULL::xid8, NULL::bigint, v_current;
      RETURN;
    END IF;
  END LOOP;

  WITH inserted AS (
    INSERT INTO es.events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
    SELECT p_stream, v_base + e.ordinality, (e.value->>'id')::uuid, e.value->>'type',
           (e.value->>'sv')::smallint, e.value->'data', e.value->'meta'
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, ordinality)
     ORDER BY e.ordinality
    RETURNING global_position
  )
  SELECT max(global_position) INTO v_last_gp FROM inserted;

  IF p_notify THEN
    PERFORM pg_notify('khata_events', '');
  END IF;

  RETURN QUERY SELECT 'ok'::text, v_base + v_count, pg_current_xact_id(), v_last_gp, v_base + v_count;
END
$fn$;
`;

export const eventStoreMigrations: MigrationSet = {
  namespace: 'event-store',
  migrations: [{ version: 1, name: 'streams, events, append_to_stream', sql: V1 }],
};
