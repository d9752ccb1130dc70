import { derivedSql, type MigrationSet } from '@khata/sql';

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

/**
 * Group commit: the appends of many streams in one statement, so one round trip and one WAL flush
 * serve them all. The same ordering rule as `append_to_stream` holds, for every stream at once: the
 * statement reads all stream versions in its snapshot, taken before the transaction has an id (checked
 * first), and moves each with an exact compare-and-set; a stream whose row changed after the snapshot
 * fails its compare-and-set (PostgreSQL re-checks the condition on the newest row) and is reported, not
 * retried here, because the transaction now holds an id. Each stream succeeds or fails on its own; the
 * client sends the failed ones again through `append_to_stream`, which has the retry and idempotency
 * logic. A duplicate event id fails the whole statement (unique violation); the client then appends
 * stream by stream. Rows are locked in stream-id order to keep two group commits from deadlocking.
 */
const V2 = `
CREATE FUNCTION es.append_to_streams(
  p_appends jsonb,  -- [{s: stream, c: category, x: expected, e: [{id, type, sv, data, meta}, ...]}, ...]
  p_notify  boolean
) RETURNS TABLE (idx integer, outcome text, next_version bigint, last_tx xid8, last_gp bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
  IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
    RAISE EXCEPTION 'es.append_to_streams must be the first write of its transaction'
      USING ERRCODE = 'KH001';
  END IF;

  RETURN QUERY
  WITH wanted AS (
    SELECT (t.o - 1)::integer AS idx, t.v->>'s' AS stream, t.v->>'c' AS category, t.v->>'x' AS expected,
           jsonb_array_length(t.v->'e')::bigint AS n, t.v->'e' AS events
      FROM jsonb_array_elements(p_appends) WITH ORDINALITY AS t(v, o)
  ),
  seen AS (
    SELECT w.*, coalesce(s.version, 0) AS current
      FROM wanted w LEFT JOIN es.streams s ON s.stream_id = w.stream
  ),
  checked AS (
    SELECT seen.*,
           CASE
             WHEN seen.expected IN ('no_stream', '0') THEN seen.current = 0
             WHEN seen.expected = 'any' THEN true
             WHEN seen.expected = 'stream_exists' THEN seen.current > 0
             ELSE seen.current = seen.expected::bigint
           END AS expected_ok
      FROM seen
  ),
  created AS (
    INSERT INTO es.streams (stream_id, category, version)
    SELECT c.stream, c.category, c.n FROM checked c WHERE c.expected_ok AND c.current = 0 ORDER BY c.stream
    ON CONFLICT ON CONSTRAINT streams_pkey DO NOTHING
    RETURNING stream_id
  ),
  updated AS (
    UPDATE es.streams s SET version = c.current + c.n, updated_at = now()
      FROM (SELECT * FROM checked WHERE expected_ok AND current > 0 ORDER BY stream) c
     WHERE s.stream_id = c.stream AND s.version = c.current
    RETURNING s.stream_id
  ),
  won AS (
    SELECT c.* FROM checked c
     WHERE c.stream IN (SELECT stream_id FROM created UNION ALL SELECT stream_id FROM updated)
  ),
  inserted AS (
    INSERT INTO es.events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
    SELECT w.stream, w.current + e.ordinality, (e.value->>'id')::uuid, e.value->>'type',
           (e.value->>'sv')::smallint, e.value->'data', e.value->'meta'
      FROM won w, jsonb_array_elements(w.events) WITH ORDINALITY AS e(value, ordinality)
     ORDER BY w.idx, e.ordinality
    RETURNING stream_id, global_position
  ),
  last_positions AS (
    SELECT i.stream_id, max(i.global_position) AS gp FROM inserted i GROUP BY i.stream_id
  )
  SELECT c.idx,
         CASE WHEN w.idx IS NOT NULL THEN 'ok' WHEN NOT c.expected_ok THEN 'conflict' ELSE 'retry' END,
         CASE WHEN w.idx IS NOT NULL THEN c.current + c.n END,
         CASE WHEN w.idx IS NOT NULL THEN pg_current_xact_id() END,
         l.gp
    FROM checked c
    LEFT JOIN won w ON w.idx = c.idx
    LEFT JOIN last_positions l ON l.stream_id = c.stream
   ORDER BY c.idx;

  IF p_notify THEN
    PERFORM pg_notify('khata_events', '');
  END IF;
END
$fn$;
`;

/**
 * Version 2's function (derived from its text, which never changes) with each stream's version looked up by its
 * key. The planner takes `jsonb_array_elements` for 100 rows whatever the group's size, so V2's join read the whole
 * of `es.streams` into a hash table for every append while that table had fewer than about 30,000 rows: a single
 * append cost 4-6 ms with 23,000 streams (bench/RESULTS.md, 2026-12-06, sixth session), 0.5-1 ms with this
 * version. `seen` is materialized so that each stream is looked up once, not again in each branch of `checked`.
 */
const V3 = derivedSql(V2, [
  ['CREATE FUNCTION es.append_to_streams(', 'CREATE OR REPLACE FUNCTION es.append_to_streams('],
  [
    `  seen AS (
    SELECT w.*, coalesce(s.version, 0) AS current
      FROM wanted w LEFT JOIN es.streams s ON s.stream_id = w.stream
  ),`,
    `  seen AS MATERIALIZED (
    SELECT w.*, coalesce((SELECT s.version FROM es.streams s WHERE s.stream_id = w.stream), 0) AS current
      FROM wanted w
  ),`,
  ],
]);

/**
 * Both append functions reach `es.streams` by key only, whatever the planner believes of its size. PL/pgSQL keeps
 * the plan it made for a statement for the rest of the session, until the table's statistics change (autovacuum
 * analyzes about once a minute, after a tenth of the table changed). A plan made while the table held a few streams
 * reads it whole, and kept doing so while the table grew: made at 10 streams and used at 20,000, one append took
 * 5.5-6.3 ms instead of about 0.5 (a session of `psql` with `auto_explain`, 2026-12-06), and the ESL benchmark's p99
 * was 22.4 ms after 20,000 accounts were opened without an ANALYZE (bench/RESULTS.md). Sequential scans are off
 * inside the functions (a setting of the function, restored when it returns), so each lookup is an index scan; the
 * version update of a group also names its streams as an index condition (`= ANY`), because a merge or hash join
 * could still walk the whole primary key. Rows are still locked in stream order (the index's order, or the sorted
 * group's, whichever side the join reads first).
 */
const V4 = `${derivedSql(V3, [
  ['LANGUAGE plpgsql AS $fn$', 'LANGUAGE plpgsql SET enable_seqscan = off AS $fn$'],
  [
    `     WHERE s.stream_id = c.stream AND s.version = c.current`,
    `     WHERE s.stream_id = ANY (ARRAY(SELECT stream FROM checked WHERE expected_ok AND current > 0))
       AND s.stream_id = c.stream AND s.version = c.current`,
  ],
])}
ALTER FUNCTION es.append_to_stream(text, text, text, jsonb, boolean) SET enable_seqscan = off;
`;

export const eventStoreMigrations: MigrationSet = {
  namespace: 'event-store',
  migrations: [
    { version: 1, name: 'streams, events, append_to_stream', sql: V1 },
    { version: 2, name: 'append_to_streams (group commit)', sql: V2 },
    { version: 3, name: 'append_to_streams: each stream looked up by its key', sql: V3 },
    { version: 4, name: 'appends reach es.streams by key only, whatever plan is cached', sql: V4 },
  ],
};
